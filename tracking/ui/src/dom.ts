/**
 * Tiny DOM builder. Every string becomes a text node or an attribute value set through the DOM API,
 * never HTML, so user-controlled names, params and tags cannot inject markup (no innerHTML anywhere).
 */
export type Child = Node | string | number | null | undefined | false | Child[];
export type AttrValue = string | number | boolean | null | undefined | ((ev: Event) => void);
export type Attrs = Record<string, AttrValue>;

/** Links may only point inside the app (#/...), at this server (/...) or at http(s) pages. */
const SAFE_URL = /^(#|\/(?!\/)|https?:\/\/|blob:)/i;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') {
      el.addEventListener(name.replace(/^on/, '').toLowerCase(), value);
    } else if ((name === 'href' || name === 'src') && !SAFE_URL.test(String(value))) {
      continue;
    } else if (name === 'class') {
      el.className = String(value);
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
}

export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/** An empty state that tells the person what to do next. */
export function emptyState(title: string, ...hint: Child[]): HTMLElement {
  return h('div', { class: 'empty' }, h('strong', null, title), h('span', null, ...hint));
}

export function errorBox(message: string): HTMLElement {
  return h('div', { class: 'error', role: 'alert' }, message);
}

export function loading(what: string): HTMLElement {
  return h('p', { class: 'muted loading' }, `Loading ${what}…`);
}

/** A two-column key/value table, rows sorted by key. */
export function keyValueTable(rows: Array<{ key: string; value: Child }>, emptyText: string, testId: string): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'muted', 'data-testid': testId }, emptyText);
  const sorted = [...rows].sort((a, b) => a.key.localeCompare(b.key));
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'data kv', 'data-testid': testId },
      h('tbody', null, sorted.map((r) => h('tr', null, h('td', { class: 'mono' }, r.key), h('td', { class: 'wrap' }, r.value))))));
}

export function segmented<T extends string>(
  options: Array<{ value: T; label: string }>,
  current: T,
  onChange: (value: T) => void,
  label: string,
): HTMLElement {
  const group = h('div', { class: 'segmented', role: 'group', 'aria-label': label });
  const buttons = options.map((o) =>
    h('button', { type: 'button', 'aria-pressed': String(o.value === current), 'data-value': o.value }, o.label));
  buttons.forEach((b, i) => {
    b.addEventListener('click', () => {
      buttons.forEach((other) => other.setAttribute('aria-pressed', String(other === b)));
      const option = options[i];
      if (option) onChange(option.value);
    });
  });
  append(group, buttons);
  return group;
}
