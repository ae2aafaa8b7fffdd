import sharp from 'sharp';
import { decodeSimplePng } from './png-decode.js';
import { colouredInk, ringCentreMap, ringCentreRegions, type CloseRadius } from './ring-centres.js';

/**
 * How a depiction becomes a model input. Saved in every model's metadata so serving decodes images
 * exactly as training did.
 */
export interface PreprocessConfig {
  /** Side of the square input, in pixels. */
  size: number;
  /** Images are flattened onto white (depictions have transparent or white backgrounds). */
  background: 'white';
  /**
   * `ink`: 1 − gray/255, so bonds and atoms are ~1 and the background 0 (what the CNNs expect:
   * zero padding then matches the background).
   */
  normalization: 'ink';
  /**
   * Add channels marking each region the drawing encloses (ring-centres.ts) with a unit of mass
   * at its centroid, computed at the image's full resolution. Absent: ink only.
   */
  ringCentres?: boolean;
  /**
   * With `ringCentres`: one ring-centre channel per closing radius, in pixels per 300 px of the
   * longer side, or `'adaptive'` for one chosen from the drawing's scale (default [3]). A small
   * radius keeps small rings of large molecules that a larger one fills in; a larger one closes the
   * gaps bonds leave at atom labels.
   */
  ringCentreRadii?: Array<number | 'adaptive'>;
  /**
   * With `ringCentres`: leave out the holes of atom-label letters (O, P, B, …), told apart by their
   * colour (RDKit colours labels by element). Gray-scale images are unaffected.
   */
  ignoreLetterHoles?: boolean;
  /**
   * With `ringCentres`: the ink regions are found in. `'luminance'` (default) is the model's ink
   * channel; `'darkest-channel'` is 255 − the darkest of red, green and blue, which keeps light
   * element colours (sulfur's yellow, chlorine's green) solid where luminance leaves gaps in a ring's
   * outline: the region count alone is right for 92.9% of generated depictions instead of 86.1%.
   */
  strokeInk?: 'luminance' | 'darkest-channel';
}

export const defaultPreprocessConfig = (size = 64): PreprocessConfig => ({ size, background: 'white', normalization: 'ink' });

/** Channels of the model input `config` produces (interleaved per pixel: ink, then ring centres). */
export function inputChannels(config: PreprocessConfig): number {
  return config.ringCentres === true ? 1 + ringCentreRadii(config).length : 1;
}

function ringCentreRadii(config: PreprocessConfig): CloseRadius[] {
  return (config.ringCentreRadii ?? [3]).map((r) => (r === 'adaptive' ? r : r / 300));
}

/** Largest decoded image we accept (pixels): guards against decompression bombs. */
export const MAX_INPUT_PIXELS = 40_000_000;

export class ImageDecodeError extends Error {
  override name = 'ImageDecodeError';
}

/**
 * Decode (PNG, JPEG, WebP, …), flatten onto white, make grayscale and resize to `size`×`size`
 * (aspect kept, centred, padded white), returning `size*size` floats in [0, 1] (ink: 0 = white) —
 * `size*size*inputChannels(config)` with `ringCentres`, per pixel ink then each ring-centre map.
 *
 * Why sharp only decodes: libvips has a large fixed cost per pipeline operation, so the former
 * flatten → grayscale → resize → colourspace pipeline cost ~7 ms of CPU per 300×300 depiction
 * while a plain decode costs ~2 ms; the rest is cheaper in plain TypeScript (~0.5 ms), the more so
 * as depictions are ~97% white, which the resampling below skips. It reproduces the former
 * pipeline step by step (flatten onto white in sRGB, libvips' linear-light sRGB → B_W luminance,
 * libvips' resize weights — box pre-shrink then lanczos3 — and 'contain' geometry): pixels differ
 * by ~0.001 on average (max ~0.09), and saved models' predictions stay the same for ~97% of
 * depictions; test/preprocessing.test.ts checks it against the former pipeline. Plain PNGs (what
 * depictions are) skip sharp altogether: `decodeSimplePng` yields the same pixels for ~1/4 of the
 * CPU (test/png-decode.test.ts compares them with sharp's), and every other input goes to sharp.
 *
 * Decoding limits stay in libvips: an image whose header declares more than `MAX_INPUT_PIXELS`
 * pixels is refused before any pixel is decoded, and corrupt data fails with `ImageDecodeError`.
 * Images over `FAST_PATH_MAX_PIXELS` still take the former all-libvips pipeline, which streams.
 */
