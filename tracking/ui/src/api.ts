/**
 * Typed calls to the tracking server's MLflow REST API (the same endpoints MLflow's own UI uses,
 * under /ajax-api/2.0/mlflow). Shapes follow MLflow's service.proto / model_registry.proto; repeated
 * fields may be absent when empty (protobuf JSON), so every list is read with `?? []`.
 */

const API = '/ajax-api/2.0/mlflow';
const ARTIFACT_PROXY = '/api/2.0/mlflow-artifacts/artifacts';

export interface KeyValue { key: string; value: string }
export interface Metric { key: string; value: number | string; timestamp: number | string; step?: number | string }
export interface Experiment {
  experiment_id: string;
  name: string;
  artifact_location?: string;
  lifecycle_stage?: string;
  last_update_time?: number | string;
  creation_time?: number | string;
  tags?: KeyValue[];
}
export interface RunInfo {
  run_id: string;
  run_name?: string;
  experiment_id: string;
  user_id?: string;
  status?: string;
  start_time?: number | string;
  end_time?: number | string;
  artifact_uri?: string;
  lifecycle_stage?: string;
}
export interface Run {
  info: RunInfo;
  data?: { metrics?: Metric[]; params?: KeyValue[]; tags?: KeyValue[] };
}
export interface FileInfo { path: string; is_dir?: boolean; file_size?: number | string }
export interface ModelVersion {
  name: string;
  version: string;
  creation_timestamp?: number | string;
  last_updated_timestamp?: number | string;
  user_id?: string;
  current_stage?: string;
  description?: string;
  source?: string;
  run_id?: string;
  status?: string;
  status_message?: string;
  tags?: KeyValue[];
  run_link?: string;
  aliases?: string[];
}
export interface RegisteredModel {
  name: string;
  creation_timestamp?: number | string;
  last_updated_timestamp?: number | string;
  user_id?: string;
  description?: string;
  latest_versions?: ModelVersion[];
  tags?: KeyValue[];
  aliases?: Array<{ alias: string; version: string }>;
}

/** An error answered by the server, carrying MLflow's error_code and message. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly errorCode: string, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

async function parseResponse<T>(res: Response, what: string): Promise<T> {
  const text = await res.text();
  let body: unknown = undefined;
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    const err = (body ?? {}) as { error_code?: string; message?: string };
    const message = err.message ?? `${what} failed: HTTP ${res.status} ${res.statusText}`;
    throw new ApiError(res.status, err.error_code ?? `HTTP_${res.status}`, message);
  }
  if (body === undefined) throw new ApiError(res.status, 'BAD_RESPONSE', `${what}: the server did not answer JSON`);
  return body as T;
}

async function request<T>(method: 'GET' | 'POST', endpoint: string, params: Record<string, unknown>): Promise<T> {
  let url = `${API}/${endpoint}`;
  const init: RequestInit = { method, headers: { Accept: 'application/json' } };
  if (method === 'GET') {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v === undefined || v === null || v === '') continue;
      if (Array.isArray(v)) v.forEach((item) => query.append(k, String(item)));
      else query.append(k, String(v as string | number));
    }
    const qs = query.toString();
    if (qs) url += `?${qs}`;
  } else {
    init.headers = { Accept: 'application/json', 'Content-Type': 'application/json' };
    init.body = JSON.stringify(params);
  }
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (e) {
    throw new ApiError(0, 'NETWORK', `Could not reach the tracking server (${endpoint}): ${(e as Error).message}`);
  }
  return parseResponse<T>(res, endpoint);
}

export async function searchExperiments(pageToken?: string, maxResults = 200): Promise<{ experiments: Experiment[]; next_page_token?: string }> {
  const r = await request<{ experiments?: Experiment[]; next_page_token?: string }>('POST', 'experiments/search', {
    max_results: maxResults, view_type: 'ACTIVE_ONLY', order_by: ['last_update_time DESC'], ...(pageToken ? { page_token: pageToken } : {}),
  });
  return { experiments: r.experiments ?? [], next_page_token: r.next_page_token };
}

export async function getExperiment(experimentId: string): Promise<Experiment> {
  const r = await request<{ experiment: Experiment }>('GET', 'experiments/get', { experiment_id: experimentId });
  return r.experiment;
}

export interface RunSearch {
  experimentIds: string[];
  filter?: string;
  orderBy?: string[];
  maxResults?: number;
  pageToken?: string;
}

export async function searchRuns(q: RunSearch): Promise<{ runs: Run[]; next_page_token?: string }> {
  const body: Record<string, unknown> = {
    experiment_ids: q.experimentIds,
    run_view_type: 'ACTIVE_ONLY',
    max_results: q.maxResults ?? 50,
  };
  if (q.filter) body.filter = q.filter;
  if (q.orderBy && q.orderBy.length > 0) body.order_by = q.orderBy;
  if (q.pageToken) body.page_token = q.pageToken;
  const r = await request<{ runs?: Run[]; next_page_token?: string }>('POST', 'runs/search', body);
  return { runs: r.runs ?? [], next_page_token: r.next_page_token || undefined };
}

export async function getRun(runId: string): Promise<Run> {
  const r = await request<{ run: Run }>('GET', 'runs/get', { run_id: runId });
  return r.run;
}

/** MLflow caps one get-history page at 25,000 points; larger histories are read page by page. */
export const HISTORY_PAGE = 25000;

