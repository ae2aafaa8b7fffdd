import { type PreprocessConfig, preprocessImage } from '@ringcount/model-core';

/**
 * Loads model inputs from disk through the shared `preprocessImage` (so training sees exactly what
 * serving sees), with a bounded LRU cache of decoded images: memory is capped by `cacheEntries`, not
 * by the data set's size.
 */
export class ImageSource {
  private readonly cache = new Map<string, Float32Array>();
  decodes = 0;

  constructor(
    readonly config: PreprocessConfig,
    readonly cacheEntries = 4096,
  ) {}

  async load(imagePath: string): Promise<Float32Array> {
    const hit = this.cache.get(imagePath);
    if (hit) {
      // Re-insert: Map keeps insertion order, so the first key is the least recently used.
      this.cache.delete(imagePath);
      this.cache.set(imagePath, hit);
      return hit;
    }
    let pixels: Float32Array;
    try {
      pixels = await preprocessImage(imagePath, this.config);
    } catch (err) {
      throw new Error(`${imagePath}: ${(err as Error).message}`);
    }
    this.decodes++;
    if (this.cacheEntries > 0) {
      this.cache.set(imagePath, pixels);
      while (this.cache.size > this.cacheEntries) this.cache.delete(this.cache.keys().next().value as string);
    }
    return pixels;
  }

  get cachedImages(): number {
    return this.cache.size;
  }
}

const shared = new Map<string, ImageSource>();

/**
 * One ImageSource per preprocessing config in this process, so training v1 then v2 in the same
 * notebook decodes each image once. Still bounded: the cache keeps at most `cacheEntries` images.
 */
export function sharedImageSource(config: PreprocessConfig, cacheEntries: number): ImageSource {
  const key = JSON.stringify(config);
  let source = shared.get(key);
  if (!source || source.cacheEntries !== cacheEntries) {
    source = new ImageSource(config, cacheEntries);
    shared.set(key, source);
  }
  return source;
}
