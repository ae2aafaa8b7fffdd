/**
 * An experiment's runs table: params and metrics as columns, server-side sorting (order_by) by clicking
 * headers, a filter box speaking MLflow's runs/search grammar (the server parses it and its error is
 * shown as is), page_token paging, and checkboxes to compare runs.
 */
import { getExperiment, runName, searchRuns, type Experiment, type Run } from '../api.js';
import { emptyState, errorBox, h, loading, replaceChildren, type Child } from '../dom.js';
import { formatDuration, formatNumber, formatTime } from '../format.js';
import { link, navigate, type PageContext } from '../router.js';

type SortKind = 'attributes' | 'metrics' | 'params';
interface Sort { kind: SortKind; key: string; dir: 'ASC' | 'DESC' }

const PAGE_SIZES = [25, 50, 100, 500];
const DEFAULT_PAGE_SIZE = 50;
const DEFAULT_SORT: Sort = { kind: 'attributes', key: 'start_time', dir: 'DESC' };

/** Tokens of the pages before the current one, so "Previous" works (page tokens only go forward). */
const previousTokens = new Map<string, string[]>();
/** Runs ticked for comparison, per experiment; kept while the person pages, sorts and filters. */
const selectedRuns = new Map<string, Set<string>>();

function parseSort(raw: string | null): Sort {
  const m = raw ? /^(attributes|metrics|params):(.+?)(?::(ASC|DESC))?$/.exec(raw) : null;
  if (!m) return DEFAULT_SORT;
  return { kind: m[1] as SortKind, key: m[2] as string, dir: (m[3] as 'ASC' | 'DESC' | undefined) ?? 'ASC' };
}

function sortParam(s: Sort): string {
  return `${s.kind}:${s.key}:${s.dir}`;
}

/** MLflow order_by clause; metric/param keys are backtick-quoted so dots and spaces are allowed. */
export function orderByClause(s: Sort): string {
  return s.kind === 'attributes' ? `attributes.${s.key} ${s.dir}` : `${s.kind}.\`${s.key}\` ${s.dir}`;
}

function sortKeys(runs: Run[], field: 'metrics' | 'params'): string[] {
  const keys = new Set<string>();
  for (const r of runs) for (const kv of r.data?.[field] ?? []) keys.add(kv.key);
  return [...keys].sort((a, b) => a.localeCompare(b));
}

