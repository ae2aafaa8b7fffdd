import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Sample } from './csv.js';
import { DatasetError } from './csv.js';

/** Where a data set came from: logged with every run so a model traces back to its data. */
export interface DatasetProvenance {
  /** SHA-256 of the data set (CSV + images). */
  digest: string;
  /** Seed the raw-data generator used, when known. */
  generatorSeed?: number;
  /** `dataset.json` when read from the ingest CLI's manifest, `computed` when hashed here. */
  source: 'dataset.json' | 'computed';
}

export const DATASET_MANIFEST = 'dataset.json';

/**
 * Reads digest and generator seed from the ingest CLI's `dataset.json`. When the manifest is absent
 * (a hand-made folder), hashes the CSV and every image instead so runs are still traceable.
 */
export async function readProvenance(dataDir: string, samples: Sample[], csvPath: string): Promise<DatasetProvenance> {
  const manifestPath = path.join(dataDir, DATASET_MANIFEST);
  let text: string | undefined;
  try {
    text = await readFile(manifestPath, 'utf8');
  } catch {
    text = undefined;
  }
  if (text !== undefined) {
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      throw new DatasetError(`${manifestPath} is not valid JSON (${(err as Error).message}); re-run the ingest CLI`);
    }
    const digest = firstString(json, ['digest', 'dataDigest', 'sha256']);
    if (digest === undefined) throw new DatasetError(`${manifestPath} has no 'digest' field; re-run the ingest CLI`);
    const generatorSeed = firstNumber(json, ['generatorSeed', 'seed']) ?? nestedSeed(json);
    return { digest, generatorSeed, source: 'dataset.json' };
  }
  const hash = createHash('sha256');
  hash.update(await readFile(csvPath));
  for (const s of [...samples].sort((a, b) => (a.imagePath < b.imagePath ? -1 : 1))) hash.update(await readFile(s.imagePath));
  return { digest: hash.digest('hex'), source: 'computed' };
}

function firstString(obj: Record<string, unknown>, keys: string[]): string | undefined {
  for (const k of keys) if (typeof obj[k] === 'string' && obj[k] !== '') return obj[k];
  return undefined;
}

function firstNumber(obj: Record<string, unknown>, keys: string[]): number | undefined {
  for (const k of keys) if (typeof obj[k] === 'number' && Number.isFinite(obj[k])) return obj[k];
  return undefined;
}

/** The ingest CLI nests the generator's seed as `source.generation.seed`. */
function nestedSeed(obj: Record<string, unknown>): number | undefined {
  const source = obj.source;
  const generation = source && typeof source === 'object' ? (source as Record<string, unknown>).generation : undefined;
  return generation && typeof generation === 'object' ? firstNumber(generation as Record<string, unknown>, ['seed', 'generatorSeed']) : undefined;
}
