import * as tf from '@tensorflow/tfjs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { DEPICTION_VARIANTS, Random, loadRDKit, renderDepiction, type DepictionVariant } from '@ringcount/data-engineering';
import { loadModelDir, preprocessImage, type LoadedModel } from '@ringcount/model-core';
import { emptyConfusion, summarizeConfusion, type ConfusionMatrix } from './metrics.js';

/** A compound to redraw: its SMILES and true ring count (a compounds.json record has both). */
export interface RobustnessCompound {
  id: string;
  smiles: string;
  rings: number;
}

export interface VariantResult {
  variant: string;
  description: string;
  /** Compounds drawn and predicted (those RDKit could not draw are left out and counted in `skipped`). */
  count: number;
  accuracy: number;
  withinOne: number;
  meanAbsoluteError: number;
  confusion: ConfusionMatrix;
}

export interface RobustnessReport {
  model: { version: string; architecture: string; dataDigest: string };
  compounds: number;
  /** Records left out, with why (no SMILES, a ring count the model has no class for, unparseable SMILES). */
  skipped: { id: string; reason: string }[];
  variants: VariantResult[];
}

export class RobustnessInputError extends Error {}

/**
 * Reads compound records (the upstream `compounds.json` layout, or any JSON array of objects with
 * `smiles` and `num_rings`); records without them are reported, not fatal.
 */
export async function readCompounds(file: string): Promise<{ compounds: RobustnessCompound[]; skipped: { id: string; reason: string }[] }> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new RobustnessInputError(code === 'ENOENT'
      ? `no compounds file at ${file}: pass --data <folder with compounds.json> or --compounds <file>`
      : `${file} is not valid JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(parsed)) throw new RobustnessInputError(`${file} must hold a JSON array of compound records`);
  const compounds: RobustnessCompound[] = [];
  const skipped: { id: string; reason: string }[] = [];
  const seen = new Set<string>();
  for (const [i, record] of parsed.entries()) {
    const r = (typeof record === 'object' && record !== null ? record : {}) as Record<string, unknown>;
    const id = typeof r.compound_id === 'string' && r.compound_id !== '' ? r.compound_id : `record ${i}`;
    if (seen.has(id)) skipped.push({ id, reason: 'duplicate compound_id' });
    else if (typeof r.smiles !== 'string' || r.smiles === '') skipped.push({ id, reason: 'no smiles' });
    else if (typeof r.num_rings !== 'number' || !Number.isInteger(r.num_rings) || r.num_rings < 0) {
      skipped.push({ id, reason: 'num_rings is not a non-negative integer' });
    } else compounds.push({ id, smiles: r.smiles, rings: r.num_rings });
    seen.add(id);
  }
  return { compounds, skipped };
}

export interface RobustnessOptions {
  /** Variants to draw (default: all of DEPICTION_VARIANTS). */
  variants?: readonly DepictionVariant[];
  /** Seed for the angles of rotated variants. */
  seed?: number;
  batchSize?: number;
  /** Called after each batch with the images done so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Draws every compound in each variant, runs the model through the same preprocessing serving uses
 * (the model's saved settings) and scores each variant: how far accuracy moves when only the drawing
 * changes. The compounds should be ones the model did not train on.
 */
export async function evaluateRobustness(
  loaded: LoadedModel, compounds: readonly RobustnessCompound[], options: RobustnessOptions = {},
): Promise<RobustnessReport> {
  const { model, metadata } = loaded;
  const variants = options.variants ?? DEPICTION_VARIANTS;
  const batchSize = options.batchSize ?? 32;
  const rdkit = await loadRDKit();
  const skipped: { id: string; reason: string }[] = [];
  const classOf = new Map(metadata.labels.map((label, i) => [label, i]));
  const usable = compounds.filter((c) => {
    if (classOf.has(c.rings)) return true;
    skipped.push({ id: c.id, reason: `${c.rings} rings: the model's classes are ${metadata.labels.join(', ')}` });
    return false;
  });
  const total = usable.length * variants.length;
  let done = 0;
  const results: VariantResult[] = [];
  for (const variant of variants) {
    // The same angles for a seed whichever variants are chosen.
    const rng = new Random(options.seed ?? 1, 0x5eed);
    const confusion = emptyConfusion(metadata.labels);
    for (let start = 0; start < usable.length; start += batchSize) {
      const batch = usable.slice(start, start + batchSize);
      const inputs: Float32Array[] = [];
      const truths: number[] = [];
      for (const compound of batch) {
        const png = await renderDepiction(rdkit, compound.smiles, variant, rng);
        if (png === undefined) {
          if (variant === variants[0]) skipped.push({ id: compound.id, reason: 'RDKit cannot parse its SMILES' });
          continue;
        }
        inputs.push(await preprocessImage(png, metadata.preprocessing));
        truths.push(classOf.get(compound.rings) as number);
      }
      if (inputs.length > 0) {
        const predicted = await predictClasses(model, inputs, metadata.inputShape);
        predicted.forEach((p, i) => {
          const row = confusion.matrix[truths[i] as number] as number[];
          row[p] = (row[p] as number) + 1;
        });
      }
      done += batch.length;
      options.onProgress?.(done, total);
    }
    results.push({ variant: variant.name, description: variant.description, ...summarizeConfusion(confusion), confusion });
  }
  return {
    model: { version: metadata.version, architecture: metadata.architecture, dataDigest: metadata.dataDigest },
    compounds: usable.length,
    skipped,
    variants: results,
  };
}

async function predictClasses(model: tf.LayersModel, inputs: Float32Array[], shape: [number, number, number]): Promise<number[]> {
  const flat = new Float32Array(inputs.length * shape[0] * shape[1] * shape[2]);
  inputs.forEach((x, i) => flat.set(x, i * x.length));
  const classes = tf.tidy(() => (model.predict(tf.tensor4d(flat, [inputs.length, ...shape])) as tf.Tensor).argMax(-1));
  try {
    return Array.from(await classes.data());
  } finally {
    classes.dispose();
  }
}

/** Loads a model directory (checksums verified) with a message that says what to pass instead. */
export async function loadModelForEvaluation(dir: string): Promise<LoadedModel> {
  try {
    return await loadModelDir(dir);
  } catch (err) {
    throw new RobustnessInputError(`cannot load the model in ${path.resolve(dir)}: ${(err as Error).message} ` +
      '(pass --model <directory with model.json and ringcount-model.json>, e.g. data-science/models/v2)');
  }
}
