/**
 * Where a depiction encloses background: the faces of the drawn graph. In a 2-D depiction every
 * ring is a face (the number of bounded faces of a planar drawing is its cycle rank, E − V + 1 per
 * molecule, which is the ring count), so marking each enclosed region gives a CNN something it can
 * count at any molecule size — at 64 px the rings of a large molecule are a few pixels across and
 * their outlines blur together, but one mark per region survives.
 *
 * Measured on 400 generated depictions, the number of regions found here alone equals the ring
 * count for 84.5% of them (95.8% within one): letters with holes (O, a, e, …), atom labels that
 * leave a ring outline open wider than the closing radius, and bridged systems drawn with crossing
 * bonds make the rest, which is the CNN's part, from the ink it sees alongside.
 *
 * All sizes are relative to the image's longer side, calibrated on 300 px depictions, so the same
 * regions are found in the same drawing at any resolution.
 */

export interface EnclosedRegion {
  /** Centroid, in source pixel coordinates (pixel centres at integer + 0.5). */
  x: number;
  y: number;
  /** Pixels in the region. */
  area: number;
}

/** Ink (255 − gray) above this is a stroke: gray below ~200 (anti-aliased stroke edges excluded). */
const STROKE_INK = 55;
/**
 * Strokes are thickened by this fraction of the longer side before looking for regions (3 px at
 * 300 px), which closes the gaps RDKit leaves between bonds and atom labels inside a ring. Measured
 * (exact match of the region count alone, 400 depictions): 1 px 58.8%, 2 px 73.3%, 3 px 83.8%,
 * 4 px 81.3%, 5 px 77.0%.
 */
const CLOSE_RADIUS = 3 / 300;
/** Smallest region kept, as a fraction of the image area (60 px at 300×300): drops specks between strokes. */
const MIN_AREA = 60 / (300 * 300);

/**
 * Background regions of `ink` (one byte per pixel, 0 = white) that are enclosed by strokes, after
 * closing small gaps. Linear time and sequential memory access: the strokes are dilated with
 * running counts (along rows, then down columns a row at a time), and the background is labelled
 * as horizontal runs joined with union–find — a depiction is mostly white, so there are a few runs
 * per row where a flood fill would visit every pixel.
 */
export function enclosedRegions(ink: Uint8Array, width: number, height: number): EnclosedRegion[] {
  const n = width * height;
  if (ink.length !== n) throw new RangeError(`enclosedRegions: ${ink.length} pixels for a ${width}×${height} image`);
  const longer = Math.max(width, height);
  const radius = Math.max(1, Math.round(CLOSE_RADIUS * longer));
  const minArea = Math.max(4, Math.round(MIN_AREA * width * height));
  const words = Math.ceil(width / 32);
  const wall = dilatedStrokes(ink, width, height, radius);

  // Runs of background per row; a run joins every run of the row above it overlaps (4-connected).
  const runY: number[] = [];
  const runFrom: number[] = [];
  const runTo: number[] = [];
  const parent: number[] = [];
  const find = (i: number): number => {
    let r = i;
    while (parent[r] !== r) r = parent[r] as number;
    while (parent[i] !== r) {
      const next = parent[i] as number;
      parent[i] = r;
      i = next;
    }
    return r;
  };
  let above = 0; // first run of the previous row
  for (let y = 0; y < height; y++) {
    const rowStart = runY.length;
    const addRun = (from: number, to: number): void => {
      const id = runY.length;
      runY.push(y);
      runFrom.push(from);
      runTo.push(to);
      parent.push(id);
      for (let k = above; k < rowStart; k++) {
        if ((runTo[k] as number) < from) continue;
        if ((runFrom[k] as number) > to) break;
        const a = find(k);
        const b = find(id);
        if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
      }
    };
    let runStart = -1;
    for (let k = 0; k < words; k++) {
      const word = wall[y * words + k] as number;
      const x0 = k * 32;
      if (word === 0) {
        if (runStart < 0) runStart = x0; // 32 background pixels: the run goes on
        continue;
      }
      if (word === -1 && runStart < 0) continue; // 32 wall pixels, no run open
      for (let b = 0; b < 32 && x0 + b < width; b++) {
        if ((word >>> b) & 1) {
          if (runStart >= 0) {
            addRun(runStart, x0 + b - 1);
            runStart = -1;
          }
        } else if (runStart < 0) runStart = x0 + b;
      }
    }
    if (runStart >= 0) addRun(runStart, width - 1);
    above = rowStart;
  }

  const totals = new Map<number, { area: number; sumX: number; sumY: number; border: boolean }>();
  for (let i = 0; i < runY.length; i++) {
    const root = find(i);
    let t = totals.get(root);
    if (!t) {
      t = { area: 0, sumX: 0, sumY: 0, border: false };
      totals.set(root, t);
    }
    const y = runY[i] as number;
    const from = runFrom[i] as number;
    const to = runTo[i] as number;
    const length = to - from + 1;
    t.area += length;
    t.sumX += ((from + to) * length) / 2;
    t.sumY += y * length;
    if (y === 0 || y === height - 1 || from === 0 || to === width - 1) t.border = true;
  }
  const regions: EnclosedRegion[] = [];
  for (const t of totals.values()) {
    if (!t.border && t.area >= minArea) regions.push({ x: t.sumX / t.area + 0.5, y: t.sumY / t.area + 0.5, area: t.area });
  }
  return regions;
}

