/**
 * The HTTP layer: MLflow REST API 2.0 under /api/2.0/mlflow and /ajax-api/2.0/mlflow, the artifact
 * proxy under /api/2.0/mlflow-artifacts, /health, /version, the registry event feed, and the web UI
 * (mounted last, for every other path).
 */
import Koa from 'koa';
import { timingSafeEqual } from 'node:crypto';
import { extname } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { invalidParam, MlflowError } from './errors.js';
import { LocalArtifactStore, safeSegments } from './artifacts.js';
import { RegistryEventHub } from './events.js';
import { uiStatic } from './ui-static.js';
import type { TrackingStore } from '../store/store.js';
import { RUN_STATUSES, type RunStatus, type ViewType } from '../store/types.js';
import {
  LIMITS,
  maxResults,
  optionalBool,
  optionalInt,
  optionalString,
  readExperimentTag,
  readList,
  readMetric,
  readParam,
  readRegistryTag,
  readTag,
  requireString,
  stringList,
  validateKey,
  type Message,
} from './validation.js';

/** The MLflow server version this server's API matches, reported by GET /version. */
export const MLFLOW_COMPATIBLE_VERSION = '2.22.0';

export interface AppOptions {
  store: TrackingStore;
  artifacts: LocalArtifactStore;
  events: RegistryEventHub;
  /** When set, every mutating request needs `Authorization: Bearer <token>`. */
  token?: string;
  maxJsonBytes: number;
  /** Called for errors that are the server's fault (500), never with client mistakes. */
  onInternalError?: (err: unknown, ctx: Koa.Context) => void;
}

type Handler = (msg: Message, ctx: Koa.Context) => Promise<unknown>;
type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

interface Route {
  methods: Method[];
  handler: Handler;
  /** A POST that only reads (searches): open even when a token is configured. */
  readOnly?: boolean;
}

const API_PREFIXES = ['/api/2.0/mlflow/', '/ajax-api/2.0/mlflow/'];
const ARTIFACT_PREFIXES = ['/api/2.0/mlflow-artifacts/artifacts', '/ajax-api/2.0/mlflow-artifacts/artifacts'];
const EVENTS_PATH = '/api/2.0/ringcount/events';

function viewType(msg: Message, field: string): ViewType {
  const v = optionalString(msg, field) ?? 'ACTIVE_ONLY';
  if (v !== 'ACTIVE_ONLY' && v !== 'DELETED_ONLY' && v !== 'ALL') throw invalidParam(`Invalid value '${v}' for parameter '${field}': use ACTIVE_ONLY, DELETED_ONLY or ALL.`);
  return v;
}

function runStatus(msg: Message): RunStatus | undefined {
  const v = optionalString(msg, 'status');
  if (v === undefined) return undefined;
  if (!RUN_STATUSES.includes(v as RunStatus)) throw invalidParam(`Invalid value '${v}' for parameter 'status': use one of ${RUN_STATUSES.join(', ')}.`);
  return v as RunStatus;
}

function runIdOf(msg: Message): string {
  // MLflow accepts the deprecated run_uuid wherever run_id is expected.
  const id = optionalString(msg, 'run_id') || optionalString(msg, 'run_uuid');
  if (!id) throw invalidParam("Missing value for required parameter 'run_id'. See the API docs for more information about request parameters.");
  return id;
}

