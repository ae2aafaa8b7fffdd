import { expect } from 'chai';
import sharp from 'sharp';
import type { RunningApi } from '../src/server.js';
import { compoundPng, createWorld, getJson, multipartBody, pngDeclaring, rawPost, uploadImage, type World } from './helpers.js';

/** Every client mistake: the right 4xx, a JSON error saying what to fix, and the server still serving. */
describe('demo-api: bad input', function () {
  let world: World;
  let api: RunningApi;
  let predict: string;

  before(async function () {
    world = await createWorld({ alias: 'v1' });
    api = await world.startApi();
    predict = `${api.url}/predict/`;
  });
  after(async () => world.cleanup());
  afterEach(async () => {
    // No mistake may take the server down or leave it unable to predict.
    expect((await getJson(`${api.url}/health`)).status).to.equal(200);
    expect((await uploadImage(predict, await compoundPng())).status).to.equal(200);
  });

  function expectError(res: { status: number; body: Record<string, unknown> }, status: number, says: RegExp): void {
    expect(res.status, JSON.stringify(res.body)).to.equal(status);
    expect(Object.keys(res.body)).to.deep.equal(['error']);
    expect(res.body.error).to.match(says);
  }

  it('missing image field → 400 naming the field', async () => {
    expectError(await uploadImage(predict, await compoundPng(), { field: 'file' }), 400, /missing file field 'image' \(got: file\)/);
    const textField = multipartBody('b0undary', [{ name: 'image', data: Buffer.from('not a file') }]);
    expectError(await rawPost(predict, textField, { 'content-type': 'multipart/form-data; boundary=b0undary' }), 400, /missing file field 'image'/);
  });

  it('a body that is not multipart → 415 saying how to send it', async () => {
    const res = await fetch(predict, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"image": "x"}' });
    expectError({ status: res.status, body: (await res.json()) as Record<string, unknown> }, 415, /multipart\/form-data.*'image'/);
    expectError(await rawPost(predict, await compoundPng(), { 'content-type': 'image/png' }), 415, /multipart/);
  });

  it('not an image, empty, truncated or corrupt → 400', async () => {
    expectError(await uploadImage(predict, Buffer.from('hello, this is text')), 400, /not a PNG, JPEG or WebP/);
    expectError(await uploadImage(predict, Buffer.alloc(0)), 400, /empty/);
    const png = await compoundPng();
    expectError(await uploadImage(predict, png.subarray(0, Math.floor(png.length / 2))), 400, /PNG image could not be decoded \(truncated or corrupt\?\)/);
    const corrupt = Buffer.from(png);
    corrupt.fill(0x5a, 40, 200);
    expectError(await uploadImage(predict, corrupt), 400, /could not be decoded/);
    const jpeg = await sharp(png).jpeg().toBuffer();
    expectError(await uploadImage(predict, jpeg.subarray(0, 200), { type: 'image/jpeg' }), 400, /JPEG image could not be decoded/);
  });

  it('a recognised but unsupported format → 415', async () => {
    const gif = await sharp(await compoundPng()).gif().toBuffer();
    expectError(await uploadImage(predict, gif, { type: 'image/gif' }), 415, /GIF images are not supported; send a PNG, JPEG or WebP/);
    const tiff = await sharp(await compoundPng()).tiff().toBuffer();
    expectError(await uploadImage(predict, tiff, { type: 'image/tiff' }), 415, /TIFF/);
    expectError(await uploadImage(predict, Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), { type: 'image/svg+xml' }), 415, /SVG/);
  });

  it('a body over the 5 MB limit → 413, whether or not its length is declared', async () => {
    const huge = Buffer.concat([await compoundPng(), Buffer.alloc(6 * 1024 * 1024, 1)]);
    expectError(await uploadImage(predict, huge), 413, /larger than the 5\.0 MB limit/);
    const body = multipartBody('XyZ', [{ name: 'image', filename: 'big.png', type: 'image/png', data: huge }]);
    expectError(await rawPost(predict, body, { 'content-type': 'multipart/form-data; boundary=XyZ', 'transfer-encoding': 'chunked' }, { chunked: true }), 413, /5\.0 MB limit/);
  });

  it('the body limit is configurable', async () => {
    const small = await world.startApi({ maxBodyBytes: 1000 });
    const big = await sharp(await compoundPng()).resize(600, 600).png({ compressionLevel: 0 }).toBuffer();
    expectError(await uploadImage(`${small.url}/predict/`, big), 413, /limit \(1000 bytes/);
  });

  it('a decompression bomb (tiny PNG declaring 100000×100000 pixels) → 413 before decoding', async () => {
    const bomb = pngDeclaring(100_000, 100_000);
    expect(bomb.length).to.be.below(2000);
    const before = process.memoryUsage().rss;
    expectError(await uploadImage(predict, bomb), 413, /dimensions exceed 40,000,000 pixels.*downscale/);
    expect(process.memoryUsage().rss - before).to.be.below(500 * 1024 * 1024);
  });

  it('unknown version → 404 listing the known ones', async () => {
    expectError(await uploadImage(`${api.url}/models/v9/predict/`, await compoundPng()), 404, /unknown model version 'v9'; known versions: v1 \(1\), v2 \(2\)/);
    expectError(await rawPost(`${api.url}/models/v9/prepare`, Buffer.alloc(0), {}), 404, /unknown model version 'v9'/);
  });

  it('unknown routes and methods → JSON 404 / 405', async () => {
    expectError(await getJson(`${api.url}/nope`), 404, /no route GET \/nope/);
    expectError(await getJson(`${api.url}/predict/`), 405, /GET is not supported on \/predict\/; allowed: POST/);
  });

  it('two files in the image field → 400', async () => {
    const png = await compoundPng();
    const body = multipartBody('b', [
      { name: 'image', filename: 'a.png', type: 'image/png', data: png },
      { name: 'image', filename: 'b.png', type: 'image/png', data: png },
    ]);
    expectError(await rawPost(predict, body, { 'content-type': 'multipart/form-data; boundary=b' }), 400, /exactly one file/);
  });
});

describe('demo-api: nothing deployed yet', function () {
  let world: World;
  let api: RunningApi;

  before(async function () {
    world = await createWorld({ alias: null });
    api = await world.startApi();
  });
  after(async () => world.cleanup());

  it('answers 503 with what to do, while pinned versions still serve', async () => {
    const res = await uploadImage(`${api.url}/predict/`, await compoundPng());
    expect(res.status).to.equal(503);
    expect(res.body.error).to.match(/no model version is deployed yet; promote one with \.\/update-models\.sh/);
    expect((await getJson(`${api.url}/deployed_version/`)).status).to.equal(503);
    expect((await getJson(`${api.url}/ready`)).status).to.equal(503);
    expect((await getJson(`${api.url}/health`)).status).to.equal(200);
    expect((await uploadImage(`${api.url}/models/v2/predict/`, await compoundPng())).body).to.include({ version: 'v2' });
  });
});