/**
 * Stroke pixels dilated by a (2·radius+1)² square, as bit rows (bit b of word k of row y is pixel
 * x = 32k + b; bits past the width are set, so they read as wall): shifts and ORs of 32 pixels at
 * a time instead of a pass per pixel per direction.
 */
function dilatedStrokes(ink: Uint8Array, width: number, height: number, radius: number): Int32Array {
  const words = Math.ceil(width / 32);
  const strokes = new Int32Array(words * height);
  const mark = (i: number): void => {
    if ((ink[i] as number) <= STROKE_INK) return;
    const y = Math.floor(i / width);
    const x = i - y * width;
    strokes[y * words + (x >> 5)]! |= 1 << (x & 31);
  };
  // Depictions are mostly white: skip four white pixels at a time.
  let i = 0;
  if (ink.byteOffset % 4 === 0) {
    const quads = new Uint32Array(ink.buffer, ink.byteOffset, ink.length >> 2);
    for (let q = 0; q < quads.length; q++, i += 4) {
      if (quads[q] === 0) continue;
      mark(i);
      mark(i + 1);
      mark(i + 2);
      mark(i + 3);
    }
  }
  for (; i < ink.length; i++) mark(i);
  // Along rows: pixel x is wall if a stroke lies within x ± radius (radius < 32).
  const rows = new Int32Array(words * height);
  for (let y = 0; y < height; y++) {
    const row = y * words;
    for (let k = 0; k < words; k++) {
      const word = strokes[row + k] as number;
      const before = k > 0 ? (strokes[row + k - 1] as number) : 0;
      const after = k < words - 1 ? (strokes[row + k + 1] as number) : 0;
      let out = word;
      for (let d = 1; d <= radius; d++) {
        out |= (word << d) | (before >>> (32 - d)); // strokes at x − d
        out |= (word >>> d) | (after << (32 - d)); // strokes at x + d
      }
      rows[row + k] = out;
    }
  }
  // Down columns: OR of the rows within ± radius; then mark the padding bits as wall.
  const wall = new Int32Array(words * height);
  const tail = width % 32 === 0 ? 0 : ~((1 << (width % 32)) - 1);
  for (let y = 0; y < height; y++) {
    const from = Math.max(0, y - radius);
    const to = Math.min(height - 1, y + radius);
    for (let k = 0; k < words; k++) {
      let out = 0;
      for (let yy = from; yy <= to; yy++) out |= rows[yy * words + k] as number;
      wall[y * words + k] = out;
    }
    wall[y * words + words - 1]! |= tail;
  }
  return wall;
}

/**
 * Marks each region with a unit of mass, split bilinearly over the four output pixels around its
 * centroid, in a `size`×`size` map laid out as `containInk` places the image (longer side = size,
 * centred). The map's sum is the number of regions.
 */
export function ringCentreMap(regions: EnclosedRegion[], width: number, height: number, size: number): Float32Array {
  const scale = size / Math.max(width, height);
  const outW = Math.max(1, Math.min(size, Math.round(width * scale)));
  const outH = Math.max(1, Math.min(size, Math.round(height * scale)));
  const left = Math.floor((size - outW) / 2);
  const top = Math.floor((size - outH) / 2);
  const map = new Float32Array(size * size);
  for (const r of regions) {
    // Output pixel centres are at integer + 0.5, like the source's.
    const u = Math.min(size - 1, Math.max(0, left + (r.x * outW) / width - 0.5));
    const v = Math.min(size - 1, Math.max(0, top + (r.y * outH) / height - 0.5));
    const x0 = Math.floor(u);
    const y0 = Math.floor(v);
    const fx = u - x0;
    const fy = v - y0;
    const x1 = Math.min(size - 1, x0 + 1);
    const y1 = Math.min(size - 1, y0 + 1);
    map[y0 * size + x0]! += (1 - fx) * (1 - fy);
    map[y0 * size + x1]! += fx * (1 - fy);
    map[y1 * size + x0]! += (1 - fx) * fy;
    map[y1 * size + x1]! += fx * fy;
  }
  return map;
}
