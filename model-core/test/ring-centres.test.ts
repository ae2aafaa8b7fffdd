import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import { enclosedRegions, ringCentreMap } from '../src/ring-centres.js';
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
    const out = await preprocessImage(huge, { ...defaultPreprocessConfig(64), ringCentres: true });
    let mass = 0;
    for (let i = 1; i < out.length; i += 2) mass += out[i]!;
    expect(Math.round(mass)).to.equal(3);
  });
});
