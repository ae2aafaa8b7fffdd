import { expect } from 'chai';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RunningApi } from '../src/server.js';
import { registerModelDir, saveFixtureModel, setAlias } from '../src/testing/fixtures.js';
import { closedPort, compoundPng, createWorld, getJson, RINGS_OF, updateModels, uploadImage, waitForLive, type World } from './helpers.js';

describe('demo-api: promotion with update-models.sh', function () {
  let world: World;
  let api: RunningApi;
  let env: Record<string, string>;

  before(async function () {
    world = await createWorld({ alias: 'v1' });
    api = await world.startApi();
    env = { MLFLOW_TRACKING_URI: world.trackingUrl, API_URL: api.url };
  });
  after(async () => world.cleanup());

  it('promotes v1 ↔ v2 ten times while clients upload continuously: zero failures, every response names its version', async function () {
    // Ten script runs on a busy 2-core CI machine: allow time, assert only outcomes.
    this.timeout(300_000);
    const image = await compoundPng();
    const seen: { status: number; version: unknown; rings: unknown; error?: unknown }[] = [];
    let uploading = true;
    const client = async (): Promise<void> => {
      while (uploading) {
        const res = await uploadImage(`${api.url}/predict/`, image).catch((err: unknown) => ({ status: 0, body: { error: String(err) } as Record<string, unknown> }));
        seen.push({ status: res.status, version: res.body.version, rings: res.body.n_rings_pred, error: res.body.error });
      }
    };
    const clients = Array.from({ length: 4 }, client);
    const servedDuring: string[] = [];
    for (let i = 0; i < 10; i++) {
      const target = i % 2 === 0 ? 'v2' : 'v1';
      const before = seen.length;
      const out = await updateModels([target], env);
      expect(out.code, out.stderr + out.stdout).to.equal(0);
      expect(out.stdout).to.contain(`API now serves ${target}`);
      // Keep uploading until requests served by the new version have come back.
      while (!seen.slice(before).some((r) => r.version === target)) await new Promise((r) => setTimeout(r, 20));
      servedDuring.push(target);
    }
    uploading = false;
    await Promise.all(clients);

    const failed = seen.filter((r) => r.status !== 200);
    expect(failed, JSON.stringify(failed.slice(0, 5))).to.deep.equal([]);
    for (const r of seen) {
      expect(r.version).to.be.oneOf(['v1', 'v2']);
      // The constant models make the claim checkable: v1 always answers 2 rings, v2 always 5.
      expect(r.rings).to.equal(RINGS_OF[r.version as string]);
    }
    expect(servedDuring).to.have.length(10);
    const versions = new Set(seen.map((r) => r.version));
    expect([...versions].sort()).to.deep.equal(['v1', 'v2']);
    const deployed = await getJson(`${api.url}/deployed_version/`);
    expect(deployed.body.version).to.equal('v1');
  });

  it('refuses a version with a corrupted file: exits non-zero with the reason, the old version keeps serving', async () => {
    const dir = path.join(world.tmp, 'models', 'v3-corrupt');
    await saveFixtureModel(dir, { size: 32, versionLabel: 'v3', constantRings: 7 });
    const weights = await readFile(path.join(dir, 'weights.bin'));
    weights[weights.length - 1] = (weights[weights.length - 1] as number) ^ 0xff;
    await writeFile(path.join(dir, 'weights.bin'), weights);
    const v3 = await registerModelDir(world.trackingUrl, dir, { versionLabel: 'v3' });

    const out = await updateModels(['v3'], env);
    expect(out.code).to.equal(1);
    expect(out.stderr).to.match(/the API refused v3 \(registry version 3\): .*checksum mismatch for 'weights\.bin'/);
    expect(out.stderr).to.match(/the alias was not moved and the current version keeps serving/);
    const alias = await getJson(`${world.trackingUrl}/api/2.0/mlflow/registered-models/alias?name=ring-counter&alias=production`);
    expect((alias.body.model_version as { version: string }).version).to.equal(world.versions.v1);
    expect((await uploadImage(`${api.url}/predict/`, await compoundPng())).body).to.include({ version: 'v1' });
    const pinned = await uploadImage(`${api.url}/models/v3/predict/`, await compoundPng());
    expect(pinned.status).to.equal(409);
    expect(pinned.body.error).to.match(/checksum mismatch/);

    // Another MLflow client moves the alias straight to it: the API refuses, keeps v1, and says why.
    await setAlias(world.trackingUrl, v3);
    for (;;) {
      const { body } = await getJson(`${api.url}/deployed_version/`);
      const registry = body.registry as { alias_version: string | null; refused: string | null };
      if (registry.alias_version === v3 && registry.refused) {
        expect(body.version).to.equal('v1');
        expect(registry.refused).to.match(/checksum mismatch/);
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await uploadImage(`${api.url}/predict/`, await compoundPng())).body).to.include({ version: 'v1' });
    await setAlias(world.trackingUrl, world.versions.v1 as string);
  });

  it('follows an alias moved by any MLflow client', async () => {
    await setAlias(world.trackingUrl, world.versions.v2 as string);
    await waitForLive(api.url, world.versions.v2 as string);
    expect((await uploadImage(`${api.url}/predict/`, await compoundPng())).body).to.include({ version: 'v2', n_rings_pred: RINGS_OF.v2 });
  });

  it('refuses unknown versions listing the known ones, and has --help', async () => {
    const out = await updateModels(['v42'], env);
    expect(out.code).to.equal(1);
    expect(out.stderr).to.match(/unknown version 'v42' of 'ring-counter'; known versions: v1 \(1\), v2 \(2\), v3 \(3\)/);
    const help = await updateModels(['--help'], env);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.match(/update-models\.sh <version> \[options\]/);
    const dead = `http://127.0.0.1:${await closedPort()}`;
    const unreachable = await updateModels(['v1'], { ...env, MLFLOW_TRACKING_URI: dead });
    expect(unreachable.code).to.equal(2);
    expect(unreachable.stderr).to.contain(`tracking server ${dead} is unreachable (ECONNREFUSED)`);
  });

  it('promotes by registry version number, verifying locally when no API is running', async () => {
    const out = await updateModels(['1'], { ...env, API_URL: `http://127.0.0.1:${await closedPort()}` });
    expect(out.code, out.stderr).to.equal(0);
    expect(out.stdout).to.match(/verified v1 \(registry version 1\) locally/);
    expect(out.stdout).to.match(/not running; it will serve v1/);
    await waitForLive(api.url, world.versions.v1 as string);
  });
});

