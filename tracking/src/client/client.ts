/**
 * Typed client for the tracking server (and for any MLflow server with proxied artifacts), built on got.
 * Notebooks (CommonJS via tslab), scripts and the prediction API use it; every method is awaitable.
 *
 *   const client = new TrackingClient();                 // MLFLOW_TRACKING_URI, MLFLOW_TRACKING_TOKEN
 *   const run = await client.startRun('ring-count', { runName: 'cnn-64' });
 *   await run.logParams({ lr: 0.001 }); await run.logMetric('loss', 0.7, 1); await run.logArtifacts('out/model', 'model');
 *   await run.end();
 *   const mv = await client.registerModel('ring-count', run, 'model'); await client.setAlias('ring-count', 'champion', mv.version);
 */
import got, { HTTPError, RequestError, type Method } from 'got';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { MlflowApiError, TrackingServerUnreachableError } from './errors.js';
import type { Experiment, FileInfo, KeyValue, Metric, MetricValue, ModelVersion, RegisteredModel, Run, RunInfo, RunStatus, ViewType } from '../store/types.js';

export interface TrackingClientOptions {
  /** Server base URL; default MLFLOW_TRACKING_URI, else http://127.0.0.1:5000. */
  trackingUri?: string;
  /** Bearer token; default MLFLOW_TRACKING_TOKEN. */
  token?: string;
  /** Retries after a 429, a 5xx or a dropped connection (default 4), with exponential backoff. */
  retries?: number;
  /** Per-request timeout in ms (default 60 s; transfers get 10 min). */
  timeoutMs?: number;
}


const RETRY_STATUS = new Set([429, 500, 502, 503, 504]);
const RETRY_NETWORK = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ECONNABORTED']);
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH']);

function wireValue(value: number): MetricValue {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return 'Infinity';
  if (value === -Infinity) return '-Infinity';
  return value;
}

function toKeyValues(record: Record<string, string | number | boolean>): KeyValue[] {
  return Object.entries(record).map(([key, value]) => ({ key, value: String(value) }));
}

/** Joins relative artifact path parts, dropping empty ones. */
function joinPath(...parts: (string | undefined)[]): string {
  return parts
    .filter((p): p is string => p !== undefined && p !== '')
    .map((p) => p.replace(/^\/+|\/+$/g, ''))
    .filter((p) => p !== '')
    .join('/');
}

export class TrackingClient {
  readonly baseUrl: string;
  private readonly token: string | undefined;
  private readonly retries: number;
  private readonly timeoutMs: number;

