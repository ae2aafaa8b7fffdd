import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import { CLASS_BLOCK_SIZE, targetRingCount, type CompoundRecord } from '../src/generate/compound.js';
import { generateDataset, type GenerationManifest } from '../src/generate/generate.js';
import { hillFormula, loadRDKit, readMolJson, withMol } from '../src/generate/rdkit.js';
import { FIXTURE_COUNT, FIXTURE_SEED, fixtureSet, folderHashes, runCli, tempDir } from './fixtures.js';

function readRecords(dir: string): Record<string, unknown>[] {
  return JSON.parse(fs.readFileSync(path.join(dir, 'compounds.json'), 'utf8')) as Record<string, unknown>[];
}

/** The generated compounds, without the bad records (SYNBAD…, no id, and the duplicate). */
function goodRecords(dir: string): CompoundRecord[] {
  const seen = new Set<string>();
  return readRecords(dir).filter((r) => {
    if (typeof r.compound_id !== 'string' || !/^SYN\d+$/.test(r.compound_id) || seen.has(r.compound_id)) return false;
    seen.add(r.compound_id);
    return true;
  }) as unknown as CompoundRecord[];
}

describe('generate', () => {
  it('deals ring-count classes evenly: every block holds 0..7 twice and one 8+', () => {
    const counts = new Map<number, number>();
    const blocks = 10;
    for (let i = 0; i < CLASS_BLOCK_SIZE * blocks; i++) {
      const target = targetRingCount(3, i);
      const key = Math.min(target, 8);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    for (let rings = 0; rings <= 7; rings++) expect(counts.get(rings), `class ${rings}`).to.equal(2 * blocks);
    expect(counts.get(8)).to.equal(blocks);
  });

  it('writes compounds whose num_rings, weight, logP and formula agree with RDKit', async () => {
    const { dir } = await fixtureSet();
    const rdkit = await loadRDKit();
    const records = goodRecords(dir);
    expect(records).to.have.length(FIXTURE_COUNT);
    for (const [i, record] of records.entries()) {
      expect(record.compound_id).to.equal(`SYN${String(i + 1).padStart(6, '0')}`);
      expect(record.num_rings).to.equal(targetRingCount(FIXTURE_SEED, i));
      const check = withMol(rdkit, record.smiles, (mol) => {
        const d = JSON.parse(mol.get_descriptors()) as { NumRings: number; amw: number; CrippenClogP: number };
        return { d, formula: hillFormula(readMolJson(mol).atoms) };
      });
      expect(check, record.smiles).to.not.equal(undefined);
      expect(check?.d.NumRings).to.equal(record.num_rings);
      expect(record.molecular_weight).to.be.closeTo(check?.d.amw ?? 0, 0.01);
      expect(record.ALogP).to.be.closeTo(check?.d.CrippenClogP ?? 0, 0.01);
      expect(record.molecular_formula).to.equal(check?.formula);
      expect(record.image).to.equal(`images/${record.compound_id}.png`);
    }
    // The first 17 compounds already cover every class 0..7.
    expect(new Set(records.map((r) => r.num_rings))).to.include.members([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('renders 300×300 PNGs on a white background', async () => {
    const { dir } = await fixtureSet();
    for (const record of goodRecords(dir).slice(0, 5)) {
      const file = path.join(dir, record.image);
      const meta = await sharp(file).metadata();
      expect([meta.format, meta.width, meta.height]).to.deep.equal(['png', 300, 300]);
      const { data } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      expect([...data.subarray(0, 3)], 'top-left pixel').to.deep.equal([255, 255, 255]);
      expect(data.some((v) => v < 100), 'some dark ink').to.equal(true);
    }
  });

  it('is deterministic for a seed, however the work is split across workers', async () => {
    const { dir } = await fixtureSet();
    const again = tempDir('generate-again');
    await generateDataset({ count: FIXTURE_COUNT, seed: FIXTURE_SEED, out: again, workers: 1, log: () => undefined, tty: false });
    expect(folderHashes(again)).to.deep.equal(folderHashes(dir));
    const other = tempDir('generate-other-seed');
    await generateDataset({ count: 3, seed: FIXTURE_SEED + 1, out: other, workers: 1, badRecords: false, log: () => undefined, tty: false });
    expect(goodRecords(other).map((r) => r.smiles)).to.not.deep.equal(goodRecords(dir).slice(0, 3).map((r) => r.smiles));
  });

  it('writes generation.json with the seed, histogram and one bad record per rejection reason', async () => {
    const { dir } = await fixtureSet();
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'generation.json'), 'utf8')) as GenerationManifest;
    expect(manifest.seed).to.equal(FIXTURE_SEED);
    expect(manifest.count).to.equal(FIXTURE_COUNT);
    expect(Object.values(manifest.class_histogram).reduce((a, b) => a + b, 0)).to.equal(FIXTURE_COUNT);
    expect(manifest.bad_records.map((b) => b.problem)).to.include.members([
      'missing compound_id', 'image file missing', 'no image key', 'truncated PNG', 'image is not a PNG or JPEG',
      'absolute image path', 'duplicate compound_id',
    ]);
    expect(readRecords(dir)).to.have.length(manifest.total_records).and.length(FIXTURE_COUNT + manifest.bad_records.length);
  });

  it('computes Hill formulas like ChEMBL', () => {
    expect(hillFormula([{ z: 6, impHs: 3, chg: 0 }, { z: 8, impHs: 1, chg: 0 }])).to.equal('CH4O');
    expect(hillFormula([{ z: 7, impHs: 3, chg: 0 }])).to.equal('H3N');
    expect(hillFormula([{ z: 6, impHs: 0, chg: 0 }, { z: 17, impHs: 0, chg: 0 }, { z: 35, impHs: 0, chg: 0 }, { z: 7, impHs: 4, chg: 1 }]))
      .to.equal('CH4BrClN+');
  });

  it('CLI rejects bad arguments with a message and a non-zero exit', () => {
    const negative = runCli('generate', ['--count', '-3', '--out', tempDir('generate-cli')]);
    expect(negative.status).to.not.equal(0);
    expect(negative.stderr).to.contain('--count must be a whole number');
    const unknown = runCli('generate', ['--colour', 'red']);
    expect(unknown.status).to.not.equal(0);
    expect(unknown.stderr).to.contain('Unknown argument');
  });
});