export async function getMetricHistory(runId: string, key: string, onProgress?: (loaded: number) => void): Promise<Metric[]> {
  const all: Metric[] = [];
  let pageToken: string | undefined;
  for (;;) {
    const r = await request<{ metrics?: Metric[]; next_page_token?: string }>('GET', 'metrics/get-history', {
      run_id: runId, metric_key: key, max_results: HISTORY_PAGE, page_token: pageToken,
    });
    const page = r.metrics ?? [];
    for (const m of page) all.push(m);
    onProgress?.(all.length);
    if (!r.next_page_token || page.length === 0) return all;
    pageToken = r.next_page_token;
  }
}

export async function listArtifacts(runId: string, path?: string): Promise<{ root_uri?: string; files: FileInfo[] }> {
  const files: FileInfo[] = [];
  let pageToken: string | undefined;
  let rootUri: string | undefined;
  for (;;) {
    const r = await request<{ root_uri?: string; files?: FileInfo[]; next_page_token?: string }>('GET', 'artifacts/list', {
      run_id: runId, path, page_token: pageToken,
    });
    rootUri = r.root_uri ?? rootUri;
    files.push(...(r.files ?? []));
    if (!r.next_page_token) return { root_uri: rootUri, files };
    pageToken = r.next_page_token;
  }
}

/**
 * URL of an artifact file through the artifact proxy, derived from the run's artifact_uri
 * (`mlflow-artifacts:/<exp>/<run>/artifacts`). Undefined when artifacts live elsewhere.
 */
export function artifactUrl(artifactUri: string | undefined, path: string): string | undefined {
  if (!artifactUri) return undefined;
  const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/(.*)$/.exec(artifactUri);
  if (!m) return undefined;
  const base = (m[1] ?? '').split('/').filter(Boolean);
  const rel = path.split('/').filter(Boolean);
  return `${ARTIFACT_PROXY}/${[...base, ...rel].map(encodeURIComponent).join('/')}`;
}

export async function searchRegisteredModels(pageToken?: string): Promise<{ registered_models: RegisteredModel[]; next_page_token?: string }> {
  const r = await request<{ registered_models?: RegisteredModel[]; next_page_token?: string }>('GET', 'registered-models/search', {
    max_results: 100, order_by: 'name ASC', page_token: pageToken,
  });
  return { registered_models: r.registered_models ?? [], next_page_token: r.next_page_token || undefined };
}

export async function getRegisteredModel(name: string): Promise<RegisteredModel> {
  const r = await request<{ registered_model: RegisteredModel }>('GET', 'registered-models/get', { name });
  return r.registered_model;
}

/** Quotes a string literal for MLflow's filter grammar. */
export function filterLiteral(value: string): string {
  return value.includes("'") ? `"${value.replace(/"/g, '\\"')}"` : `'${value}'`;
}

export async function searchModelVersions(by: { name: string } | { runId: string }): Promise<ModelVersion[]> {
  const filter = 'name' in by ? `name=${filterLiteral(by.name)}` : `run_id=${filterLiteral(by.runId)}`;
  const versions: ModelVersion[] = [];
  let pageToken: string | undefined;
  for (;;) {
    const r = await request<{ model_versions?: ModelVersion[]; next_page_token?: string }>('GET', 'model-versions/search', {
      filter, max_results: 200, page_token: pageToken,
    });
    versions.push(...(r.model_versions ?? []));
    if (!r.next_page_token) break;
    pageToken = r.next_page_token;
  }
  return versions.sort((a, b) => Number(b.version) - Number(a.version));
}

export function tagValue(tags: KeyValue[] | undefined, key: string): string | undefined {
  return tags?.find((t) => t.key === key)?.value;
}

export function runName(run: Run): string {
  return run.info.run_name || tagValue(run.data?.tags, 'mlflow.runName') || run.info.run_id;
}
