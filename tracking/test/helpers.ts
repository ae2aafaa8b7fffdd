/** Test helpers: a real server on a free port with its own temporary SQLite file and artifact root. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTrackingServer, type RunningTrackingServer, type TrackingServerOptions } from '../src/server/start.js';

export interface TestServer extends RunningTrackingServer {
  dir: string;
  api: (method: string, endpoint: string, body?: unknown, headers?: Record<string, string>) => Promise<{ status: number; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  stop: () => Promise<void>;
}

export async function startTestServer(options: Partial<TrackingServerOptions> = {}): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'tracking-test-'));
  const server = await startTrackingServer({ port: 0, dbPath: join(dir, 'tracking.db'), artifactsRoot: join(dir, 'artifacts'), log: () => undefined, ...options });
  return {
    ...server,
    dir,
    api: (method, endpoint, body, headers) => call(server.url, method, endpoint, body, headers),
    stop: async () => {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A raw MLflow REST call with fetch: GET bodies go to the query string, others as JSON. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function call(baseUrl: string, method: string, endpoint: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  let url = endpoint.startsWith('/') ? `${baseUrl}${endpoint}` : `${baseUrl}/api/2.0/mlflow/${endpoint}`;
  const init: RequestInit = { method, headers: { ...headers } };
  if (method === 'GET' && body && typeof body === 'object') {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(body as Record<string, unknown>)) for (const item of Array.isArray(v) ? v : [v]) qs.append(k, String(item));
    url += `?${qs.toString()}`;
  } else if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] = 'application/json';
  }
  const res = await fetch(url, init);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // non-JSON answers (artifacts, /health) stay text
  }
  return { status: res.status, body: parsed };
}
