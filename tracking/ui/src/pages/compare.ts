/** Compare runs: metric curves overlaid (one chart per metric), params and latest metrics side by side. */
import { getExperiment, getRun, runName, type Run } from '../api.js';
import { metricChart, seriesColor, X_AXIS_OPTIONS, type ChartHandle, type XAxisMode } from '../charts.js';
import { emptyState, errorBox, h, loading, replaceChildren, segmented, type Child } from '../dom.js';
import { formatCount, formatNumber } from '../format.js';
import { link, type PageContext } from '../router.js';
import { chartPrefs, fetchHistories, historyId } from './run.js';

/** Wall time rarely lines up across runs; relative time and step do. */
const COMPARE_AXES: Array<{ value: XAxisMode; label: string }> = X_AXIS_OPTIONS.filter((o) => o.value !== 'wall');

export async function comparePage(ctx: PageContext): Promise<void> {
  document.title = 'Compare runs · Ring-count tracking';
  const ids = [...new Set((ctx.route.query.get('runs') ?? '').split(',').map((s) => s.trim()).filter(Boolean))];
  if (ids.length < 2) {
    replaceChildren(ctx.root, h('h1', null, 'Compare runs'),
      emptyState('Pick at least two runs', 'Open an ', h('a', { href: '#/' }, 'experiment'), ', tick the runs to compare and press “Compare selected”.'));
    return;
  }
  replaceChildren(ctx.root, h('h1', null, 'Compare runs'), loading(`${ids.length} runs`));
  let runs: Run[];
  try {
    runs = await Promise.all(ids.map((id) => getRun(id).catch((e: Error) => {
      throw new Error(`Run ${id}: ${e.message}`);
    })));
  } catch (e) {
    if (ctx.isCurrent()) replaceChildren(ctx.root, h('h1', null, 'Compare runs'), errorBox((e as Error).message));
    return;
  }
  const firstExperimentId = runs[0]?.info.experiment_id ?? '';
  const experimentName = await getExperiment(firstExperimentId).then((e) => e.name, () => 'Runs');
  if (!ctx.isCurrent()) return;

  const names = runs.map(runName);
  const runHeader = (): Child[] => runs.map((r, i) =>
    h('th', { scope: 'col' }, h('span', { class: 'swatch', style: `background:${seriesColor(i)}` }), h('a', { href: link(['runs', r.info.run_id]) }, names[i] ?? '')));

  const onlyDiff = h('input', { type: 'checkbox', 'data-testid': 'only-differences' });
  const sideBySide = (field: 'params' | 'metrics', testId: string): HTMLElement => {
    const maps = runs.map((r) => new Map<string, string>((r.data?.[field] ?? []).map((kv) =>
      [kv.key, field === 'metrics' ? formatNumber(kv.value) : String(kv.value)])));
    const keys = [...new Set(maps.flatMap((m) => [...m.keys()]))].sort((a, b) => a.localeCompare(b));
    if (keys.length === 0) return h('p', { class: 'muted' }, field === 'params' ? 'None of these runs logged parameters.' : 'None of these runs logged metrics.');
    return h('div', { class: 'table-wrap' }, h('table', { class: 'data', 'data-testid': testId },
      h('thead', null, h('tr', null, h('th', null, field === 'params' ? 'Parameter' : 'Metric (latest)'), runHeader())),
      h('tbody', null, keys.map((k) => {
        const values = maps.map((m) => m.get(k));
        const differs = values.some((v) => v !== values[0]);
        return h('tr', { class: differs ? 'differs' : null, 'data-key': k, 'data-differs': String(differs) },
          h('td', { class: 'mono' }, k),
          values.map((v) => h('td', { class: field === 'metrics' ? 'num' : 'wrap' }, v ?? h('span', { class: 'muted' }, '—'))));
      }))));
  };
  const paramsTable = sideBySide('params', 'compare-params');
  const metricsTable = sideBySide('metrics', 'compare-metrics');
  onlyDiff.addEventListener('change', () => {
    for (const row of ctx.root.querySelectorAll<HTMLElement>('tr[data-differs="false"]')) row.hidden = onlyDiff.checked;
  });

  const xAxis: XAxisMode = chartPrefs.xAxis === 'wall' ? 'step' : chartPrefs.xAxis;
  const chartsGrid = h('div', { class: 'charts', 'data-testid': 'charts' });
  const chartsStatus = h('p', { class: 'muted', 'data-testid': 'charts-status' });
  let currentAxis: XAxisMode = xAxis;

  replaceChildren(ctx.root,
    h('div', { class: 'breadcrumbs' }, h('a', { href: '#/' }, 'Experiments'), ' › ',
      h('a', { href: link(['experiments', firstExperimentId]) }, experimentName), ' › Compare'),
    h('h1', null, `Comparing ${runs.length} runs`),
    h('section', { class: 'panel' },
      h('div', { class: 'toolbar' }, h('h2', { style: 'margin:0' }, 'Metric charts'), h('span', { class: 'spacer' }),
        h('span', { class: 'muted' }, 'X axis '),
        segmented(COMPARE_AXES, xAxis, (mode) => {
          currentAxis = mode;
          chartPrefs.xAxis = mode;
          draw();
        }, 'X axis')),
      chartsStatus, chartsGrid),
    h('section', { class: 'panel' },
      h('div', { class: 'toolbar' }, h('h2', { style: 'margin:0' }, 'Parameters and metrics'), h('span', { class: 'spacer' }),
        h('label', null, onlyDiff, ' Only show differences')),
      h('p', { class: 'hint' }, 'Highlighted rows differ between runs.'),
      paramsTable, h('div', { style: 'height:12px' }), metricsTable));

  const metricKeys = [...new Set(runs.flatMap((r) => (r.data?.metrics ?? []).map((m) => m.key)))].sort((a, b) => a.localeCompare(b));
  let charts: ChartHandle[] = [];
  const destroy = (): void => {
    charts.forEach((c) => c.destroy());
    charts = [];
  };
  ctx.onLeave(destroy);
  if (metricKeys.length === 0) {
    chartsStatus.textContent = 'None of these runs logged metrics.';
    return;
  }
  const jobs = runs.flatMap((r) => metricKeys.filter((k) => (r.data?.metrics ?? []).some((m) => m.key === k)).map((key) => ({ runId: r.info.run_id, key })));
  chartsStatus.textContent = 'Loading metric history…';
  let histories: Awaited<ReturnType<typeof fetchHistories>> | undefined;
  try {
    histories = await fetchHistories(jobs, (n) => {
      if (ctx.isCurrent()) chartsStatus.textContent = `Loading metric history… ${formatCount(n)} points`;
    });
  } catch (e) {
    if (ctx.isCurrent()) chartsStatus.replaceWith(errorBox(`Could not load metric history: ${(e as Error).message}`));
    return;
  }
  if (!ctx.isCurrent()) return;
  chartsStatus.textContent = 'One chart per metric; each colour is a run. Drag to zoom, double-click to reset.';

  function draw(): void {
    if (!histories) return;
    const loaded = histories;
    destroy();
    chartsGrid.replaceChildren();
    for (const key of metricKeys) {
      // Runs without this metric are left out; colours stay tied to the run, as in the tables.
      const series = runs.flatMap((r, i) => {
        const history = loaded.get(historyId(r.info.run_id, key));
        return history ? [{ label: names[i] ?? r.info.run_id, history, startTime: Number(r.info.start_time) || undefined, color: seriesColor(i) }] : [];
      });
      const chart = metricChart(key, series, currentAxis);
      charts.push(chart);
      chartsGrid.append(chart.element);
    }
  }
  draw();
}
