import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import sharp from 'sharp';

export type ImageCheckMode = 'exists' | 'full';

export type ImageProblem = 'image_missing' | 'image_not_png_or_jpeg' | 'image_undecodable' | 'image_path_escapes';

export interface ImageVerdict {
  problem?: ImageProblem;
  message?: string;
  /** The decoder's own words, for the debug log. */
  detail?: string;
  /** SHA-256 of the file, when it is accepted. */
  sha256?: string;
  bytes?: Buffer;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const JPEG_SIGNATURE = Buffer.from([0xff, 0xd8, 0xff]);

export function imageFormat(bytes: Buffer): 'png' | 'jpeg' | undefined {
  if (bytes.subarray(0, PNG_SIGNATURE.length).equals(PNG_SIGNATURE)) return 'png';
  if (bytes.subarray(0, JPEG_SIGNATURE.length).equals(JPEG_SIGNATURE)) return 'jpeg';
  return undefined;
}

/**
 * Checks one image file. `exists`: it is a regular file inside the data folder (symlinks resolved).
 * `full`: also a PNG or JPEG by its signature, and sharp decodes every pixel (truncated files fail).
 * Returns the bytes of an accepted file so the caller can hash and copy it without reading it twice.
 */
export async function checkImage(file: string, dataRoot: string, mode: ImageCheckMode): Promise<ImageVerdict> {
  let real: string;
  try {
    real = await fs.promises.realpath(file);
  } catch {
    return { problem: 'image_missing', message: 'image file not found' };
  }
  if (real !== dataRoot && !real.startsWith(dataRoot.endsWith('/') ? dataRoot : `${dataRoot}/`)) {
    return { problem: 'image_path_escapes', message: `image resolves (through a symlink) to ${real}, outside the data folder` };
  }
  let bytes: Buffer;
  try {
    const stat = await fs.promises.stat(real);
    if (!stat.isFile()) return { problem: 'image_missing', message: 'image path is not a regular file' };
    bytes = await fs.promises.readFile(real);
  } catch (error) {
    return { problem: 'image_missing', message: `image file cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  if (mode === 'full') {
    const format = imageFormat(bytes);
    if (format === undefined) {
      return { problem: 'image_not_png_or_jpeg', message: 'file is neither a PNG nor a JPEG (checked by its signature bytes)' };
    }
    try {
      // failOn 'truncated' turns libpng/libjpeg warnings about missing data into errors.
      await sharp(bytes, { failOn: 'truncated' }).raw().toBuffer();
    } catch (error) {
      // libvips words the same failure differently from run to run, so its text goes in `detail`.
      return {
        problem: 'image_undecodable',
        message: `${format.toUpperCase()} cannot be decoded (truncated or corrupt)`,
        detail: (error as Error).message.split('\n')[0],
      };
    }
  }
  return { sha256: createHash('sha256').update(bytes).digest('hex'), bytes };
}
