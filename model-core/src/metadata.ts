import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, readdir, writeFile, rename } from 'node:fs/promises';
import path from 'node:path';
import type { PreprocessConfig } from './preprocessing.js';

/** File name of the metadata written next to the TF.js model files. */
export const METADATA_FILE = 'ringcount-model.json';
export const METADATA_FORMAT = 'ringcount-model/1';

/**
 * Everything serving needs to know about a saved model, saved with it: the API reads this rather
 * than assuming sizes or labels.
 */
export interface ModelMetadata {
  format: typeof METADATA_FORMAT;
  /** Registered model name, e.g. `ring-counter`. */
  name: string;
  /** Human version label, e.g. `v1`. */
  version: string;
  createdAt: string;
  /** [height, width, channels] of one input. */
  inputShape: [number, number, number];
  preprocessing: PreprocessConfig;
  /** `labels[i]` is the ring count predicted by output class i. */
  labels: number[];
  /** Architecture name (e.g. `baseline-cnn`, `residual-cnn`). */
  architecture: string;
  tfjsVersion: string;
  /** Backend the model was trained on (`tensorflow`, `wasm`, `cpu`). */
  backend: string;
  /** SHA-256 of the training data set (CSV + images) and the generator seed when known. */
  dataDigest: string;
  generatorSeed?: number;
  /** Tracking run that produced the model, when tracked. */
  runId?: string;
  /** Test-split metrics at save time. */
  metrics?: Record<string, number>;
  /** SHA-256 (hex) of every model file except this metadata file, keyed by file name. */
  files: Record<string, string>;
}

export class ModelVerificationError extends Error {
  override name = 'ModelVerificationError';
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Hashes every file in `dir` (except the metadata) and writes the metadata atomically. */
export async function writeMetadata(dir: string, meta: Omit<ModelMetadata, 'files' | 'format'>): Promise<ModelMetadata> {
  const files: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) {
    if (name === METADATA_FILE || name.startsWith('.')) continue;
    files[name] = await sha256File(path.join(dir, name));
  }
  const full: ModelMetadata = { format: METADATA_FORMAT, ...meta, files };
  const tmp = path.join(dir, `.${METADATA_FILE}.tmp`);
  await writeFile(tmp, JSON.stringify(full, null, 2) + '\n');
  await rename(tmp, path.join(dir, METADATA_FILE));
  return full;
}

export async function readMetadata(dir: string): Promise<ModelMetadata> {
  let text: string;
  try {
    text = await readFile(path.join(dir, METADATA_FILE), 'utf8');
  } catch {
    throw new ModelVerificationError(`no ${METADATA_FILE} in ${dir}: not a ring-count model directory`);
  }
  let meta: ModelMetadata;
  try {
    meta = JSON.parse(text) as ModelMetadata;
  } catch (err) {
    throw new ModelVerificationError(`${METADATA_FILE} in ${dir} is not valid JSON: ${(err as Error).message}`);
  }
  if (meta.format !== METADATA_FORMAT) {
    throw new ModelVerificationError(`${dir}: unsupported model format '${String(meta.format)}' (expected ${METADATA_FORMAT})`);
  }
  return meta;
}

/** Reads the metadata and checks every listed file's SHA-256; throws naming the first mismatch. */
export async function verifyModelDir(dir: string): Promise<ModelMetadata> {
  const meta = await readMetadata(dir);
  if (!meta.files || Object.keys(meta.files).length === 0) throw new ModelVerificationError(`${dir}: metadata lists no files`);
  for (const [name, expected] of Object.entries(meta.files)) {
    if (name.includes('/') || name.includes('\\') || name.startsWith('.')) {
      throw new ModelVerificationError(`${dir}: metadata lists an unsafe file name '${name}'`);
    }
    let actual: string;
    try {
      actual = await sha256File(path.join(dir, name));
    } catch {
      throw new ModelVerificationError(`${dir}: file '${name}' listed in the metadata is missing`);
    }
    if (actual !== expected) throw new ModelVerificationError(`${dir}: checksum mismatch for '${name}' (corrupt or modified)`);
  }
  return meta;
}
