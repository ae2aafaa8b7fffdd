/** A run: overview, params, metrics (latest), tags, metric charts (step / time), artifacts. */
import { getExperiment, getMetricHistory, getRun, runName, searchModelVersions, tagValue, type Metric, type ModelVersion, type Run } from '../api.js';
import { artifactBrowser } from '../artifacts.js';
import { metricChart, X_AXIS_OPTIONS, type ChartHandle, type XAxisMode } from '../charts.js';
import { errorBox, h, keyValueTable, loading, replaceChildren, segmented, type Child } from '../dom.js';
import { formatCount, formatDuration, formatNumber, formatTime } from '../format.js';
import { link, navigate, type PageContext } from '../router.js';

/** The axis choice is remembered for the session, across runs and the compare view. */
export const chartPrefs: { xAxis: XAxisMode } = { xAxis: 'step' };

/** Fetches histories a few at a time: the server and the browser stay responsive with many metrics. */
export async function fetchHistories(
  jobs: Array<{ runId: string; key: string }>,
  onProgress: (loadedPoints: number) => void,
  concurrency = 4,
): Promise<Map<string, Metric[]>> {
  const out = new Map<string, Metric[]>();
  const loadedPerJob = new Map<string, number>();
  const report = (): void => onProgress([...loadedPerJob.values()].reduce((a, b) => a + b, 0));
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const job = jobs[next++] as { runId: string; key: string };
      const id = `${job.runId}\u0000${job.key}`;
      const history = await getMetricHistory(job.runId, job.key, (n) => {
        loadedPerJob.set(id, n);
        report();
      });
      out.set(id, history);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, () => worker()));
  return out;
}

export function historyId(runId: string, key: string): string {
  return `${runId}\u0000${key}`;
}

const SYSTEM_TAG = /^mlflow\./;

