import * as tf from '@tensorflow/tfjs';
import { defaultPreprocessConfig, fileSystemIO, onnxRuntimeStatus, writeMetadata } from '@ringcount/model-core';
import { expect } from 'chai';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CRASH_HOOK_ENV } from '../src/inference/worker-protocol.js';
import type { RunningApi } from '../src/server.js';
import { registerModelDir, RING_LABELS, ringImage, saveFixtureModel, setAlias } from '../src/testing/fixtures.js';
import { compoundPng, createWorld, getJson, RINGS_OF, uploadImage, waitForLive, type World } from './helpers.js';

/** Runs `fn` with environment variables set (inference workers copy the environment when they start). */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

describe('demo-api: inference engines', function () {
  let world: World;
  /** Registry version of a reference-CNN model with random weights (its outputs depend on the image). */
  let randomVersion: string;

  before(async function () {
    world = await createWorld({ alias: 'v1' });
    const dir = path.join(world.tmp, 'models', 'random');
    await saveFixtureModel(dir, { size: 64, versionLabel: 'v3', architecture: 'reference-cnn' });
    randomVersion = await registerModelDir(world.trackingUrl, dir, { versionLabel: 'v3' });
  });
  after(async () => world.cleanup());

  it('serves on ONNX Runtime when it is available, and says so in /deployed_version/, /ready, /metrics and /openapi.json', async function () {
    const status = onnxRuntimeStatus();
    if (!status.available) {
      console.log(`      (skipped: ${status.reason})`);
      this.skip();
    }
    const api = await world.startApi({ workers: 2 });
    const deployed = await getJson(`${api.url}/deployed_version/`);
    expect(deployed.body.inference).to.deep.equal({ engine: 'onnxruntime', detail: `onnxruntime-node ${status.version}, 1 thread`, fallback_reason: null });
    expect((await getJson(`${api.url}/ready`)).body).to.include({ status: 'ready', engine: 'onnxruntime' });
    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    expect(metrics).to.match(/ringcount_live_model_engine_info\{version="v1",engine="onnxruntime"\} 1/);
    const openapi = await getJson(`${api.url}/openapi.json`);
    expect((openapi.body.info as { description: string }).description).to.include(`runs on onnxruntime-node ${status.version}`);
    const answer = await uploadImage(`${api.url}/predict/`, await compoundPng());
    expect(answer.body).to.include({ version: 'v1', n_rings_pred: RINGS_OF.v1 });
    await api.close();
  });

  it('falls back to TF.js with RINGCOUNT_ONNXRUNTIME=off, giving the same probabilities as ONNX Runtime', async function () {
    const images = [await ringImage(1), await ringImage(4), await ringImage(6, 'jpeg')];
    const predict = async (api: RunningApi): Promise<Record<string, number>[]> => {
      const out: Record<string, number>[] = [];
      for (const image of images) {
        const r = await uploadImage(`${api.url}/models/${randomVersion}/predict/`, image);
        expect(r.status, JSON.stringify(r.body)).to.equal(200);
        out.push(r.body.probabilities as Record<string, number>);
      }
      return out;
    };
    const [fallback, fallbackInfo] = await withEnv({ RINGCOUNT_ONNXRUNTIME: 'off' }, async () => {
      const api = await world.startApi({ cacheDir: path.join(world.tmp, 'cache-tfjs') });
      try {
        const metrics = await (await fetch(`${api.url}/metrics`)).text();
        expect(metrics).to.match(/ringcount_live_model_engine_info\{version="v1",engine="tfjs"\} 1/);
        return [await predict(api), (await getJson(`${api.url}/deployed_version/`)).body.inference] as const;
      } finally {
        await api.close();
      }
    });
    expect(fallbackInfo).to.include({ engine: 'tfjs', fallback_reason: 'disabled by RINGCOUNT_ONNXRUNTIME=off' });
    if (!onnxRuntimeStatus().available) return;
    const api = await world.startApi({ cacheDir: path.join(world.tmp, 'cache-onnx') });
    const onnx = await predict(api);
    await api.close();
    // The random model's answers differ between images, so equal answers mean equal computations.
    expect(fallback[0]).to.not.deep.equal(fallback[1]);
    for (let i = 0; i < images.length; i++) {
      for (const [label, p] of Object.entries(fallback[i] ?? {})) expect(onnx[i]?.[label], `image ${i}, label ${label}`).to.be.closeTo(p, 1e-4);
    }
  });

  it('serves a model ONNX cannot express on TF.js, saying why', async function () {
    if (!onnxRuntimeStatus().available) this.skip();
    const dir = path.join(world.tmp, 'models', 'depthwise');
    const model = tf.sequential({
      layers: [
        tf.layers.depthwiseConv2d({ inputShape: [32, 32, 1], kernelSize: 3, name: 'depthwise' }),
        tf.layers.globalAveragePooling2d({}),
        tf.layers.dense({ units: RING_LABELS.length, activation: 'softmax' }),
      ],
    });
    await model.save(fileSystemIO(dir));
    model.dispose();
    await writeMetadata(dir, {
      name: 'ring-counter', version: 'v4', createdAt: new Date().toISOString(), inputShape: [32, 32, 1], preprocessing: defaultPreprocessConfig(32),
      labels: RING_LABELS, architecture: 'depthwise-test', tfjsVersion: tf.version.tfjs, backend: tf.getBackend(), dataDigest: 'test: random weights',
    });
    const version = await registerModelDir(world.trackingUrl, dir, { versionLabel: 'v4' });
    const logged: string[] = [];
    const api = await world.startApi({ cacheDir: path.join(world.tmp, 'cache-depthwise'), log: (line) => logged.push(line) });
    try {
      await setAlias(world.trackingUrl, version);
      await waitForLive(api.url, version);
      const inference = (await getJson(`${api.url}/deployed_version/`)).body.inference as Record<string, string>;
      expect(inference.engine).to.equal('tfjs');
      expect(inference.fallback_reason).to.match(/conversion to ONNX failed: layer 'depthwise' of type DepthwiseConv2D cannot be converted/);
      expect(logged.join('\n')).to.match(/v4 \(version \d+\) loaded on tfjs .*not ONNX Runtime: conversion to ONNX failed/);
      const r = await uploadImage(`${api.url}/predict/`, await compoundPng());
      expect(r.status).to.equal(200);
      expect(r.body.version).to.equal('v4');
    } finally {
      await api.close();
      await setAlias(world.trackingUrl, world.versions.v1 as string);
    }
  });

  describe('when an inference worker crashes mid-request', function () {
    let crashFile: string;
    let api: RunningApi;
    const logged: string[] = [];

    before(async function () {
      crashFile = path.join(world.tmp, 'crash-budget');
      await writeFile(crashFile, '0');
      api = await withEnv({ [CRASH_HOOK_ENV]: crashFile }, () => world.startApi({ cacheDir: path.join(world.tmp, 'cache-crash'), log: (line) => logged.push(line) }));
    });
    after(async () => api.close());

    it('retries the request once on the restarted worker: the client gets its answer', async () => {
      await writeFile(crashFile, '1');
      const r = await uploadImage(`${api.url}/predict/`, await compoundPng());
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      expect(r.body).to.include({ version: 'v1', n_rings_pred: RINGS_OF.v1 });
      expect(await readFile(crashFile, 'utf8')).to.equal('0'); // the worker did crash
      expect(logged.join('\n')).to.match(/inference worker exited \(code 70\) with 1 request\(s\) in flight/);
    });

    it('answers 503 JSON (never 500) when the retry crashes too, then serves again', async () => {
      await writeFile(crashFile, '2');
      const r = await uploadImage(`${api.url}/predict/`, await compoundPng());
      expect(r.status).to.equal(503);
      expect(r.body.error).to.match(/crashed twice.*retry the request/);
      expect(await readFile(crashFile, 'utf8')).to.equal('0');
      const again = await uploadImage(`${api.url}/predict/`, await compoundPng());
      expect(again.status).to.equal(200);
      expect(again.body).to.include({ n_rings_pred: RINGS_OF.v1 });
    });
  });
});
