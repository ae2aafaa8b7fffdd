import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { buildReferenceCnn } from './reference-cnn.js';
import { setupTrainingBackend } from './index.js';

/**
 * `npm run bench:train`: trains the reference CNN (shared/anchors/README.md) with TF.js at each
 * size — batch 32, 256 random images, one warm-up epoch then one timed epoch — times batch
 * inference, runs the PyTorch anchor in the same run when Debian's python3-torch is present, and
 * prints ratios. Options: `--sizes 64,128`, `--profile` (per-kernel times of one training step).
 */

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

function parseArgs(argv: string[]): { sizes: number[]; profile: boolean } {
  let sizes = [64, 128];
  let profile = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--profile') profile = true;
    else if (arg === '--sizes') {
      const value = argv[++i] ?? '';
      sizes = value.split(',').map(Number);
      if (sizes.length === 0 || sizes.some((s) => !Number.isInteger(s) || s < 8 || s > 512)) {
        throw new Error(`--sizes '${value}' must be a comma-separated list of integers between 8 and 512, e.g. 64,128`);
      }
    } else {
      throw new Error(`unknown argument '${arg}'; usage: bench-train [--sizes 64,128] [--profile]`);
    }
  }
  return { sizes, profile };
}

async function trainEpoch(model: tf.LayersModel, xs: tf.Tensor4D, ys: tf.Tensor2D): Promise<void> {
  for (let start = 0; start < IMAGES; start += BATCH) {
    const [x, y] = tf.tidy(() => [xs.slice(start, BATCH), ys.slice(start, BATCH)]);
    await model.trainOnBatch(x as tf.Tensor, y as tf.Tensor);
    tf.dispose([x as tf.Tensor, y as tf.Tensor]);
  }
}

async function benchEngine(size: number, profile: boolean): Promise<EngineFigures> {
  const model = buildReferenceCnn(size);
  const xs = tf.randomUniform([IMAGES, size, size, 1]) as tf.Tensor4D;
  const ys = tf.tidy(() => tf.oneHot(tf.randomUniform([IMAGES], 0, 8, 'int32') as tf.Tensor1D, 8).toFloat()) as tf.Tensor2D;

  console.log(`size ${size}: warm-up epoch…`);
  await trainEpoch(model, xs, ys);
  // Counted after warm-up: the first step creates the optimizer's slot variables.
  const tensorsBefore = tf.memory().numTensors;
  console.log(`size ${size}: timed epoch…`);
  let start = performance.now();
  let cpuStart = process.cpuUsage();
  await trainEpoch(model, xs, ys);
  const trainImgS = IMAGES / ((performance.now() - start) / 1000);
  const trainImgPerCpuS = IMAGES / cpuSecondsSince(cpuStart);

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

/** Per-kernel wall time of one forward+backward step (one batch), largest first. */
async function printStepProfile(model: tf.LayersModel, xs: tf.Tensor4D, ys: tf.Tensor2D): Promise<void> {
  const x = xs.slice(0, BATCH);
  const y = ys.slice(0, BATCH);
  const info = await tf.profile(() => tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.predict(x) as tf.Tensor) as tf.Scalar);
    tf.dispose(Object.values(grads));
    return value;
  }));
  tf.dispose([x, y]);
  const byKernel = new Map<string, number>();
  for (const k of info.kernels) {
    const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
    byKernel.set(key, (byKernel.get(key) ?? 0) + (k.kernelTimeMs as number));
  }
  const total = [...byKernel.values()].reduce((a, b) => a + b, 0);
  console.log(`  one training step: ${total.toFixed(1)} ms in kernels; largest:`);
  for (const [key, ms] of [...byKernel].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
    console.log(`  ${ms.toFixed(1).padStart(7)} ms  ${key}`);
  }
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
  const { sizes, profile } = parseArgs(process.argv.slice(2));
  const { backend, threads } = await setupTrainingBackend();
  console.log(`TF.js ${tf.version.tfjs}, backend ${backend}, ${threads} thread(s)`);
  const engine: EngineFigures[] = [];
  for (const size of sizes) {
    const figures = await benchEngine(size, profile);
    console.log(`tfjs backend=${backend} size=${size} train_img_s=${fmt(figures.trainImgS)} predict_img_s=${fmt(figures.predictImgS)} ` +
      `(per CPU-second: train ${fmt(figures.trainImgPerCpuS)}, predict ${fmt(figures.predictImgPerCpuS)})`);
    engine.push(figures);
  }
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
