import Router from '@koa/router';
import Koa from 'koa';
import { koaBody } from 'koa-body';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { ApiError, errorMessage, InferenceUnavailableError, RegistryUnavailableError, VersionRefusedError } from './errors.js';
import { sniffFormat } from './image-input.js';
import type { InferenceEngine } from './inference/engine.js';
import type { ApiMetrics } from './metrics.js';
import type { Deployment, ModelManager } from './model-manager.js';
import { guardMultipartParser } from './multipart-guard.js';
import { buildOpenApi } from './openapi.js';

export interface AppOptions {
  manager: ModelManager;
  engine: InferenceEngine;
  metrics: ApiMetrics;
  modelName: string;
  maxBodyBytes: number;
  log: (line: string) => void;
}

interface RouteState {
  route?: string;
  version?: string;
  image?: Buffer;
}

export const WELCOME = 'Welcome to the ring count prediction API! POST a compound depiction to /predict/ (multipart field "image"); see /docs.';

/** The Koa application: upstream's routes, version pinning, docs, health and metrics. */
export function createApp(opts: AppOptions): Koa<RouteState> {
  const { manager, engine, metrics, maxBodyBytes } = opts;
  const app = new Koa<RouteState>();
  const router = new Router<RouteState>();
  const uploads = new WeakMap<object, Buffer[]>();
  guardMultipartParser();

  app.use(async (ctx, next) => {
    const started = process.hrtime.bigint();
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new ApiError(404, `no route ${ctx.method} ${ctx.path}; the routes are listed at /docs`);
      }
      if (ctx.status === 405 && ctx.body === undefined) {
        throw new ApiError(405, `${ctx.method} is not supported on ${ctx.path}; allowed: ${String(ctx.response.get('Allow'))}`);
      }
    } catch (err) {
      const { status, message } = toClientError(err, maxBodyBytes);
      if (status >= 500 && status !== 503) opts.log(`error on ${ctx.method} ${ctx.path}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      ctx.status = status;
      ctx.body = { error: message };
      // The client may still be sending a body we refused to read: do not reuse the connection.
      if (!ctx.req.complete) ctx.set('Connection', 'close');
    } finally {
      const route = ctx.state.route ?? 'unmatched';
      const version = ctx.state.version ?? 'none';
      metrics.requests.inc({ route, method: ctx.method, status: String(ctx.status), version });
      metrics.latency.observe({ route, method: ctx.method, version }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  });

  // koa-body ships its own copy of Koa's types; at run time it is ordinary Koa middleware.
  const parseUpload = koaBody({
    multipart: true,
    json: false,
    text: false,
    urlencoded: false,
    formidable: {
      maxFileSize: maxBodyBytes,
      maxFields: 20,
      maxFieldsSize: 64 * 1024,
      allowEmptyFiles: true,
      minFileSize: 0,
      // Uploads never touch the disk, so a constant name spares formidable hashing a unique one per file.
      filename: () => 'upload',
      // Keep uploads in memory: they are small and read once, so temp files would only add I/O.
      fileWriteStreamHandler: (file) => {
        const chunks: Buffer[] = [];
        if (file) uploads.set(file, chunks);
        return new Writable({
          write(chunk: Buffer, _enc, done) {
            chunks.push(chunk);
            done();
          },
        });
      },
    },
  }) as unknown as Koa.Middleware<RouteState>;

  const readImage: Koa.Middleware<RouteState> = async (ctx, next) => {
    if (!ctx.is('multipart/form-data')) {
      throw new ApiError(415, "send the image as multipart/form-data in the field 'image' (curl -F image=@compound.png ...)");
    }
    const length = Number(ctx.get('Content-Length') || 0);
    if (length > maxBodyBytes) throw new ApiError(413, tooLarge(maxBodyBytes, length));
    await parseUpload(ctx, async () => undefined);
    const parsed = ctx.request as unknown as { files?: Record<string, object | object[]>; body?: Record<string, unknown> };
    const field = parsed.files?.image;
    const file = Array.isArray(field) ? field[0] : field;
    if (Array.isArray(field) && field.length > 1) throw new ApiError(400, "send exactly one file in the field 'image'");
    const chunks = file ? uploads.get(file) : undefined;
    if (!chunks) {
      const fields = [...Object.keys(parsed.files ?? {}), ...Object.keys(parsed.body ?? {})];
      throw new ApiError(400, `missing file field 'image'${fields.length ? ` (got: ${fields.join(', ')})` : ''}; send it with curl -F image=@compound.png`);
    }
    ctx.state.image = Buffer.concat(chunks);
    await next();
  };

  async function predictWith(ctx: Koa.ParameterizedContext<RouteState>, d: Deployment): Promise<void> {
    ctx.state.version = d.version.label;
    try {
      const image = ctx.state.image as Buffer;
      // Bad bytes are refused here, before any decoder sees them; the engine decodes where the model runs.
      sniffFormat(image);
      const probs = toProbabilities(await engine.predict(d.key, image, d.metadata.preprocessing));
      const labels = d.metadata.labels;
      let best = 0;
      probs.forEach((p, i) => {
        if (p > (probs[best] ?? -Infinity)) best = i;
      });
      const nRings = labels[best] ?? best;
      metrics.predictions.inc({ version: d.version.label, n_rings: String(nRings) });
      ctx.body = {
        n_rings_pred: nRings,
        version: d.version.label,
        registry_version: d.version.version,
        probabilities: Object.fromEntries(labels.map((l, i) => [String(l), round(probs[i] ?? 0)])),
      };
    } finally {
      manager.release(d);
    }
  }

  router.get('/', (ctx) => {
    ctx.state.route = '/';
    ctx.body = { message: WELCOME };
  });

  router.get('/models/', async (ctx) => {
    ctx.state.route = '/models/';
    let source = 'registry';
    try {
      await manager.refreshVersions();
    } catch (err) {
      if (!(err instanceof RegistryUnavailableError)) throw err;
      source = 'local cache (tracking server unreachable)';
    }
    const live = manager.live?.version.version;
    ctx.body = {
      name: opts.modelName,
      live: manager.live?.version.label ?? null,
      source,
      versions: manager.versions.map((v) => ({ version: v.label, registry_version: v.version, aliases: v.aliases, live: v.version === live })),
    };
  });

  router.get('/deployed_version/', (ctx) => {
    ctx.state.route = '/deployed_version/';
    const d = manager.live;
    if (!d) throw new ApiError(503, 'no model version is deployed yet; promote one with ./update-models.sh <version>');
    ctx.body = {
      version: d.version.label,
      registry_version: d.version.version,
      name: opts.modelName,
      architecture: d.metadata.architecture,
      input_shape: d.metadata.inputShape,
      labels: d.metadata.labels,
      run_id: d.version.runId ?? d.metadata.runId ?? null,
      loaded_at: d.loadedAt.toISOString(),
      inference: { engine: d.engine.engine, detail: d.engine.detail, fallback_reason: d.engine.fallbackReason ?? null },
      registry: {
        reachable: manager.registryReachable,
        alias_version: manager.alias.version ?? null,
        refused: manager.alias.refused ?? null,
        checked_at: manager.alias.checkedAt?.toISOString() ?? null,
      },
    };
  });

  router.post('/predict/', readImage, async (ctx) => {
    ctx.state.route = '/predict/';
    await predictWith(ctx, manager.acquireLive());
  });

  router.post('/models/:version/predict/', readImage, async (ctx) => {
    ctx.state.route = '/models/{version}/predict/';
    await predictWith(ctx, await manager.acquirePinned(ctx.params.version ?? ''));
  });

  router.post('/models/:version/prepare', async (ctx) => {
    ctx.state.route = '/models/{version}/prepare';
    const version = await manager.resolve(ctx.params.version ?? '');
    const d = await manager.prepare(version);
    ctx.body = { status: 'ready', version: d.version.label, registry_version: d.version.version, architecture: d.metadata.architecture, live: d === manager.live };
  });

  router.get('/health', (ctx) => {
    ctx.state.route = '/health';
    ctx.body = { status: 'ok' };
  });

  router.get('/ready', (ctx) => {
    ctx.state.route = '/ready';
    if (!manager.live) throw new ApiError(503, 'not ready: no model version is loaded');
    ctx.body = { status: 'ready', version: manager.live.version.label, engine: manager.live.engine.engine };
  });

  router.get('/metrics', async (ctx) => {
    ctx.state.route = '/metrics';
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });

  router.get('/openapi.json', (ctx) => {
    ctx.state.route = '/openapi.json';
    ctx.body = buildOpenApi(manager.live, { maxBodyBytes, modelName: opts.modelName });
  });

  // swagger-ui-dist's index requires its whole 1 MB browser bundle; only the directory is needed here.
  const swaggerDir = path.dirname(require.resolve('swagger-ui-dist/package.json'));
  router.get('/docs', (ctx) => {
    ctx.state.route = '/docs';
    ctx.type = 'html';
    ctx.body = SWAGGER_HTML;
  });
  router.get('/docs/:file', async (ctx) => {
    ctx.state.route = '/docs/{file}';
    const file = ctx.params.file ?? '';
    if (!SWAGGER_ASSETS.has(file)) throw new ApiError(404, `no such documentation asset '${file}'`);
    ctx.type = path.extname(file);
    ctx.set('Cache-Control', 'public, max-age=86400');
    ctx.body = await readFile(path.join(swaggerDir, file));
  });

  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}

const SWAGGER_ASSETS = new Set(['swagger-ui.css', 'swagger-ui-bundle.js', 'swagger-ui-standalone-preset.js', 'index.css', 'favicon-32x32.png', 'favicon-16x16.png']);
const SWAGGER_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ring count API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"><link rel="icon" type="image/png" href="/docs/favicon-32x32.png"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui' });</script>
</body></html>`;

function tooLarge(limit: number, got?: number): string {
  return `the upload is larger than the ${(limit / 1024 / 1024).toFixed(1)} MB limit (${limit} bytes${got ? `; got ${got}` : ''}); send a smaller image (depictions are 300×300 PNGs of a few KB)`;
}

/** Maps anything thrown while handling a request to what the client should see. */
function toClientError(err: unknown, maxBodyBytes: number): { status: number; message: string } {
  if (err instanceof ApiError) return { status: err.status, message: err.message };
  if (err instanceof RegistryUnavailableError) return { status: 503, message: `${err.message}, and the version is not in the local cache; try again later` };
  if (err instanceof VersionRefusedError) return { status: 422, message: `refused: ${err.message}` };
  if (err instanceof InferenceUnavailableError) return { status: 503, message: err.message };
  const e = err as { httpCode?: number; code?: number | string; status?: number; expose?: boolean; message?: string };
  if (typeof e.httpCode === 'number' && typeof e.code === 'number') {
    // formidable: 413 for the size limits, 400 for everything malformed.
    if (e.httpCode === 413) return { status: 413, message: /maxFileSize/.test(e.message ?? '') ? tooLarge(maxBodyBytes) : `multipart body has too many or too large fields: ${e.message}` };
    if (/aborted/i.test(e.message ?? '')) return { status: 400, message: 'the upload was aborted before it finished' };
    return { status: 400, message: `malformed multipart/form-data body (${e.message}); send the image with curl -F image=@compound.png` };
  }
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500 && e.expose) return { status: e.status, message: errorMessage(err) };
  return { status: 500, message: 'internal error while handling the request; it has been logged' };
}

/** Models may end in softmax or in raw logits; clients always get probabilities. */
export function toProbabilities(out: Float32Array): Float32Array {
  const sum = out.reduce((a, b) => a + b, 0);
  if (out.every((v) => v >= 0 && v <= 1) && Math.abs(sum - 1) < 1e-3) return out;
  const max = out.reduce((a, b) => Math.max(a, b), -Infinity);
  const exp = out.map((v) => Math.exp(v - max));
  const total = exp.reduce((a, b) => a + b, 0);
  return exp.map((v) => v / total);
}

function round(p: number): number {
  return Math.round(p * 1e6) / 1e6;
}
