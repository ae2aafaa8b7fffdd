import type { Rng } from './random.js';
import { uniform } from './random.js';

/**
 * Augmentation suited to 2-D depictions: a molecule drawing means the same at any angle, mirrored,
 * a little larger or smaller, shifted, or drawn with other line weights. Applied to the preprocessed
 * "ink" image (background 0), so out-of-frame pixels are simply background.
 */
export interface AugmentConfig {
  /**
   * Probability of passing an image through unchanged: resampling softens strokes, so without some
   * clean images the model would never see the crisp depictions it is evaluated and served on.
   */
  keepOriginal: number;
  /** Rotate by a uniform angle in [0, 360°). */
  rotate: boolean;
  /** Mirror horizontally with probability 0.5 (a vertical flip is a horizontal flip plus 180°). */
  flip: boolean;
  /**
   * Uniform zoom factor range, e.g. [0.85, 1]. The zoom is further shrunk when needed so the rotated
   * ink fits inside the frame.
   */
  scale: [number, number];
  /** Largest shift as a fraction of the side, e.g. 0.06; limited to the margin the zoom leaves. */
  translate: number;
  /** Probability of thickening strokes (other renderers draw heavier lines). */
  thicken: number;
  /** Ink intensity gain range, e.g. [0.7, 1] (lighter anti-aliasing, grey atoms). */
  intensity: [number, number];
}

/**
 * Any angle and mirror image (orientation carries no information), milder zoom/shift/stroke changes:
 * at 64 px a ring is ~8 px across, and stronger resampling and thickening blurred rings together and
 * slowed learning measurably within the training budget.
 */
export const depictionAugmentation = (): AugmentConfig => ({
  keepOriginal: 0.3,
  rotate: true,
  flip: true,
  scale: [0.9, 1],
  translate: 0.04,
  thicken: 0.15,
  intensity: [0.9, 1],
});

/**
 * Returns a new `size×size×channels` image (channels interleaved per pixel, ink first); the input
 * is not modified. Every channel gets the same rotation, mirror, zoom and shift; stroke and
 * intensity changes apply to the ink only (within [0, 1]), and the other channels — the
 * ring-centre map, whose sum is a count — are rescaled so that zooming keeps their sums.
 */
export function augmentImage(src: Float32Array, size: number, cfg: AugmentConfig, rng: Rng, channels = 1): Float32Array {
  const expected = size * size * channels;
  if (src.length !== expected) throw new RangeError(`augmentImage: expected ${expected} values (${size}×${size}×${channels}), got ${src.length}`);
  if (rng() < cfg.keepOriginal) return Float32Array.from(src);
  const planes = channels === 1 ? [src] : deinterleave(src, size * size, channels);
  const ink = planes[0] as Float32Array;
  const angle = cfg.rotate ? uniform(rng, 0, 2 * Math.PI) : 0;
  const mirror = cfg.flip && rng() < 0.5 ? -1 : 1;
  // Largest zoom at which the rotated ink still fits the frame: a rotation must never cut rings off
  // (that would make the label wrong). Uses the ink's bounding box, so elongated molecules with white
  // space around them keep their scale instead of always shrinking by up to 1/√2.
  const box = inkBox(ink, size);
  const c = (size - 1) / 2;
  const half = c; // largest |offset| of a pixel centre from the centre
  const cosA = Math.abs(Math.cos(angle));
  const sinA = Math.abs(Math.sin(angle));
  const ex = Math.max(Math.abs(box.x0 - c), Math.abs(box.x1 - c));
  const ey = Math.max(Math.abs(box.y0 - c), Math.abs(box.y1 - c));
  const extentX = cosA * ex + sinA * ey;
  const extentY = sinA * ex + cosA * ey;
  const fit = Math.min(half / Math.max(extentX, 1e-6), half / Math.max(extentY, 1e-6));
  const zoom = Math.min(uniform(rng, cfg.scale[0], cfg.scale[1]), fit);
  // Shift only within the margin left on each axis, so nothing leaves the frame.
  const marginX = Math.max(0, Math.min(cfg.translate * size, half - extentX * zoom));
  const marginY = Math.max(0, Math.min(cfg.translate * size, half - extentY * zoom));
  const tx = uniform(rng, -marginX, marginX);
  const ty = uniform(rng, -marginY, marginY);
  const gain = uniform(rng, cfg.intensity[0], cfg.intensity[1]);
  const thicken = rng() < cfg.thicken ? uniform(rng, 0.3, 0.6) : 0;

  // Inverse mapping: for each output pixel find where it comes from in the source.
  const cos = Math.cos(angle) / zoom;
  const sin = Math.sin(angle) / zoom;
  const warp = (plane: Float32Array, factor: number): Float32Array => {
    const out = new Float32Array(size * size);
    for (let y = 0; y < size; y++) {
      const dy = y - c - ty;
      for (let x = 0; x < size; x++) {
        const dx = x - c - tx;
        const sx = (cos * dx + sin * dy) * mirror + c;
        const sy = -sin * dx + cos * dy + c;
        out[y * size + x] = factor * bilinear(plane, size, sx, sy);
      }
    }
    return out;
  };
  const warpedInk = warp(ink, gain);
  const inkOut = thicken > 0 ? thickenStrokes(warpedInk, size, thicken) : warpedInk;
  if (channels === 1) return inkOut;
  // Sampling a map shrunk by `zoom` gathers zoom² of its mass.
  return interleave([inkOut, ...planes.slice(1).map((p) => warp(p, 1 / (zoom * zoom)))], size * size);
}

function deinterleave(src: Float32Array, pixels: number, channels: number): Float32Array[] {
  return Array.from({ length: channels }, (_, ch) => {
    const plane = new Float32Array(pixels);
    for (let i = 0; i < pixels; i++) plane[i] = src[i * channels + ch] as number;
    return plane;
  });
}

function interleave(planes: Float32Array[], pixels: number): Float32Array {
  const channels = planes.length;
  const out = new Float32Array(pixels * channels);
  planes.forEach((plane, ch) => {
    for (let i = 0; i < pixels; i++) out[i * channels + ch] = plane[i] as number;
  });
  return out;
}

/** Bounding box of the pixels with ink (whole frame when there is none). */
function inkBox(img: Float32Array, size: number): { x0: number; y0: number; x1: number; y1: number } {
  let x0 = size;
  let y0 = size;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if ((img[y * size + x] as number) > 0.02) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  return x1 < 0 ? { x0: 0, y0: 0, x1: size - 1, y1: size - 1 } : { x0, y0, x1, y1 };
}

function bilinear(img: Float32Array, size: number, x: number, y: number): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  if (x0 < -1 || y0 < -1 || x0 >= size || y0 >= size) return 0;
  const fx = x - x0;
  const fy = y - y0;
  const at = (xx: number, yy: number): number => (xx < 0 || yy < 0 || xx >= size || yy >= size ? 0 : (img[yy * size + xx] as number));
  return (
    (1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x0 + 1, y0)) + fy * ((1 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1))
  );
}

/** max(pixel, strength × 3×3 max): heavier lines without merging neighbouring bonds fully. */
function thickenStrokes(img: Float32Array, size: number, strength: number): Float32Array {
  const out = new Float32Array(img.length);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let m = 0;
      for (let yy = Math.max(0, y - 1); yy <= Math.min(size - 1, y + 1); yy++) {
        for (let xx = Math.max(0, x - 1); xx <= Math.min(size - 1, x + 1); xx++) m = Math.max(m, img[yy * size + xx] as number);
      }
      out[y * size + x] = Math.min(1, Math.max(img[y * size + x] as number, strength * m));
    }
  }
  return out;
}
