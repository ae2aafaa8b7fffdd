import { access, readFile } from 'node:fs/promises';
import path from 'node:path';

/** One labelled depiction from `compound_rings.csv`. */
export interface Sample {
  compoundId: string;
  numRings: number;
  /** Absolute path of the image file. */
  imagePath: string;
}

export class DatasetError extends Error {
  override name = 'DatasetError';
}

const REQUIRED_COLUMNS = ['compound_id', 'num_rings', 'image'] as const;

/**
 * Reads `compound_rings.csv` (written by the ingest CLI: `compound_id,num_rings,image`, image paths
 * relative to the CSV's folder). Throws a DatasetError naming the file, line and fix on bad input.
 */
export async function readSamples(csvPath: string, options: { checkImages?: boolean } = {}): Promise<Sample[]> {
  let text: string;
  try {
    text = await readFile(csvPath, 'utf8');
  } catch (err) {
    throw new DatasetError(
      `cannot read ${csvPath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}. ` +
        'Point dataDir at a folder written by `npm run ingest` (it contains compound_rings.csv).',
    );
  }
  const lines = text.split(/\r?\n/);
  const header = splitCsvLine(lines[0] ?? '').map((h) => h.trim());
  const index: Record<string, number> = {};
  for (const col of REQUIRED_COLUMNS) {
    const i = header.indexOf(col);
    if (i < 0) throw new DatasetError(`${csvPath}: header lacks column '${col}' (expected ${REQUIRED_COLUMNS.join(',')}, got '${lines[0] ?? ''}')`);
    index[col] = i;
  }
  const baseDir = path.dirname(path.resolve(csvPath));
  const samples: Sample[] = [];
  const seen = new Set<string>();
  for (let n = 1; n < lines.length; n++) {
    const line = lines[n] as string;
    if (line.trim() === '') continue;
    const cells = splitCsvLine(line);
    const where = `${csvPath}:${n + 1}`;
    const compoundId = (cells[index.compound_id as number] ?? '').trim();
    const ringsText = (cells[index.num_rings as number] ?? '').trim();
    const image = (cells[index.image as number] ?? '').trim();
    if (compoundId === '') throw new DatasetError(`${where}: empty compound_id`);
    if (!/^\d+$/.test(ringsText)) throw new DatasetError(`${where}: num_rings '${ringsText}' is not a non-negative integer`);
    if (image === '') throw new DatasetError(`${where}: empty image path for compound '${compoundId}'`);
    if (path.isAbsolute(image) || image.split(/[\\/]/).includes('..')) {
      throw new DatasetError(`${where}: image path '${image}' must be relative to the CSV's folder and stay inside it`);
    }
    if (seen.has(compoundId)) throw new DatasetError(`${where}: duplicate compound_id '${compoundId}'`);
    seen.add(compoundId);
    samples.push({ compoundId, numRings: Number(ringsText), imagePath: path.join(baseDir, image) });
  }
  if (samples.length === 0) throw new DatasetError(`${csvPath} has no data rows: run the ingest CLI on a non-empty raw-data folder`);
  if (options.checkImages !== false) await assertImagesExist(samples, csvPath);
  return samples;
}

async function assertImagesExist(samples: Sample[], csvPath: string): Promise<void> {
  const missing: string[] = [];
  const CONCURRENCY = 64;
  for (let i = 0; i < samples.length; i += CONCURRENCY) {
    await Promise.all(
      samples.slice(i, i + CONCURRENCY).map(async (s) => {
        try {
          await access(s.imagePath);
        } catch {
          missing.push(s.imagePath);
        }
      }),
    );
  }
  if (missing.length > 0) {
    throw new DatasetError(
      `${missing.length} image(s) listed in ${csvPath} are missing, e.g. ${missing.slice(0, 3).join(', ')}. Re-run the ingest CLI.`,
    );
  }
}

/** Splits one CSV line, honouring double-quoted cells with "" escapes. */
export function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] as string;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}
