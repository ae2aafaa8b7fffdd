import * as tf from '@tensorflow/tfjs';

/**
 * Batch normalization whose training step is one fused computation instead of TF.js's op graph.
 *
 * TF.js trains a BatchNormalization layer through `moments` plus the FusedBatchNorm gradient: about
 * twenty full-size passes, with per-axis reductions that the WASM backend runs as a transpose then
 * a reduce, and a Tile. Measured on the v2 network at 64 px that made a step ~5× slower than the
 * whole convolution stack. Here the forward pass is two passes over the activations (statistics,
 * then output) and the gradient two more, in plain loops with float64 per-channel accumulators.
 *
 * The layer serialises as a standard `BatchNormalization` (same class name, config and weights), so
 * saved models load anywhere — serving, the ONNX converter, other TF.js programs — with the stock
 * layer, and inference is the stock computation. Only `training: true` calls take the fused path,
 * on the backends where TF.js would otherwise run the op graph on the CPU (wasm, cpu); others
 * (tfjs-node's native kernels) keep the stock path.
 */

/** Per-channel statistics of a training batch, as TF.js's `moments` gives them (biased variance). */
export interface BatchStatistics {
  mean: Float32Array;
  variance: Float32Array;
}

export interface BatchNormForward extends BatchStatistics {
  /** Normalised, scaled and shifted activations. */
  y: Float32Array;
  /** 1 / √(variance + ε) per channel, kept for the gradient. */
  inverseStd: Float32Array;
}

export interface BatchNormGradients {
  dx: Float32Array;
  dGamma: Float32Array;
  dBeta: Float32Array;
}

/** Forward pass in training mode over `x` viewed as [rows, channels] (channels innermost, as NHWC). */
export function batchNormForward(x: Float32Array, channels: number, gamma: Float32Array, beta: Float32Array, epsilon: number): BatchNormForward {
  const rows = x.length / channels;
  if (!Number.isInteger(rows) || rows === 0) throw new RangeError(`batchNormForward: ${x.length} values do not form rows of ${channels} channels`);
  const sum = new Float64Array(channels);
  for (let i = 0; i < x.length; i += channels) {
    for (let c = 0; c < channels; c++) sum[c]! += x[i + c]!;
  }
  const mean = new Float32Array(channels);
  for (let c = 0; c < channels; c++) mean[c] = sum[c]! / rows;
  // Two-pass variance: activations after a convolution can have a mean large against their spread.
  const squares = new Float64Array(channels);
  for (let i = 0; i < x.length; i += channels) {
    for (let c = 0; c < channels; c++) {
      const d = x[i + c]! - mean[c]!;
      squares[c]! += d * d;
    }
  }
  const variance = new Float32Array(channels);
  const inverseStd = new Float32Array(channels);
  const scale = new Float32Array(channels);
  const shift = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    variance[c] = squares[c]! / rows;
    inverseStd[c] = 1 / Math.sqrt(variance[c]! + epsilon);
    scale[c] = gamma[c]! * inverseStd[c]!;
    shift[c] = beta[c]! - mean[c]! * scale[c]!;
  }
  const y = new Float32Array(x.length);
  for (let i = 0; i < x.length; i += channels) {
    for (let c = 0; c < channels; c++) y[i + c] = x[i + c]! * scale[c]! + shift[c]!;
  }
  return { y, mean, variance, inverseStd };
}

/**
 * Gradient of the training-mode forward pass (through the batch statistics too):
 * dx = γ·r·(dy − mean(dy) − x̂·mean(dy·x̂)), dγ = Σ dy·x̂, dβ = Σ dy, with x̂ = (x − μ)·r and r = 1/√(σ² + ε).
 */
