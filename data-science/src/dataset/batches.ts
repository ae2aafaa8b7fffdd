import { inputChannels } from '@ringcount/model-core';
import type { AugmentConfig } from './augment.js';
import { augmentImage } from './augment.js';
import type { Sample } from './csv.js';
import type { ImageSource } from './image-source.js';
import { createRng, shuffleInPlace } from './random.js';

/** One batch ready for the model: `xs` is `size×size×channels` images back to back. */
export interface Batch {
  xs: Float32Array;
  /** Class index of each image (position in `labels`). */
  classes: Int32Array;
  size: number;
}

export interface BatchOptions {
  batchSize: number;
  /** The class labels (ring counts); a sample's class is its ring count's index here. */
  labels: number[];
  /** Shuffle the order with this seed (pass a different one per epoch); omit to keep the order. */
  shuffleSeed?: number;
  augment?: AugmentConfig;
  /** Seed for augmentation draws. */
  augmentSeed?: number;
}

/**
 * Streams batches from disk: images are decoded batch by batch (the source's cache is bounded), and
 * the next batch is decoded while the caller trains on the current one.
 */
export async function* streamBatches(samples: Sample[], source: ImageSource, opts: BatchOptions): AsyncGenerator<Batch> {
  if (!(opts.batchSize >= 1)) throw new RangeError(`batchSize must be ≥ 1, got ${opts.batchSize}`);
  const classOf = new Map(opts.labels.map((l, i) => [l, i] as const));
  const order = [...samples];
  if (opts.shuffleSeed !== undefined) shuffleInPlace(order, createRng(opts.shuffleSeed));
  const augRng = createRng(opts.augmentSeed ?? 0);
  const channels = inputChannels(source.config);
  const pixels = source.config.size * source.config.size * channels;

  const load = async (start: number): Promise<Batch> => {
    const chunk = order.slice(start, start + opts.batchSize);
    // Drawn before any await so augmentation does not depend on decode timing.
    const augSeeds = chunk.map(() => Math.floor(augRng() * 4294967296));
    const images = await Promise.all(chunk.map((s) => source.load(s.imagePath)));
    const xs = new Float32Array(chunk.length * pixels);
    const classes = new Int32Array(chunk.length);
    chunk.forEach((s, i) => {
      const cls = classOf.get(s.numRings);
      if (cls === undefined) throw new RangeError(`${s.compoundId}: ring count ${s.numRings} is not one of the labels ${opts.labels.join(',')}`);
      classes[i] = cls;
      const img = images[i] as Float32Array;
      xs.set(opts.augment ? augmentImage(img, source.config.size, opts.augment, createRng(augSeeds[i] as number), channels) : img, i * pixels);
    });
    return { xs, classes, size: chunk.length };
  };

  let next: Promise<Batch> | undefined = order.length > 0 ? load(0) : undefined;
  for (let start = 0; next !== undefined; start += opts.batchSize) {
    const current = await next;
    const after = start + opts.batchSize;
    next = after < order.length ? load(after) : undefined;
    // Mark as handled now: if the caller stops early, a failed prefetch must not crash the process.
    next?.catch(() => undefined);
    yield current;
  }
}
