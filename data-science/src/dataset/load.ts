import path from 'node:path';
import { readSamples, DatasetError, type Sample } from './csv.js';
import { readProvenance, type DatasetProvenance } from './dataset-info.js';
import { labelHistogram, stratifiedSplit, stratifiedSubset, type DatasetSplit, type SplitFractions } from './split.js';

export const SAMPLES_CSV = 'compound_rings.csv';

export interface LoadDatasetOptions {
  /** Use at most this many images (a seeded stratified subset); 0 or omitted = all. */
  maxImages?: number;
  seed: number;
  fractions?: SplitFractions;
}

export interface Dataset {
  dataDir: string;
  csvPath: string;
  split: DatasetSplit;
  /** Class labels: ring counts 0..K, K = the largest count in the data. */
  labels: number[];
  provenance: DatasetProvenance;
  /** Images used (after maxImages). */
  size: number;
  histogram: Record<number, number>;
}

/** Reads the ingest CLI's folder, subsamples, and splits it: everything training needs to stream. */
export async function loadDataset(dataDir: string, opts: LoadDatasetOptions): Promise<Dataset> {
  const csvPath = path.join(dataDir, SAMPLES_CSV);
  const all = await readSamples(csvPath);
  const samples: Sample[] = stratifiedSubset(all, opts.maxImages ?? 0, opts.seed);
  const split = stratifiedSplit(samples, opts.fractions ?? { validation: 0.15, test: 0.15 }, opts.seed);
  if (split.train.length === 0) throw new DatasetError(`${csvPath}: too few images to split (${samples.length}); use more data`);
  const maxRings = Math.max(...samples.map((s) => s.numRings));
  const labels = Array.from({ length: maxRings + 1 }, (_, i) => i);
  const provenance = await readProvenance(dataDir, all, csvPath);
  return { dataDir, csvPath, split, labels, provenance, size: samples.length, histogram: labelHistogram(samples) };
}