  constructor(options: TrackingClientOptions = {}) {
    this.baseUrl = (options.trackingUri ?? process.env.MLFLOW_TRACKING_URI ?? 'http://127.0.0.1:5000').replace(/\/+$/, '');
    if (!/^https?:\/\//.test(this.baseUrl)) throw new Error(`Tracking URI '${this.baseUrl}' must be an http(s) URL such as http://127.0.0.1:5000.`);
    this.token = options.token ?? (process.env.MLFLOW_TRACKING_TOKEN || undefined);
    this.retries = options.retries ?? 4;
    this.timeoutMs = options.timeoutMs ?? 60_000;
  }

  private headers(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  /**
   * One retry policy for JSON calls and streamed transfers (got cannot replay a consumed stream body,
   * so retries are done here rather than by got). Honors Retry-After on 429/503.
   */
  private async withRetry<T>(what: string, attempt: () => Promise<T>): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await attempt();
      } catch (err) {
        const code = (err as RequestError).code ?? '';
        const status = err instanceof HTTPError ? err.response.statusCode : undefined;
        const retryable = (status !== undefined && RETRY_STATUS.has(status)) || RETRY_NETWORK.has(code) || (UNREACHABLE.has(code) && i === 0);
        if (!retryable || i >= this.retries) {
          if (UNREACHABLE.has(code)) throw new TrackingServerUnreachableError(this.baseUrl, code);
          if (err instanceof HTTPError) throw this.apiError(err, what);
          throw err;
        }
        const retryAfter = err instanceof HTTPError ? Number(err.response.headers['retry-after']) : NaN;
        await sleep(Number.isFinite(retryAfter) ? Math.min(retryAfter * 1000, 10_000) : Math.min(200 * 2 ** i, 5000));
      }
    }
  }

  private apiError(err: HTTPError, what: string): MlflowApiError {
    let errorCode = 'HTTP_ERROR';
    let message = `HTTP ${err.response.statusCode}`;
    try {
      const body = JSON.parse(String(err.response.body)) as { error_code?: string; message?: string };
      errorCode = body.error_code ?? errorCode;
      message = body.message ?? message;
    } catch {
      message = String(err.response.body).slice(0, 300) || message;
    }
    return new MlflowApiError(errorCode, err.response.statusCode, what, message);
  }

  /** Calls an MLflow REST endpoint (`runs/create`, ...): GET sends a query string, other methods a JSON body. */
  async call<T>(method: Method, endpoint: string, payload: Record<string, unknown> = {}): Promise<T> {
    const url = `${this.baseUrl}/api/2.0/mlflow/${endpoint}`;
    return this.withRetry(`${method} ${endpoint}`, async () => {
      const searchParams = new URLSearchParams();
      if (method === 'GET') {
        for (const [k, v] of Object.entries(payload)) {
          if (v === undefined) continue;
          for (const item of Array.isArray(v) ? v : [v]) searchParams.append(k, String(item));
        }
      }
      return got(url, {
        method,
        headers: this.headers(),
        searchParams: method === 'GET' ? searchParams : undefined,
        json: method === 'GET' ? undefined : payload,
        timeout: { request: this.timeoutMs },
        retry: { limit: 0 },
      }).json<T>();
    });
  }

  async health(): Promise<boolean> {
    await this.withRetry('GET /health', () => got(`${this.baseUrl}/health`, { timeout: { request: this.timeoutMs }, retry: { limit: 0 } }).text());
    return true;
  }

  // ---------------------------------------------------------------- experiments

  async getExperimentByName(name: string): Promise<Experiment | undefined> {
    try {
      return (await this.call<{ experiment: Experiment }>('GET', 'experiments/get-by-name', { experiment_name: name })).experiment;
    } catch (err) {
      if (err instanceof MlflowApiError && err.errorCode === 'RESOURCE_DOES_NOT_EXIST') return undefined;
      throw err;
    }
  }

  /** The id of the active experiment with this name, created when missing. */
  async getOrCreateExperiment(name: string, tags: Record<string, string> = {}): Promise<string> {
    const existing = await this.getExperimentByName(name);
    if (existing) {
      if (existing.lifecycle_stage === 'deleted') throw new Error(`Experiment '${name}' (id ${existing.experiment_id}) is deleted: restore it (experiments/restore) or use another name.`);
      return existing.experiment_id;
    }
    try {
      return (await this.call<{ experiment_id: string }>('POST', 'experiments/create', { name, tags: toKeyValues(tags) })).experiment_id;
    } catch (err) {
      // Another process created it between our two calls.
      if (err instanceof MlflowApiError && err.errorCode === 'RESOURCE_ALREADY_EXISTS') return (await this.getExperimentByName(name))!.experiment_id;
      throw err;
    }
  }

  async searchExperiments(args: { filter?: string; viewType?: ViewType; maxResults?: number; orderBy?: string[] } = {}): Promise<Experiment[]> {
    const all: Experiment[] = [];
    let pageToken: string | undefined;
    do {
      const res = await this.call<{ experiments?: Experiment[]; next_page_token?: string }>('POST', 'experiments/search', {
        filter: args.filter,
        view_type: args.viewType,
        max_results: args.maxResults ?? 1000,
        order_by: args.orderBy,
        page_token: pageToken,
      });
      all.push(...(res.experiments ?? []));
      pageToken = res.next_page_token;
    } while (pageToken && (args.maxResults === undefined || all.length < args.maxResults));
    return all;
  }

  // ---------------------------------------------------------------- runs

  async createRun(experimentId: string, options: { runName?: string; tags?: Record<string, string>; startTime?: number } = {}): Promise<RunHandle> {
    const res = await this.call<{ run: Run }>('POST', 'runs/create', {
      experiment_id: experimentId,
      run_name: options.runName,
      start_time: options.startTime ?? Date.now(),
      tags: toKeyValues(options.tags ?? {}),
    });
    return new RunHandle(this, res.run.info);
  }

  /** getOrCreateExperiment + createRun. */
  async startRun(experimentName: string, options: { runName?: string; tags?: Record<string, string> } = {}): Promise<RunHandle> {
    return this.createRun(await this.getOrCreateExperiment(experimentName), options);
  }

  async getRun(runId: string): Promise<Run> {
    return (await this.call<{ run: Run }>('GET', 'runs/get', { run_id: runId })).run;
  }

  async searchRuns(experimentIds: string[], args: { filter?: string; orderBy?: string[]; maxResults?: number; pageToken?: string; viewType?: ViewType } = {}): Promise<{ runs: Run[]; nextPageToken?: string }> {
    const res = await this.call<{ runs?: Run[]; next_page_token?: string }>('POST', 'runs/search', {
      experiment_ids: experimentIds,
      filter: args.filter,
      order_by: args.orderBy,
      max_results: args.maxResults,
      page_token: args.pageToken,
      run_view_type: args.viewType,
    });
    return { runs: res.runs ?? [], nextPageToken: res.next_page_token };
  }

  async logBatch(runId: string, batch: { metrics?: Metric[]; params?: KeyValue[]; tags?: KeyValue[] }): Promise<void> {
    const metrics = batch.metrics ?? [];
    const params = batch.params ?? [];
    const tags = batch.tags ?? [];
    // Respect MLflow's per-request limits by splitting: 1000 metrics, 100 params, 100 tags.
    for (let i = 0; i < Math.max(metrics.length / 1000, params.length / 100, tags.length / 100, 1); i++) {
      await this.call('POST', 'runs/log-batch', {
        run_id: runId,
        metrics: metrics.slice(i * 1000, (i + 1) * 1000),
        params: params.slice(i * 100, (i + 1) * 100),
        tags: tags.slice(i * 100, (i + 1) * 100),
      });
    }
  }

  async setTag(runId: string, key: string, value: string): Promise<void> {
    await this.call('POST', 'runs/set-tag', { run_id: runId, key, value });
  }

  async endRun(runId: string, status: RunStatus = 'FINISHED'): Promise<RunInfo> {
    return (await this.call<{ run_info: RunInfo }>('POST', 'runs/update', { run_id: runId, status, end_time: Date.now() })).run_info;
  }

  /** Every point of a metric, following page tokens. */
  async getMetricHistory(runId: string, key: string): Promise<Metric[]> {
    const all: Metric[] = [];
    let pageToken: string | undefined;
    do {
      const res = await this.call<{ metrics?: Metric[]; next_page_token?: string }>('GET', 'metrics/get-history', { run_id: runId, metric_key: key, page_token: pageToken });
      all.push(...(res.metrics ?? []));
      pageToken = res.next_page_token;
    } while (pageToken);
    return all;
  }

  // ---------------------------------------------------------------- artifacts

  /** The proxy URL of a path under an `mlflow-artifacts:/...` URI. */
  artifactUrl(artifactUri: string, path = ''): string {
    const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/*(.*)$/.exec(artifactUri);
    if (!m) throw new Error(`Artifact URI '${artifactUri}' is not served by the tracking server (expected mlflow-artifacts:/...).`);
    const rel = joinPath(m[1], path);
    return `${this.baseUrl}/api/2.0/mlflow-artifacts/artifacts${rel ? '/' + rel.split('/').map(encodeURIComponent).join('/') : ''}`;
  }

  private rootRelative(artifactUri: string, path = ''): string {
    const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/*(.*)$/.exec(artifactUri);
    if (!m) throw new Error(`Artifact URI '${artifactUri}' is not served by the tracking server (expected mlflow-artifacts:/...).`);
    return joinPath(m[1], path);
  }

  /** Uploads one local file to `<artifactUri>/<artifactPath>/<file name>`. */
  async uploadArtifact(artifactUri: string, localFile: string, artifactPath?: string): Promise<void> {
    const url = this.artifactUrl(artifactUri, joinPath(artifactPath, basename(localFile)));
    const { size } = await stat(localFile);
    await this.withRetry(`PUT ${url}`, () =>
      got.put(url, {
        body: createReadStream(localFile),
        headers: { ...this.headers(), 'content-type': 'application/octet-stream', 'content-length': String(size) },
        timeout: { request: Math.max(this.timeoutMs, 600_000) },
        retry: { limit: 0 },
      }),
    );
  }

  /** Uploads every file under a local folder, keeping its layout, to `<artifactUri>/<artifactPath>/`. */
  async uploadArtifacts(artifactUri: string, localDir: string, artifactPath?: string): Promise<number> {
    const files = await listLocalFiles(localDir);
    for (const file of files) {
      const rel = relative(localDir, dirname(file)).split(sep).join('/');
      await this.uploadArtifact(artifactUri, file, joinPath(artifactPath, rel));
    }
    return files.length;
  }

  /** One directory level, with paths relative to `artifactUri` (as MLflow's artifacts/list). */
  async listArtifacts(artifactUri: string, path = ''): Promise<FileInfo[]> {
    const res = await this.withRetry('GET mlflow-artifacts list', () =>
      got(`${this.baseUrl}/api/2.0/mlflow-artifacts/artifacts`, { searchParams: { path: this.rootRelative(artifactUri, path) }, headers: this.headers(), retry: { limit: 0 } }).json<{ files?: FileInfo[] }>(),
    );
    return (res.files ?? []).map((f) => ({ ...f, path: joinPath(path, f.path) }));
  }

  /**
   * Downloads a file or a whole folder under `artifactUri` into `destDir` (folder layout kept);
   * returns the local path of what was downloaded.
   */
  async downloadArtifacts(artifactUri: string, destDir: string, path = ''): Promise<string> {
    const entries = await this.listArtifacts(artifactUri, path);
    const target = join(destDir, ...(path ? [basename(path)] : []));
    if (entries.length === 0 && path) {
      // Not a folder with content: a single file (or an empty folder, which the server answers with 400).
      try {
        await this.downloadFile(artifactUri, path, target);
        return target;
      } catch (err) {
        if (err instanceof MlflowApiError && err.status === 400) {
          await mkdir(target, { recursive: true });
          return target;
        }
        throw err;
      }
    }
    await mkdir(target, { recursive: true });
    for (const entry of entries) {
      if (entry.is_dir) await this.downloadArtifacts(artifactUri, target, entry.path);
      else await this.downloadFile(artifactUri, entry.path, join(target, basename(entry.path)));
    }
    return target;
  }

  private async downloadFile(artifactUri: string, path: string, localFile: string): Promise<void> {
    const url = this.artifactUrl(artifactUri, path);
    await mkdir(dirname(localFile), { recursive: true });
    const temp = `${localFile}.part-${process.pid}`;
    await this.withRetry(`GET ${url}`, async () => {
      try {
        await pipeline(got.stream(url, { headers: this.headers(), timeout: { request: Math.max(this.timeoutMs, 600_000) }, retry: { limit: 0 } }), createWriteStream(temp));
      } catch (err) {
        await rm(temp, { force: true });
        // got.stream errors carry the response without a buffered body: fetch the error once for its JSON.
        if (err instanceof HTTPError && err.response.statusCode < 500 && err.response.statusCode !== 429) {
          await got(url, { headers: this.headers(), retry: { limit: 0 } }).catch((e: unknown) => {
            throw e instanceof HTTPError ? this.apiError(e, `GET ${url}`) : e;
          });
        }
        throw err;
      }
    });
    await rename(temp, localFile);
  }

  // ---------------------------------------------------------------- registry

  async getRegisteredModel(name: string): Promise<RegisteredModel | undefined> {
    try {
      return (await this.call<{ registered_model: RegisteredModel }>('GET', 'registered-models/get', { name })).registered_model;
    } catch (err) {
      if (err instanceof MlflowApiError && err.errorCode === 'RESOURCE_DOES_NOT_EXIST') return undefined;
      throw err;
    }
  }

  /** The registered model, created when missing. */
  async createRegisteredModel(name: string, options: { description?: string; tags?: Record<string, string> } = {}): Promise<RegisteredModel> {
    const existing = await this.getRegisteredModel(name);
    if (existing) return existing;
    try {
      return (await this.call<{ registered_model: RegisteredModel }>('POST', 'registered-models/create', { name, description: options.description, tags: toKeyValues(options.tags ?? {}) }))
        .registered_model;
    } catch (err) {
      if (err instanceof MlflowApiError && err.errorCode === 'RESOURCE_ALREADY_EXISTS') return (await this.getRegisteredModel(name))!;
      throw err;
    }
  }

  async createModelVersion(name: string, args: { source: string; runId?: string; tags?: Record<string, string>; description?: string }): Promise<ModelVersion> {
    return (
      await this.call<{ model_version: ModelVersion }>('POST', 'model-versions/create', {
        name,
        source: args.source,
        run_id: args.runId,
        description: args.description,
        tags: toKeyValues(args.tags ?? {}),
      })
    ).model_version;
  }

  /** Creates the registered model if missing and a version whose source is `<run artifact URI>/<artifactPath>`. */
  async registerModel(name: string, run: { runId: string; artifactUri: string }, artifactPath: string, tags: Record<string, string> = {}): Promise<ModelVersion> {
    await this.createRegisteredModel(name);
    return this.createModelVersion(name, { source: `${run.artifactUri.replace(/\/+$/, '')}/${joinPath(artifactPath)}`, runId: run.runId, tags });
  }

  async getModelVersion(name: string, version: string): Promise<ModelVersion> {
    return (await this.call<{ model_version: ModelVersion }>('GET', 'model-versions/get', { name, version })).model_version;
  }

  async setAlias(name: string, alias: string, version: string): Promise<void> {
    await this.call('POST', 'registered-models/alias', { name, alias, version });
  }

  async deleteAlias(name: string, alias: string): Promise<void> {
    await this.call('DELETE', 'registered-models/alias', { name, alias });
  }

  async getModelVersionByAlias(name: string, alias: string): Promise<ModelVersion> {
    return (await this.call<{ model_version: ModelVersion }>('GET', 'registered-models/alias', { name, alias })).model_version;
  }

  async setModelVersionTag(name: string, version: string, key: string, value: string): Promise<void> {
    await this.call('POST', 'model-versions/set-tag', { name, version, key, value });
  }

  async transitionStage(name: string, version: string, stage: 'None' | 'Staging' | 'Production' | 'Archived', archiveExistingVersions = false): Promise<ModelVersion> {
    return (await this.call<{ model_version: ModelVersion }>('POST', 'model-versions/transition-stage', { name, version, stage, archive_existing_versions: archiveExistingVersions })).model_version;
  }

  async searchModelVersions(filter?: string, options: { maxResults?: number; orderBy?: string[] } = {}): Promise<ModelVersion[]> {
    const all: ModelVersion[] = [];
    let pageToken: string | undefined;
    do {
      const res = await this.call<{ model_versions?: ModelVersion[]; next_page_token?: string }>('GET', 'model-versions/search', {
        filter,
        max_results: options.maxResults,
        order_by: options.orderBy,
        page_token: pageToken,
      });
      all.push(...(res.model_versions ?? []));
      pageToken = res.next_page_token;
    } while (pageToken && (options.maxResults === undefined || all.length < options.maxResults));
    return all;
  }

  /**
   * Downloads a model version's artifacts into `destDir` (by version number or alias). The files land in a
   * temporary sibling folder first and replace `destDir` only when complete, so a reader never sees half a model.
   */
  async downloadModelVersion(name: string, ref: { version: string } | { alias: string }, destDir: string): Promise<{ modelVersion: ModelVersion; dir: string }> {
    const modelVersion = 'alias' in ref ? await this.getModelVersionByAlias(name, ref.alias) : await this.getModelVersion(name, ref.version);
    const { artifact_uri: uri } = await this.call<{ artifact_uri: string }>('GET', 'model-versions/get-download-uri', { name, version: modelVersion.version });
    const staging = `${destDir.replace(/[\\/]+$/, '')}.download-${process.pid}-${Date.now()}`;
    await rm(staging, { recursive: true, force: true });
    try {
      const entries = await this.listArtifacts(uri);
      await mkdir(staging, { recursive: true });
      if (entries.length === 0) throw new Error(`Model version ${name}/${modelVersion.version} has no artifacts at ${uri}.`);
      for (const entry of entries) {
        if (entry.is_dir) await this.downloadArtifacts(uri, staging, entry.path);
        else await this.downloadFile(uri, entry.path, join(staging, entry.path));
      }
      await rm(destDir, { recursive: true, force: true });
      await mkdir(dirname(destDir), { recursive: true });
      await rename(staging, destDir);
    } catch (err) {
      await rm(staging, { recursive: true, force: true });
      throw err;
    }
    return { modelVersion, dir: destDir };
  }

  /**
   * Long-polls the server's registry change feed (`/api/2.0/ringcount/events`, not part of MLflow).
   * Pass the returned `lastSeq` back as `after`; without `after` it returns the current position at once.
   */
  async registryEvents(after?: number, timeoutMs = 25_000): Promise<{ events: RegistryEventWire[]; lastSeq: number; epoch: string; reset: boolean }> {
    const res = await this.withRetry('GET ringcount/events', () =>
      got(`${this.baseUrl}/api/2.0/ringcount/events`, {
        searchParams: after === undefined ? {} : { after, timeout_ms: timeoutMs },
        headers: this.headers(),
        timeout: { request: timeoutMs + 10_000 },
        retry: { limit: 0 },
      }).json<{ events: RegistryEventWire[]; last_seq: number; epoch: string; reset?: boolean }>(),
    );
    return { events: res.events, lastSeq: res.last_seq, epoch: res.epoch, reset: res.reset ?? false };
  }
}

