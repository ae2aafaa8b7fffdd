import { type ModelMetadata, verifyModelDir } from '@ringcount/model-core';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { MlflowRegistry, RegistryVersion } from './registry.js';

/** What the API last learned from the registry, so it can start and serve while the registry is down. */
export interface RegistrySnapshot {
  versions: RegistryVersion[];
  /** Version number the `production` alias pointed at, when it was last seen. */
  production?: string;
  savedAt: string;
}

/** Where the registry said a version came from when it was downloaded. */
function originOf(version: RegistryVersion): { runId: string | null; source: string | null } {
  return { runId: version.runId ?? null, source: version.source ?? null };
}

/**
 * Local copies of registered versions (`<cacheDir>/<model>/<version>/`) plus a snapshot of the
 * registry. A version enters the cache only after its checksums verify, by an atomic rename, so the
 * cache never holds a half-downloaded model.
 */
export class ModelCache {
  readonly root: string;

  constructor(cacheDir: string, modelName: string) {
    this.root = path.join(cacheDir, modelName.replace(/[^A-Za-z0-9._-]/g, '_'));
  }

  dirOf(version: string): string {
    if (!/^\d+$/.test(version)) throw new Error(`not a registry version number: '${version}'`);
    return path.join(this.root, version);
  }

  async has(version: string): Promise<boolean> {
    return (await stat(this.dirOf(version)).catch(() => undefined))?.isDirectory() ?? false;
  }

  /** Returns the verified local directory of `version`, downloading it first when not cached. */
  async ensure(version: RegistryVersion, registry: MlflowRegistry): Promise<{ dir: string; metadata: ModelMetadata }> {
    const dir = this.dirOf(version.version);
    if (await this.has(version.version)) {
      try {
        const metadata = await verifyModelDir(dir);
        // Version numbers restart when the registry is recreated (a new database), so a cached
        // "version 4" may be another model: reuse it only if it was downloaded from the same run.
        if (await this.sameOrigin(version)) return { dir, metadata };
      } catch {
        // A damaged cache entry is replaced by a fresh download below.
      }
      await rm(dir, { recursive: true, force: true });
    }
    const tmp = path.join(this.root, `.download-${version.version}-${randomBytes(4).toString('hex')}`);
    await mkdir(tmp, { recursive: true });
    try {
      await registry.downloadVersion(version, tmp);
      const metadata = await verifyModelDir(tmp);
      await rm(this.originFile(version.version), { force: true });
      await rm(dir, { recursive: true, force: true });
      await rename(tmp, dir);
      // Written last: a copy without its origin is downloaded again rather than trusted.
      await writeFile(this.originFile(version.version), JSON.stringify(originOf(version)) + '\n');
      return { dir, metadata };
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  private originFile(version: string): string {
    return `${this.dirOf(version)}.origin.json`;
  }

  private async sameOrigin(version: RegistryVersion): Promise<boolean> {
    try {
      const saved = JSON.parse(await readFile(this.originFile(version.version), 'utf8')) as ReturnType<typeof originOf>;
      const wanted = originOf(version);
      return saved.runId === wanted.runId && saved.source === wanted.source;
    } catch {
      return false;
    }
  }

  /** A cached version's directory, verified, without contacting the registry. */
  async verifiedLocal(version: string): Promise<{ dir: string; metadata: ModelMetadata }> {
    const dir = this.dirOf(version);
    return { dir, metadata: await verifyModelDir(dir) };
  }

  async readSnapshot(): Promise<RegistrySnapshot | undefined> {
    try {
      return JSON.parse(await readFile(path.join(this.root, 'registry.json'), 'utf8')) as RegistrySnapshot;
    } catch {
      return undefined;
    }
  }

  async writeSnapshot(snapshot: RegistrySnapshot): Promise<void> {
    await mkdir(this.root, { recursive: true });
    const file = path.join(this.root, 'registry.json');
    const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, JSON.stringify(snapshot, null, 2) + '\n');
    await rename(tmp, file);
  }
}