export async function preprocessImage(input: Buffer | string, config: PreprocessConfig): Promise<Float32Array> {
  // Plain PNGs (all depictions) decode in-process to the very pixels sharp would produce (see png-decode.ts).
  const png = typeof input === 'string' ? undefined : decodeSimplePng(input, FAST_PATH_MAX_PIXELS);
  if (png) return modelInput(png.data, png.width, png.height, png.channels, config);
  let decoded: { data: Buffer; info: sharp.OutputInfo };
  try {
    decoded = await sharp(input, { limitInputPixels: FAST_PATH_MAX_PIXELS, failOn: 'error' }).raw().toBuffer({ resolveWithObject: true });
  } catch (err) {
    if (PIXEL_LIMIT_MESSAGE.test((err as Error).message)) return preprocessLargeImage(input, config);
    throw new ImageDecodeError(`could not decode image: ${(err as Error).message}`);
  }
  const { data, info } = decoded;
  return modelInput(asBytes(data, info), info.width, info.height, info.channels, config);
}

/** The model input from a full-resolution decoded image (`channels` samples per pixel). */
function modelInput(px: Uint8Array, width: number, height: number, channels: number, config: PreprocessConfig): Float32Array {
  const ink = inkOnWhite(px, width, height, channels);
  const inkMap = containInk(ink, width, height, config.size);
  if (config.ringCentres !== true) return inkMap;
  const coloured = config.ignoreLetterHoles === true ? colouredInk(px, width, height, channels) : undefined;
  const strokes = config.strokeInk === 'darkest-channel' ? darkestChannelInk(px, width, height, channels) : ink;
  const regions = ringCentreRegions(strokes, width, height, { closeRadii: ringCentreRadii(config), ...(coloured ? { coloured } : {}) });
  const maps = regions.map((found) => ringCentreMap(found, width, height, config.size));
  const planes = 1 + maps.length;
  const out = new Float32Array(inkMap.length * planes);
  for (let i = 0; i < inkMap.length; i++) {
    out[planes * i] = inkMap[i] as number;
    for (let m = 0; m < maps.length; m++) out[planes * i + 1 + m] = (maps[m] as Float32Array)[i] as number;
  }
  return out;
}

/** Longer side large images are shrunk to (by libvips, streaming) before ring centres are found. */
const RING_CENTRES_MAX_SIDE = 1024;

/**
 * Above this many pixels the whole decoded image would be held in memory (4 bytes a pixel, and
 * concurrent requests multiply it), so large images go through libvips' streaming resize instead.
 */
const FAST_PATH_MAX_PIXELS = 2048 * 2048;
/** How libvips words a header that exceeds `limitInputPixels` (detected before any pixel is decoded). */
const PIXEL_LIMIT_MESSAGE = /pixel limit/i;

/**
 * The all-libvips pipeline, for images too large to decode whole: libvips streams them and
 * shrinks on load. Slower per image, but such images are rare (depictions are 300×300).
 */
