import sharp from 'sharp';

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
}

export const defaultPreprocessConfig = (size = 64): PreprocessConfig => ({ size, background: 'white', normalization: 'ink' });

/** Largest decoded image we accept (pixels): guards against decompression bombs. */
export const MAX_INPUT_PIXELS = 40_000_000;

export class ImageDecodeError extends Error {
  override name = 'ImageDecodeError';
}

/**
 * Decode (PNG, JPEG, WebP, …), flatten onto white, make grayscale and resize to `size`×`size`
 * (aspect kept, padded white), returning `size*size` floats in [0, 1].
 */
export async function preprocessImage(input: Buffer | string, config: PreprocessConfig): Promise<Float32Array> {
  let raw: Buffer;
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