export interface RegistryEventWire {
  seq: number;
  time: number;
  type: string;
  name: string;
  version?: string;
  alias?: string;
  stage?: string;
  new_name?: string;
}

async function listLocalFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listLocalFiles(full)));
    else if (entry.isFile()) out.push(full);
  }
  return out.sort();
}

/**
 * One run being logged. Metrics are buffered and sent as log-batch requests: when 1,000 are waiting,
 * every `flushIntervalMs` in the background, and on `flush()` / `end()`. A background failure is
 * raised by the next call, so no error is lost silently.
 */
export class RunHandle {
  readonly runId: string;
  readonly experimentId: string;
  readonly artifactUri: string;
  private buffer: Metric[] = [];
  private flushing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private backgroundError: unknown;

  constructor(
    readonly client: TrackingClient,
    readonly info: RunInfo,
    private readonly flushIntervalMs = 2000,
    private readonly batchSize = 1000,
  ) {
    this.runId = info.run_id;
    this.experimentId = info.experiment_id;
    this.artifactUri = info.artifact_uri;
  }

  private raiseBackgroundError(): void {
    if (this.backgroundError !== undefined) {
      const err = this.backgroundError;
      this.backgroundError = undefined;
      throw err;
    }
  }

  async logParam(key: string, value: string | number | boolean): Promise<void> {
    await this.logParams({ [key]: value });
  }

