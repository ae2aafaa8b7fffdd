import type { ModelMetadata } from '@ringcount/model-core';
import { ApiError, errorMessage, RegistryUnavailableError, VersionRefusedError } from './errors.js';
import type { InferenceEngine } from './inference/engine.js';
import type { ModelEngineInfo } from './inference/model-runner.js';
import type { ModelCache, RegistrySnapshot } from './model-cache.js';
import { describeKnown, type MlflowRegistry, RegistryError, type RegistryVersion, resolveVersionRef } from './registry.js';

/** A model version loaded in the inference engine. */
export interface Deployment {
  version: RegistryVersion;
  metadata: ModelMetadata;
  /** Engine key: unique per load, so a version dropped and loaded again never shares a key. */
  key: string;
  /** Which engine runs it (ONNX Runtime, or TF.js and why). */
  engine: ModelEngineInfo;
  loadedAt: Date;
  inFlight: number;
  retired: boolean;
}

export interface ManagerEvents {
  onSwap?: (from: Deployment | undefined, to: Deployment) => void;
  onRefused?: (version: RegistryVersion, reason: string) => void;
  log?: (line: string) => void;
}

export interface AliasState {
  /** Version number the alias points at in the registry, as last seen. */
  version?: string;
  /** Why that version is not the one serving, when it was refused. */
  refused?: string;
  checkedAt?: Date;
}

/**
 * Which model version serves: follows the registry's `production` alias, loads and verifies a new
 * version completely (download, checksums, load, warm-up) before swapping it in with one assignment,
 * and unloads the old one only after its in-flight requests finish. Also serves pinned versions.
 */
export class ModelManager {
  live: Deployment | undefined;
  versions: RegistryVersion[] = [];
  registryReachable = false;
  readonly alias: AliasState = {};
  private readonly standby = new Map<string, Deployment>();
  private readonly preparing = new Map<string, Promise<Deployment>>();
  private readonly refused = new Map<string, { at: number; reason: string }>();
  private swapChain: Promise<unknown> = Promise.resolve();
  private syncing: Promise<void> | undefined;
  private syncAgain = false;
  private loads = 0;
  private lastListing = 0;

  constructor(
    private readonly registry: MlflowRegistry,
    private readonly cache: ModelCache,
    private readonly engine: InferenceEngine,
    private readonly options: { aliasName: string; maxStandby: number; listingRefreshMs: number; retryRefusedMs: number },
    private readonly events: ManagerEvents = {},
  ) {}

  /** Starting point: the registry when reachable, otherwise the cache's last snapshot. */
  async start(): Promise<void> {
    const snapshot = await this.cache.readSnapshot();
    if (snapshot) this.versions = snapshot.versions;
    await this.sync();
    if (this.live || this.registryReachable) return;
    if (!snapshot?.production) {
      this.log('registry unreachable and no production version cached yet: nothing to serve until the registry answers');
      return;
    }
    const cached = snapshot.versions.find((v) => v.version === snapshot.production);
    if (!cached) return;
    try {
      await this.activate(cached);
      this.log(`registry unreachable: serving ${cached.label} (version ${cached.version}) from the local cache`);
    } catch (err) {
      this.log(`registry unreachable and cached version ${cached.version} could not be loaded: ${errorMessage(err)}`);
    }
  }

  /**
   * Checks the registry now. Calls made while a check runs (the poller and a change notification can
   * coincide) are folded into one more check after it.
   */
  sync(): Promise<void> {
    if (this.syncing) {
      this.syncAgain = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      do {
        this.syncAgain = false;
        await this.syncWithRegistry();
      } while (this.syncAgain);
    })().finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  /** One check: refresh the listing now and then, read the alias, switch when it moved. */
  private async syncWithRegistry(): Promise<void> {
    let target: RegistryVersion | undefined;
    try {
      if (Date.now() - this.lastListing >= this.options.listingRefreshMs) await this.refreshVersions();
      target = await this.registry.getAlias(this.options.aliasName);
      this.registryReachable = true;
    } catch (err) {
      if (this.registryReachable) this.log(`registry check failed: ${errorMessage(err)}`);
      this.registryReachable = false;
      return;
    }
    this.alias.checkedAt = new Date();
    this.alias.version = target?.version;
    if (!target) return;
    if (!this.versions.some((v) => v.version === target.version)) await this.refreshVersions().catch(() => undefined);
    if (this.live?.version.version === target.version) {
      this.alias.refused = undefined;
      return;
    }
    const refused = this.refused.get(target.version);
    if (refused && Date.now() - refused.at < this.options.retryRefusedMs) {
      this.alias.refused = refused.reason;
      return;
    }
    try {
      await this.activate(target);
      this.alias.refused = undefined;
    } catch (err) {
      this.alias.refused = errorMessage(err);
    }
  }

  async refreshVersions(): Promise<RegistryVersion[]> {
    const versions = await this.registry.listVersions();
    this.versions = versions;
    this.lastListing = Date.now();
    await this.saveSnapshot();
    return versions;
  }

