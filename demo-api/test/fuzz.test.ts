import { expect } from 'chai';
import type { RunningApi } from '../src/server.js';
import { compoundPng, createWorld, getJson, multipartBody, rawPost, seededRandom, uploadImage, type World } from './helpers.js';

const SEED = 20261121;

/** Random uploads and malformed multipart bodies: always a 4xx JSON error, never a 500 or a crash. */
describe('demo-api: fuzz', function () {
  let world: World;
  let api: RunningApi;
  const rand = seededRandom(SEED);
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));

  before(async function () {
    world = await createWorld({ alias: 'v1' });
    api = await world.startApi();
  });
  after(async () => world.cleanup());

  function expectClientError(res: { status: number; body: Record<string, unknown> }, what: string): void {
    expect(res.status, `${what} (seed ${SEED}): ${JSON.stringify(res.body)}`).to.be.oneOf([400, 413, 415]);
    expect(res.body.error, what).to.be.a('string').and.not.match(/internal error/);
  }

  it('random bytes, alone or behind a real image signature, are refused with 400/415', async () => {
    const png = await compoundPng();
    const prefixes = [Buffer.alloc(0), png.subarray(0, 8), png.subarray(0, 33), Buffer.from([0xff, 0xd8, 0xff]), Buffer.from('RIFF\0\0\0\0WEBPVP8 '), Buffer.from('GIF89a')];
    for (let i = 0; i < 60; i++) {
      const prefix = prefixes[i % prefixes.length] as Buffer;
      const image = Buffer.concat([prefix, bytes(int(1, 4096))]);
      expectClientError(await uploadImage(`${api.url}/predict/`, image), `random image #${i}`);
    }
    // A real image with random bytes flipped somewhere after its header.
    for (let i = 0; i < 30; i++) {
      const damaged = Buffer.from(png);
      for (let k = 0; k < int(1, 20); k++) damaged[int(8, damaged.length - 1)] = int(0, 255);
      const res = await uploadImage(`${api.url}/predict/`, damaged);
      if (res.status !== 200) expectClientError(res, `damaged png #${i}`);
    }
  });

  it('malformed multipart bodies are refused with 400/413', async () => {
    const png = await compoundPng();
    const good = multipartBody('BND', [{ name: 'image', filename: 'x.png', type: 'image/png', data: png }]);
    const cases: [string, Buffer, string][] = [
      ['no boundary parameter', good, 'multipart/form-data'],
      ['boundary that never appears', good, 'multipart/form-data; boundary=OTHER'],
      ['missing closing boundary', good.subarray(0, good.length - 10), 'multipart/form-data; boundary=BND'],
      ['cut inside the headers', good.subarray(0, 30), 'multipart/form-data; boundary=BND'],
      ['random bytes', bytes(3000), 'multipart/form-data; boundary=BND'],
      ['empty body', Buffer.alloc(0), 'multipart/form-data; boundary=BND'],
      ['part without Content-Disposition', Buffer.from(`--BND\r\nContent-Type: image/png\r\n\r\n${'x'.repeat(50)}\r\n--BND--\r\n`), 'multipart/form-data; boundary=BND'],
      ['garbage header line', Buffer.from(`--BND\r\n\u0000\u0001garbage\r\n\r\nxx\r\n--BND--\r\n`), 'multipart/form-data; boundary=BND'],
      ['header block that never ends', Buffer.concat([Buffer.from('--BND\r\nContent-Disposition: form-data; name="image"; filename="a"\r\n'), Buffer.alloc(100_000, 0x41)]), 'multipart/form-data; boundary=BND'],
      ['too many fields', multipartBody('BND', Array.from({ length: 50 }, (_, i) => ({ name: `f${i}`, data: Buffer.from('v') }))), 'multipart/form-data; boundary=BND'],
    ];
    for (let i = 0; i < 20; i++) {
      // Random slices and splices of a good body.
      const cut = Buffer.from(good.subarray(0, int(1, good.length - 1)));
      for (let k = 0; k < int(0, 5); k++) cut[int(0, cut.length - 1)] = int(0, 255);
      cases.push([`mutated body #${i}`, cut, 'multipart/form-data; boundary=BND']);
    }
    for (const [what, body, type] of cases) {
      expectClientError(await rawPost(`${api.url}/predict/`, body, { 'content-type': type }), what);
    }
    expect((await getJson(`${api.url}/health`)).status).to.equal(200);
    expect((await uploadImage(`${api.url}/predict/`, png)).status).to.equal(200);
  });
});
