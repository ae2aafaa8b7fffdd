/** Hash routes (#/path?query): the server only ever serves index.html, so reloads and links work anywhere. */

export interface Route {
  parts: string[];
  query: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#/, '');
  const q = raw.indexOf('?');
  const path = q >= 0 ? raw.slice(0, q) : raw;
  const query = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '');
  const parts = path.split('/').filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { parts, query };
}

/** Builds "#/a/b?x=1" with every path segment and query value encoded. */
export function link(parts: string[], query?: Record<string, string | number | undefined>): string {
  const path = parts.map(encodeURIComponent).join('/');
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== '') qs.set(k, String(v));
  const s = qs.toString();
  return `#/${path}${s ? `?${s}` : ''}`;
}

export function navigate(href: string): void {
  if (location.hash === href) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = href;
}

/** What a page gets: where to draw, the route, and a way to know it is still the current page. */
export interface PageContext {
  root: HTMLElement;
  route: Route;
  isCurrent(): boolean;
  /** Registers cleanup (charts, observers) run when the person leaves the page. */
  onLeave(fn: () => void): void;
}