  /** Resolves `v2` / `2` against the registry (or the cached listing when it is down); 404 when unknown. */
  async resolve(ref: string): Promise<RegistryVersion> {
    let found = resolveVersionRef(ref, this.versions);
    if (!found) {
      try {
        found = resolveVersionRef(ref, await this.refreshVersions());
      } catch (err) {
        if (!(err instanceof RegistryUnavailableError)) throw err;
      }
    }
    if (!found) throw new ApiError(404, `unknown model version '${ref}'; ${describeKnown(this.versions)} (GET /models/ lists them)`);
    return found;
  }

  /** Downloads (unless cached), verifies, loads and warms a version without making it live. */
  prepare(version: RegistryVersion): Promise<Deployment> {
    const ready = this.live?.version.version === version.version ? this.live : this.standby.get(version.version);
    if (ready) return Promise.resolve(ready);
    let pending = this.preparing.get(version.version);
    if (!pending) {
      pending = this.load(version).finally(() => this.preparing.delete(version.version));
      this.preparing.set(version.version, pending);
    }
    return pending;
  }

  /** Makes `version` live: prepared first, swapped in by one assignment, the old one drained then dropped. */
  activate(version: RegistryVersion): Promise<Deployment> {
    const run = this.swapChain.then(async () => {
      if (this.live?.version.version === version.version) return this.live;
      let next = await this.prepare(version);
      // A burst of pinned loads may have evicted it from standby in the meantime: load it again.
      if (next.retired) next = await this.prepare(version);
      this.standby.delete(version.version);
      const previous = this.live;
      this.live = next;
      if (previous) this.retire(previous);
      this.refused.delete(version.version);
      await this.saveSnapshot();
      this.log(`now serving ${next.version.label} (version ${next.version.version})${previous ? `, was ${previous.version.label}` : ''}`);
      this.events.onSwap?.(previous, next);
      return next;
    });
    this.swapChain = run.catch(() => undefined);
    return run;
  }

  /** The live deployment for one request; call `release` when done. 503 when nothing is deployed. */
  acquireLive(): Deployment {
    const d = this.live;
    if (!d) {
      throw new ApiError(503, `no model version is deployed yet; promote one with ./update-models.sh <version> (registry alias '${this.options.aliasName}')`);
    }
    d.inFlight++;
    return d;
  }

  async acquirePinned(ref: string): Promise<Deployment> {
    const version = await this.resolve(ref);
    let d: Deployment;
    try {
      d = await this.prepare(version);
    } catch (err) {
      if (err instanceof VersionRefusedError) throw new ApiError(409, err.message);
      throw err;
    }
    if (d !== this.live) {
      // Most recently used standby goes last, so eviction takes the oldest.
      this.standby.delete(version.version);
      this.standby.set(version.version, d);
    }
    d.inFlight++;
    return d;
  }

  release(d: Deployment): void {
    d.inFlight--;
    if (d.retired && d.inFlight === 0) this.unload(d);
  }

  snapshotForClients(): { live?: Deployment; standby: Deployment[] } {
    return { live: this.live, standby: [...this.standby.values()] };
  }

  private async load(version: RegistryVersion): Promise<Deployment> {
    let dir: string;
    let metadata: ModelMetadata;
    try {
      ({ dir, metadata } = await this.cache.ensure(version, this.registry));
    } catch (err) {
      if (err instanceof RegistryUnavailableError) throw err;
      throw this.refuse(version, `could not be fetched and verified: ${errorMessage(err)}`, err instanceof RegistryError);
    }
    const key = `${version.version}#${++this.loads}`;
    let engine: ModelEngineInfo;
    try {
      engine = await this.engine.load(key, dir, metadata.inputShape);
    } catch (err) {
      throw this.refuse(version, `failed to load: ${errorMessage(err)}`);
    }
    this.log(`${version.label} (version ${version.version}) loaded on ${engine.detail}${engine.fallbackReason ? ` (not ONNX Runtime: ${engine.fallbackReason})` : ''}`);
    const d: Deployment = { version, metadata, key, engine, loadedAt: new Date(), inFlight: 0, retired: false };
    this.standby.set(version.version, d);
    this.evictStandby();
    return d;
  }

  private refuse(version: RegistryVersion, reason: string, transient = false): VersionRefusedError {
    const message = `${version.label} (version ${version.version}) ${reason}`;
    if (!transient) this.refused.set(version.version, { at: Date.now(), reason: message });
    this.log(`refused ${message}`);
    this.events.onRefused?.(version, message);
    return new VersionRefusedError(message);
  }

  private evictStandby(): void {
    for (const [v, d] of this.standby) {
      if (this.standby.size <= this.options.maxStandby) break;
      this.standby.delete(v);
      this.retire(d);
    }
  }

  private retire(d: Deployment): void {
    d.retired = true;
    if (d.inFlight === 0) this.unload(d);
  }

  private unload(d: Deployment): void {
    this.engine.unload(d.key).catch((err: unknown) => this.log(`unloading ${d.key} failed: ${errorMessage(err)}`));
  }

  private async saveSnapshot(): Promise<void> {
    const snapshot: RegistrySnapshot = { versions: this.versions, production: this.live?.version.version, savedAt: new Date().toISOString() };
    await this.cache.writeSnapshot(snapshot).catch((err: unknown) => this.log(`could not save the registry snapshot: ${errorMessage(err)}`));
  }

  private log(line: string): void {
    this.events.log?.(line);
  }
}
