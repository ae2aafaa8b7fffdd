import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { buildReferenceCnn } from './reference-cnn.js';
import { gapCnn } from '../models/architectures.js';
import { setupTrainingBackend } from './index.js';
import { DataParallelTrainer, trainWorkersSetting, type StepTimings } from './data-parallel.js';

/**
 * `npm run bench:train`: trains the reference CNN (shared/anchors/README.md) with TF.js at each
 * size — batch 32, 256 random images, one warm-up epoch then one timed epoch — times batch
 * inference, runs the PyTorch anchor in the same run when Debian's python3-torch is present, and
 * prints ratios. Options: `--sizes 64,128`, `--profile` (per-kernel times of one training step),
 * `--model v2` (the project's v2 architecture instead of the reference CNN, compiled the same way:
 * its throughput sizes the training budget; no PyTorch anchor for it).
 * Training runs on `RINGCOUNT_TRAIN_WORKERS` data-parallel replicas (default 2 on ≥ 2 CPUs; 1 =
 * `model.trainOnBatch` on this thread alone).
 */

type BenchModel = 'reference' | 'v2';

function buildModel(model: BenchModel, size: number): tf.LayersModel {
  if (model === 'reference') return buildReferenceCnn(size);
  const built = gapCnn.build(size, 8, 1);
  built.compile({ optimizer: tf.train.adam(), loss: 'categoricalCrossentropy' });
  return built;
}

const IMAGES = 256;
const BATCH = 32;
const PYTHON = '/usr/bin/python3';

interface EngineFigures {
  size: number; trainImgS: number; predictImgS: number;
  /** Images per second of CPU time (all threads): what a quiet machine would approach per core used. */
  trainImgPerCpuS: number; predictImgPerCpuS: number;
}

/** CPU seconds (user + system, all threads of this process) since `start`. */
const cpuSecondsSince = (start: NodeJS.CpuUsage): number => {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
};
interface TorchFigures { trainImgS: number; predictImgS: number }

function parseArgs(argv: string[]): { sizes: number[]; profile: boolean; model: BenchModel } {
  let sizes = [64, 128];
  let profile = false;
  let model: BenchModel = 'reference';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--profile') profile = true;
    else if (arg === '--model') {
      const value = argv[++i] ?? '';
      if (value !== 'reference' && value !== 'v2') throw new Error(`--model '${value}' must be 'reference' or 'v2'`);
      model = value;
    }
    else if (arg === '--sizes') {
      const value = argv[++i] ?? '';
      sizes = value.split(',').map(Number);
      if (sizes.length === 0 || sizes.some((s) => !Number.isInteger(s) || s < 8 || s > 512)) {
        throw new Error(`--sizes '${value}' must be a comma-separated list of integers between 8 and 512, e.g. 64,128`);
      }
    } else {
      throw new Error(`unknown argument '${arg}'; usage: bench-train [--sizes 64,128] [--profile] [--model reference|v2]`);
    }
  }
  return { sizes, profile, model };
}

/** Per-step means of the data-parallel step's phases on this thread over the last epoch. */
let epochTimings: StepTimings | undefined;

async function trainEpoch(model: tf.LayersModel, xs: tf.Tensor4D, ys: tf.Tensor2D, parallel: DataParallelTrainer | undefined): Promise<void> {
  const steps = IMAGES / BATCH;
  epochTimings = parallel ? { postMs: 0, localMs: 0, waitMs: 0, applyMs: 0 } : undefined;
  const pixels = xs.size / IMAGES;
  const xsData = parallel ? (xs.dataSync() as Float32Array) : undefined;
  const classes = parallel ? (tf.tidy(() => ys.argMax(-1).dataSync()) as Int32Array) : undefined;
  for (let start = 0; start < IMAGES; start += BATCH) {
    if (parallel) {
      await parallel.trainOnBatch(xsData!.subarray(start * pixels, (start + BATCH) * pixels), classes!.subarray(start, start + BATCH), 8);
      const t = parallel.lastStepTimings!;
      for (const key of ['postMs', 'localMs', 'waitMs', 'applyMs'] as const) epochTimings![key] += t[key] / steps;
      continue;
    }
    const [x, y] = tf.tidy(() => [xs.slice(start, BATCH), ys.slice(start, BATCH)]);
    await model.trainOnBatch(x as tf.Tensor, y as tf.Tensor);
    tf.dispose([x as tf.Tensor, y as tf.Tensor]);
  }
}

