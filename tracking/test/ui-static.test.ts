/**
 * How the tracking server serves the web UI: pages, scripts, styles and uPlot with the right content
 * types; no way out of the served folders; JSON 404s for API-like paths. Raw HTTP requests, so paths
 * such as /static/../x reach the server exactly as written (fetch would normalise them).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import Koa from 'koa';
import { startTrackingServer, type RunningTrackingServer } from '../src/server/start.js';
import { uiStatic } from '../src/server/ui-static.js';

interface RawResponse { status: number; headers: Record<string, string | string[] | undefined>; body: string }

function rawRequest(baseUrl: string, method: string, rawPath: string): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, method, path: rawPath }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('tracking UI static files', function () {
  this.timeout(60_000);
  let tmp: string;
  let server: RunningTrackingServer;
  const get = (p: string): Promise<RawResponse> => rawRequest(server.url, 'GET', p);

  before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'tracking-ui-static-'));
    server = await startTrackingServer({ port: 0, dbPath: path.join(tmp, 'tracking.db'), artifactsRoot: path.join(tmp, 'artifacts') });
  });

  after(async () => {
    await server?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('serves index.html at / with a content security policy that admits only the import map inline', async () => {
    const res = await get('/');
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.equal('text/html; charset=utf-8');
    expect(res.body).to.contain('<main id="app">');
    const csp = String(res.headers['content-security-policy']);
    expect(csp).to.match(/script-src 'self' 'sha256-[A-Za-z0-9+/=]+'/);
    expect(csp).not.to.contain("'unsafe-inline' 'self'");
    expect(res.headers['x-content-type-options']).to.equal('nosniff');
  });

  it('serves the compiled scripts, styles and uPlot with their content types', async () => {
    const expectations: Array<[string, string, string]> = [
      ['/js/main.js', 'text/javascript; charset=utf-8', 'hashchange'],
      ['/js/pages/runs.js', 'text/javascript; charset=utf-8', 'searchRuns'],
      ['/static/app.css', 'text/css; charset=utf-8', '.topbar'],
      ['/static/favicon.svg', 'image/svg+xml', '<svg'],
      ['/vendor/uPlot.esm.js', 'text/javascript; charset=utf-8', 'export { uPlot as default }'],
      ['/vendor/uPlot.min.css', 'text/css; charset=utf-8', '.uplot'],
    ];
    for (const [p, type, snippet] of expectations) {
      const res = await get(p);
      expect(res.status, p).to.equal(200);
      expect(res.headers['content-type'], p).to.equal(type);
      expect(res.body, p).to.contain(snippet);
    }
  });

  it('answers page-like paths with the app and missing files with a 404', async () => {
    const page = await get('/experiments/1');
    expect(page.status).to.equal(200);
    expect(page.body).to.contain('<main id="app">');
    for (const p of ['/missing.png', '/js/nope.js', '/static/nope.css', '/vendor/nope.js']) {
      const res = await get(p);
      expect(res.status, p).to.equal(404);
      expect(res.body, p).to.contain('Not found');
    }
  });

  it('never serves anything outside its folders', async () => {
    const secret = readFileSync(path.resolve(__dirname, '..', '..', 'package.json'), 'utf8').slice(0, 40);
    const attempts = [
      '/static/../package.json',
      '/static/..%2fpackage.json',
      '/static/%2e%2e/%2e%2e/package.json',
      '/static/%2E%2E%2F%2E%2E%2Fpackage.json',
      '/js/../../package.json',
      '/js/..%2f..%2fpackage.json',
      '/js/main.d.ts',
      '/vendor/../package.json',
      '/vendor/uPlot.d.ts',
      '/vendor/%2e%2e/package.json',
      '/static/.%2e/.%2e/package.json',
      '/static/..\\..\\package.json',
      '/static/%00app.css',
      '/static//etc/passwd',
      '/static/%2fetc%2fpasswd',
      '/static/%E0%A4%A',
    ];
    for (const p of attempts) {
      const res = await get(p);
      expect(res.status, p).to.equal(404);
      expect(res.body, p).not.to.contain(secret);
      expect(res.body, p).not.to.contain('root:');
    }
  });

  it('answers API-like paths that no endpoint serves with MLflow\'s JSON error, not the app', async () => {
    for (const p of ['/api/2.0/mlflow/no-such-endpoint', '/api/2.1/unknown', '/ajax-api/other']) {
      const res = await get(p);
      expect(res.status, p).to.equal(404);
      expect(res.headers['content-type'], p).to.match(/^application\/json/);
      expect(JSON.parse(res.body), p).to.have.property('error_code', 'ENDPOINT_NOT_FOUND');
    }
  });

  it('answers HEAD like GET without a body and refuses other methods on UI paths', async () => {
    const head = await rawRequest(server.url, 'HEAD', '/js/main.js');
    expect(head.status).to.equal(200);
    expect(head.headers['content-type']).to.equal('text/javascript; charset=utf-8');
    expect(head.body).to.equal('');
    const post = await rawRequest(server.url, 'POST', '/experiments');
    expect(post.status).to.equal(405);
    expect(post.headers.allow).to.equal('GET, HEAD');
  });

  describe('with a symlink planted in the public folder', () => {
    let app: Server;
    let base: string;
    let dir: string;

    before(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'tracking-ui-link-'));
      mkdirSync(path.join(dir, 'public'));
      writeFileSync(path.join(dir, 'public', 'index.html'), '<!doctype html><main id="app"></main>');
      writeFileSync(path.join(dir, 'public', 'ok.css'), 'body{}');
      writeFileSync(path.join(dir, 'secret.txt'), 'top secret');
      symlinkSync(path.join(dir, 'secret.txt'), path.join(dir, 'public', 'leak.css'));
      const koa = new Koa();
      koa.use(uiStatic({ publicDir: path.join(dir, 'public'), scriptDir: path.join(dir, 'js') }));
      app = koa.listen(0, '127.0.0.1');
      await new Promise<void>((resolve) => app.once('listening', () => resolve()));
      base = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    });

    after(async () => {
      await new Promise<void>((resolve) => app.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    });

    it('serves the real file but not the symlink that points outside', async () => {
      expect((await rawRequest(base, 'GET', '/static/ok.css')).status).to.equal(200);
      const leak = await rawRequest(base, 'GET', '/static/leak.css');
      expect(leak.status).to.equal(404);
      expect(leak.body).not.to.contain('top secret');
    });

    it('tells the person to build the UI when its scripts are missing', async () => {
      const res = await rawRequest(base, 'GET', '/js/main.js');
      expect(res.status).to.equal(404);
      expect(res.body).to.contain('npx tsc -b tracking');
    });
  });
});
