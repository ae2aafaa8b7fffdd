import { expect } from 'chai';
import { ringCentreMap } from '@ringcount/model-core';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { defaultPreprocessConfig } from '@ringcount/model-core';
import {
  augmentImage,
  createRng,
  DatasetError,
  depictionAugmentation,
  ImageSource,
  loadDataset,
  readProvenance,
  readSamples,
  stratifiedSplit,
  stratifiedSubset,
  streamBatches,
  type Sample,
} from '../src/index.js';
import { writeFixtureDataset } from './dataset-fixture.js';

function fakeSamples(perLabel: number[]): Sample[] {
  const out: Sample[] = [];
  perLabel.forEach((n, label) => {
    for (let i = 0; i < n; i++) out.push({ compoundId: `C${label}-${i}`, numRings: label, imagePath: `/x/${label}-${i}.png` });
  });
  return out;
}

describe('dataset', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ds-test-'));
    await writeFixtureDataset(path.join(dir, 'fx'), { count: 30, maxRings: 2, seed: 3 });
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  describe('stratifiedSplit', () => {
    const samples = fakeSamples([100, 60, 20, 3]);

    it('keeps each ring count in the same proportions in every part', () => {
      const split = stratifiedSplit(samples, { validation: 0.15, test: 0.15 }, 1);
      const count = (part: Sample[], label: number) => part.filter((s) => s.numRings === label).length;
      expect(count(split.test, 0)).to.equal(15);
      expect(count(split.validation, 0)).to.equal(15);
      expect(count(split.train, 0)).to.equal(70);
      expect(count(split.test, 1)).to.equal(9);
      expect(count(split.test, 2)).to.equal(3);
      // A rare class still keeps a training example.
      expect(count(split.train, 3)).to.be.greaterThan(0);
      expect(split.train.length + split.validation.length + split.test.length).to.equal(samples.length);
      const ids = new Set([...split.train, ...split.validation, ...split.test].map((s) => s.compoundId));
      expect(ids.size).to.equal(samples.length);
    });

    it('is deterministic for a seed, whatever the input order, and differs between seeds', () => {
      const a = stratifiedSplit(samples, { validation: 0.2, test: 0.2 }, 7);
      const b = stratifiedSplit([...samples].reverse(), { validation: 0.2, test: 0.2 }, 7);
      const c = stratifiedSplit(samples, { validation: 0.2, test: 0.2 }, 8);
      const ids = (xs: Sample[]) => xs.map((s) => s.compoundId);
      expect(ids(a.test)).to.deep.equal(ids(b.test));
      expect(ids(a.train)).to.deep.equal(ids(b.train));
      expect(ids(a.test)).to.not.deep.equal(ids(c.test));
    });

    it('rejects fractions that leave nothing to train on', () => {
      expect(() => stratifiedSplit(samples, { validation: 0.5, test: 0.5 }, 1)).to.throw(RangeError, /sum to < 1/);
    });

    it('subsets stratified and seeded', () => {
      const sub = stratifiedSubset(samples, 61, 2);
      expect(sub).to.have.length(61);
      expect(sub.filter((s) => s.numRings === 0).length).to.be.within(31, 35);
      expect(stratifiedSubset(samples, 61, 2).map((s) => s.compoundId)).to.deep.equal(sub.map((s) => s.compoundId));
    });
  });

  describe('readSamples', () => {
    it('reads the ingest CSV with image paths relative to its folder', async () => {
      const samples = await readSamples(path.join(dir, 'fx', 'compound_rings.csv'));
      expect(samples).to.have.length(30);
      expect(samples[0]?.imagePath).to.equal(path.join(dir, 'fx', 'images', 'FIX00000.png'));
      expect(samples.map((s) => s.numRings)).to.include.members([0, 1, 2]);
    });

    const bad: Array<[string, string, RegExp]> = [
      ['a missing column', 'compound_id,image\nA,images/a.png\n', /lacks column 'num_rings'/],
      ['a non-integer ring count', 'compound_id,num_rings,image\nA,two,images/a.png\n', /:2: num_rings 'two' is not a non-negative integer/],
      ['a negative ring count', 'compound_id,num_rings,image\nA,-1,images/a.png\n', /num_rings '-1'/],
      ['a path leaving the folder', 'compound_id,num_rings,image\nA,1,../a.png\n', /must be relative to the CSV's folder/],
      ['a duplicate id', 'compound_id,num_rings,image\nA,1,images/FIX00000.png\nA,1,images/FIX00000.png\n', /duplicate compound_id 'A'/],
      ['a missing image', 'compound_id,num_rings,image\nA,1,images/nope.png\n', /1 image\(s\) listed .* are missing.*nope\.png/],
      ['no rows', 'compound_id,num_rings,image\n', /has no data rows/],
    ];
    for (const [what, csv, message] of bad) {
      it(`names the problem for ${what}`, async () => {
        const file = path.join(dir, 'fx', `bad-${what.replace(/\W+/g, '-')}.csv`);
        await writeFile(file, csv);
        let err: unknown;
        await readSamples(file).catch((e: unknown) => (err = e));
        expect(err).to.be.instanceOf(DatasetError);
        expect((err as Error).message).to.match(message);
      });
    }

    it('says what to do when the folder has no CSV', async () => {
      let err: unknown;
      await loadDataset(path.join(dir, 'nowhere'), { seed: 1 }).catch((e: unknown) => (err = e));
      expect((err as Error).message).to.match(/cannot read .*compound_rings\.csv: ENOENT.*npm run ingest/);
    });
  });

  describe('provenance', () => {
    it('reads digest and the nested generator seed from dataset.json', async () => {
      const d = path.join(dir, 'prov');
      await mkdir(d, { recursive: true });
      await writeFile(path.join(d, 'dataset.json'), JSON.stringify({ digest: 'abc', source: { generation: { seed: 11 } } }));
      expect(await readProvenance(d, [], path.join(d, 'x.csv'))).to.deep.equal({ digest: 'abc', generatorSeed: 11, source: 'dataset.json' });
    });

    it('hashes CSV and images when there is no dataset.json', async () => {
      const d = path.join(dir, 'fx');
      const samples = await readSamples(path.join(d, 'compound_rings.csv'));
      const p = await readProvenance(path.join(dir, 'no-manifest-here'), samples, path.join(d, 'compound_rings.csv'));
      expect(p.source).to.equal('computed');
      expect(p.digest).to.match(/^[0-9a-f]{64}$/);
      expect(p.generatorSeed).to.equal(undefined);
    });
  });

  describe('streamBatches', () => {
    it('yields every sample once per pass with its class, in batches of the right shape', async () => {
      const samples = await readSamples(path.join(dir, 'fx', 'compound_rings.csv'));
      const source = new ImageSource(defaultPreprocessConfig(24), 100);
      const labels = [0, 1, 2];
      const seen: number[] = [];
      const sizes: number[] = [];
      for await (const b of streamBatches(samples, source, { batchSize: 8, labels, shuffleSeed: 5 })) {
        expect(b.xs).to.have.length(b.size * 24 * 24);
        expect(b.classes).to.have.length(b.size);
        sizes.push(b.size);
        seen.push(...b.classes);
        expect(Math.max(...b.xs)).to.be.at.most(1);
        expect(Math.max(...b.xs)).to.be.greaterThan(0.3); // ink is present
      }
      expect(sizes).to.deep.equal([8, 8, 8, 6]);
      expect([...seen].sort()).to.deep.equal(samples.map((s) => s.numRings).sort());
    });

    it('keeps at most cacheEntries decoded images, decoding again when evicted', async () => {
      const samples = await readSamples(path.join(dir, 'fx', 'compound_rings.csv'));
      const source = new ImageSource(defaultPreprocessConfig(16), 10);
      for (let epoch = 0; epoch < 2; epoch++) {
        for await (const b of streamBatches(samples, source, { batchSize: 5, labels: [0, 1, 2] })) expect(b.size).to.equal(5);
      }
      expect(source.cachedImages).to.equal(10);
      expect(source.decodes).to.equal(60); // 30 per pass: a 10-entry cache cannot hold a 30-image pass
      const roomy = new ImageSource(defaultPreprocessConfig(16), 100);
      for (let epoch = 0; epoch < 2; epoch++) for await (const _ of streamBatches(samples, roomy, { batchSize: 5, labels: [0, 1, 2] }));
      expect(roomy.decodes).to.equal(30);
    });

    it('rejects a ring count that is not a label', async () => {
      const samples = await readSamples(path.join(dir, 'fx', 'compound_rings.csv'));
      const source = new ImageSource(defaultPreprocessConfig(16), 0);
      let err: unknown;
      try {
        for await (const _ of streamBatches(samples, source, { batchSize: 30, labels: [0, 1] }));
      } catch (e) {
        err = e;
      }
      expect((err as Error).message).to.match(/ring count 2 is not one of the labels 0,1/);
    });
  });

  describe('augmentImage', () => {
    const size = 32;
    const img = new Float32Array(size * size);
    for (let y = 10; y < 22; y++) for (let x = 12; x < 14; x++) img[y * size + x] = 1; // a vertical bar

    it('keeps the shape and the [0, 1] range and does not modify its input', () => {
      const before = Float32Array.from(img);
      const rng = createRng(1);
      for (let i = 0; i < 20; i++) {
        const out = augmentImage(img, size, depictionAugmentation(), rng);
        expect(out).to.have.length(size * size);
        expect(Math.min(...out)).to.be.at.least(0);
        expect(Math.max(...out)).to.be.at.most(1);
        expect(out.reduce((a, b) => a + b, 0)).to.be.greaterThan(5); // the bar is still in the frame
      }
      expect(img).to.deep.equal(before);
    });

    it('never rotates or shifts content out of the frame (that would change the ring count)', () => {
      // One blob near (not on: depictions keep a small white margin) each corner, one image per corner.
      const cfg = { ...depictionAugmentation(), keepOriginal: 0, thicken: 0, intensity: [1, 1] as [number, number] };
      for (const [x0, y0] of [[1, 1], [size - 4, 1], [1, size - 4], [size - 4, size - 4]] as const) {
        const blob = new Float32Array(size * size);
        for (let y = y0; y < y0 + 3; y++) for (let x = x0; x < x0 + 3; x++) blob[y * size + x] = 1;
        const rng = createRng(x0 * 100 + y0);
        for (let i = 0; i < 50; i++) expect(Math.max(...augmentImage(blob, size, cfg, rng))).to.be.greaterThan(0.3);
      }
    });

    it('is reproducible from its seed and actually transforms', () => {
      const cfg = { ...depictionAugmentation(), keepOriginal: 0 };
      const a = augmentImage(img, size, cfg, createRng(9));
      const b = augmentImage(img, size, cfg, createRng(9));
      expect(a).to.deep.equal(b);
      expect(a).to.not.deep.equal(img);
    });

    it('passes about keepOriginal of the images through unchanged', () => {
      const rng = createRng(3);
      let unchanged = 0;
      const cfg = depictionAugmentation();
      for (let i = 0; i < 400; i++) if (augmentImage(img, size, cfg, rng).every((v, k) => v === img[k])) unchanged++;
      expect(unchanged / 400).to.be.within(cfg.keepOriginal - 0.07, cfg.keepOriginal + 0.07);
    });

    it('is the identity when every augmentation is off', () => {
      const off = { keepOriginal: 0, rotate: false, flip: false, scale: [1, 1] as [number, number], translate: 0, thicken: 0, intensity: [1, 1] as [number, number] };
      const out = augmentImage(img, size, off, createRng(1));
      out.forEach((v, i) => expect(v).to.be.closeTo(img[i] as number, 1e-6));
    });

    it('turns the vertical bar horizontal for some angle (rotation by any angle)', () => {
      // Ink spread along x and y: the bar starts tall and thin; a rotation near 90° makes it wide.
      const spread = (im: Float32Array, axis: 'x' | 'y') => {
        let w = 0;
        let m = 0;
        let m2 = 0;
        im.forEach((v, i) => {
          const c = axis === 'x' ? i % size : Math.floor(i / size);
          w += v;
          m += v * c;
          m2 += v * c * c;
        });
        return m2 / w - (m / w) ** 2;
      };
      expect(spread(img, 'y')).to.be.greaterThan(5 * spread(img, 'x'));
      const rotateOnly = { keepOriginal: 0, rotate: true, flip: false, scale: [1, 1] as [number, number], translate: 0, thicken: 0, intensity: [1, 1] as [number, number] };
      const rng = createRng(4);
      const outs = Array.from({ length: 40 }, () => augmentImage(img, size, rotateOnly, rng));
      expect(outs.some((o) => spread(o, 'x') > 3 * spread(o, 'y'))).to.equal(true);
      expect(outs.some((o) => spread(o, 'y') > 3 * spread(o, 'x'))).to.equal(true);
    });

    it('moves a ring-centre channel with the ink, keeping its sum (the count) through zoom and rotation', () => {
      // Ink: the bar; centres: two regions away from the edges, marked as preprocessing marks them.
      const centres = ringCentreMap([{ x: 8.3, y: 12.6, area: 50 }, { x: 22.8, y: 20.1, area: 50 }], size, size, size);
      const both = new Float32Array(size * size * 2);
      for (let i = 0; i < size * size; i++) {
        both[2 * i] = img[i]!;
        both[2 * i + 1] = centres[i]!;
      }
      const cfg = { ...depictionAugmentation(), keepOriginal: 0, scale: [0.8, 0.9] as [number, number] };
      for (let seed = 1; seed <= 20; seed++) {
        const out = augmentImage(both, size, cfg, createRng(seed), 2);
        expect(out).to.have.length(size * size * 2);
        // The ink channel is exactly what the single-channel augmentation makes with the same draws.
        const inkOnly = augmentImage(img, size, cfg, createRng(seed));
        for (let i = 0; i < size * size; i++) expect(out[2 * i]).to.equal(inkOnly[i]);
        let mass = 0;
        for (let i = 1; i < out.length; i += 2) mass += out[i]!;
        // Resampling a 2×2 splat on a rotated, zoomed grid aliases: the sum is kept on average.
        expect(mass, `seed ${seed}`).to.be.closeTo(2, 0.3);
      }
      expect(() => augmentImage(both, size, cfg, createRng(1))).to.throw(RangeError, /expected 1024 values \(32×32×1\), got 2048/);
    });
  });
});