async function benchEngine(which: BenchModel, size: number, profile: boolean, replicas: number): Promise<EngineFigures> {
  const model = buildModel(which, size);
  const xs = tf.randomUniform([IMAGES, size, size, 1]) as tf.Tensor4D;
  const ys = tf.tidy(() => tf.oneHot(tf.randomUniform([IMAGES], 0, 8, 'int32') as tf.Tensor1D, 8).toFloat()) as tf.Tensor2D;
  // Same optimizer as the compiled models (Adam, default rate); the workers start before timing.
  const parallel = replicas > 1 ? await DataParallelTrainer.fromModel(model, { replicas, optimizer: { learningRate: 1e-3 } }) : undefined;

  console.log(`size ${size}: warm-up epoch…`);
  await trainEpoch(model, xs, ys, parallel);
  // Counted after warm-up: the first step creates the optimizer's slot variables.
  const tensorsBefore = tf.memory().numTensors;
  console.log(`size ${size}: timed epoch…`);
  let start = performance.now();
  let cpuStart = process.cpuUsage();
  await trainEpoch(model, xs, ys, parallel);
  const trainImgS = IMAGES / ((performance.now() - start) / 1000);
  // process.cpuUsage() covers every thread of the process, workers included.
  const trainImgPerCpuS = IMAGES / cpuSecondsSince(cpuStart);
  if (parallel) {
    const t = epochTimings!;
    console.log(`size ${size}: data-parallel step on this thread: post ${t.postMs.toFixed(1)} ms, own shard ${t.localMs.toFixed(1)} ms, ` +
      `then waiting for workers ${t.waitMs.toFixed(1)} ms, average + Adam ${t.applyMs.toFixed(1)} ms`);
    parallel.syncTo(model);
    await parallel.dispose();
  }

  // Inference as the anchor does it: one warm-up batch, then all images in one call.
  tf.tidy(() => (model.predict(xs.slice(0, BATCH)) as tf.Tensor).dataSync());
  start = performance.now();
  cpuStart = process.cpuUsage();
  tf.tidy(() => (model.predict(xs, { batchSize: IMAGES }) as tf.Tensor).dataSync());
  const predictImgS = IMAGES / ((performance.now() - start) / 1000);
  const predictImgPerCpuS = IMAGES / cpuSecondsSince(cpuStart);

  const leaked = tf.memory().numTensors - tensorsBefore;
  if (leaked > 0) console.warn(`size ${size}: ${leaked} tensors leaked during training`);
  if (profile) await printStepProfile(model, xs, ys);
  tf.dispose([xs, ys]);
  model.dispose();
  return { size, trainImgS, predictImgS, trainImgPerCpuS, predictImgPerCpuS };
}

const PROFILE_STEPS = 5;

/**
 * Per-kernel wall time of a forward+backward step (one batch), largest first: the median over
 * PROFILE_STEPS profiled steps, so one preempted kernel on a shared machine does not dominate.
 */
async function printStepProfile(model: tf.LayersModel, xs: tf.Tensor4D, ys: tf.Tensor2D): Promise<void> {
  const x = xs.slice(0, BATCH);
  const y = ys.slice(0, BATCH);
  const samples = new Map<string, number[]>();
  for (let step = 0; step < PROFILE_STEPS; step++) {
    const info = await tf.profile(() => tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.predict(x) as tf.Tensor) as tf.Scalar);
      tf.dispose(Object.values(grads));
      return value;
    }));
    const byKernel = new Map<string, number>();
    for (const k of info.kernels) {
      const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
      byKernel.set(key, (byKernel.get(key) ?? 0) + (k.kernelTimeMs as number));
    }
    for (const [key, ms] of byKernel) samples.set(key, [...(samples.get(key) ?? []), ms]);
  }
  tf.dispose([x, y]);
  const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? 0;
  const byKernel = [...samples].map(([key, v]) => [key, median(v)] as const).sort((a, b) => b[1] - a[1]);
  const total = byKernel.reduce((sum, [, ms]) => sum + ms, 0);
  console.log(`  one training step: ${total.toFixed(1)} ms in kernels (median of ${PROFILE_STEPS} steps per kernel); largest:`);
  for (const [key, ms] of byKernel.slice(0, 18)) console.log(`  ${ms.toFixed(1).padStart(7)} ms  ${key}`);
}

