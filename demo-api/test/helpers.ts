import { startTrackingServer } from '@ringcount/tracking';
import { selectBackend } from '@ringcount/model-core';
import { execFile } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { deflateSync } from 'node:zlib';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type ApiConfig, DEMO_API_ROOT } from '../src/config.js';
import { type RunningApi, startApi } from '../src/server.js';
import { registerModelDir, ringImage, saveFixtureModel, setAlias } from '../src/testing/fixtures.js';

/** v1 always answers 2 rings and v2 always 5, so a response's count shows which model really served it. */
export const RINGS_OF: Record<string, number> = { v1: 2, v2: 5 };

export interface World {
  tmp: string;
  trackingUrl: string;
  versions: Record<string, string>;
  stopTracking(): Promise<void>;
  startApi(overrides?: Partial<ApiConfig>): Promise<RunningApi>;
  cleanup(): Promise<void>;
}

/**
 * A real tracking server (SQLite file, artifact directory) with v1 and v2 registered the way the
 * training notebook registers them, and a helper to start APIs against it.
 */
export async function createWorld(o: { alias?: 'v1' | 'v2' | null } = {}): Promise<World> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'demo-api-test-'));
  const tracking = await startTrackingServer({ port: 0, dbPath: path.join(tmp, 'tracking.db'), artifactsRoot: path.join(tmp, 'artifacts'), log: () => undefined });
  await selectBackend();
  const versions: Record<string, string> = {};
  for (const label of ['v1', 'v2']) {
    const dir = path.join(tmp, 'models', label);
    await saveFixtureModel(dir, { size: 32, versionLabel: label, constantRings: RINGS_OF[label] });
    versions[label] = await registerModelDir(tracking.url, dir, { versionLabel: label });
  }
  const alias = o.alias === undefined ? 'v1' : o.alias;
  if (alias) await setAlias(tracking.url, versions[alias] as string);
  const apis: RunningApi[] = [];
  let trackingUp = true;
  return {
    tmp,
    trackingUrl: tracking.url,
    versions,
    async stopTracking() {
      trackingUp = false;
      await tracking.close();
    },
    async startApi(overrides = {}) {
      const api = await startApi({ port: 0, trackingUri: tracking.url, cacheDir: path.join(tmp, 'cache'), pollIntervalMs: 200, workers: 1, log: () => undefined, ...overrides });
      apis.push(api);
      return api;
    },
    async cleanup() {
      await Promise.all(apis.map((a) => a.close()));
      if (trackingUp) await tracking.close();
      await rm(tmp, { recursive: true, force: true });
    },
  };
}

export async function uploadImage(url: string, image: Buffer, o: { field?: string; type?: string; filename?: string } = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const fd = new FormData();
  fd.append(o.field ?? 'image', new Blob([new Uint8Array(image)], { type: o.type ?? 'image/png' }), o.filename ?? 'compound.png');
  const res = await fetch(url, { method: 'POST', body: fd });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

export async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

export const compoundPng = (): Promise<Buffer> => ringImage(2);

/** Runs the real ./update-models.sh; resolves with its exit code and output. */
export function updateModels(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(path.join(DEMO_API_ROOT, '..', 'update-models.sh'), args, { env: { ...process.env, ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Polls until the API reports `registryVersion` live (the API promises about a second; the test allows more on a loaded CI machine). */
export async function waitForLive(apiUrl: string, registryVersion: string, timeoutMs = 20_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    const { body } = await getJson(`${apiUrl}/deployed_version/`).catch(() => ({ body: {} as Record<string, unknown> }));
    if (body.registry_version === registryVersion) return;
    if (Date.now() - started > timeoutMs) throw new Error(`API did not switch to version ${registryVersion}; it reports ${JSON.stringify(body)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Sends a hand-made body (for malformed multipart) and returns status and parsed JSON. */
export function rawPost(url: string, body: Buffer, headers: Record<string, string>, o: { chunked?: boolean } = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: o.chunked ? headers : { ...headers, 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> });
        } catch {
          reject(new Error(`HTTP ${res.statusCode}: non-JSON answer ${text.slice(0, 200)}`));
        }
      });
    });
    // The server may answer (413) and close before the whole body is sent: that is not a test failure.
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err);
    });
    if (o.chunked) {
      for (let i = 0; i < body.length; i += 64 * 1024) req.write(body.subarray(i, i + 64 * 1024));
      req.end();
    } else {
      req.end(body);
    }
  });
}

export function multipartBody(boundary: string, parts: { name: string; filename?: string; type?: string; data: Buffer }[]): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ''}\r\n`));
    chunks.push(p.data, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

/** A valid, tiny PNG whose header declares width×height pixels (a decompression bomb when large). */
export function pngDeclaring(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grayscale
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(4096))), chunk('IEND', Buffer.alloc(0))]);
}

function crc32(buf: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of buf) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** Deterministic pseudo-random numbers (mulberry32), so a failing fuzz case can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A local port nothing listens on (fetch refuses "unsafe" ports such as 9, so pick a real one). */
export function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.once('error', reject);
  });
}
