/**
 * @ringcount/tracking: the typed client for the tracking server, plus `startTrackingServer` for tests
 * and tools that need a real server. The server code (Koa, SQLite) loads only when that function is
 * called, so importing the client stays light for notebooks and the prediction API.
 */
export { TrackingClient, RunHandle, type TrackingClientOptions, type RegistryEventWire } from './client/client.js';
export { MlflowApiError, TrackingServerUnreachableError } from './client/errors.js';
export type * from './store/types.js';
import type { RunningTrackingServer, TrackingServerOptions } from './server/start.js';
export type { RunningTrackingServer, TrackingServerOptions };

export async function startTrackingServer(options: TrackingServerOptions): Promise<RunningTrackingServer> {
  // Lazy require keeps Koa and better-sqlite3 out of processes that only use the client.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const server = require('./server/start.js') as typeof import('./server/start.js');
  return server.startTrackingServer(options);
}
