/**
 * Metric charts on uPlot: canvas-based, so 100,000-point histories draw in milliseconds.
 * One chart per metric; runs being compared are overlaid as series of the same chart.
 */
import uPlot from 'uplot';
import type { Metric } from './api.js';
import { h } from './dom.js';
import { formatCount, formatNumber } from './format.js';

export type XAxisMode = 'step' | 'relative' | 'wall';

export const X_AXIS_OPTIONS: Array<{ value: XAxisMode; label: string }> = [
  { value: 'step', label: 'Step' },
  { value: 'relative', label: 'Relative time' },
  { value: 'wall', label: 'Wall time' },
];

/** Distinguishable on white and for common colour-vision deficiencies (Okabe–Ito based). */
export const SERIES_COLORS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#7f3c8d'];

export function seriesColor(i: number): string {
  return SERIES_COLORS[i % SERIES_COLORS.length] ?? '#0072B2';
}

export interface MetricSeries {
  label: string;
  history: Metric[];
  /** Run start (ms) for "relative time"; the first point's timestamp when unknown. */
  startTime?: number;
  /** Fixed colour (compare view keeps one colour per run); defaults to the palette by position. */
  color?: string;
}

function toNumber(v: number | string | undefined): number | null {
  if (v === undefined) return null;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : null;
}

/** x values for one history, sorted ascending by x then by timestamp; non-finite values become gaps. */
export function seriesData(s: MetricSeries, mode: XAxisMode): { xs: Float64Array; ys: Array<number | null> } {
  const points = s.history.map((m) => ({ step: Number(m.step ?? 0), ts: Number(m.timestamp), y: toNumber(m.value) }));
  let t0 = s.startTime && s.startTime > 0 ? s.startTime : Infinity;
  if (!Number.isFinite(t0)) for (const p of points) if (p.ts < t0) t0 = p.ts; // a loop: spreading 100k args overflows the stack
  const xOf = (p: { step: number; ts: number }): number =>
    mode === 'step' ? p.step : mode === 'relative' ? (p.ts - t0) / 1000 : p.ts / 1000;
  const ordered = points.map((p) => ({ x: xOf(p), ts: p.ts, y: p.y })).sort((a, b) => a.x - b.x || a.ts - b.ts);
  const xs = new Float64Array(ordered.length);
  const ys: Array<number | null> = new Array<number | null>(ordered.length);
  ordered.forEach((p, i) => {
    xs[i] = p.x;
    ys[i] = p.y;
  });
  return { xs, ys };
}

/** For overlays, uPlot needs one shared x array; keep the last value logged at each x of each run. */
function dedupeLastPerX(xs: Float64Array, ys: Array<number | null>): [Float64Array, Array<number | null>] {
  const outX: number[] = [];
  const outY: Array<number | null> = [];
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i] as number;
    if (outX.length > 0 && outX[outX.length - 1] === x) outY[outY.length - 1] = ys[i] ?? null;
    else {
      outX.push(x);
      outY.push(ys[i] ?? null);
    }
  }
  return [Float64Array.from(outX), outY];
}

export function buildAlignedData(series: MetricSeries[], mode: XAxisMode): uPlot.AlignedData {
  const perRun = series.map((s) => seriesData(s, mode));
  if (perRun.length === 1) {
    const only = perRun[0] as { xs: Float64Array; ys: Array<number | null> };
    return [only.xs, only.ys];
  }
  const tables = perRun.map((d) => dedupeLastPerX(d.xs, d.ys) as unknown as uPlot.AlignedData);
  return uPlot.join(tables);
}

const X_LABELS: Record<XAxisMode, string> = { step: 'Step', relative: 'Relative time (s)', wall: 'Wall time' };

export interface ChartHandle {
  element: HTMLElement;
  destroy(): void;
}

/** Draws one metric chart into a card; `series` has one entry per run (overlaid when several). */
export function metricChart(title: string, series: MetricSeries[], mode: XAxisMode): ChartHandle {
  const points = series.reduce((n, s) => n + s.history.length, 0);
  const plot = h('div', { class: 'plot' });
  const card = h('section', { class: 'chart', 'data-metric': title, 'data-points': points },
    h('h3', null, h('span', { class: 'mono' }, title), h('span', { class: 'muted' }, `${formatCount(points)} point${points === 1 ? '' : 's'}`)),
    plot);
  const data = buildAlignedData(series, mode);
  const opts: uPlot.Options = {
    width: 600,
    height: 260,
    scales: { x: { time: mode === 'wall' } },
    series: [
      { label: X_LABELS[mode], value: (_u, v) => (v === null || v === undefined ? '—' : mode === 'wall' ? new Date(v * 1000).toLocaleString() : formatNumber(v)) },
      ...series.map((s, i) => ({
        label: s.label,
        stroke: s.color ?? seriesColor(i),
        width: 1.5,
        spanGaps: series.length > 1,
        points: { show: points < 2000 },
        value: (_u: uPlot, v: number | null) => formatNumber(v),
      })),
    ],
    axes: [
      { label: X_LABELS[mode], labelSize: 20, size: 40 },
      { size: 60, values: (_u, splits) => splits.map((v) => formatNumber(v)) },
    ],
    legend: { show: true, live: true },
    cursor: { drag: { x: true, y: false } },
  };
  // uPlot draws after the constructor returns; its first draw hook tells what drawing cost (kept on the card for tests).
  const drawStart = performance.now();
  opts.hooks = { draw: [() => { card.dataset.drawMs ??= (performance.now() - drawStart).toFixed(1); }] };
  const chart = new uPlot(opts, data, plot);
  // Follow the card's width; uPlot redraws from its data on setSize.
  const observer = new ResizeObserver(() => {
    const width = Math.max(240, Math.floor(plot.clientWidth));
    if (width !== chart.width) chart.setSize({ width, height: 260 });
  });
  observer.observe(plot);
  return {
    element: card,
    destroy: () => {
      observer.disconnect();
      chart.destroy();
    },
  };
}
