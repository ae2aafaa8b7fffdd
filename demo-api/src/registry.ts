import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RegistryUnavailableError } from './errors.js';

/** One registered model version as serving sees it. */
export interface RegistryVersion {
  /** MLflow's version number, as a string (`"1"`, `"2"`, …). */
  version: string;
  /** Human label from the `version_label` tag (`v1`), or `version <n>` when untagged. */
  label: string;
  runId?: string;
  source?: string;
  aliases: string[];
  status?: string;
}

export const VERSION_LABEL_TAG = 'version_label';

export function labelOf(version: string, tags: { key: string; value: string }[] | undefined): string {
  const tag = tags?.find((t) => t.key === VERSION_LABEL_TAG)?.value;
  return tag && tag.trim() !== '' ? tag : `version ${version}`;
}

interface MlflowModelVersion {
  name: string;
  version: string;
  source?: string;
  run_id?: string;
  status?: string;
  tags?: { key: string; value: string }[];
  aliases?: string[];
}

/** An error answer from the registry (it was reachable), e.g. RESOURCE_DOES_NOT_EXIST. */
export class RegistryError extends Error {
  override name = 'RegistryError';
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The model registry, spoken to through MLflow's documented REST API (registered models, model
 * versions, aliases, and the mlflow-artifacts proxy), so the API works against our tracking server
 * and against MLflow itself. Everything the API needs from the registry goes through this class.
 */
export class MlflowRegistry {
  readonly baseUrl: string;

  constructor(
    trackingUri: string,
    readonly modelName: string,
    private readonly timeoutMs = 3000,
  ) {
    this.baseUrl = trackingUri.replace(/\/+$/, '');
  }

  async listVersions(): Promise<RegistryVersion[]> {
    const out: RegistryVersion[] = [];
    let pageToken: string | undefined;
    do {
      const query: Record<string, string> = { filter: `name='${this.modelName.replace(/'/g, "\\'")}'`, max_results: '1000' };
      if (pageToken) query.page_token = pageToken;
      const res = await this.call<{ model_versions?: MlflowModelVersion[]; next_page_token?: string }>('GET', 'model-versions/search', query);
      for (const mv of res.model_versions ?? []) out.push(toRegistryVersion(mv));
      pageToken = res.next_page_token || undefined;
    } while (pageToken);
    return out.sort((a, b) => Number(a.version) - Number(b.version));
  }

  /** The version an alias points at, or undefined when the alias (or the model) does not exist. */
  async getAlias(alias: string): Promise<RegistryVersion | undefined> {
    try {
      const res = await this.call<{ model_version: MlflowModelVersion }>('GET', 'registered-models/alias', { name: this.modelName, alias });
      return toRegistryVersion(res.model_version);
    } catch (err) {
      if (err instanceof RegistryError && (err.status === 404 || err.errorCode === 'RESOURCE_DOES_NOT_EXIST')) return undefined;
      throw err;
    }
  }

  async setAlias(alias: string, version: string): Promise<void> {
    await this.call('POST', 'registered-models/alias', undefined, { name: this.modelName, alias, version });
  }

  /** Downloads every file of a version's artifact directory into `destDir` (created). */
  async downloadVersion(version: RegistryVersion, destDir: string): Promise<string[]> {
    const artifactPath = await this.artifactPathOf(version);
    await mkdir(destDir, { recursive: true });
    const listing = await this.call<{ files?: { path: string; is_dir?: boolean }[] }>('GET', '', { path: artifactPath }, undefined, 'mlflow-artifacts/artifacts');
    const names: string[] = [];
    for (const f of listing.files ?? []) {
      if (f.is_dir) continue;
      const name = path.posix.basename(f.path);
      if (name === '' || name.startsWith('.') || name.includes('\\')) continue;
      await this.downloadFile(`${artifactPath}/${name}`, path.join(destDir, name));
      names.push(name);
    }
    if (names.length === 0) throw new RegistryError(404, 'RESOURCE_DOES_NOT_EXIST', `version ${version.version} has no artifact files under '${artifactPath}'`);
    return names;
  }