async function preprocessLargeImage(input: Buffer | string, config: PreprocessConfig): Promise<Float32Array> {
  let raw: Buffer;
  if (config.ringCentres === true) {
    // Enclosed regions need the drawing at a useful resolution, not at the model's size.
    // Kept in colour when regions use it (letter holes, darkest-channel strokes); modelInput makes the ink gray.
    let shrunk: { data: Buffer; info: sharp.OutputInfo };
    try {
      const flat = sharp(input, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' }).flatten({ background: '#ffffff' });
      const inColour = config.ignoreLetterHoles === true || config.strokeInk === 'darkest-channel';
      const toResize = inColour ? flat.toColourspace('srgb') : flat.grayscale();
      const resized = toResize.resize(RING_CENTRES_MAX_SIDE, RING_CENTRES_MAX_SIDE, { fit: 'inside', kernel: 'lanczos3' });
      shrunk = await (inColour ? resized : resized.toColourspace('b-w')).raw().toBuffer({ resolveWithObject: true });
    } catch (err) {
      throw new ImageDecodeError(`could not decode image: ${(err as Error).message}`);
    }
    const { data, info } = shrunk;
    return modelInput(asBytes(data, info), info.width, info.height, info.channels, config);
  }
  try {
    raw = await sharp(input, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' })
      .flatten({ background: '#ffffff' })
      .grayscale()
      .resize(config.size, config.size, { fit: 'contain', background: '#ffffff', kernel: 'lanczos3' })
      .raw()
      .toColourspace('b-w')
      .toBuffer();
  } catch (err) {
    throw new ImageDecodeError(`could not decode image: ${(err as Error).message}`);
  }
  return toModelInput(raw, config);
}

/** Turns `size*size` single-channel 8-bit pixels into normalised model input. */
export function toModelInput(gray: Uint8Array, config: PreprocessConfig): Float32Array {
  const expected = config.size * config.size;
  if (gray.length !== expected) throw new Error(`expected ${expected} gray pixels, got ${gray.length}`);
  const out = new Float32Array(expected);
  for (let i = 0; i < expected; i++) out[i] = 1 - (gray[i] as number) / 255;
  return out;
}

/** sharp's raw output is 8-bit for 8- and 16-bit sources today; accept 16-bit too in case that changes. */
function asBytes(data: Buffer, info: sharp.OutputInfo): Uint8Array {
  const samples = info.width * info.height * info.channels;
  if (data.length === samples) return data;
  if (data.length === samples * 2) {
    const bytes = new Uint8Array(samples);
    for (let i = 0; i < samples; i++) bytes[i] = Math.round(data.readUInt16LE(i * 2) / 257);
    return bytes;
  }
  throw new ImageDecodeError(`could not decode image: unexpected raw layout (${data.length} bytes for ${info.width}×${info.height}×${info.channels})`);
}

/** sRGB 8-bit value → linear light in [0, 1] (the sRGB transfer function libvips uses). */
const SRGB_TO_LINEAR = Float64Array.from({ length: 256 }, (_, v) => {
  const c = v / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
});

/** Linear light quantised to 1/LINEAR_STEPS → sRGB 8-bit value; built on the first colour pixel. */
const LINEAR_STEPS = 16384;
let linearToSrgb: Uint8Array | undefined;
function linearToSrgbTable(): Uint8Array {
  linearToSrgb ??= Uint8Array.from({ length: LINEAR_STEPS + 1 }, (_, i) => {
    const y = i / LINEAR_STEPS;
    return Math.round(255 * (y <= 0.0031308 ? y * 12.92 : 1.055 * y ** (1 / 2.4) - 0.055));
  });
  return linearToSrgb;
}

/**
 * libvips' sRGB → B_W: Rec. 709 luminance in linear light, encoded back to 8-bit sRGB. Gray
 * pixels (r = g = b, nearly all of a depiction) map to themselves, so only colour pixels pay for it.
 */
function luminance(r: number, g: number, b: number): number {
  if (r === g && g === b) return r;
  const y = 0.2126 * (SRGB_TO_LINEAR[r] as number) + 0.7152 * (SRGB_TO_LINEAR[g] as number) + 0.0722 * (SRGB_TO_LINEAR[b] as number);
  return linearToSrgbTable()[Math.round(y * LINEAR_STEPS)] as number;
}

/** Alpha-composites a value onto white in sRGB, rounded to 8 bits as libvips' flatten does. */
function onWhite(c: number, a: number): number {
  return a === 255 ? c : Math.round((c * a + 255 * (255 - a)) / 255);
}

/** Ink as 255 − the darkest channel, flattened onto white (gray images: 255 − gray). */
function darkestChannelInk(px: Uint8Array, width: number, height: number, channels: number): Uint8Array {
  if (channels < 3) return inkOnWhite(px, width, height, channels);
  const n = width * height;
  const ink = new Uint8Array(n);
  for (let i = 0, p = 0; i < n; i++, p += channels) {
    const darkest = Math.min(px[p] as number, px[p + 1] as number, px[p + 2] as number);
    ink[i] = 255 - (channels === 4 ? onWhite(darkest, px[p + 3] as number) : darkest);
  }
  return ink;
}

/** Flattens onto white, converts to gray and returns ink = 255 − gray per pixel (0 = white). */
function inkOnWhite(px: Uint8Array, width: number, height: number, channels: number): Uint8Array {
  const n = width * height;
  const ink = new Uint8Array(n);
  switch (channels) {
    case 1:
      for (let i = 0; i < n; i++) ink[i] = 255 - (px[i] as number);
      break;
    case 2:
      for (let i = 0, p = 0; i < n; i++, p += 2) ink[i] = 255 - onWhite(px[p] as number, px[p + 1] as number);
      break;
    case 3: {
      let i = 0;
      if (px.byteOffset % 4 === 0) {
        // Four RGB pixels are three 32-bit words: skip runs of white (ink stays 0) a word at a time.
        const words = new Uint32Array(px.buffer, px.byteOffset, Math.floor(n / 4) * 3);
        for (let w = 0; w < words.length; w += 3, i += 4) {
          if (((words[w] as number) & (words[w + 1] as number) & (words[w + 2] as number)) === -1) continue;
          for (let k = i, p = i * 3; k < i + 4; k++, p += 3) ink[k] = 255 - luminance(px[p] as number, px[p + 1] as number, px[p + 2] as number);
        }
      }
      for (let p = i * 3; i < n; i++, p += 3) ink[i] = 255 - luminance(px[p] as number, px[p + 1] as number, px[p + 2] as number);
      break;
    }
    case 4: {
      // One RGBA pixel is one 32-bit word: opaque white (-1) and fully transparent pixels (alpha 0)
      // have no ink, and they are nearly all of a depiction, so only the others pay for a conversion;
      // testing four words with one AND halves the cost of scanning white runs.
      const inkOf = (i: number): void => {
        const p = i * 4;
        const a = px[p + 3] as number;
        if (a !== 0) ink[i] = 255 - luminance(onWhite(px[p] as number, a), onWhite(px[p + 1] as number, a), onWhite(px[p + 2] as number, a));
      };
      let i = 0;
      if (px.byteOffset % 4 === 0) {
        const words = new Int32Array(px.buffer, px.byteOffset, n);
        for (const last = n - 4; i <= last; i += 4) {
          if (((words[i] as number) & (words[i + 1] as number) & (words[i + 2] as number) & (words[i + 3] as number)) === -1) continue;
          for (let k = i; k < i + 4; k++) if (words[k] !== -1) inkOf(k);
        }
      }
      for (; i < n; i++) inkOf(i);
      break;
    }
    default:
      throw new ImageDecodeError(`could not decode image: ${channels} channels are not supported; send a gray, RGB or RGBA image`);
  }
  return ink;
}

/**
 * Resampling from `inLen` samples to `outLen`, stored by input sample so that white (zero-ink)
 * input is skipped: input j adds `weights[c]` of itself to output `targets[c]` for c in
 * [`from[j]`, `from[j + 1]`). Each output's weights sum to 1.
 */
interface Scatter {
  from: Int32Array;
  targets: Int32Array;
  weights: Float32Array;
}

/** Images mostly share a few sizes (all depictions are 300×300), so weights are reused. */
const scatterCache = new Map<string, Scatter>();
const SCATTER_CACHE_ENTRIES = 64;

function resampling(inLen: number, outLen: number): Scatter {
  const key = `${inLen}>${outLen}`;
  let scatter = scatterCache.get(key);
  if (!scatter) {
    const pairs = libvipsResizeWeights(inLen, outLen);
    scatter = byInput(pairs, inLen);
    if (scatterCache.size >= SCATTER_CACHE_ENTRIES) scatterCache.delete(scatterCache.keys().next().value as string);
    scatterCache.set(key, scatter);
  }
  return scatter;
}

/** One contribution: input sample `input` adds `weight` of itself to output sample `output`. */
interface Contribution {
  input: number;
  output: number;
  weight: number;
}

/**
 * What libvips' resize does along one axis, as one set of weights: when shrinking by 4× or more
 * it first box-averages by the whole factor ⌊scale / 2⌋ (its default `gap`), then applies lanczos3
 * (support widened by the remaining scale when shrinking), edges extended. Matching it keeps saved
 * models' predictions as they were (an area-average filter alone changed ~20% of them).
 */
function libvipsResizeWeights(inLen: number, outLen: number): Contribution[] {
  const boxShrink = Math.floor(inLen / outLen / 2);
  if (boxShrink < 2) return lanczos3Weights(inLen, outLen);
  const midLen = Math.max(outLen, Math.round(inLen / boxShrink));
  return compose(areaWeights(inLen, midLen), lanczos3Weights(midLen, outLen));
}

function lanczos3(t: number): number {
  if (t === 0) return 1;
  if (t <= -3 || t >= 3) return 0;
  const pt = Math.PI * t;
  return (3 * Math.sin(pt) * Math.sin(pt / 3)) / (pt * pt);
}

function lanczos3Weights(inLen: number, outLen: number): Contribution[] {
  const scale = inLen / outLen;
  const support = Math.max(scale, 1);
  const pairs: Contribution[] = [];
  for (let output = 0; output < outLen; output++) {
    const centre = (output + 0.5) * scale - 0.5;
    const lo = Math.ceil(centre - 3 * support);
    const hi = Math.floor(centre + 3 * support);
    const weights = new Map<number, number>();
    let total = 0;
    for (let j = lo; j <= hi; j++) {
      const w = lanczos3((j - centre) / support);
      if (w === 0) continue;
      const input = Math.min(Math.max(j, 0), inLen - 1);
      weights.set(input, (weights.get(input) ?? 0) + w);
      total += w;
    }
    for (const [input, w] of weights) pairs.push({ input, output, weight: w / total });
  }
  return pairs;
}

/** Weights of `first` followed by `second`, as one step. */
function compose(first: Contribution[], second: Contribution[]): Contribution[] {
  const byOutputOfFirst = new Map<number, Contribution[]>();
  for (const p of first) {
    const list = byOutputOfFirst.get(p.output) ?? [];
    list.push(p);
    byOutputOfFirst.set(p.output, list);
  }
  const combined = new Map<string, Contribution>();
  for (const q of second) {
    for (const p of byOutputOfFirst.get(q.input) ?? []) {
      const key = `${p.input}>${q.output}`;
      const c = combined.get(key);
      if (c) c.weight += p.weight * q.weight;
      else combined.set(key, { input: p.input, output: q.output, weight: p.weight * q.weight });
    }
  }
  return [...combined.values()];
}

/** Box average: each output averages the input interval it covers, partial pixels by their overlap. */
function areaWeights(inLen: number, outLen: number): Contribution[] {
  const scale = inLen / outLen;
  const pairs: Contribution[] = [];
  for (let output = 0; output < outLen; output++) {
    const lo = output * scale;
    const hi = Math.min(inLen, (output + 1) * scale);
    for (let input = Math.floor(lo); input < hi; input++) {
      const overlap = Math.min(hi, input + 1) - Math.max(lo, input);
      if (overlap > 1e-9) pairs.push({ input, output, weight: overlap / scale });
    }
  }
  return pairs;
}

function byInput(pairs: Contribution[], inLen: number): Scatter {
  pairs.sort((a, b) => a.input - b.input || a.output - b.output);
  const from = new Int32Array(inLen + 1);
  for (const p of pairs) from[p.input + 1] = (from[p.input + 1] as number) + 1;
  for (let j = 0; j < inLen; j++) from[j + 1] = (from[j + 1] as number) + (from[j] as number);
  return {
    from,
    targets: Int32Array.from(pairs, (p) => p.output),
    weights: Float32Array.from(pairs, (p) => p.weight),
  };
}

/**
 * Fits the ink image into `size`×`size` keeping its aspect ratio, centred on white (sharp's
 * `fit: 'contain'` geometry: longer side = size, shorter side rounded, offset floored), and returns
 * ink in [0, 1].
 */
function containInk(ink: Uint8Array, width: number, height: number, size: number): Float32Array {
  const scale = size / Math.max(width, height);
  const outW = Math.max(1, Math.min(size, Math.round(width * scale)));
  const outH = Math.max(1, Math.min(size, Math.round(height * scale)));
  const left = Math.floor((size - outW) / 2);
  const top = Math.floor((size - outH) / 2);
  const sx = resampling(width, outW);
  const sy = resampling(height, outH);

  // Horizontal pass (height × outW), only from inked pixels (white contributes nothing).
  const rows = new Float32Array(height * outW);
  // Per input row, the first and last inked column (first > last: no ink), to bound the vertical pass.
  const firstInked = new Int32Array(height).fill(width);
  const lastInked = new Int32Array(height).fill(-1);
  const addInk = (i: number): void => {
    const value = ink[i] as number;
    if (value === 0) return;
    const y = Math.floor(i / width);
    const x = i - y * width;
    const dst = y * outW;
    if (x < (firstInked[y] as number)) firstInked[y] = x;
    if (x > (lastInked[y] as number)) lastInked[y] = x;
    for (let c = sx.from[x] as number, end = sx.from[x + 1] as number; c < end; c++) {
      const at = dst + (sx.targets[c] as number);
      rows[at] = (rows[at] as number) + (sx.weights[c] as number) * value;
    }
  };
  // `ink` is freshly allocated (offset 0): test sixteen pixels (four words) at a time for ink.
  const words = new Uint32Array(ink.buffer, ink.byteOffset, ink.length >> 2);
  let w = 0;
  for (const last = words.length - 4; w <= last; w += 4) {
    if (((words[w] as number) | (words[w + 1] as number) | (words[w + 2] as number) | (words[w + 3] as number)) === 0) continue;
    for (let k = w; k < w + 4; k++) {
      if (words[k] === 0) continue;
      for (let i = k * 4; i < k * 4 + 4; i++) addInk(i);
    }
  }
  for (let i = w * 4; i < ink.length; i++) addInk(i);

  // Output columns each row's inked columns reached (targets are sorted within each input).
  const spanFrom = (y: number): number => sx.targets[sx.from[firstInked[y] as number] as number] as number;
  const spanTo = (y: number): number => sx.targets[(sx.from[(lastInked[y] as number) + 1] as number) - 1] as number;

  // libvips keeps 8 bits between its horizontal and vertical passes: a clamped byte array rounds
  // and clamps likewise (and is cheaper to read back).
  const rows8 = new Uint8ClampedArray(rows.length);
  for (let y = 0; y < height; y++) {
    if ((firstInked[y] as number) > (lastInked[y] as number)) continue;
    for (let i = y * outW + spanFrom(y), end = y * outW + spanTo(y); i <= end; i++) rows8[i] = rows[i] as number;
  }

  // Vertical pass from inked rows only, straight into the centred window of the output.
  const out = new Float32Array(size * size);
  const norm = 1 / 255;
  for (let y = 0; y < height; y++) {
    if ((firstInked[y] as number) > (lastInked[y] as number)) continue;
    const xFrom = spanFrom(y);
    const xTo = spanTo(y);
    const src = y * outW;
    for (let c = sy.from[y] as number, end = sy.from[y + 1] as number; c < end; c++) {
      const dst = (top + (sy.targets[c] as number)) * size + left;
      const weight = (sy.weights[c] as number) * norm;
      for (let x = xFrom; x <= xTo; x++) {
        const value = rows8[src + x] as number;
        if (value !== 0) out[dst + x] = (out[dst + x] as number) + weight * value;
      }
    }
  }
  // libvips' result is 8-bit: round to 1/255 steps and clamp lanczos3's over- and undershoots.
  for (let i = 0; i < out.length; i++) {
    const v = out[i] as number;
    if (v !== 0) out[i] = v <= 0 ? 0 : v >= 1 ? 1 : Math.round(v * 255) / 255;
  }
  return out;
}
