import { expect } from 'chai';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ModelCache } from '../src/model-cache.js';
import type { MlflowRegistry, RegistryVersion } from '../src/registry.js';
import { saveFixtureModel } from '../src/testing/fixtures.js';

/** A registry stand-in that serves one model directory and counts downloads. */
function registryServing(sourceDir: string): { registry: MlflowRegistry; downloads: () => number } {
  let downloads = 0;
  const registry = {
    downloadVersion: async (_version: RegistryVersion, destDir: string) => {
      downloads++;
      await cp(sourceDir, destDir, { recursive: true });
    },
  } as unknown as MlflowRegistry;
  return { registry, downloads: () => downloads };
}

describe('demo-api: local model cache', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'model-cache-'));
    await saveFixtureModel(path.join(root, 'run-a'), { size: 16, versionLabel: 'v1', constantRings: 2, runId: 'run-a' });
    await saveFixtureModel(path.join(root, 'run-b'), { size: 16, versionLabel: 'v1', constantRings: 5, runId: 'run-b' });
  });
  after(async () => rm(root, { recursive: true, force: true }));

  const version = (runId: string): RegistryVersion => ({ version: '4', label: 'v1', runId, aliases: [] });

  it('reuses a cached version only when it comes from the run the registry names', async () => {
    const cache = new ModelCache(path.join(root, 'cache'), 'ring-counter');
    const a = registryServing(path.join(root, 'run-a'));
    expect((await cache.ensure(version('run-a'), a.registry)).metadata.runId).to.equal('run-a');
    expect((await cache.ensure(version('run-a'), a.registry)).metadata.runId).to.equal('run-a');
    expect(a.downloads()).to.equal(1);

    // The registry was recreated: its version 4 is now another run's model. The stale copy must go.
    const b = registryServing(path.join(root, 'run-b'));
    const fresh = await cache.ensure(version('run-b'), b.registry);
    expect(fresh.metadata.runId).to.equal('run-b');
    expect(b.downloads()).to.equal(1);
    expect((await cache.verifiedLocal('4')).metadata.runId).to.equal('run-b');

    // With the registry unreachable, the copy from the run it last named is still served.
    const down = { downloadVersion: () => Promise.reject(new Error('registry down')) } as unknown as MlflowRegistry;
    expect((await cache.ensure(version('run-b'), down)).metadata.runId).to.equal('run-b');
  });
});
