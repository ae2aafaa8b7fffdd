import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { expect } from 'chai';
import sharp from 'sharp';
import { decodeSimplePng } from '../src/png-decode.js';
import { defaultPreprocessConfig, preprocessImage } from '../src/preprocessing.js';

const IMAGES_DIR = path.resolve(__dirname, '../../../raw-data/images');
const LIMIT = 2048 * 2048;

/** A deterministic test picture: white, with lines, noise and (optionally) translucent patches. */
function picture(width: number, height: number, channels: 1 | 2 | 3 | 4, seed: number): Buffer {
  let s = seed;
  const random = (): number => ((s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const px = Buffer.alloc(width * height * channels, 255);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inked = (x + 2 * y) % 17 < 2 || random() < 0.08;
      if (!inked) continue;
      for (let c = 0; c < channels; c++) px[(y * width + x) * channels + c] = Math.floor(random() * 256);
    }
  }
  return px;
}

async function sharpPixels(png: Buffer): Promise<{ data: Buffer; info: sharp.OutputInfo }> {
  return sharp(png, { failOn: 'error' }).raw().toBuffer({ resolveWithObject: true });
}

async function expectSameAsSharp(png: Buffer, what: string): Promise<void> {
  const ours = decodeSimplePng(png, LIMIT);
  expect(ours, `${what}: decoded`).to.not.equal(undefined);
  const { data, info } = await sharpPixels(png);
  expect([ours?.width, ours?.height, ours?.channels], what).to.deep.equal([info.width, info.height, info.channels]);
  expect(Buffer.from(ours?.data ?? []).equals(data), `${what}: identical pixels`).to.equal(true);
}

/** Rebuilds a PNG with an extra chunk inserted after IHDR. */
function withChunk(png: Buffer, type: string, data: Buffer): Buffer {
  const chunk = Buffer.alloc(12 + data.length);
  chunk.writeUInt32BE(data.length, 0);
  chunk.write(type, 4, 'latin1');
  data.copy(chunk, 8);
  chunk.writeUInt32BE(zlib.crc32(chunk.subarray(4, 8 + data.length)), 8 + data.length);
  const ihdrEnd = 8 + 12 + 13;
  return Buffer.concat([png.subarray(0, ihdrEnd), chunk, png.subarray(ihdrEnd)]);
}

