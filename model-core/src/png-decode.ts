/**
 * A decoder for the plain PNGs depictions are (8-bit gray/RGB/RGBA, palette at 1–8 bits, not
 * interlaced, no colour-management chunks), producing exactly the pixels sharp decodes from them.
 *
 * Why: sharp's fixed cost per image (options marshalling, libvips pipeline set-up, a thread-pool
 * round trip) is ~1.5 ms of CPU for a 300×300 depiction, while inflating its pixel data with
 * Node's zlib in one output chunk costs ~0.3 ms. Anything this decoder does not handle exactly —
 * other chunk types (gAMA, iCCP, tRNS, …), 16-bit or sub-byte gray, interlacing, a bad CRC,
 * checksum or length, trailing data — returns `undefined`, and the caller decodes with sharp as
 * before (which also reports corrupt files). model-core's tests compare both decoders pixel for pixel.
 */
import { crc32, inflateSync } from 'node:zlib';

export interface DecodedImage {
  /** Interleaved 8-bit samples, row-major, `width * height * channels` bytes. */
  data: Uint8Array;
  width: number;
  height: number;
  /** As sharp gives them: 3 for RGB (also gray and palette), 4 for RGBA (also gray + alpha). */
  channels: 3 | 4;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Chunks that do not change decoded pixels (metadata only). Any other chunk means: let sharp decode. */
const IGNORABLE_CHUNKS = new Set(['pHYs', 'tEXt', 'zTXt', 'iTXt', 'tIME']);

/** Colour type → samples per pixel in the file. */
const SAMPLES: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/**
 * Decodes `buf` when it is a PNG this decoder handles exactly and has at most `maxPixels` pixels;
 * otherwise returns undefined (never throws for bad input).
 */
export function decodeSimplePng(buf: Uint8Array, maxPixels: number): DecodedImage | undefined {
  try {
    return decode(buf, maxPixels);
  } catch {
    return undefined;
  }
}

function decode(buf: Uint8Array, maxPixels: number): DecodedImage | undefined {
  if (buf.length < 8 || SIGNATURE.some((b, i) => buf[i] !== b)) return undefined;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let offset = 8;
  let header: { width: number; height: number; depth: number; colourType: number } | undefined;
  let palette: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  let ended = false;
  while (offset + 12 <= buf.length) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(buf[offset + 4] as number, buf[offset + 5] as number, buf[offset + 6] as number, buf[offset + 7] as number);
    const dataStart = offset + 8;
    const dataEnd = dataStart + length;
    if (dataEnd + 4 > buf.length) return undefined;
    if (crc32(buf.subarray(offset + 4, dataEnd)) !== view.getUint32(dataEnd)) return undefined;
    const data = buf.subarray(dataStart, dataEnd);
    offset = dataEnd + 4;
    if (type === 'IHDR') {
      if (header || length !== 13) return undefined;
      const [depth, colourType, compression, filter, interlace] = [data[8], data[9], data[10], data[11], data[12]] as number[];
      if (compression !== 0 || filter !== 0 || interlace !== 0) return undefined;
      const paletteDepth = colourType === 3 && (depth === 1 || depth === 2 || depth === 4 || depth === 8);
      if (depth !== 8 && !paletteDepth) return undefined;
      if (SAMPLES[colourType as number] === undefined) return undefined;
      header = { width: view.getUint32(dataStart), height: view.getUint32(dataStart + 4), depth: depth as number, colourType: colourType as number };
    } else if (!header) {
      return undefined; // IHDR must come first
    } else if (type === 'PLTE') {
      if (palette || length % 3 !== 0 || length === 0 || idat.length > 0) return undefined;
      palette = data;
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      ended = true;
      break;
    } else if (!IGNORABLE_CHUNKS.has(type)) {
      return undefined;
    }
  }
  if (!header || !ended || offset !== buf.length || idat.length === 0) return undefined;
  const { width, height, depth, colourType } = header;
  if (width === 0 || height === 0 || width * height > maxPixels) return undefined;
  if (colourType === 3 && !palette) return undefined;