/** Maps a run or model artifact URI served by this server (mlflow-artifacts:/...) to artifact-root segments. */
export function artifactUriSegments(uri: string): string[] {
  const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/*(.*)$/.exec(uri);
  if (!m) throw invalidParam(`Artifact location '${uri}' is not served by this server: only mlflow-artifacts:/ URIs are proxied.`);
  return safeSegments(m[1]!, false);
}

function buildRoutes(opts: AppOptions): Map<string, Route> {
  const { store, events } = opts;
  const routes = new Map<string, Route>();
  const add = (path: string, methods: Method[], handler: Handler, readOnly = false): void => {
    routes.set(path, { methods, handler, readOnly });
  };

  // ---------------------------------------------------------------- experiments
  add('experiments/create', ['POST'], async (msg) => {
    const name = requireString(msg, 'name');
    const tags = readList(msg, 'tags').map(readExperimentTag);
    return { experiment_id: await store.createExperiment(name, optionalString(msg, 'artifact_location') || undefined, tags) };
  });
  add('experiments/get', ['GET'], async (msg) => ({ experiment: await store.getExperiment(requireString(msg, 'experiment_id')) }));
  add('experiments/get-by-name', ['GET'], async (msg) => ({ experiment: await store.getExperimentByName(requireString(msg, 'experiment_name')) }));
  add(
    'experiments/search',
    ['GET', 'POST'],
    async (msg) => {
      const page = await store.searchExperiments({
        filter: optionalString(msg, 'filter'),
        orderBy: stringList(msg, 'order_by'),
        maxResults: maxResults(msg, 1000, LIMITS.maxExperimentsSearchResults),
        pageToken: optionalString(msg, 'page_token'),
        viewType: viewType(msg, 'view_type'),
      });
      return { experiments: page.items, ...(page.nextPageToken ? { next_page_token: page.nextPageToken } : {}) };
    },
    true,
  );
  add('experiments/update', ['POST'], async (msg) => {
    await store.renameExperiment(requireString(msg, 'experiment_id'), requireString(msg, 'new_name'));
    return {};
  });
  add('experiments/delete', ['POST'], async (msg) => {
    await store.deleteExperiment(requireString(msg, 'experiment_id'));
    return {};
  });
  add('experiments/restore', ['POST'], async (msg) => {
    await store.restoreExperiment(requireString(msg, 'experiment_id'));
    return {};
  });
  add('experiments/set-experiment-tag', ['POST'], async (msg) => {
    await store.setExperimentTag(requireString(msg, 'experiment_id'), readExperimentTag({ key: msg.key, value: msg.value }));
    return {};
  });

  // ---------------------------------------------------------------- runs
  add('runs/create', ['POST'], async (msg) => {
    const tags = readList(msg, 'tags').map(readTag);
    const run = await store.createRun({
      experimentId: optionalString(msg, 'experiment_id') || '0',
      userId: optionalString(msg, 'user_id') ?? '',
      runName: optionalString(msg, 'run_name'),
      startTime: optionalInt(msg, 'start_time') ?? Date.now(),
      tags,
    });
    return { run };
  });
  add('runs/get', ['GET'], async (msg) => ({ run: await store.getRun(runIdOf(msg)) }));
  add('runs/update', ['POST'], async (msg) => {
    const runName = optionalString(msg, 'run_name');
    return { run_info: await store.updateRun(runIdOf(msg), { status: runStatus(msg), endTime: optionalInt(msg, 'end_time'), runName }) };
  });
  add('runs/delete', ['POST'], async (msg) => {
    await store.deleteRun(runIdOf(msg));
    return {};
  });
  add('runs/restore', ['POST'], async (msg) => {
    await store.restoreRun(runIdOf(msg));
    return {};
  });
  add(
    'runs/search',
    ['GET', 'POST'],
    async (msg) => {
      const experimentIds = stringList(msg, 'experiment_ids');
      if (experimentIds.length === 0) throw invalidParam("Missing value for required parameter 'experiment_ids': search runs in at least one experiment.");
      const page = await store.searchRuns({
        experimentIds,
        filter: optionalString(msg, 'filter'),
        orderBy: stringList(msg, 'order_by'),
        maxResults: maxResults(msg, 1000, LIMITS.maxRunsSearchResults),
        pageToken: optionalString(msg, 'page_token'),
        viewType: viewType(msg, 'run_view_type'),
      });
      return { runs: page.items, ...(page.nextPageToken ? { next_page_token: page.nextPageToken } : {}) };
    },
    true,
  );
  add('runs/log-metric', ['POST'], async (msg) => {
    await store.logBatch(runIdOf(msg), { metrics: [readMetric(msg)], params: [], tags: [] });
    return {};
  });
  add('runs/log-parameter', ['POST'], async (msg) => {
    await store.logBatch(runIdOf(msg), { metrics: [], params: [readParam(msg)], tags: [] });
    return {};
  });
  add('runs/set-tag', ['POST'], async (msg) => {
    await store.logBatch(runIdOf(msg), { metrics: [], params: [], tags: [readTag(msg)] });
    return {};
  });
  add('runs/delete-tag', ['POST'], async (msg) => {
    await store.deleteTag(runIdOf(msg), requireString(msg, 'key'));
    return {};
  });
  add('runs/log-batch', ['POST'], async (msg) => {
    const runId = runIdOf(msg);
    const rawMetrics = readList(msg, 'metrics');
    const rawParams = readList(msg, 'params');
    const rawTags = readList(msg, 'tags');
    if (rawMetrics.length > LIMITS.maxMetricsPerBatch) throw invalidParam(`A batch logging request can contain at most ${LIMITS.maxMetricsPerBatch} metrics. Got ${rawMetrics.length} metrics. Please split up metrics across multiple requests and try again.`);
    if (rawParams.length > LIMITS.maxParamsTagsPerBatch) throw invalidParam(`A batch logging request can contain at most ${LIMITS.maxParamsTagsPerBatch} params. Got ${rawParams.length} params. Please split up params across multiple requests and try again.`);
    if (rawTags.length > LIMITS.maxParamsTagsPerBatch) throw invalidParam(`A batch logging request can contain at most ${LIMITS.maxParamsTagsPerBatch} tags. Got ${rawTags.length} tags. Please split up tags across multiple requests and try again.`);
    const total = rawMetrics.length + rawParams.length + rawTags.length;
    if (total > LIMITS.maxEntitiesPerBatch) throw invalidParam(`A batch logging request can contain at most ${LIMITS.maxEntitiesPerBatch} total metrics, params, and tags. Got ${total}. Please split up the request and try again.`);
    const params = rawParams.map(readParam);
    const seen = new Map<string, string>();
    const duplicates = new Set<string>();
    for (const p of params) {
      if (seen.has(p.key) && seen.get(p.key) !== p.value) duplicates.add(p.key);
      seen.set(p.key, p.value);
    }
    if (duplicates.size > 0) throw invalidParam(`Duplicate parameter keys have been submitted with different values: [${[...duplicates].map((k) => `'${k}'`).join(', ')}]. Please ensure the request contains only one param value per param key.`);
    await store.logBatch(runId, { metrics: rawMetrics.map(readMetric), params, tags: rawTags.map(readTag) });
    return {};
  });
  add('runs/log-inputs', ['POST'], async (msg) => {
    const runId = runIdOf(msg);
    const inputs = readList(msg, 'datasets').map((raw) => {
      const input = (raw ?? {}) as Message;
      const dataset = (input.dataset ?? {}) as Message;
      if (typeof dataset !== 'object') throw invalidParam("Each dataset input needs a 'dataset' object.");
      return {
        tags: readList(input, 'tags').map(readTag),
        dataset: {
          name: requireString(dataset, 'name'),
          digest: requireString(dataset, 'digest'),
          source_type: requireString(dataset, 'source_type'),
          source: requireString(dataset, 'source'),
          ...(optionalString(dataset, 'schema') !== undefined ? { schema: optionalString(dataset, 'schema') } : {}),
          ...(optionalString(dataset, 'profile') !== undefined ? { profile: optionalString(dataset, 'profile') } : {}),
        },
      };
    });
    await store.logInputs(runId, inputs);
    return {};
  });
  add('metrics/get-history', ['GET'], async (msg, ctx) => {
    const key = requireString(msg, 'metric_key');
    const max = optionalInt(msg, 'max_results');
    if (max !== undefined && max < 1) throw invalidParam(`Invalid value ${max} for parameter 'max_results': it must be at least 1.`);
    const page = await store.getMetricHistoryJson(runIdOf(msg), key, max, optionalString(msg, 'page_token'));
    // Pre-serialized: the body is sent as is (a string), the JSON content type is set explicitly.
    ctx.type = 'application/json';
    return `{"metrics":${page.json}${page.nextPageToken ? `,"next_page_token":${JSON.stringify(page.nextPageToken)}` : ''}}`;
  });
  add('artifacts/list', ['GET'], async (msg) => {
    const run = await store.getRun(runIdOf(msg));
    const path = optionalString(msg, 'path') ?? '';
    const rel = safeSegments(path, false);
    const files = await opts.artifacts.list([...artifactUriSegments(run.info.artifact_uri), ...rel], rel.join('/'));
    return { root_uri: run.info.artifact_uri, files };
  });

  // ---------------------------------------------------------------- registered models
  const modelName = (msg: Message): string => requireString(msg, 'name');
  add('registered-models/create', ['POST'], async (msg) => {
    const model = await store.createRegisteredModel(modelName(msg), readList(msg, 'tags').map(readRegistryTag), optionalString(msg, 'description') ?? '');
    return { registered_model: model };
  });
  add('registered-models/get', ['GET'], async (msg) => ({ registered_model: await store.getRegisteredModel(modelName(msg)) }));
  add(
    'registered-models/search',
    ['GET', 'POST'],
    async (msg) => {
      const page = await store.searchRegisteredModels({
        filter: optionalString(msg, 'filter'),
        orderBy: stringList(msg, 'order_by'),
        maxResults: maxResults(msg, 100, LIMITS.maxRegisteredModelsSearchResults),
        pageToken: optionalString(msg, 'page_token'),
      });
      return { registered_models: page.items, ...(page.nextPageToken ? { next_page_token: page.nextPageToken } : {}) };
    },
    true,
  );
  add('registered-models/rename', ['POST'], async (msg) => {
    const name = modelName(msg);
    const model = await store.renameRegisteredModel(name, requireString(msg, 'new_name'));
    events.publish({ type: 'model_renamed', name, new_name: model.name });
    return { registered_model: model };
  });
  add('registered-models/update', ['PATCH'], async (msg) => ({ registered_model: await store.updateRegisteredModel(modelName(msg), optionalString(msg, 'description') ?? '') }));
  add('registered-models/delete', ['DELETE'], async (msg) => {
    const name = modelName(msg);
    await store.deleteRegisteredModel(name);
    events.publish({ type: 'model_deleted', name });
    return {};
  });
  add('registered-models/set-tag', ['POST'], async (msg) => {
    await store.setRegisteredModelTag(modelName(msg), readRegistryTag({ key: msg.key, value: msg.value }));
    return {};
  });
  add('registered-models/delete-tag', ['DELETE'], async (msg) => {
    await store.deleteRegisteredModelTag(modelName(msg), requireString(msg, 'key'));
    return {};
  });
  add(
    'registered-models/get-latest-versions',
    ['GET', 'POST'],
    async (msg) => ({ model_versions: await store.getLatestVersions(modelName(msg), stringList(msg, 'stages')) }),
    true,
  );
  add('registered-models/alias', ['POST', 'DELETE', 'GET'], async (msg, ctx) => {
    const name = modelName(msg);
    const alias = requireString(msg, 'alias');
    if (ctx.method === 'GET') return { model_version: await store.getModelVersionByAlias(name, alias) };
    if (ctx.method === 'DELETE') {
      await store.deleteAlias(name, alias);
      events.publish({ type: 'alias_deleted', name, alias });
      return {};
    }
    validateAlias(alias);
    const version = requireString(msg, 'version');
    await store.setAlias(name, alias, version);
    events.publish({ type: 'alias_set', name, alias, version });
    return {};
  });

  // ---------------------------------------------------------------- model versions
  add('model-versions/create', ['POST'], async (msg) => {
    const name = modelName(msg);
    const source = requireString(msg, 'source');
    const version = await store.createModelVersion({
      name,
      source,
      runId: optionalString(msg, 'run_id') ?? '',
      tags: readList(msg, 'tags').map(readRegistryTag),
      runLink: optionalString(msg, 'run_link') ?? '',
      description: optionalString(msg, 'description') ?? '',
    });
    events.publish({ type: 'version_created', name, version: version.version });
    return { model_version: version };
  });
  add('model-versions/get', ['GET'], async (msg) => ({ model_version: await store.getModelVersion(modelName(msg), requireString(msg, 'version')) }));
  add(
    'model-versions/search',
    ['GET', 'POST'],
    async (msg) => {
      const page = await store.searchModelVersions({
        filter: optionalString(msg, 'filter'),
        orderBy: stringList(msg, 'order_by'),
        maxResults: maxResults(msg, 10000, LIMITS.maxModelVersionsSearchResults),
        pageToken: optionalString(msg, 'page_token'),
      });
      return { model_versions: page.items, ...(page.nextPageToken ? { next_page_token: page.nextPageToken } : {}) };
    },
    true,
  );
  add('model-versions/update', ['PATCH'], async (msg) => ({
    model_version: await store.updateModelVersion(modelName(msg), requireString(msg, 'version'), optionalString(msg, 'description') ?? ''),
  }));
  add('model-versions/delete', ['DELETE'], async (msg) => {
    const name = modelName(msg);
    const version = requireString(msg, 'version');
    await store.deleteModelVersion(name, version);
    events.publish({ type: 'version_deleted', name, version });
    return {};
  });
  add('model-versions/transition-stage', ['POST'], async (msg) => {
    const name = modelName(msg);
    const mv = await store.transitionStage(name, requireString(msg, 'version'), requireString(msg, 'stage'), optionalBool(msg, 'archive_existing_versions') ?? false);
    events.publish({ type: 'stage_transitioned', name, version: mv.version, stage: mv.current_stage });
    return { model_version: mv };
  });
  add('model-versions/get-download-uri', ['GET'], async (msg) => {
    const mv = await store.getModelVersion(modelName(msg), requireString(msg, 'version'));
    return { artifact_uri: await resolveSource(store, mv.source) };
  });
  add('model-versions/set-tag', ['POST'], async (msg) => {
    await store.setModelVersionTag(modelName(msg), requireString(msg, 'version'), readRegistryTag({ key: msg.key, value: msg.value }));
    return {};
  });
  add('model-versions/delete-tag', ['DELETE'], async (msg) => {
    await store.deleteModelVersionTag(modelName(msg), requireString(msg, 'version'), requireString(msg, 'key'));
    return {};
  });
  return routes;
}

/** MLflow's alias rules: like a key, no "v<digits>" (reserved for versions) and not "latest". */
function validateAlias(alias: string): void {
  validateKey('Alias', alias);
  if (/^v\d+$/i.test(alias) || alias.toLowerCase() === 'latest') {
    throw invalidParam(`'${alias}' alias name (case insensitive) is reserved: names like 'v<number>' and 'latest' cannot be aliases.`);
  }
}

/** `runs:/<run_id>/<path>` sources resolve to the run's artifact URI, as MLflow's get-download-uri does. */
async function resolveSource(store: TrackingStore, source: string): Promise<string> {
  const m = /^runs:\/([^/]+)\/?(.*)$/.exec(source);
  if (!m) return source;
  const run = await store.getRun(m[1]!);
  return m[2] ? `${run.info.artifact_uri}/${m[2]}` : run.info.artifact_uri;
}

function tokenMatches(expected: string, header: string | undefined): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!m) return false;
  const a = Buffer.from(m[1]!.trim());
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function readJsonBody(req: IncomingMessage, limit: number): Promise<Message> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) throw new MlflowError('INVALID_PARAMETER_VALUE', `Request body of ${declared} bytes exceeds the limit of ${limit} bytes; split it into smaller requests.`, 413);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new MlflowError('INVALID_PARAMETER_VALUE', `Request body exceeds the limit of ${limit} bytes; split it into smaller requests.`, 413);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new MlflowError('BAD_REQUEST', `Malformed JSON request body: ${(err as Error).message}. MLflow requests are JSON objects with Content-Type: application/json.`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new MlflowError('BAD_REQUEST', 'The request body must be a JSON object.');
  return parsed as Message;
}