function anchorsDir(): string {
  // dist/src/engine → repository root → ../shared/anchors
  const repoRoot = path.resolve(__dirname, '..', '..', '..', '..');
  return process.env.RINGCOUNT_ANCHORS_DIR ?? path.resolve(repoRoot, '..', 'shared', 'anchors');
}

/** Runs the PyTorch anchor for all sizes at once; undefined (with the reason logged) when it cannot. */
function runTorchAnchor(sizes: number[]): Map<number, TorchFigures> | undefined {
  const script = path.join(anchorsDir(), 'torch_cnn.py');
  if (!fs.existsSync(script)) {
    console.log(`PyTorch anchor skipped: ${script} not found (set RINGCOUNT_ANCHORS_DIR)`);
    return undefined;
  }
  const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    console.log(`PyTorch anchor skipped: '${PYTHON} -c "import torch"' failed (install Debian's python3-torch)`);
    return undefined;
  }
  console.log(`PyTorch anchor: ${PYTHON} ${script} ${sizes.join(' ')}`);
  const run = spawnSync(PYTHON, [script, ...sizes.map(String)], { encoding: 'utf8', timeout: 15 * 60_000 });
  process.stdout.write(run.stdout ?? '');
  if (run.status !== 0) {
    console.log(`PyTorch anchor failed (exit ${run.status ?? run.signal}): ${(run.stderr ?? '').trim().split('\n').pop() ?? ''}`);
    return undefined;
  }
  const figures = new Map<number, TorchFigures>();
  for (const m of (run.stdout ?? '').matchAll(/size=(\d+) train_img_s=([\d.]+) predict_img_s=([\d.]+)/g)) {
    figures.set(Number(m[1]), { trainImgS: Number(m[2]), predictImgS: Number(m[3]) });
  }
  return figures;
}

const fmt = (v: number | undefined, digits = 1): string => (v === undefined || !Number.isFinite(v) ? 'NA' : v.toFixed(digits));

async function main(): Promise<void> {
  const { sizes, profile, model } = parseArgs(process.argv.slice(2));
  const replicas = trainWorkersSetting();
  // Each replica takes a core: ONNX Runtime pools of their own would only oversubscribe them.
  const setup = await setupTrainingBackend(undefined, replicas > 1 ? { onnxRuntimeThreads: 1 } : {});
  const backend = replicas > 1 ? `${setup.tag}x${replicas}` : setup.tag;
  console.log(`TF.js ${tf.version.tfjs}, backend ${setup.tag}, ${setup.threads} WASM thread(s)` +
    (setup.onnxRuntimeThreads !== undefined ? `, ${setup.onnxRuntimeThreads} ONNX Runtime thread(s)` : '') +
    (replicas > 1
      ? `; training data-parallel on ${replicas} replicas (this thread + ${replicas - 1} worker(s), RINGCOUNT_TRAIN_WORKERS=1 for one thread)`
      : '; training on this thread alone (RINGCOUNT_TRAIN_WORKERS=1)'));
  const engine: EngineFigures[] = [];
  for (const size of sizes) {
    const figures = await benchEngine(model, size, profile, replicas);
    console.log(`tfjs model=${model} backend=${backend} size=${size} train_img_s=${fmt(figures.trainImgS)} predict_img_s=${fmt(figures.predictImgS)} ` +
      `(per CPU-second: train ${fmt(figures.trainImgPerCpuS)}, predict ${fmt(figures.predictImgPerCpuS)})`);
    engine.push(figures);
  }
  if (model !== 'reference') return; // the PyTorch anchor mirrors the reference CNN only
  const torch = runTorchAnchor(sizes);
  for (const e of engine) {
    const t = torch?.get(e.size);
    console.log(`bench:train size=${e.size} backend=${backend} train_img_s=${fmt(e.trainImgS)} predict_img_s=${fmt(e.predictImgS)} ` +
      `torch_train_img_s=${fmt(t?.trainImgS)} torch_predict_img_s=${fmt(t?.predictImgS)} ` +
      `train_ratio=${fmt(t ? e.trainImgS / t.trainImgS : undefined, 2)} predict_ratio=${fmt(t ? e.predictImgS / t.predictImgS : undefined, 2)}`);
  }
}

main().catch((error: unknown) => {
  console.error(`bench:train failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