export async function runsPage(ctx: PageContext, experimentId: string): Promise<void> {
  const q = ctx.route.query;
  const filter = q.get('filter') ?? '';
  const sort = parseSort(q.get('sort'));
  // Any size 1..1000 works from the URL (MLflow's runs/search cap is 50,000; 1000 rows keep the table responsive).
  const requested = Number(q.get('max'));
  const pageSize = Number.isInteger(requested) && requested >= 1 && requested <= 1000 ? requested : DEFAULT_PAGE_SIZE;
  const sizeOptions = [...new Set([...PAGE_SIZES, pageSize])].sort((a, b) => a - b);
  const pageToken = q.get('page') ?? undefined;
  const stateKey = `${experimentId}|${filter}|${sortParam(sort)}|${pageSize}`;
  const stack = previousTokens.get(stateKey) ?? [];
  const selected = selectedRuns.get(experimentId) ?? new Set<string>();
  selectedRuns.set(experimentId, selected);

  const go = (changes: { filter?: string; sort?: Sort; max?: number; page?: string }): void => {
    navigate(link(['experiments', experimentId], {
      filter: changes.filter ?? filter,
      sort: sortParam(changes.sort ?? sort) === sortParam(DEFAULT_SORT) ? undefined : sortParam(changes.sort ?? sort),
      max: (changes.max ?? pageSize) === DEFAULT_PAGE_SIZE ? undefined : changes.max ?? pageSize,
      page: changes.page,
    }));
  };

  replaceChildren(ctx.root, h('h1', null, 'Runs'), loading('runs'));
  let experiment: Experiment;
  try {
    experiment = await getExperiment(experimentId);
  } catch (e) {
    if (ctx.isCurrent()) replaceChildren(ctx.root, breadcrumbs(), h('h1', null, 'Experiment not found'), errorBox((e as Error).message));
    return;
  }
  if (!ctx.isCurrent()) return;
  document.title = `${experiment.name} · Ring-count tracking`;

  // Filter box: submitted as is; the server validates it and its message is shown on error.
  const filterInput = h('input', {
    type: 'search', class: 'filter', name: 'filter', value: filter, 'aria-label': 'Filter runs',
    placeholder: "metrics.accuracy > 0.9 and params.optimizer = 'adam'", spellcheck: 'false', autocomplete: 'off',
  });
  const form = h('form', { class: 'toolbar', 'data-testid': 'filter-form' },
    filterInput,
    h('button', { type: 'submit', class: 'primary' }, 'Search'),
    filter ? h('button', { type: 'button', onclick: () => go({ filter: '' }) }, 'Clear') : null,
    h('button', { type: 'button', title: 'Reload the runs from the server', onclick: () => navigate(location.hash) }, 'Refresh'),
    h('label', { class: 'muted' }, 'Rows ',
      h('select', { 'aria-label': 'Rows per page', onchange: (ev) => go({ max: Number((ev.target as HTMLSelectElement).value) }) },
        sizeOptions.map((n) => h('option', { value: n, selected: n === pageSize }, String(n))))));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    go({ filter: filterInput.value.trim() });
  });

  const compareButton = h('button', { type: 'button', class: 'primary', 'data-testid': 'compare-button' });
  const updateCompare = (): void => {
    compareButton.textContent = `Compare selected (${selected.size})`;
    compareButton.disabled = selected.size < 2;
  };
  compareButton.addEventListener('click', () => navigate(link(['compare'], { runs: [...selected].join(',') })));
  updateCompare();

  const header: Child[] = [
    breadcrumbs(h('a', { href: link(['experiments', experimentId]) }, experiment.name)),
    h('h1', null, experiment.name, ' ', h('span', { class: 'muted mono', style: 'font-size:13px' }, `#${experiment.experiment_id}`)),
    form,
    h('p', { class: 'hint' }, 'Filter with MLflow\'s search syntax: ', h('code', null, 'metrics.<key>'), ', ', h('code', null, 'params.<key>'), ', ',
      h('code', null, 'tags.<key>'), ', ', h('code', null, 'attributes.status'), ' compared with =, !=, <, >, LIKE; joined with AND. Click a column header to sort.'),
  ];
  replaceChildren(ctx.root, ...header, loading('runs'));

  let runs: Run[];
  let next: string | undefined;
  try {
    const result = await searchRuns({ experimentIds: [experimentId], filter, orderBy: [orderByClause(sort)], maxResults: pageSize, pageToken });
    runs = result.runs;
    next = result.next_page_token;
  } catch (e) {
    if (ctx.isCurrent()) replaceChildren(ctx.root, ...header, errorBox(`Could not search runs: ${(e as Error).message}`));
    return;
  }
  if (!ctx.isCurrent()) return;

  if (runs.length === 0) {
    const empty = filter || pageToken
      ? emptyState('No runs match this filter', 'Loosen the filter or ', h('a', { href: link(['experiments', experimentId]) }, 'show all runs'), '.')
      : emptyState('No runs yet', 'Run ', h('code', null, 'data-science/train.ipynb'), ' (e.g. ', h('code', null, 'npm run notebook:run -- data-science/train.ipynb'),
        ') to log a training run into this experiment.');
    replaceChildren(ctx.root, ...header, empty);
    return;
  }

  const metricKeys = sortKeys(runs, 'metrics');
  const paramKeys = sortKeys(runs, 'params');

  const sortHeader = (label: string, kind: SortKind, key: string, extra?: Record<string, string>): HTMLElement => {
    const active = sort.kind === kind && sort.key === key;
    const th = h('th', {
      class: 'sortable', scope: 'col', title: `Sort by ${label}`, tabindex: '0', 'data-sort': `${kind}:${key}`,
      'aria-sort': active ? (sort.dir === 'ASC' ? 'ascending' : 'descending') : 'none', ...extra,
    }, label, active ? h('span', { class: 'sort-indicator', 'aria-hidden': 'true' }, sort.dir === 'ASC' ? '▲' : '▼') : null);
    const activate = (): void => {
      // First click sorts ascending (descending for time, newest first), the next click flips.
      const dir = active ? (sort.dir === 'ASC' ? 'DESC' : 'ASC') : kind === 'attributes' && key === 'start_time' ? 'DESC' : 'ASC';
      go({ sort: { kind, key, dir } });
    };
    th.addEventListener('click', activate);
    th.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' || ev.key === ' ') {
        ev.preventDefault();
        activate();
      }
    });
    return th;
  };

  const allBox = h('input', { type: 'checkbox', 'aria-label': 'Select all runs on this page' });
  const rowBoxes: HTMLInputElement[] = [];
  const syncAll = (): void => {
    allBox.checked = rowBoxes.length > 0 && rowBoxes.every((b) => b.checked);
  };
  allBox.addEventListener('change', () => {
    for (const box of rowBoxes) {
      box.checked = allBox.checked;
      const id = box.dataset.runId as string;
      if (allBox.checked) selected.add(id);
      else selected.delete(id);
    }
    updateCompare();
  });

  const bodyRows = runs.map((run) => {
    const metrics = new Map((run.data?.metrics ?? []).map((m) => [m.key, m.value]));
    const params = new Map((run.data?.params ?? []).map((p) => [p.key, p.value]));
    const box = h('input', { type: 'checkbox', 'aria-label': `Select run ${runName(run)}`, 'data-run-id': run.info.run_id, checked: selected.has(run.info.run_id) });
    box.addEventListener('change', () => {
      if (box.checked) selected.add(run.info.run_id);
      else selected.delete(run.info.run_id);
      syncAll();
      updateCompare();
    });
    rowBoxes.push(box);
    return h('tr', { 'data-run-id': run.info.run_id },
      h('td', null, box),
      h('td', null, h('a', { href: link(['runs', run.info.run_id]), class: 'run-link' }, runName(run))),
      h('td', null, h('span', { class: `badge ${run.info.status ?? ''}` }, run.info.status ?? '')),
      h('td', null, formatTime(run.info.start_time)),
      h('td', { class: 'num' }, formatDuration(run.info.start_time, run.info.end_time)),
      metricKeys.map((k) => h('td', { class: 'num', 'data-metric': k }, metrics.has(k) ? formatNumber(metrics.get(k)) : '')),
      paramKeys.map((k) => h('td', { 'data-param': k }, params.get(k) ?? '')));
  });
  syncAll();

  const table = h('table', { class: 'data', 'data-testid': 'runs-table' },
    h('thead', null,
      h('tr', { class: 'group' },
        h('th', { colspan: 5 }),
        metricKeys.length ? h('th', { colspan: metricKeys.length }, 'Metrics') : null,
        paramKeys.length ? h('th', { colspan: paramKeys.length }, 'Parameters') : null),
      h('tr', null,
        h('th', null, allBox),
        sortHeader('Run name', 'attributes', 'run_name'),
        sortHeader('Status', 'attributes', 'status'),
        sortHeader('Started', 'attributes', 'start_time'),
        h('th', null, 'Duration'),
        metricKeys.map((k) => sortHeader(k, 'metrics', k, { 'data-column': `metrics.${k}`, class: 'sortable num' })),
        paramKeys.map((k) => sortHeader(k, 'params', k, { 'data-column': `params.${k}` })))),
    h('tbody', null, bodyRows));

  const pageNumber = stack.length + 1;
  const pager = h('div', { class: 'pager', 'data-testid': 'pager' },
    h('button', {
      type: 'button', disabled: !pageToken, onclick: () => {
        const prev = [...stack];
        const target = prev.pop();
        previousTokens.set(stateKey, prev);
        go({ page: target || undefined });
      },
    }, '← Previous'),
    h('span', { class: 'muted' }, `Page ${pageNumber} · ${runs.length} run${runs.length === 1 ? '' : 's'}`),
    h('button', {
      type: 'button', disabled: !next, onclick: () => {
        previousTokens.set(stateKey, [...stack, pageToken ?? '']);
        go({ page: next });
      },
    }, 'Next →'),
    h('span', { class: 'spacer', style: 'flex:1' }),
    compareButton);

  replaceChildren(ctx.root, ...header, h('div', { class: 'table-wrap' }, table), pager);
}

function breadcrumbs(...trail: Child[]): HTMLElement {
  return h('div', { class: 'breadcrumbs' }, h('a', { href: '#/' }, 'Experiments'), trail.length ? ' › ' : null, trail);
}
