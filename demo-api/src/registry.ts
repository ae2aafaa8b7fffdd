import { MlflowApiError, type ModelVersion, TrackingClient, TrackingServerUnreachableError } from '@ringcount/tracking';
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

const NETWORK_ERRORS = new Set(['ETIMEDOUT', 'ECONNRESET', 'EPIPE', 'ECONNABORTED', 'EAI_AGAIN', 'ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * The model registry as serving sees it, through the tracking workspace's typed client (MLflow's REST
 * API: model versions, aliases, the mlflow-artifacts proxy), so it works against our tracking server
 * and against MLflow itself. No retries: the API polls, and a down registry must fail fast so the API
 * falls back to its cache.
 */
export class MlflowRegistry {
  readonly baseUrl: string;
  private readonly client: TrackingClient;

  constructor(
    trackingUri: string,
    readonly modelName: string,
    timeoutMs = 3000,
  ) {
    this.client = new TrackingClient({ trackingUri, retries: 0, timeoutMs });
    this.baseUrl = this.client.baseUrl;
  }

  listVersions(): Promise<RegistryVersion[]> {
    return this.wrap(async () => {
      const found = await this.client.searchModelVersions(`name='${this.modelName.replace(/'/g, "\\'")}'`);
      return found.map(toRegistryVersion).sort((a, b) => Number(a.version) - Number(b.version));
    });
  }

  /** The version an alias points at, or undefined when the alias (or the model) does not exist. */
  getAlias(alias: string): Promise<RegistryVersion | undefined> {
    return this.wrap(async () => {
      try {
        return toRegistryVersion(await this.client.getModelVersionByAlias(this.modelName, alias));
      } catch (err) {
        if (err instanceof MlflowApiError && (err.status === 404 || err.errorCode === 'RESOURCE_DOES_NOT_EXIST')) return undefined;
        throw err;
      }
    });
  }

  setAlias(alias: string, version: string): Promise<void> {
    return this.wrap(() => this.client.setAlias(this.modelName, alias, version));
  }

  /** Downloads a version's artifact directory into `destDir` (replaced as a whole when complete). */
  async downloadVersion(version: RegistryVersion, destDir: string): Promise<void> {
    await this.wrap(() => this.client.downloadModelVersion(this.modelName, { version: version.version }, destDir));
  }

  /**
   * Long-polls the tracking server's registry change feed (our server's extension, not MLflow's):
   * resolves when something changed or after `timeoutMs`. Plain MLflow answers 404 (RegistryError).
   */
  changes(after: number | undefined, timeoutMs: number): Promise<{ lastSeq: number; epoch: string; reset: boolean; touchesModel: boolean }> {
    return this.wrap(async () => {
      const res = await this.client.registryEvents(after, timeoutMs);
      return { lastSeq: res.lastSeq, epoch: res.epoch, reset: res.reset, touchesModel: res.events.some((e) => e.name === this.modelName || e.new_name === this.modelName) };
    });
  }

  /** Maps the client's errors onto the two cases serving distinguishes: unreachable, or an answer. */
  private async wrap<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof TrackingServerUnreachableError) throw new RegistryUnavailableError(`tracking server ${this.baseUrl} is unreachable (${err.code})`);
      if (err instanceof MlflowApiError) throw new RegistryError(err.status, err.errorCode, err.serverMessage);
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && NETWORK_ERRORS.has(code)) throw new RegistryUnavailableError(`tracking server ${this.baseUrl} is unreachable (${code})`);
      throw err;
    }
  }
}

function toRegistryVersion(mv: ModelVersion): RegistryVersion {
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
