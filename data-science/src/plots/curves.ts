import { escapeXml, FONT, svgToPng } from './svg.js';

/** One named line on a chart; `values[i]` belongs to epoch i+1. */
export interface Series {
  name: string;
  values: number[];
  color: string;
  dashed?: boolean;
}

export interface LineChartOptions {
  title: string;
  yLabel: string;
  width?: number;
  height?: number;
  /** Fix the y range (e.g. [0, 1] for accuracy); otherwise fitted to the data. */
  yRange?: [number, number];
}

/** A line chart over epochs as an SVG string. */
export function lineChartSvg(series: Series[], opts: LineChartOptions): string {
  const width = opts.width ?? 480;
  const height = opts.height ?? 300;
  const m = { left: 56, right: 16, top: 48, bottom: 44 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const epochs = Math.max(1, ...series.map((s) => s.values.length));
  const finite = series.flatMap((s) => s.values.filter(Number.isFinite));
  let [lo, hi] = opts.yRange ?? [Math.min(0, ...finite), Math.max(1e-6, ...finite)];
  if (hi <= lo) hi = lo + 1;
  if (!opts.yRange) hi += (hi - lo) * 0.05;
  lo = Math.max(lo, opts.yRange ? lo : -Infinity);
  const x = (i: number) => m.left + (epochs === 1 ? pw / 2 : (i / (epochs - 1)) * pw);
  const y = (v: number) => m.top + ph - ((v - lo) / (hi - lo)) * ph;
  const parts: string[] = [];
  parts.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  parts.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" ${FONT}>${escapeXml(opts.title)}</text>`);
  for (let t = 0; t <= 4; t++) {
    const v = lo + ((hi - lo) * t) / 4;
    parts.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.left - 6}" y="${y(v) + 4}" text-anchor="end" font-size="11" ${FONT}>${formatTick(v)}</text>`);
  }
  const step = Math.max(1, Math.ceil(epochs / 10));
  for (let i = 0; i < epochs; i += step) {
    parts.push(`<text x="${x(i)}" y="${m.top + ph + 16}" text-anchor="middle" font-size="11" ${FONT}>${i + 1}</text>`);
  }
  parts.push(`<text x="${m.left + pw / 2}" y="${height - 8}" text-anchor="middle" font-size="12" ${FONT}>epoch</text>`);
  parts.push(
    `<text transform="translate(14 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle" font-size="12" ${FONT}>${escapeXml(opts.yLabel)}</text>`,
  );
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
  series.forEach((s, k) => {
    const pts = s.values.map((v, i) => (Number.isFinite(v) ? `${x(i).toFixed(1)},${y(v).toFixed(1)}` : '')).filter((p) => p !== '');
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    if (pts.length > 1) parts.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`);
    for (const p of pts) {
      const [px, py] = p.split(',');
      parts.push(`<circle cx="${px}" cy="${py}" r="3" fill="${s.color}"/>`);
    }
    const lx = m.left + k * 120;
    parts.push(`<line x1="${lx}" x2="${lx + 20}" y1="34" y2="34" stroke="${s.color}" stroke-width="2"${dash}/>`);
    parts.push(`<text x="${lx + 24}" y="38" font-size="11" ${FONT}>${escapeXml(s.name)}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join('')}</svg>`;
}

function formatTick(v: number): string {
  return Math.abs(v) >= 10 ? v.toFixed(0) : v.toFixed(2);
}

/** Per-epoch history of a training run. */
export interface TrainingHistory {
  trainLoss: number[];
  trainAccuracy: number[];
  valLoss: number[];
  valAccuracy: number[];
}

/** Loss and accuracy side by side, as one PNG. */
export async function trainingCurvesPng(history: TrainingHistory, title = 'Training curves'): Promise<Buffer> {
  const loss = lineChartSvg(
    [
      { name: 'train loss', values: history.trainLoss, color: '#1f77b4' },
      { name: 'val loss', values: history.valLoss, color: '#ff7f0e', dashed: true },
    ],
    { title: `${title}: loss`, yLabel: 'cross-entropy' },
  );
  const acc = lineChartSvg(
    [
      { name: 'train acc', values: history.trainAccuracy, color: '#1f77b4' },
      { name: 'val acc', values: history.valAccuracy, color: '#ff7f0e', dashed: true },
    ],
    { title: `${title}: accuracy`, yLabel: 'exact-match accuracy', yRange: [0, 1] },
  );
  return svgToPng(sideBySide([loss, acc], 480, 300));
}

/** Places equally sized SVG documents next to each other in one SVG. */
export function sideBySide(svgs: string[], width: number, height: number): string {
  const inner = svgs.map((s, i) => `<g transform="translate(${i * width} 0)">${s.replace(/^<svg[^>]*>|<\/svg>$/g, '')}</g>`).join('');
  const total = width * svgs.length;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${total}" height="${height}" viewBox="0 0 ${total} ${height}">${inner}</svg>`;
}