describe('decodeSimplePng', function () {
  // [name, encoder, channels in, PNG colour type and bit depth the file must have]
  const variants: [string, (img: sharp.Sharp) => sharp.Sharp, 1 | 2 | 3 | 4, [number, number]][] = [
    ['RGBA, adaptive filtering', (i) => i.png({ adaptiveFiltering: true }), 4, [6, 8]],
    ['RGBA, no filtering', (i) => i.png({ adaptiveFiltering: false }), 4, [6, 8]],
    ['RGB, adaptive filtering', (i) => i.png({ adaptiveFiltering: true }), 3, [2, 8]],
    ['gray', (i) => i.toColourspace('b-w').png({ adaptiveFiltering: true }), 1, [0, 8]],
    ['gray + alpha', (i) => i.toColourspace('b-w').png({ adaptiveFiltering: true }), 2, [4, 8]],
    ['palette, 8 bits', (i) => i.png({ palette: true, colours: 200, dither: 0 }), 3, [3, 8]],
    ['palette, 4 bits', (i) => i.png({ palette: true, colours: 16, dither: 0 }), 3, [3, 4]],
    ['palette, 2 bits', (i) => i.png({ palette: true, colours: 4, dither: 0 }), 3, [3, 2]],
    ['palette, 1 bit', (i) => i.png({ palette: true, colours: 2, dither: 0 }), 3, [3, 1]],
  ];
  for (const [name, encode, channels, [colourType, depth]] of variants) {
    it(`gives sharp's pixels for ${name} PNGs, at odd sizes too`, async () => {
      for (const [w, h] of [[300, 300], [37, 23], [1, 1], [129, 5]] as const) {
        const png = await encode(sharp(picture(w, h, channels, w * h + channels), { raw: { width: w, height: h, channels } })).toBuffer();
        expect([png[25], png[24]], `${name} ${w}×${h}: colour type and depth`).to.deep.equal([colourType, depth]);
        await expectSameAsSharp(png, `${name} ${w}×${h}`);
      }
    });
  }

  it("gives sharp's pixels for the project's depictions (raw-data/images)", async function () {
    if (!existsSync(IMAGES_DIR)) this.skip();
    const files = readdirSync(IMAGES_DIR).filter((f) => f.endsWith('.png')).slice(0, 40);
    if (files.length === 0) this.skip();
    for (const f of files) await expectSameAsSharp(readFileSync(path.join(IMAGES_DIR, f)), f);
  });

  it('leaves to sharp what it does not decode exactly: 16-bit, interlaced, colour-managed, transparent palette', async () => {
    const rgb = sharp(picture(20, 10, 3, 1), { raw: { width: 20, height: 10, channels: 3 } });
    const plain = await rgb.clone().png().toBuffer();
    expect(decodeSimplePng(plain, LIMIT)).to.not.equal(undefined);
    expect(decodeSimplePng(await rgb.clone().toColourspace('rgb16').png().toBuffer(), LIMIT), '16-bit').to.equal(undefined);
    expect(decodeSimplePng(await rgb.clone().png({ progressive: true }).toBuffer(), LIMIT), 'interlaced').to.equal(undefined);
    expect(decodeSimplePng(withChunk(plain, 'gAMA', Buffer.from([0, 0, 0xb1, 0x8f])), LIMIT), 'gAMA').to.equal(undefined);
    expect(decodeSimplePng(withChunk(plain, 'iCCP', Buffer.from('x\0\0')), LIMIT), 'iCCP').to.equal(undefined);
    const rgba = sharp(picture(20, 10, 4, 2), { raw: { width: 20, height: 10, channels: 4 } });
    expect(decodeSimplePng(await rgba.png({ palette: true, colours: 16 }).toBuffer(), LIMIT), 'palette with tRNS').to.equal(undefined);
  });

  it('returns undefined, never throws, for corrupt, truncated, padded or oversized input', async () => {
    const png = await sharp(picture(40, 30, 3, 3), { raw: { width: 40, height: 30, channels: 3 } }).png().toBuffer();
    const flipped = Buffer.from(png);
    flipped[50] = (flipped[50] as number) ^ 0xff; // inside IDAT: its CRC no longer matches
    for (const [what, bad] of [
      ['bad CRC', flipped],
      ['truncated', png.subarray(0, png.length - 20)],
      ['trailing bytes', Buffer.concat([png, Buffer.from('junk')])],
      ['empty', Buffer.alloc(0)],
      ['signature only', png.subarray(0, 8)],
      ['random bytes', Buffer.from(Array.from({ length: 500 }, (_, i) => (i * 7919) % 256))],
    ] as const) {
      expect(decodeSimplePng(bad, LIMIT), what).to.equal(undefined);
    }
    expect(decodeSimplePng(png, 40 * 30 - 1), 'over the pixel limit').to.equal(undefined);
  });

  it('makes preprocessImage give the same model input as decoding with sharp', async () => {
    const png = await sharp(picture(300, 300, 4, 9), { raw: { width: 300, height: 300, channels: 4 } }).png().toBuffer();
    const fast = await preprocessImage(png, defaultPreprocessConfig(64));
    // The same pixels behind a gAMA chunk take the sharp path (gamma 1/2.2 is what libvips assumes anyway).
    const viaSharp = await preprocessImage(withChunk(png, 'gAMA', Buffer.from([0, 0, 0xb1, 0x8f])), defaultPreprocessConfig(64));
    expect(Buffer.from(fast.buffer).equals(Buffer.from(viaSharp.buffer))).to.equal(true);
  });
});