const CONTENT_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.log': 'text/plain; charset=utf-8',
  '.csv': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.yaml': 'text/plain; charset=utf-8',
  '.yml': 'text/plain; charset=utf-8',
  '.py': 'text/plain; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
  '.html': 'text/plain; charset=utf-8',
};

export function createApp(opts: AppOptions): Koa {
  const app = new Koa();
  const routes = buildRoutes(opts);
  const isMutating = (method: string): boolean => method === 'POST' || method === 'PUT' || method === 'PATCH' || method === 'DELETE';

  // Errors: MLflow's JSON shape for API paths; never a stack trace to the client.
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (err instanceof MlflowError) {
        ctx.status = err.status;
        ctx.body = err.toJSON();
        if (err.status === 413) ctx.set('Connection', 'close');
        return;
      }
      const code = (err as { code?: string }).code;
      if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
        ctx.status = 503;
        ctx.set('Retry-After', '1');
        ctx.body = { error_code: 'TEMPORARILY_UNAVAILABLE', message: 'The database is busy; retry the request.' };
        return;
      }
      if (code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE') {
        ctx.status = 400;
        ctx.body = { error_code: 'BAD_REQUEST', message: 'The request body ended early (client disconnected); nothing was stored.' };
        return;
      }
      opts.onInternalError?.(err, ctx);
      ctx.status = 500;
      ctx.body = { error_code: 'INTERNAL_ERROR', message: 'Internal server error; see the tracking server log.' };
    }
  });

  app.use(async (ctx, next) => {
    const path = ctx.path;
    if (path === '/health') {
      ctx.type = 'text/plain';
      ctx.body = 'OK';
      return;
    }
    if (path === '/version') {
      ctx.type = 'text/plain';
      ctx.body = MLFLOW_COMPATIBLE_VERSION;
      return;
    }
    const apiPrefix = API_PREFIXES.find((p) => path.startsWith(p));
    const artifactPrefix = ARTIFACT_PREFIXES.find((p) => path === p || path.startsWith(p + '/'));
    const isEvents = path === EVENTS_PATH;
    const isGetArtifact = path === '/get-artifact' || path === '/ajax-api/2.0/mlflow/get-artifact';
    if (!apiPrefix && !artifactPrefix && !isEvents && !isGetArtifact) return next();

    const route = apiPrefix ? routes.get(path.slice(apiPrefix.length)) : undefined;
    if (opts.token !== undefined && isMutating(ctx.method) && !route?.readOnly && !tokenMatches(opts.token, ctx.get('authorization'))) {
      throw new MlflowError('UNAUTHENTICATED', 'This tracking server requires a bearer token for changes: send "Authorization: Bearer <token>" (the MLflow client sends MLFLOW_TRACKING_TOKEN).');
    }
    ctx.set('Cache-Control', 'no-store');

    if (isEvents) {
      const after = optionalInt(ctx.query as Message, 'after');
      if (after === undefined) {
        ctx.body = { events: [], last_seq: opts.events.lastSeq, epoch: opts.events.epoch };
        return;
      }
      const timeout = Math.min(Math.max(optionalInt(ctx.query as Message, 'timeout_ms') ?? 25000, 0), 60000);
      let result = opts.events.since(after);
      if (result.events.length === 0 && !result.reset && timeout > 0) {
        const abort = new AbortController();
        ctx.req.once('close', () => abort.abort());
        await opts.events.wait(timeout, abort.signal);
        result = opts.events.since(after);
      }
      ctx.body = { events: result.events, last_seq: opts.events.lastSeq, epoch: opts.events.epoch, reset: result.reset };
      return;
    }

    if (isGetArtifact) {
      // MLflow's UI download endpoint: /get-artifact?run_uuid=&path=
      const q = ctx.query as Message;
      const run = await opts.store.getRun(runIdOf(q));
      const rel = safeSegments(requireString(q, 'path'), false);
      await sendArtifact(ctx, opts.artifacts, [...artifactUriSegments(run.info.artifact_uri), ...rel]);
      return;
    }

    if (artifactPrefix) {
      const rawRest = ctx.path.slice(artifactPrefix.length).replace(/^\//, '');
      if (rawRest === '' && ctx.method === 'GET') {
        const listPath = optionalString(ctx.query as Message, 'path') ?? '';
        const segments = safeSegments(listPath, false);
        // MLflow's proxy lists basenames of one directory level.
        ctx.body = { files: await opts.artifacts.list(segments, '') };
        return;
      }
      const segments = safeSegments(rawRest, true);
      if (ctx.method === 'GET') await sendArtifact(ctx, opts.artifacts, segments);
      else if (ctx.method === 'PUT') {
        const declared = ctx.get('content-length') ? Number(ctx.get('content-length')) : undefined;
        await opts.artifacts.upload(segments, ctx.req, declared);
        ctx.body = {};
      } else if (ctx.method === 'DELETE') {
        await opts.artifacts.delete(segments);
        ctx.body = {};
      } else throw new MlflowError('BAD_REQUEST', `Method ${ctx.method} is not allowed on artifacts: use GET, PUT or DELETE.`, 405);
      return;
    }

    if (!route) throw new MlflowError('ENDPOINT_NOT_FOUND', `No MLflow API endpoint at ${path}. See the MLflow REST API documentation for the endpoint list.`);
    if (!route.methods.includes(ctx.method as Method)) {
      ctx.set('Allow', route.methods.join(', '));
      throw new MlflowError('BAD_REQUEST', `Method ${ctx.method} is not allowed for ${path}; use ${route.methods.join(' or ')}.`, 405);
    }
    const msg: Message = { ...(ctx.query as Message) };
    if (ctx.method !== 'GET') Object.assign(msg, await readJsonBody(ctx.req, opts.maxJsonBytes));
    ctx.body = await route.handler(msg, ctx);
  });

  app.use(uiStatic());
  return app;
}

async function sendArtifact(ctx: Koa.Context, artifacts: LocalArtifactStore, segments: string[]): Promise<void> {
  const { stream, size } = await artifacts.open(segments);
  const name = segments[segments.length - 1] ?? 'artifact';
  ctx.type = CONTENT_TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream';
  ctx.length = size;
  // Artifacts are user content served from the UI's origin: never let them run script there.
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Content-Security-Policy', "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'");
  ctx.set('Content-Disposition', `inline; filename="${name.replace(/[^\w.-]/g, '_')}"`);
  ctx.body = stream;
}