  const samples = SAMPLES[colourType] as number;
  const rowBytes = Math.ceil((width * samples * depth) / 8);
  const expected = height * (rowBytes + 1);
  const compressed = idat.length === 1 ? (idat[0] as Uint8Array) : Buffer.concat(idat);
  // One output chunk of the exact size: zlib's default 16 KB chunks cost ~2× the inflate itself.
  const inflated = inflateSync(compressed, { chunkSize: Math.max(expected, 1024), maxOutputLength: expected });
  if (inflated.length !== expected) return undefined;

  const pixels = unfilter(inflated, height, rowBytes, Math.max(1, (samples * depth) >> 3));
  if (pixels === undefined) return undefined;
  if (colourType === 2 || colourType === 6) return { data: pixels, width, height, channels: samples as 3 | 4 };
  // sharp's raw output is sRGB: gray becomes RGB and gray + alpha RGBA.
  if (colourType === 0 || colourType === 4) return { data: grayToRgb(pixels, width * height, colourType === 4), width, height, channels: colourType === 4 ? 4 : 3 };
  const rgb = expandPalette(pixels, width, height, rowBytes, depth, palette as Uint8Array);
  return rgb && { data: rgb, width, height, channels: 3 };
}

/** Reverses PNG's per-row filters into contiguous rows; undefined for an unknown filter type. */
function unfilter(src: Uint8Array, height: number, rowBytes: number, bpp: number): Uint8Array | undefined {
  const out = new Uint8Array(height * rowBytes);
  for (let y = 0; y < height; y++) {
    const filter = src[y * (rowBytes + 1)] as number;
    const from = y * (rowBytes + 1) + 1;
    const row = y * rowBytes;
    const prior = row - rowBytes; // previous output row (y > 0)
    switch (filter) {
      case 0:
        out.set(src.subarray(from, from + rowBytes), row);
        break;
      case 1:
        for (let x = 0; x < rowBytes; x++) out[row + x] = (src[from + x] as number) + (x >= bpp ? (out[row + x - bpp] as number) : 0);
        break;
      case 2:
        for (let x = 0; x < rowBytes; x++) out[row + x] = (src[from + x] as number) + (y > 0 ? (out[prior + x] as number) : 0);
        break;
      case 3:
        for (let x = 0; x < rowBytes; x++) {
          const left = x >= bpp ? (out[row + x - bpp] as number) : 0;
          const up = y > 0 ? (out[prior + x] as number) : 0;
          out[row + x] = (src[from + x] as number) + ((left + up) >> 1);
        }
        break;
      case 4:
        for (let x = 0; x < rowBytes; x++) {
          const a = x >= bpp ? (out[row + x - bpp] as number) : 0;
          const b = y > 0 ? (out[prior + x] as number) : 0;
          const c = x >= bpp && y > 0 ? (out[prior + x - bpp] as number) : 0;
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          out[row + x] = (src[from + x] as number) + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
        }
        break;
      default:
        return undefined;
    }
  }
  return out;
}

function grayToRgb(gray: Uint8Array, pixels: number, alpha: boolean): Uint8Array {
  const channels = alpha ? 4 : 3;
  const out = new Uint8Array(pixels * channels);
  for (let i = 0, p = 0, g = 0; i < pixels; i++, p += channels) {
    const v = gray[g++] as number;
    out[p] = v;
    out[p + 1] = v;
    out[p + 2] = v;
    if (alpha) out[p + 3] = gray[g++] as number;
  }
  return out;
}

/** Palette indices (1, 2, 4 or 8 bits, rows padded to bytes) → RGB; undefined for an index past the palette. */
function expandPalette(indices: Uint8Array, width: number, height: number, rowBytes: number, depth: number, palette: Uint8Array): Uint8Array | undefined {
  const entries = palette.length / 3;
  const out = new Uint8Array(width * height * 3);
  const perByte = 8 / depth;
  const mask = (1 << depth) - 1;
  for (let y = 0, o = 0; y < height; y++) {
    const row = y * rowBytes;
    for (let x = 0; x < width; x++, o += 3) {
      const byte = indices[row + Math.floor(x / perByte)] as number;
      const index = depth === 8 ? byte : (byte >> (8 - depth * ((x % perByte) + 1))) & mask;
      if (index >= entries) return undefined;
      out[o] = palette[index * 3] as number;
      out[o + 1] = palette[index * 3 + 1] as number;
      out[o + 2] = palette[index * 3 + 2] as number;
    }
  }
  return out;
}