export function batchNormBackward(x: Float32Array, dy: Float32Array, channels: number, gamma: Float32Array, stats: BatchStatistics & { inverseStd: Float32Array }): BatchNormGradients {
  if (dy.length !== x.length) throw new RangeError(`batchNormBackward: dy has ${dy.length} values, x ${x.length}`);
  const rows = x.length / channels;
  const { mean, inverseStd } = stats;
  const sumDy = new Float64Array(channels);
  const sumDyCentered = new Float64Array(channels);
  for (let i = 0; i < x.length; i += channels) {
    for (let c = 0; c < channels; c++) {
      const g = dy[i + c]!;
      sumDy[c]! += g;
      sumDyCentered[c]! += g * (x[i + c]! - mean[c]!);
    }
  }
  const dGamma = new Float32Array(channels);
  const dBeta = new Float32Array(channels);
  // dx = a·dy + b·x + k per channel, so the second pass is one multiply-add chain per value.
  const a = new Float32Array(channels);
  const b = new Float32Array(channels);
  const k = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const r = inverseStd[c]!;
    const sumDyXhat = sumDyCentered[c]! * r;
    dGamma[c] = sumDyXhat;
    dBeta[c] = sumDy[c]!;
    a[c] = gamma[c]! * r;
    b[c] = (-gamma[c]! * r * r * sumDyXhat) / rows;
    k[c] = (-gamma[c]! * r * sumDy[c]!) / rows - b[c]! * mean[c]!;
  }
  const dx = new Float32Array(x.length);
  for (let i = 0; i < x.length; i += channels) {
    for (let c = 0; c < channels; c++) dx[i + c] = a[c]! * dy[i + c]! + b[c]! * x[i + c]! + k[c]!;
  }
  return { dx, dGamma, dBeta };
}

type BatchNormalizationLayer = ReturnType<typeof tf.layers.batchNormalization>;
type BatchNormalizationArgs = Parameters<typeof tf.layers.batchNormalization>[0];
// The stock class is not exported by @tensorflow/tfjs, only its factory.
const StockBatchNormalization = Object.getPrototypeOf(tf.layers.batchNormalization({})).constructor as new (args?: BatchNormalizationArgs) => BatchNormalizationLayer;

/** Fields of the stock layer this one reads (private in its typings). */
interface BatchNormalizationInternals {
  axis: number;
  momentum: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma: tf.LayerVariable | null;
  beta: tf.LayerVariable | null;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
}

const FUSED_BACKENDS = new Set(['wasm', 'cpu']);

/** `BatchNormalization` with the fused training step (see the top of this file). */
export class TrainingBatchNormalization extends StockBatchNormalization {
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[] {
    const input = Array.isArray(inputs) ? inputs[0]! : inputs;
    const self = this as unknown as BatchNormalizationInternals;
    const channelAxis = self.axis < 0 ? self.axis + input.rank : self.axis;
    const fused = kwargs.training === true && channelAxis === input.rank - 1 && self.center && self.scale &&
      input.dtype === 'float32' && FUSED_BACKENDS.has(tf.getBackend());
    if (!fused) return super.call(inputs, kwargs);
    return tf.tidy(() => {
      const channels = input.shape[channelAxis]!;
      let stats: BatchNormForward | undefined;
      const normalize = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
        const [x, gamma, beta] = args as tf.Tensor[] as [tf.Tensor, tf.Tensor, tf.Tensor];
        const xs = x.dataSync() as Float32Array;
        const gammaValues = gamma.dataSync() as Float32Array;
        const forward = batchNormForward(xs, channels, gammaValues, beta.dataSync() as Float32Array, self.epsilon);
        stats = forward;
        return {
          value: tf.tensor(forward.y, x.shape),
          gradFunc: (dy: tf.Tensor) => {
            const g = batchNormBackward(xs, dy.dataSync() as Float32Array, channels, gammaValues, forward);
            return [tf.tensor(g.dx, x.shape), tf.tensor1d(g.dGamma), tf.tensor1d(g.dBeta)];
          },
        };
      });
      const y = normalize(input, self.gamma!.read(), self.beta!.read());
      // As the stock layer: moving ← moving − (moving − batch)·(1 − momentum).
      const decay = 1 - self.momentum;
      for (const [variable, batch] of [[self.movingMean, stats!.mean], [self.movingVariance, stats!.variance]] as const) {
        const old = variable.read().dataSync() as Float32Array;
        variable.write(tf.tensor1d(old.map((v, c) => v - (v - batch[c]!) * decay)));
      }
      return y;
    });
  }
}

/**
 * A batch normalization layer for models this engine trains: `tf.layers.batchNormalization` with
 * the fused training step; saved, it is a standard BatchNormalization layer.
 */
export function batchNormalization(args?: BatchNormalizationArgs): BatchNormalizationLayer {
  return new TrainingBatchNormalization(args);
}

/**
 * Makes models deserialised in this process (the data-parallel replicas are rebuilt from JSON)
 * use the fused training step for their BatchNormalization layers. Inference is unchanged.
 */
export function registerTrainingBatchNorm(): void {
  tf.serialization.registerClass(TrainingBatchNormalization as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);
}
