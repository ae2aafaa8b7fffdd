import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CompoundRecord } from './compound.js';
import { Random } from './random.js';

/**
 * Deliberately unusable records mixed into every generated set, one per rejection reason of the
 * ingest CLI, so its dead-letter log always has something to show. Ids start with SYNBAD.
 */
export interface BadRecord {
  /** What is wrong with it (also written to generation.json). */
  problem: string;
  record: Record<string, unknown>;
  /** Index in the good records after which it is inserted. */
  after: number;
}

/**
 * Builds the bad records from good ones (so everything else about them looks real) and writes the
 * image files they need into `imagesDir`: copies, a truncated PNG and a text file named .png.
 */
export function makeBadRecords(good: readonly CompoundRecord[], imagesDir: string, seed: number): BadRecord[] {
  if (good.length === 0) return [];
  const rng = new Random(seed, -7);
  const template = (): CompoundRecord => structuredClone(rng.pick(good));
  const png = (record: CompoundRecord): Buffer => fs.readFileSync(path.join(imagesDir, path.basename(record.image)));
  const writeImage = (name: string, content: Buffer | string): string => {
    fs.writeFileSync(path.join(imagesDir, name), content);
    return `images/${name}`;
  };
  const at = (): number => rng.int(0, good.length - 1);
  const bad: BadRecord[] = [];

  {
    const { compound_id: _dropped, ...rest } = template();
    bad.push({ problem: 'missing compound_id', record: { ...rest, image: writeImage('SYNBAD-no-id.png', png(rest as CompoundRecord)) }, after: at() });
  }
  {
    const base = template();
    bad.push({
      problem: 'wrong types (molecular_weight and num_rings are strings)',
      record: { ...base, compound_id: 'SYNBAD02', molecular_weight: base.molecular_weight.toFixed(2), num_rings: String(base.num_rings), image: writeImage('SYNBAD02.png', png(base)) },
      after: at(),
    });
  }
  bad.push({ problem: 'image file missing', record: { ...template(), compound_id: 'SYNBAD03', image: 'images/SYNBAD03.png' }, after: at() });
  {
    const { image: _dropped, ...rest } = template();
    bad.push({ problem: 'no image key', record: { ...rest, compound_id: 'SYNBAD04' }, after: at() });
  }
  {
    const base = template();
    const bytes = png(base);
    bad.push({
      problem: 'truncated PNG',
      record: { ...base, compound_id: 'SYNBAD05', image: writeImage('SYNBAD05.png', bytes.subarray(0, Math.floor(bytes.length * 0.6))) },
      after: at(),
    });
  }
  bad.push({
    problem: 'image is not a PNG or JPEG',
    record: { ...template(), compound_id: 'SYNBAD06', image: writeImage('SYNBAD06.png', 'this is a text file, not a PNG\n') },
    after: at(),
  });
  bad.push({ problem: 'image path escapes the data folder (../)', record: { ...template(), compound_id: 'SYNBAD07', image: '../images/SYNBAD07.png' }, after: at() });
  bad.push({ problem: 'absolute image path', record: { ...template(), compound_id: 'SYNBAD08', image: '/etc/hostname' }, after: at() });
  {
    const original = rng.int(0, good.length - 1);
    // The duplicate comes after its original, so the original is the one kept.
    bad.push({ problem: 'duplicate compound_id', record: structuredClone(good[original]) as unknown as Record<string, unknown>, after: rng.int(original, good.length - 1) });
  }
  bad.push({ problem: 'negative num_rings', record: { ...template(), compound_id: 'SYNBAD10', num_rings: -1 }, after: at() });
  return bad;
}

/** Good records with the bad ones inserted after their positions (stable for equal positions). */
export function interleave(good: readonly CompoundRecord[], bad: readonly BadRecord[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const byPosition = new Map<number, BadRecord[]>();
  for (const record of bad) byPosition.set(record.after, [...(byPosition.get(record.after) ?? []), record]);
  good.forEach((record, i) => {
    out.push(record as unknown as Record<string, unknown>);
    for (const extra of byPosition.get(i) ?? []) out.push(extra.record);
  });
  return out;
}
