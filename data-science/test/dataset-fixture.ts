import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { createRng, uniform } from '../src/dataset/random.js';

/**
 * Writes a small labelled folder in the ingest CLI's layout (`compound_rings.csv`, `images/`,
 * `dataset.json`) with line drawings of `n` polygons ("rings") joined by chains, 300×300 PNG. Tests
 * use it so they do not depend on RDKit or the generator; the label is the polygon count.
 */
export async function writeFixtureDataset(dir: string, opts: { count: number; maxRings: number; seed: number }): Promise<void> {
  await mkdir(path.join(dir, 'images'), { recursive: true });
  const rng = createRng(opts.seed);
  const rows = ['compound_id,num_rings,image'];
  for (let i = 0; i < opts.count; i++) {
    const rings = i % (opts.maxRings + 1);
    const id = `FIX${String(i).padStart(5, '0')}`;
    const file = `images/${id}.png`;
    await writeFile(path.join(dir, file), await drawing(rings, rng));
    rows.push(`${id},${rings},${file}`);
  }
  await writeFile(path.join(dir, 'compound_rings.csv'), rows.join('\n') + '\n');
  await writeFile(path.join(dir, 'dataset.json'), JSON.stringify({ digest: `fixture-${opts.seed}-${opts.count}`, generatorSeed: opts.seed }));
}

async function drawing(rings: number, rng: () => number): Promise<Buffer> {
  const shapes: string[] = [];
  const centres: Array<[number, number]> = [];
  for (let r = 0; r < rings; r++) {
    const cx = 50 + (r % 3) * 100 + uniform(rng, -10, 10);
    const cy = 50 + Math.floor(r / 3) * 100 + uniform(rng, -10, 10);
    centres.push([cx, cy]);
    const sides = rng() < 0.7 ? 6 : 5;
    const rot = uniform(rng, 0, Math.PI);
    const pts = Array.from({ length: sides }, (_, k) => {
      const a = rot + (2 * Math.PI * k) / sides;
      return `${(cx + 28 * Math.cos(a)).toFixed(1)},${(cy + 28 * Math.sin(a)).toFixed(1)}`;
    });
    shapes.push(`<polygon points="${pts.join(' ')}" fill="none" stroke="black" stroke-width="3"/>`);
  }
  for (let k = 1; k < centres.length; k++) {
    const [a, b] = [centres[k - 1] as [number, number], centres[k] as [number, number]];
    shapes.push(`<line x1="${a[0]}" y1="${a[1]}" x2="${b[0]}" y2="${b[1]}" stroke="black" stroke-width="3" stroke-dasharray="0 28 100"/>`);
  }
  const chain = Array.from({ length: 4 }, () => `${uniform(rng, 20, 280).toFixed(0)},${uniform(rng, 240, 290).toFixed(0)}`);
  shapes.push(`<polyline points="${chain.join(' ')}" fill="none" stroke="black" stroke-width="3"/>`);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="300" height="300"><rect width="300" height="300" fill="white"/>${shapes.join('')}</svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}
