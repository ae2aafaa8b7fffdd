import { ImageDecodeError, MAX_INPUT_PIXELS, type PreprocessConfig, preprocessImage } from '@ringcount/model-core';
import { ApiError } from './errors.js';

export const SUPPORTED_FORMATS = ['png', 'jpeg', 'webp'] as const;
export type SupportedFormat = (typeof SUPPORTED_FORMATS)[number];

/** Formats we recognise but do not serve: answered with 415 rather than "not an image". */
const KNOWN_UNSUPPORTED: { name: string; test: (b: Buffer) => boolean }[] = [
  { name: 'GIF', test: (b) => b.subarray(0, 4).toString('latin1') === 'GIF8' },
  { name: 'BMP', test: (b) => b.subarray(0, 2).toString('latin1') === 'BM' },
  { name: 'TIFF', test: (b) => ['II*\0', 'MM\0*'].includes(b.subarray(0, 4).toString('latin1')) },
  { name: 'AVIF/HEIF', test: (b) => b.subarray(4, 8).toString('latin1') === 'ftyp' },
  { name: 'PDF', test: (b) => b.subarray(0, 5).toString('latin1') === '%PDF-' },
  { name: 'SVG', test: (b) => /^\s*(<\?xml|<svg)/i.test(b.subarray(0, 256).toString('latin1')) },
];

/**
 * Identifies the upload from its first bytes (never from the client's file name or Content-Type,
 * which are often wrong), so only the decoders we mean to expose ever see client data.
 */
export function sniffFormat(buf: Buffer): SupportedFormat {
  if (buf.length === 0) throw new ApiError(400, "the 'image' file is empty; send a PNG, JPEG or WebP image");
  if (buf.length >= 8 && buf.readUInt32BE(0) === 0x89504e47 && buf.readUInt32BE(4) === 0x0d0a1a0a) return 'png';
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'jpeg';
  if (buf.length >= 12 && buf.subarray(0, 4).toString('latin1') === 'RIFF' && buf.subarray(8, 12).toString('latin1') === 'WEBP') {
    return 'webp';
  }
  const known = KNOWN_UNSUPPORTED.find((f) => f.test(buf));
  if (known) throw new ApiError(415, `${known.name} images are not supported; send a PNG, JPEG or WebP image`);
  throw new ApiError(400, "the 'image' file is not a PNG, JPEG or WebP image; send one of those");
}

/**
 * Turns an upload into model input with the model's own preprocessing (the module training used).
 * Decoding limits come from model-core: an image declaring more pixels than that is refused from its
 * header, before any pixel is decoded.
 */
export async function imageToModelInput(buf: Buffer, config: PreprocessConfig): Promise<Float32Array> {
  const format = sniffFormat(buf);
  try {
    return await preprocessImage(buf, config);
  } catch (err) {
    if (!(err instanceof ImageDecodeError)) throw err;
    if (/pixel limit/i.test(err.message)) {
      throw new ApiError(
        413,
        `the image's dimensions exceed ${MAX_INPUT_PIXELS.toLocaleString('en-US')} pixels (width × height); downscale it (depictions are 300×300)`,
      );
    }
    throw new ApiError(400, `the ${format.toUpperCase()} image could not be decoded (truncated or corrupt?): ${shortReason(err.message)}`);
  }
}

/** libvips messages can span lines and name temp buffers; the first line is what a client needs. */
function shortReason(message: string): string {
  const first = message.replace(/^could not decode image:\s*/, '').split('\n')[0] ?? '';
  return first.length > 200 ? first.slice(0, 200) + '…' : first;
}