export async function runPage(ctx: PageContext, runId: string): Promise<void> {
  replaceChildren(ctx.root, h('h1', null, 'Run'), loading('run'));
  let run: Run;
  let experimentName: string;
  let registered: ModelVersion[];
  try {
    run = await getRun(runId);
    const experimentId = run.info.experiment_id;
    // Both are extras: a failure leaves the run page usable.
    [experimentName, registered] = await Promise.all([
      getExperiment(experimentId).then((e) => e.name, () => `#${experimentId}`),
      searchModelVersions({ runId }).catch(() => []),
    ]);
  } catch (e) {
    if (ctx.isCurrent()) replaceChildren(ctx.root, h('div', { class: 'breadcrumbs' }, h('a', { href: '#/' }, 'Experiments')), h('h1', null, 'Run not found'), errorBox((e as Error).message));
    return;
  }
  if (!ctx.isCurrent()) return;
  const name = runName(run);
  document.title = `${name} · Ring-count tracking`;
  const info = run.info;
  const tags = run.data?.tags ?? [];
  const metrics = run.data?.metrics ?? [];
  const params = run.data?.params ?? [];

  const overviewRows: Array<[string, Child]> = [
    ['Run ID', h('span', { class: 'mono' }, info.run_id)],
    ['Experiment', h('a', { href: link(['experiments', info.experiment_id]) }, experimentName)],
    ['Status', h('span', { class: `badge ${info.status ?? ''}`, 'data-testid': 'run-status' }, info.status ?? '')],
    ['Started', formatTime(info.start_time)],
    ['Ended', formatTime(info.end_time)],
    ['Duration', formatDuration(info.start_time, info.end_time)],
    ['User', info.user_id || tagValue(tags, 'mlflow.user') || '—'],
    ['Source', tagValue(tags, 'mlflow.source.name') ?? '—'],
    ['Artifact URI', h('span', { class: 'mono' }, info.artifact_uri ?? '—')],
    ['Registered as', registered.length === 0 ? h('span', { class: 'muted' }, 'not registered') : h('span', { 'data-testid': 'registered-versions' },
      registered.map((v) => h('span', { class: 'chip', 'data-model-version': `${v.name}/${v.version}` },
        h('a', { href: link(['models', v.name]) }, `${v.name} v${v.version}`), (v.aliases ?? []).map((a) => ` @${a}`))))],
  ];
  const note = tagValue(tags, 'mlflow.note.content');

  const userTags = tags.filter((t) => !SYSTEM_TAG.test(t.key));
  const systemTags = tags.filter((t) => SYSTEM_TAG.test(t.key));
  const metricRows = metrics.map((m) => ({
    key: m.key,
    value: h('span', { class: 'mono' }, formatNumber(m.value), h('span', { class: 'muted' }, m.step !== undefined ? `  (step ${m.step})` : '')),
  }));

  const chartsGrid = h('div', { class: 'charts', 'data-testid': 'charts' });
  const chartsStatus = h('p', { class: 'muted', 'data-testid': 'charts-status' });
  const chartsPanel = h('section', { class: 'panel' },
    h('div', { class: 'toolbar' }, h('h2', { style: 'margin:0' }, 'Metric charts'), h('span', { class: 'spacer' }),
      h('span', { class: 'muted' }, 'X axis '),
      segmented(X_AXIS_OPTIONS, chartPrefs.xAxis, (mode) => {
        chartPrefs.xAxis = mode;
        drawCharts();
      }, 'X axis')),
    chartsStatus, chartsGrid);

  replaceChildren(ctx.root,
    h('div', { class: 'breadcrumbs' }, h('a', { href: '#/' }, 'Experiments'), ' › ', h('a', { href: link(['experiments', info.experiment_id]) }, experimentName), ' › ', name),
    h('div', { class: 'toolbar', style: 'margin:0' },
      h('h1', { 'data-testid': 'run-name', style: 'margin:4px 0 12px' }, name), h('span', { class: 'spacer' }),
      h('button', { type: 'button', title: 'Reload this run from the server', onclick: () => navigate(location.hash) }, 'Refresh')),
    note ? h('p', { class: 'panel wrap' }, note) : null,
    h('div', { class: 'grid-2' },
      h('section', { class: 'panel' }, h('h2', null, 'Overview'), h('dl', { class: 'overview' }, overviewRows.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]))),
      h('section', { class: 'panel' }, h('h2', null, `Parameters (${params.length})`),
        keyValueTable(params.map((p) => ({ key: p.key, value: p.value })), 'No parameters logged.', 'params-table'))),
    h('div', { class: 'grid-2' },
      h('section', { class: 'panel' }, h('h2', null, `Metrics (${metrics.length})`), h('p', { class: 'hint' }, 'Latest value of each metric.'),
        keyValueTable(metricRows, 'No metrics logged.', 'metrics-table')),
      h('section', { class: 'panel' }, h('h2', null, `Tags (${userTags.length})`),
        keyValueTable(userTags.map((t) => ({ key: t.key, value: t.value })), 'No tags set.', 'tags-table'),
        systemTags.length ? h('details', null, h('summary', null, `${systemTags.length} system tags (mlflow.*)`),
          keyValueTable(systemTags.map((t) => ({ key: t.key, value: t.value })), '', 'system-tags-table')) : null)),
    metrics.length ? chartsPanel : null,
    h('section', { class: 'panel' }, h('h2', null, 'Artifacts'), artifactBrowser(info.run_id, info.artifact_uri, (fn) => ctx.onLeave(fn))));

  let charts: ChartHandle[] = [];
  const destroyCharts = (): void => {
    charts.forEach((c) => c.destroy());
    charts = [];
  };
  ctx.onLeave(destroyCharts);
  let histories: Map<string, Metric[]> | undefined;
  const keys = [...new Set(metrics.map((m) => m.key))].sort((a, b) => a.localeCompare(b));
  const startTime = Number(info.start_time) || undefined;

  function drawCharts(): void {
    if (!histories) return;
    destroyCharts();
    chartsGrid.replaceChildren();
    for (const key of keys) {
      const history = histories.get(historyId(info.run_id, key)) ?? [];
      const chart = metricChart(key, [{ label: name, history, startTime }], chartPrefs.xAxis);
      charts.push(chart);
      chartsGrid.append(chart.element);
    }
  }

  if (keys.length === 0) return;
  chartsStatus.textContent = `Loading the history of ${keys.length} metric${keys.length === 1 ? '' : 's'}…`;
  const fetchStart = performance.now();
  try {
    histories = await fetchHistories(keys.map((key) => ({ runId: info.run_id, key })), (n) => {
      if (ctx.isCurrent()) chartsStatus.textContent = `Loading metric history… ${formatCount(n)} points`;
    });
  } catch (e) {
    if (ctx.isCurrent()) chartsStatus.replaceWith(errorBox(`Could not load metric history: ${(e as Error).message}`));
    return;
  }
  if (!ctx.isCurrent()) return;
  const total = [...histories.values()].reduce((n, hs) => n + hs.length, 0);
  const fetchSeconds = ((performance.now() - fetchStart) / 1000).toFixed(2);
  const drawStart = performance.now();
  drawCharts();
  const drawSeconds = ((performance.now() - drawStart) / 1000).toFixed(2);
  chartsStatus.dataset.fetchMs = String(Math.round(performance.now() - fetchStart));
  chartsStatus.textContent = `${formatCount(total)} points loaded in ${fetchSeconds} s, drawn in ${drawSeconds} s. Drag across a chart to zoom, double-click to reset.`;
}
