/**
 * Starts a tracking server in this process: used by the CLI and by other workspaces' tests
 * (`startTrackingServer({ port: 0, ... })` picks a free port).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { createApp } from './app.js';
import { LocalArtifactStore } from './artifacts.js';
import { RegistryEventHub } from './events.js';
import { SqliteStore } from '../store/sqlite-store.js';

export interface TrackingServerOptions {
  /** 0 picks a free port. Default 5000. */
  port?: number;
  /** Default 127.0.0.1; use 0.0.0.0 in containers. */
  host?: string;
  /** SQLite file; created with its folder when missing. */
  dbPath: string;
  /** Folder that holds every artifact (mlflow-artifacts:/ maps onto it). */
  artifactsRoot: string;
  /** When set, mutating requests need `Authorization: Bearer <token>`. */
  token?: string;
  /** Largest artifact upload accepted; larger ones get 413. Default 2 GiB. */
  maxArtifactBytes?: number;
  /** Largest JSON request body accepted; larger ones get 413. Default 16 MiB. */
  maxJsonBytes?: number;
  /** 'FULL' also survives power loss (slower); 'NORMAL' survives a killed process. */
  synchronous?: 'NORMAL' | 'FULL';
  /** Where server-side errors are reported; default console.error. */
  log?: (message: string) => void;
}

export interface RunningTrackingServer {
  /** Base URL, e.g. http://127.0.0.1:5000 — what MLFLOW_TRACKING_URI should be. */
  url: string;
  port: number;
  server: Server;
  store: SqliteStore;
  close(): Promise<void>;
}

export class PortInUseError extends Error {
  constructor(readonly port: number, host: string) {
    super(`Port ${port} on ${host} is already in use: stop the other process or start the tracking server with --port <another port> (or TRACKING_PORT).`);
    this.name = 'PortInUseError';
  }
}

export async function startTrackingServer(options: TrackingServerOptions): Promise<RunningTrackingServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 5000;
  const log = options.log ?? ((m: string) => console.error(m));
  const store = new SqliteStore(resolve(options.dbPath), { synchronous: options.synchronous });
  const events = new RegistryEventHub();
  const app = createApp({
    store,
    artifacts: new LocalArtifactStore(resolve(options.artifactsRoot), options.maxArtifactBytes ?? 2 * 1024 ** 3),
    events,
    token: options.token || undefined,
    maxJsonBytes: options.maxJsonBytes ?? 16 * 1024 ** 2,
    onInternalError: (err, ctx) => log(`tracking: ${ctx.method} ${ctx.path} failed: ${(err as Error).stack ?? String(err)}`),
  });
  // Koa's own handler only sees errors outside our middleware (e.g. a client that went away mid-stream).
  app.on('error', (err: Error & { code?: string }) => {
    if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') log(`tracking: ${err.message}`);
  });
  const server = createServer({ keepAliveTimeout: 65_000 }, app.callback());
  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      void store.close();
      reject(err.code === 'EADDRINUSE' ? new PortInUseError(port, host) : err);
    });
    server.listen(port, host, () => resolvePromise());
  });
  const address = server.address() as AddressInfo;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${address.port}`,
    port: address.port,
    server,
    store,
    close() {
      closing ??= new Promise<void>((resolveClose) => {
        events.releaseAll();
        server.close(() => {
          void store.close().then(resolveClose);
        });
        server.closeIdleConnections();
        // Requests still in flight get a moment to finish, then their sockets are closed.
        setTimeout(() => server.closeAllConnections(), 2000).unref();
      });
      return closing;
    },
  };
}