  async logParams(params: Record<string, string | number | boolean>): Promise<void> {
    this.raiseBackgroundError();
    await this.client.logBatch(this.runId, { params: toKeyValues(params) });
  }

  async setTag(key: string, value: string): Promise<void> {
    await this.setTags({ [key]: value });
  }

  async setTags(tags: Record<string, string>): Promise<void> {
    this.raiseBackgroundError();
    await this.client.logBatch(this.runId, { tags: toKeyValues(tags) });
  }

  /** Buffers one point; resolves at once unless the buffer is full, then after the batch is sent. */
  async logMetric(key: string, value: number, step = 0, timestamp = Date.now()): Promise<void> {
    this.raiseBackgroundError();
    this.buffer.push({ key, value: wireValue(value), step, timestamp });
    if (this.buffer.length >= this.batchSize) {
      await this.flush();
      return;
    }
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush().catch((err: unknown) => {
          this.backgroundError = err;
        });
      }, this.flushIntervalMs);
      this.timer.unref();
    }
  }

  async logMetrics(metrics: Record<string, number>, step = 0): Promise<void> {
    const timestamp = Date.now();
    for (const [key, value] of Object.entries(metrics)) await this.logMetric(key, value, step, timestamp);
  }

  /** Sends every buffered metric; batches go out in logging order. */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = this.buffer;
    this.buffer = [];
    const previous = this.flushing;
    const next = previous.then(() => (batch.length > 0 ? this.client.logBatch(this.runId, { metrics: batch }) : undefined));
    this.flushing = next.catch(() => undefined);
    await next;
    this.raiseBackgroundError();
  }

  async logArtifact(localFile: string, artifactPath?: string): Promise<void> {
    await this.client.uploadArtifact(this.artifactUri, localFile, artifactPath);
  }

  async logArtifacts(localDir: string, artifactPath?: string): Promise<number> {
    return this.client.uploadArtifacts(this.artifactUri, localDir, artifactPath);
  }

  /** Flushes buffered metrics, then marks the run ended with `status`. */
  async end(status: RunStatus = 'FINISHED'): Promise<RunInfo> {
    try {
      await this.flush();
    } catch (err) {
      await this.client.endRun(this.runId, 'FAILED').catch(() => undefined);
      throw err;
    }
    return this.client.endRun(this.runId, status);
  }
}
