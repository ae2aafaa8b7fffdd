import type { ConfusionMatrix } from '../evaluation/metrics.js';
import { escapeXml, FONT, svgToPng } from './svg.js';

/** Heat map of a confusion matrix (rows = true ring count, columns = predicted), counts in cells. */
export function confusionMatrixSvg(confusion: ConfusionMatrix, title = 'Confusion matrix'): string {
  const n = confusion.labels.length;
  const cell = Math.max(22, Math.min(48, Math.floor(420 / Math.max(1, n))));
  const m = { left: 70, top: 52, right: 16, bottom: 48 };
  const width = m.left + n * cell + m.right;
  const height = m.top + n * cell + m.bottom;
  const parts: string[] = [`<rect width="${width}" height="${height}" fill="#ffffff"/>`];
  parts.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" ${FONT}>${escapeXml(title)}</text>`);
  confusion.matrix.forEach((row, t) => {
    const rowTotal = row.reduce((a, b) => a + b, 0);
    row.forEach((count, p) => {
      const share = rowTotal === 0 ? 0 : count / rowTotal;
      const shade = Math.round(255 - share * 200);
      const fill = t === p ? `rgb(${shade},${Math.round(255 - share * 120)},${shade})` : `rgb(255,${shade},${shade})`;
      const cx = m.left + p * cell;
      const cy = m.top + t * cell;
      parts.push(`<rect x="${cx}" y="${cy}" width="${cell}" height="${cell}" fill="${count === 0 ? '#ffffff' : fill}" stroke="#ccc"/>`);
      if (count > 0) {
        parts.push(`<text x="${cx + cell / 2}" y="${cy + cell / 2 + 4}" text-anchor="middle" font-size="${cell > 30 ? 12 : 9}" ${FONT}>${count}</text>`);
      }
    });
  });
  confusion.labels.forEach((label, i) => {
    parts.push(`<text x="${m.left + i * cell + cell / 2}" y="${m.top - 6}" text-anchor="middle" font-size="11" ${FONT}>${label}</text>`);
    parts.push(`<text x="${m.left - 6}" y="${m.top + i * cell + cell / 2 + 4}" text-anchor="end" font-size="11" ${FONT}>${label}</text>`);
  });
  parts.push(`<text x="${m.left + (n * cell) / 2}" y="${height - 16}" text-anchor="middle" font-size="12" ${FONT}>predicted rings</text>`);
  parts.push(`<text transform="translate(16 ${m.top + (n * cell) / 2}) rotate(-90)" text-anchor="middle" font-size="12" ${FONT}>true rings</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join('')}</svg>`;
}

export async function confusionMatrixPng(confusion: ConfusionMatrix, title?: string): Promise<Buffer> {
  return svgToPng(confusionMatrixSvg(confusion, title));
}
