import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.js';
import { type ApiConfig, defaultConfig } from './config.js';
import type { InferenceEngine } from './inference/engine.js';
import { InProcessEngine } from './inference/in-process-engine.js';
import { WorkerPoolEngine } from './inference/worker-engine.js';
import { ApiMetrics } from './metrics.js';
import { ModelCache } from './model-cache.js';
import { ModelManager } from './model-manager.js';
import { MlflowRegistry, RegistryError } from './registry.js';

export interface RunningApi {
  url: string;
  config: ApiConfig;
  manager: ModelManager;
  close(): Promise<void>;
}

export function createEngine(config: ApiConfig, metrics: ApiMetrics): InferenceEngine {
  const batching = { maxBatch: config.maxBatch, maxWaitMs: config.maxWaitMs };
  const onBatch = (size: number): void => metrics.batchSize.observe(size);
  return config.engine === 'in-process' ? new InProcessEngine(batching, onBatch) : new WorkerPoolEngine(config.workers, batching, onBatch, config.log);
}

/**
 * Starts the API: loads what the registry (or, when it is down, the local cache) says to serve,
 * listens, and follows the registry alias from then on.
 */
export async function startApi(overrides: Partial<ApiConfig> = {}): Promise<RunningApi> {
  const config = defaultConfig(overrides);
  const metrics = new ApiMetrics();
  const engine = createEngine(config, metrics);
  const registry = new MlflowRegistry(config.trackingUri, config.modelName);
  const cache = new ModelCache(config.cacheDir, config.modelName);
  const manager = new ModelManager(
    registry,
    cache,
    engine,
    { aliasName: config.aliasName, maxStandby: config.maxStandby, listingRefreshMs: 5000, retryRefusedMs: 30_000 },
    {
      log: config.log,
      onSwap: (_from, to) => {
        metrics.swaps.inc();
        metrics.setLive(to.version.label, to.version.version, to.engine.engine);
      },
      onRefused: () => metrics.refusals.inc(),
    },
  );
  await manager.start();

  const app = createApp({ manager, engine, metrics, modelName: config.modelName, maxBodyBytes: config.maxBodyBytes, log: config.log });
  app.on('error', () => undefined); // every error is answered by the app's own handler; this silences Koa's duplicate logging
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(config.port, config.host, () => resolve(s));
    s.once('error', reject);
  });
  // A client that stalls mid-upload must not hold a connection for Node's default five minutes.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const poll = (): void => {
    timer = setTimeout(() => {
      void manager.sync().finally(() => {
        if (!stopped) poll();
      });
    }, config.pollIntervalMs);
  };
  poll();

  // Our tracking server also pushes registry changes (long-poll), so a promotion lands in milliseconds;
  // against plain MLflow (404) the poller alone follows the alias.
  const followChanges = async (): Promise<void> => {
    let after: number | undefined;
    let epoch: string | undefined;
    while (!stopped) {
      try {
        const change = await registry.changes(after, 20_000);
        if (after !== undefined && (change.touchesModel || change.reset || change.epoch !== epoch)) void manager.sync();
        after = change.lastSeq;
        epoch = change.epoch;
      } catch (err) {
        if (err instanceof RegistryError && err.status === 404) return;
        await new Promise((r) => setTimeout(r, 1000).unref());
      }
    }
  };
  void followChanges();

  const { port } = server.address() as AddressInfo;
  const shownHost = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${shownHost === '0.0.0.0' ? '127.0.0.1' : shownHost}:${port}`;
  config.log(
    `listening on ${url} (tracking ${config.trackingUri}, ${JSON.stringify(engine.describe())}); ` +
      (manager.live ? `serving ${manager.live.version.label}` : 'no version deployed yet'),
  );
  return {
    url,
    config,
    manager,
    async close() {
      stopped = true;
      clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await engine.close();
    },
  };
}