describe('demo-api: registry down', function () {
  let world: World;

  before(async function () {
    world = await createWorld({ alias: 'v2' });
  });
  after(async () => world.cleanup());

  it('starts and serves from the local cache when the tracking server is down', async () => {
    const first = await world.startApi({ engine: 'in-process' });
    expect((await uploadImage(`${first.url}/predict/`, await compoundPng())).body).to.include({ version: 'v2' });
    await first.close();
    await world.stopTracking();

    const api = await world.startApi({ engine: 'in-process' });
    const res = await uploadImage(`${api.url}/predict/`, await compoundPng());
    expect(res.status).to.equal(200);
    expect(res.body).to.include({ version: 'v2', n_rings_pred: RINGS_OF.v2 });
    const deployed = await getJson(`${api.url}/deployed_version/`);
    expect(deployed.body).to.deep.include({ version: 'v2' });
    expect((deployed.body.registry as { reachable: boolean }).reachable).to.equal(false);
    const models = await getJson(`${api.url}/models/`);
    expect(models.body.source).to.match(/local cache/);
    expect((models.body.versions as { version: string }[]).map((v) => v.version)).to.deep.equal(['v1', 'v2']);
    // A version never downloaded cannot be served without the registry: 503, not 500.
    const pinned = await uploadImage(`${api.url}/models/v1/predict/`, await compoundPng());
    expect(pinned.status).to.equal(503);
    expect(pinned.body.error).to.match(/unreachable.*not in the local cache/);
  });
});
