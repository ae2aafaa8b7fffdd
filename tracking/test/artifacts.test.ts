/**
 * Artifact proxy (/api/2.0/mlflow-artifacts/artifacts) and artifacts/list: uploads, downloads, listing,
 * deletion, and every way out of the artifact root (.., absolute, URL-encoded, symlinks), and 413.
 */
import { expect } from 'chai';
import { request } from 'node:http';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestServer, type TestServer } from './helpers.js';

/** A raw HTTP request whose path is sent byte for byte (fetch would normalise "..", "%2e%2e" and "//"). */
function raw(url: string, method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, method, path, headers: body !== undefined ? { 'content-length': String(Buffer.byteLength(body)), ...headers } : headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

describe('tracking API: artifacts', function () {
  let s: TestServer;
  let runId: string;
  let base: string;
  const A = '/api/2.0/mlflow-artifacts/artifacts';
  before(async () => {
    s = await startTestServer({ maxArtifactBytes: 64 * 1024 });
    runId = (await s.api('POST', 'runs/create', { experiment_id: '0' })).body.run.info.run_id;
    base = `${A}/0/${runId}/artifacts`;
  });
  after(async () => {
    await s.stop();
  });

  it('uploads, downloads, lists and deletes files as MLflow proxied artifacts', async () => {
    expect((await raw(s.url, 'PUT', `${base}/model/weights.bin`, Buffer.alloc(1000, 7))).status).to.equal(200);
    expect((await raw(s.url, 'PUT', `${base}/model/model.json`, '{"a":1}')).text).to.equal('{}');
    expect((await raw(s.url, 'PUT', `${base}/notes%20v1.txt`, 'hello rings')).status).to.equal(200);

    const text = await raw(s.url, 'GET', `${base}/notes%20v1.txt`);
    expect(text.text).to.equal('hello rings');
    expect(text.headers['content-type']).to.contain('text/plain');
    expect(text.headers['x-content-type-options']).to.equal('nosniff');
    expect((await raw(s.url, 'GET', `${base}/model/weights.bin`)).text.length).to.equal(1000);

    const proxyList = await s.api('GET', `${A}?path=0/${runId}/artifacts/model`);
    expect(proxyList.body).to.deep.equal({
      files: [
        { path: 'model.json', is_dir: false, file_size: 7 },
        { path: 'weights.bin', is_dir: false, file_size: 1000 },
      ],
    });
    const runList = await s.api('GET', 'artifacts/list', { run_id: runId });
    expect(runList.body).to.deep.equal({
      root_uri: `mlflow-artifacts:/0/${runId}/artifacts`,
      files: [
        { path: 'model', is_dir: true },
        { path: 'notes v1.txt', is_dir: false, file_size: 11 },
      ],
    });
    expect((await s.api('GET', 'artifacts/list', { run_id: runId, path: 'model' })).body.files.map((f: { path: string }) => f.path)).to.deep.equal(['model/model.json', 'model/weights.bin']);
    expect((await s.api('GET', `${A}?path=0/${runId}/artifacts/missing`)).body).to.deep.equal({ files: [] });

    // MLflow's UI download endpoint
    const legacy = await s.api('GET', `/get-artifact?run_uuid=${runId}&path=model/model.json`);
    expect(legacy.body).to.deep.equal({ a: 1 });

    expect((await raw(s.url, 'DELETE', `${base}/model/model.json`)).status).to.equal(200);
    expect((await raw(s.url, 'GET', `${base}/model/model.json`)).status).to.equal(404);
    expect((await raw(s.url, 'DELETE', `${base}/model`)).status).to.equal(200);
    expect((await s.api('GET', 'artifacts/list', { run_id: runId })).body.files.map((f: { path: string }) => f.path)).to.deep.equal(['notes v1.txt']);
  });

  it('overwrites atomically: the upload is written aside and renamed, no temp files remain', async () => {
    await raw(s.url, 'PUT', `${base}/swap.txt`, 'old');
    await raw(s.url, 'PUT', `${base}/swap.txt`, 'new');
    expect((await raw(s.url, 'GET', `${base}/swap.txt`)).text).to.equal('new');
    const dir = join(s.dir, 'artifacts', '0', runId, 'artifacts');
    expect((await readdir(dir)).filter((n) => n.includes('.upload-'))).to.deep.equal([]);
  });

  it('answers errors for a directory download and missing files', async () => {
    await raw(s.url, 'PUT', `${base}/d/x.txt`, 'x');
    const dirGet = await raw(s.url, 'GET', `${base}/d`);
    expect(dirGet.status).to.equal(400);
    expect(JSON.parse(dirGet.text).message).to.contain('is a directory');
    const missing = await raw(s.url, 'GET', `${base}/nothing-here.txt`);
    expect(missing.status).to.equal(404);
    expect(JSON.parse(missing.text).error_code).to.equal('RESOURCE_DOES_NOT_EXIST');
  });

  const escapes: [string, string][] = [
    ['dot-dot segments', `${A}/0/../../../../etc/passwd`],
    ['URL-encoded dot-dot', `${A}/0/%2e%2e/%2E%2E/%2e%2e/etc/passwd`],
    ['an encoded slash hiding dot-dot', `${A}/0%2F..%2F..%2F..%2Fetc%2Fpasswd`],
    ['an absolute path', `${A}//etc/passwd`],
    ['an encoded absolute path', `${A}/%2Fetc%2Fpasswd`],
    ['a backslash', `${A}/0/..%5C..%5Cetc`],
    ['a NUL byte', `${A}/0/a%00.txt`],
    ['malformed encoding', `${A}/0/%E0%A4%A`],
  ];
  for (const [what, path] of escapes) {
    it(`refuses ${what} for GET, PUT and DELETE`, async () => {
      for (const method of ['GET', 'PUT', 'DELETE']) {
        const res = await raw(s.url, method, path, method === 'PUT' ? 'pwned' : undefined);
        expect(res.status, `${method} ${path}`).to.equal(400);
        expect(JSON.parse(res.text).error_code).to.equal('INVALID_PARAMETER_VALUE');
      }
    });
  }

  it('refuses list and artifacts/list paths that escape', async () => {
    expect((await s.api('GET', `${A}?path=../..`)).status).to.equal(400);
    expect((await s.api('GET', `${A}?path=/etc`)).status).to.equal(400);
    expect((await s.api('GET', 'artifacts/list', { run_id: runId, path: '../../..' })).status).to.equal(400);
    expect((await s.api('GET', `/get-artifact?run_uuid=${runId}&path=../../../../etc/passwd`)).status).to.equal(400);
  });

  it('does not follow symlinks out of the artifact root', async () => {
    const outside = join(s.dir, 'outside');
    await mkdir(outside, { recursive: true });
    await writeFile(join(outside, 'secret.txt'), 'secret');
    const runDir = join(s.dir, 'artifacts', '0', runId, 'artifacts');
    await mkdir(runDir, { recursive: true });
    await symlink(outside, join(runDir, 'link-dir'));
    await symlink(join(outside, 'secret.txt'), join(runDir, 'link-file'));

    expect((await raw(s.url, 'GET', `${base}/link-dir/secret.txt`)).status).to.equal(400);
    expect((await raw(s.url, 'GET', `${base}/link-file`)).status).to.equal(400);
    expect((await s.api('GET', `${A}?path=0/${runId}/artifacts/link-dir`)).status).to.equal(400);
    const put = await raw(s.url, 'PUT', `${base}/link-dir/planted.txt`, 'x');
    expect(put.status).to.equal(400);
    expect(await readdir(outside)).to.deep.equal(['secret.txt']);
    // Uploading over a symlinked file replaces the link, never writes through it.
    expect((await raw(s.url, 'PUT', `${base}/link-file`, 'replaced')).status).to.equal(200);
    expect(await readFile(join(outside, 'secret.txt'), 'utf8')).to.equal('secret');
    expect((await raw(s.url, 'DELETE', `${base}/link-dir`)).status).to.equal(200);
    expect(await readdir(outside)).to.deep.equal(['secret.txt']);
  });

  it('answers 413 with a clear message for uploads over the limit, declared or streamed, and keeps nothing', async () => {
    const declared = await raw(s.url, 'PUT', `${base}/big.bin`, Buffer.alloc(65 * 1024));
    expect(declared.status).to.equal(413);
    expect(JSON.parse(declared.text).message).to.contain('65536 bytes');
    // Chunked upload without a Content-Length: the limit is enforced while streaming.
    const { hostname, port } = new URL(s.url);
    const streamed = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request({ hostname, port, method: 'PUT', path: `${base}/big2.bin`, headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      for (let i = 0; i < 10; i++) req.write(Buffer.alloc(10 * 1024, 1));
      req.end();
    });
    expect(streamed.status).to.equal(413);
    expect(JSON.parse(streamed.text).message).to.contain('--max-artifact-bytes');
    const names = await readdir(join(s.dir, 'artifacts', '0', runId, 'artifacts'));
    expect(names.filter((n) => n.startsWith('big') || n.includes('.upload-'))).to.deep.equal([]);
  });
});