  /** Path of the version's files relative to the artifact proxy root. */
  private async artifactPathOf(version: RegistryVersion): Promise<string> {
    let uri: string | undefined;
    try {
      const res = await this.call<{ artifact_uri: string }>('GET', 'model-versions/get-download-uri', { name: this.modelName, version: version.version });
      uri = res.artifact_uri;
    } catch (err) {
      if (!(err instanceof RegistryError)) throw err;
      uri = version.source;
    }
    if (uri?.startsWith('runs:/')) {
      const [, runId, ...rest] = uri.slice('runs:/'.length).split('/');
      const run = await this.call<{ run: { info: { artifact_uri: string } } }>('GET', 'runs/get', { run_id: runId ?? '' });
      uri = [run.run.info.artifact_uri.replace(/\/+$/, ''), ...rest].join('/');
    }
    const m = uri ? /^mlflow-artifacts:(?:\/\/[^/]*)?\/?(.*)$/.exec(uri) : null;
    if (!m || m[1] === undefined) {
      throw new RegistryError(400, 'UNSUPPORTED_ARTIFACT_URI', `version ${version.version} stores its files at '${uri ?? '?'}', which is not served through mlflow-artifacts`);
    }
    return m[1].replace(/\/+$/, '');
  }

  private async downloadFile(artifactPath: string, dest: string): Promise<void> {
    const url = `${this.baseUrl}/api/2.0/mlflow-artifacts/artifacts/${artifactPath.split('/').map(encodeURIComponent).join('/')}`;
    const res = await this.fetch(url, { method: 'GET' }, 60_000);
    if (!res.ok || !res.body) throw new RegistryError(res.status, 'DOWNLOAD_FAILED', `downloading ${artifactPath} failed: HTTP ${res.status}`);
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), createWriteStream(dest));
  }

  private async call<T>(method: 'GET' | 'POST', endpoint: string, query?: Record<string, string>, body?: unknown, api = 'mlflow'): Promise<T> {
    const qs = query ? '?' + new URLSearchParams(query).toString() : '';
    const url = `${this.baseUrl}/api/2.0/${api}${endpoint ? '/' + endpoint : ''}${qs}`;
    const res = await this.fetch(url, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? {} : JSON.parse(text);
    } catch {
      throw new RegistryError(res.status, 'BAD_RESPONSE', `${method} ${url} answered HTTP ${res.status} with non-JSON: ${text.slice(0, 120)}`);
    }
    if (!res.ok) {
      const j = json as { error_code?: string; message?: string };
      throw new RegistryError(res.status, j.error_code ?? `HTTP_${res.status}`, j.message ?? `${method} ${endpoint} failed with HTTP ${res.status}`);
    }
    return json as T;
  }

  private async fetch(url: string, init: RequestInit, timeoutMs = this.timeoutMs): Promise<Response> {
    try {
      return await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new RegistryUnavailableError(`tracking server ${this.baseUrl} is unreachable (${cause})`);
    }
  }
}

function toRegistryVersion(mv: MlflowModelVersion): RegistryVersion {
  return {
    version: String(mv.version),
    label: labelOf(String(mv.version), mv.tags),
    runId: mv.run_id || undefined,
    source: mv.source,
    aliases: mv.aliases ?? [],
    status: mv.status,
  };
}

/**
 * Resolves what a user typed (`v2`, `2`, `version 2`) to a registered version: a `version_label`
 * tag first (the newest version carrying it), then a plain version number.
 */
export function resolveVersionRef(ref: string, versions: RegistryVersion[]): RegistryVersion | undefined {
  const wanted = ref.trim();
  const byLabel = versions.filter((v) => v.label === wanted);
  if (byLabel.length > 0) return byLabel.reduce((a, b) => (Number(b.version) > Number(a.version) ? b : a));
  const num = /^(?:version\s*)?(\d+)$/i.exec(wanted)?.[1];
  return num === undefined ? undefined : versions.find((v) => Number(v.version) === Number(num));
}

export function describeKnown(versions: RegistryVersion[]): string {
  if (versions.length === 0) return 'no versions are registered yet';
  return 'known versions: ' + versions.map((v) => (v.label === `version ${v.version}` ? v.version : `${v.label} (${v.version})`)).join(', ');
}
