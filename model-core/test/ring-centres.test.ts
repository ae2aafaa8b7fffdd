import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import { adaptiveCloseRadius, colouredInk, enclosedRegions, ringCentreMap, ringCentreRegions } from '../src/ring-centres.js';
import { defaultPreprocessConfig, inputChannels, preprocessImage } from '../src/preprocessing.js';

const RAW_DATA = path.resolve(__dirname, '../../../raw-data');

/** A white `size`×`size` ink image (0 = white) with 3 px strokes drawn by `draw(x, y)`. */
function drawing(size: number, strokes: [number, number, number, number][]): Uint8Array {
  const ink = new Uint8Array(size * size);
  for (const [x0, y0, x1, y1] of strokes) {
    const steps = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0));
    for (let s = 0; s <= steps; s++) {
      const x = Math.round(x0 + ((x1 - x0) * s) / steps);
      const y = Math.round(y0 + ((y1 - y0) * s) / steps);
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) ink[(y + dy) * size + x + dx] = 255;
    }
  }
  return ink;
}

const square = (x: number, y: number, side: number): [number, number, number, number][] => [
  [x, y, x + side, y], [x + side, y, x + side, y + side], [x + side, y + side, x, y + side], [x, y + side, x, y],
];

describe('ring centres (enclosed regions of a depiction)', () => {
  it('finds one region per closed outline, two for outlines sharing an edge, none for open shapes', () => {
    expect(enclosedRegions(drawing(300, square(100, 100, 60)), 300, 300)).to.have.length(1);
    expect(enclosedRegions(drawing(300, [...square(60, 100, 60), ...square(120, 100, 60)]), 300, 300)).to.have.length(2);
    const open = square(100, 100, 60).slice(0, 3);
    expect(enclosedRegions(drawing(300, open), 300, 300)).to.have.length(0);
    expect(enclosedRegions(new Uint8Array(300 * 300), 300, 300)).to.have.length(0);
  });

  it('closes a gap narrower than the closing radius (bonds stopping short of an atom label), not a wide one', () => {
    const withGap = (gap: number): [number, number, number, number][] => [
      [100, 100, 160, 100], [160, 100, 160, 160], [160, 160, 100, 160], [100, 160, 100, 130 + gap / 2], [100, 130 - gap / 2, 100, 100],
    ];
    expect(enclosedRegions(drawing(300, withGap(6)), 300, 300)).to.have.length(1);
    expect(enclosedRegions(drawing(300, withGap(30)), 300, 300)).to.have.length(0);
  });

  it('ignores specks of background between strokes and reports the centroid', () => {
    const regions = enclosedRegions(drawing(300, [...square(100, 100, 60), ...square(200, 200, 6)]), 300, 300);
    expect(regions).to.have.length(1);
    expect(regions[0]!.x).to.be.closeTo(130.5, 0.5);
    expect(regions[0]!.y).to.be.closeTo(130.5, 0.5);
  });

  it('scales with the image: the same drawing at twice the resolution gives the same regions', () => {
    const big = enclosedRegions(drawing(600, [...square(120, 200, 120), ...square(240, 200, 120)]), 600, 600);
    expect(big).to.have.length(2);
  });

  it('finds small rings with a small closing radius and open ones with a large one (one channel per radius)', async () => {
    const small = drawing(300, square(100, 100, 14));
    expect(enclosedRegions(small, 300, 300, 1 / 300)).to.have.length(1);
    expect(enclosedRegions(small, 300, 300, 5 / 300)).to.have.length(0); // filled in
    const gapped: [number, number, number, number][] = [[100, 100, 160, 100], [160, 100, 160, 160], [160, 160, 100, 160], [100, 160, 100, 134], [100, 126, 100, 100]];
    expect(enclosedRegions(drawing(300, gapped), 300, 300, 1 / 300)).to.have.length(0);
    expect(enclosedRegions(drawing(300, gapped), 300, 300, 5 / 300)).to.have.length(1);
    expect(() => enclosedRegions(small, 300, 300, 0)).to.throw(RangeError, /closing radius 0/);
    const config = { ...defaultPreprocessConfig(32), ringCentres: true, ringCentreRadii: [1, 3, 5] };
    expect(inputChannels(config)).to.equal(4);
    const file = path.join(RAW_DATA, 'images', 'SYN000001.png');
    expect(await preprocessImage(readFileSync(file), config)).to.have.length(32 * 32 * 4);
  });

  it('drops the holes of coloured letters (atom labels) and keeps rings, even rings with coloured bonds', () => {
    // A black square (a ring) and a small red ring-shaped "O" next to it, as RGB.
    const size = 300;
    const rgb = new Uint8Array(size * size * 3).fill(255);
    const paint = (ink: Uint8Array, colour: [number, number, number]): void => {
      for (let i = 0; i < ink.length; i++) if (ink[i]! > 0) rgb.set(colour, 3 * i);
    };
    paint(drawing(size, square(40, 40, 80)), [0, 0, 0]);
    paint(drawing(size, square(200, 60, 24)), [255, 13, 13]);
    // A ring with one black bond and three blue ones (N–N bonds) stays a ring.
    const ring = square(150, 180, 70);
    paint(drawing(size, ring.slice(0, 3)), [48, 80, 248]);
    paint(drawing(size, ring.slice(3)), [0, 0, 0]);
    const ink = Uint8Array.from({ length: size * size }, (_, i) => 255 - Math.min(rgb[3 * i]!, rgb[3 * i + 1]!, rgb[3 * i + 2]!));
    const coloured = colouredInk(rgb, size, size, 3);
    expect(enclosedRegions(ink, size, size)).to.have.length(3);
    const [kept] = ringCentreRegions(ink, size, size, { closeRadii: [3 / 300], coloured });
    expect(kept!.map((r) => [Math.round(r.x), Math.round(r.y)]).sort()).to.deep.equal([[186, 216], [81, 81]].sort());
    // Gray images have no colour: nothing is dropped.
    expect(colouredInk(new Uint8Array(size * size).fill(0), size, size, 1).some((v) => v !== 0)).to.equal(false);
    expect(() => ringCentreRegions(ink, size, size, { closeRadii: [3 / 300], coloured: new Uint8Array(5) })).to.throw(RangeError, /colour mask of 5 pixels/);
  });

  it('adapts the closing radius to the drawing: small rings get a small one, large rings a large one', () => {
    expect(adaptiveCloseRadius([{ x: 0, y: 0, area: 20 * 20 }], 300, 300)).to.equal(1 / 300);
    expect(adaptiveCloseRadius([{ x: 0, y: 0, area: 60 * 60 }, { x: 0, y: 0, area: 62 * 62 }, { x: 0, y: 0, area: 10 }], 300, 300)).to.equal(3 / 300);
    expect(adaptiveCloseRadius([{ x: 0, y: 0, area: 150 * 150 }], 300, 300)).to.equal(5 / 300);
    expect(adaptiveCloseRadius([], 300, 300)).to.be.closeTo(3 / 300, 1e-12);
    // Relative to the image: the same drawing at twice the resolution gets the same fraction.
    expect(adaptiveCloseRadius([{ x: 0, y: 0, area: 120 * 120 }], 600, 600)).to.equal(adaptiveCloseRadius([{ x: 0, y: 0, area: 60 * 60 }], 300, 300));
    // A drawing of small rings (one of them tiny) and a gap-free outline: the tiny ring survives.
    const tiny = [...square(40, 40, 14), ...square(60, 40, 22), ...square(100, 40, 22)];
    expect(enclosedRegions(drawing(300, tiny), 300, 300, 3 / 300)).to.have.length(2);
    expect(ringCentreRegions(drawing(300, tiny), 300, 300, { closeRadii: ['adaptive'] })[0]).to.have.length(3);
  });

  it('refuses an ink buffer that does not match the size', () => {
    expect(() => enclosedRegions(new Uint8Array(10), 4, 4)).to.throw(RangeError, /10 pixels for a 4×4 image/);
  });

  it('places a unit of mass per region in the model-size map, where the image is placed', () => {
    const map = ringCentreMap([{ x: 150, y: 150, area: 100 }, { x: 30, y: 270, area: 100 }], 300, 300, 64);
    expect(map.reduce((a, b) => a + b, 0)).to.be.closeTo(2, 1e-6);
    // (150, 150) of 300 is the middle of the 64 px map: pixels 31–32.
    expect(map[31 * 64 + 31]! + map[31 * 64 + 32]! + map[32 * 64 + 31]! + map[32 * 64 + 32]!).to.be.closeTo(1, 1e-6);
    // A 300×150 image is drawn 64×32, centred vertically (contain, rows 16–47): its middle is
    // rows 31–32 of the map, not 15–16 as it would be without the offset.
    const wide = ringCentreMap([{ x: 150, y: 75, area: 100 }], 300, 150, 64);
    const rows = [...wide.keys()].filter((i) => wide[i]! > 0).map((i) => Math.floor(i / 64));
    expect([...new Set(rows)].sort()).to.deep.equal([31, 32]);
  });

  it('counts the rings of the shipped depictions for most of them on its own (≥ 75%)', async () => {
    const records = JSON.parse(readFileSync(path.join(RAW_DATA, 'compounds.json'), 'utf8')) as { image?: unknown; num_rings?: unknown }[];
    let right = 0;
    let total = 0;
    for (const r of records) {
      if (typeof r.image !== 'string' || typeof r.num_rings !== 'number' || !/^images\/SYN\d+\.png$/.test(r.image)) continue;
      let decoded: { data: Buffer; info: sharp.OutputInfo };
      try {
        decoded = await sharp(path.join(RAW_DATA, r.image)).flatten({ background: '#ffffff' }).grayscale().raw().toBuffer({ resolveWithObject: true });
      } catch {
        continue; // the shipped data has deliberately broken images (the ingest tests use them)
      }
      const ink = Uint8Array.from(decoded.data, (v) => 255 - v);
      total++;
      if (enclosedRegions(ink, decoded.info.width, decoded.info.height).length === r.num_rings) right++;
    }
    expect(total).to.be.above(250);
    expect(right / total).to.be.at.least(0.75); // measured: 245 of 303 (80.9%)
  });

  it('counts more rings right with the letter-hole filter, darkest-channel strokes and the adaptive radius', async () => {
    const records = JSON.parse(readFileSync(path.join(RAW_DATA, 'compounds.json'), 'utf8')) as { image?: unknown; num_rings?: unknown }[];
    const fixed = { ...defaultPreprocessConfig(64), ringCentres: true };
    const refined = { ...fixed, ringCentreRadii: ['adaptive' as const], ignoreLetterHoles: true, strokeInk: 'darkest-channel' as const };
    const right = { fixed: 0, refined: 0 };
    let total = 0;
    const count = (input: Float32Array): number => {
      let mass = 0;
      for (let i = 1; i < input.length; i += 2) mass += input[i]!;
      return Math.round(mass);
    };
    for (const r of records) {
      if (typeof r.image !== 'string' || typeof r.num_rings !== 'number' || !/^images\/SYN\d+\.png$/.test(r.image)) continue;
      const bytes = readFileSync(path.join(RAW_DATA, r.image));
      let inputs: [Float32Array, Float32Array];
      try {
        inputs = [await preprocessImage(bytes, fixed), await preprocessImage(bytes, refined)];
      } catch {
        continue; // deliberately broken images
      }
      total++;
      if (count(inputs[0]) === r.num_rings) right.fixed++;
      if (count(inputs[1]) === r.num_rings) right.refined++;
    }
    expect(total).to.be.above(250);
    expect(right.refined / total).to.be.at.least(0.88);
    expect(right.refined).to.be.above(right.fixed);
  });

  it('adds the map as a second channel in preprocessImage, leaving the ink channel as it was', async () => {
    const file = path.join(RAW_DATA, 'images', 'SYN000001.png');
    const bytes = readFileSync(file);
    const config = { ...defaultPreprocessConfig(64), ringCentres: true };
    expect(inputChannels(config)).to.equal(2);
    expect(inputChannels(defaultPreprocessConfig(64))).to.equal(1);
    const ink = await preprocessImage(bytes, defaultPreprocessConfig(64));
    for (const input of [bytes, file]) {
      const both = await preprocessImage(input, config);
      expect(both).to.have.length(2 * 64 * 64);
      for (let i = 0; i < ink.length; i++) expect(both[2 * i]).to.equal(ink[i]);
      let mass = 0;
      for (let i = 1; i < both.length; i += 2) mass += both[i]!;
      // SYN000001 (CCc1nc(COC23CNCC2C3)co1) has 3 rings, each drawn as a closed outline.
      expect(Math.round(mass)).to.equal(3);
    }
  });

  it('finds the same regions in an image too large for the in-memory path (shrunk by libvips first)', async () => {
    const file = path.join(RAW_DATA, 'images', 'SYN000001.png');
    const huge = await sharp(file).resize(3000, 3000, { kernel: 'nearest' }).png({ compressionLevel: 1 }).toBuffer();
    const refined = { ringCentreRadii: ['adaptive' as const], ignoreLetterHoles: true, strokeInk: 'darkest-channel' as const };
    for (const extra of [{}, refined]) {
      const out = await preprocessImage(huge, { ...defaultPreprocessConfig(64), ringCentres: true, ...extra });
      let mass = 0;
      for (let i = 1; i < out.length; i += 2) mass += out[i]!;
      expect(Math.round(mass)).to.equal(3);
    }
  });
});
