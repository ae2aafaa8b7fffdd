import type { Sample } from './csv.js';
import { createRng, shuffleInPlace } from './random.js';

export interface SplitFractions {
  /** Fraction for validation, e.g. 0.15. */
  validation: number;
  /** Fraction for the held-out test set, e.g. 0.15. */
  test: number;
}

export interface DatasetSplit {
  train: Sample[];
  validation: Sample[];
  test: Sample[];
}

/**
 * Seeded, stratified split: each ring count is divided in the same proportions, so rare counts
 * still reach validation and test. The input order does not matter (samples are sorted by id first),
 * so the same data and seed always give the same split.
 */
export function stratifiedSplit(samples: Sample[], fractions: SplitFractions, seed: number): DatasetSplit {
  const { validation, test } = fractions;
  if (!(validation >= 0 && test >= 0 && validation + test < 1)) {
    throw new RangeError(`split fractions validation=${validation} test=${test} must be ≥ 0 and sum to < 1`);
  }
  const byLabel = new Map<number, Sample[]>();
  for (const s of [...samples].sort((a, b) => (a.compoundId < b.compoundId ? -1 : a.compoundId > b.compoundId ? 1 : 0))) {
    const group = byLabel.get(s.numRings) ?? [];
    group.push(s);
    byLabel.set(s.numRings, group);
  }
  const rng = createRng(seed);
  const out: DatasetSplit = { train: [], validation: [], test: [] };
  for (const label of [...byLabel.keys()].sort((a, b) => a - b)) {
    const group = shuffleInPlace(byLabel.get(label) as Sample[], rng);
    const n = group.length;
    // Rounding per class; a class with very few members keeps at least one training example.
    let nTest = Math.round(n * test);
    let nVal = Math.round(n * validation);
    while (nTest + nVal >= n && nTest + nVal > 0) {
      if (nVal >= nTest && nVal > 0) nVal--;
      else nTest--;
    }
    out.test.push(...group.slice(0, nTest));
    out.validation.push(...group.slice(nTest, nTest + nVal));
    out.train.push(...group.slice(nTest + nVal));
  }
  // Interleave classes so that an unshuffled pass (evaluation) is not sorted by label.
  shuffleInPlace(out.train, rng);
  shuffleInPlace(out.validation, rng);
  shuffleInPlace(out.test, rng);
  return out;
}

/** A seeded subset of at most `max` samples, stratified (keeps the label proportions). */
export function stratifiedSubset(samples: Sample[], max: number, seed: number): Sample[] {
  if (!(max > 0) || max >= samples.length) return samples;
  const keepFraction = max / samples.length;
  const { test: kept } = stratifiedSplit(samples, { validation: 0, test: keepFraction }, seed ^ 0x5bd1e995);
  return kept.slice(0, max);
}

/** Count of samples per ring count. */
export function labelHistogram(samples: Sample[]): Record<number, number> {
  const h: Record<number, number> = {};
  for (const s of samples) h[s.numRings] = (h[s.numRings] ?? 0) + 1;
  return h;
}
