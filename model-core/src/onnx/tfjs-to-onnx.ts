/**
 * Converts a TF.js LayersModel into an ONNX graph, so a saved model (whose TF.js files stay the
 * verified source of truth) can run on ONNX Runtime's native kernels at load time, with no second
 * model format to ship.
 *
 * Supports a chain of the layers this project's CNNs use — Conv2D, MaxPooling2D, AveragePooling2D,
 * GlobalAveragePooling2D, GlobalMaxPooling2D, Flatten, Dense, Dropout (identity at inference),
 * BatchNormalization, Activation, ReLU and Softmax — and refuses anything else with an
 * `UnsupportedLayerError` naming the layer and the setting. TF.js is NHWC; ONNX Runtime's
 * convolutions are NCHW, so the graph transposes once after its input, keeps NCHW through the
 * convolutional part, and transposes back where TF.js semantics need NHWC order (before Flatten,
 * and at the output).
 */
import * as tf from '@tensorflow/tfjs';
import { encodeOnnxModel, type OnnxInitializer, type OnnxNode } from './graph.js';
import type { SyncOnnxSession } from './runtime.js';

export class UnsupportedLayerError extends Error {
  override name = 'UnsupportedLayerError';
}

export interface OnnxConversion {
  /** ONNX ModelProto bytes. */
  model: Uint8Array;
  inputName: string;
  outputName: string;
  /** Graph input: [batch, height, width, channels], as the TF.js model takes it. */
  inputShape: readonly (number | null)[];
  /** Graph output shape without the batch dimension (TF.js order). */
  outputShape: readonly (number | null)[];
}

export const ONNX_INPUT_NAME = 'input';
export const ONNX_OUTPUT_NAME = 'output';

/** Layer types the converter understands (TF.js class names). */
export const SUPPORTED_LAYERS = [
  'InputLayer', 'Conv2D', 'MaxPooling2D', 'AveragePooling2D', 'GlobalAveragePooling2D', 'GlobalMaxPooling2D',
  'Flatten', 'Dense', 'Dropout', 'BatchNormalization', 'Activation', 'ReLU', 'Softmax',
] as const;

type Shape = (number | null)[];

/**
 * The value flowing between layers: its name in the graph, its TF.js (NHWC) shape, and whether the
 * graph currently holds it as NCHW (4-D values only).
 */
interface Value {
  name: string;
  shape: Shape;
  nchw: boolean;
}

interface LayerLike {
  name: string;
  getClassName(): string;
  getConfig(): tf.serialization.ConfigDict;
  readonly weights: { originalName: string; shape: Shape; read(): tf.Tensor }[];
  readonly outputShape: tf.Shape | tf.Shape[];
  inboundNodes: { inboundLayers: { name: string }[] }[];
}

/** Converts `model`; throws `UnsupportedLayerError` for a layer or setting it cannot express. */
export function tfjsToOnnx(model: tf.LayersModel): OnnxConversion {
  return new Converter(model).convert();
}

class Converter {
  private readonly nodes: OnnxNode[] = [];
  private readonly initializers: OnnxInitializer[] = [];
  private counter = 0;

  constructor(private readonly model: tf.LayersModel) {}

  convert(): OnnxConversion {
    const { model } = this;
    if (model.inputs.length !== 1 || model.outputs.length !== 1) {
      throw new UnsupportedLayerError(`model '${model.name}' has ${model.inputs.length} inputs and ${model.outputs.length} outputs; only single-input, single-output models convert`);
    }
    const inputShape = [...(model.inputs[0] as tf.SymbolicTensor).shape];
    if (inputShape.length !== 4) {
      throw new UnsupportedLayerError(`model '${model.name}' takes rank-${inputShape.length} input [${inputShape.join(', ')}]; only image input [batch, height, width, channels] converts`);
    }
    let value: Value = { name: ONNX_INPUT_NAME, shape: inputShape, nchw: false };
    let previous: string | undefined;
    for (const layer of model.layers as unknown as LayerLike[]) {
      const kind = layer.getClassName();
      if (kind === 'InputLayer') {
        previous = layer.name;
        continue;
      }
      this.checkChain(layer, previous);
      value = this.layer(layer, kind, value);
      previous = layer.name;
    }
    value = this.toNhwc(value);
    this.nodes.push({ op: 'Identity', inputs: [value.name], outputs: [ONNX_OUTPUT_NAME] });
    const symbolic = (shape: Shape): (number | string)[] => shape.map((d, i) => (d === null ? (i === 0 ? 'batch' : `d${i}`) : d));
    const bytes = encodeOnnxModel({
      name: model.name,
      nodes: this.nodes,
      initializers: this.initializers,
      inputs: [{ name: ONNX_INPUT_NAME, shape: symbolic(inputShape) }],
      outputs: [{ name: ONNX_OUTPUT_NAME, shape: symbolic(value.shape) }],
      producer: 'ringcount tfjs-to-onnx',
    });
    return { model: bytes, inputName: ONNX_INPUT_NAME, outputName: ONNX_OUTPUT_NAME, inputShape, outputShape: value.shape.slice(1) };
  }

  /** Only plain chains convert: each layer takes exactly the previous layer's output. */
  private checkChain(layer: LayerLike, previous: string | undefined): void {
    const inbound = layer.inboundNodes.map((n) => n.inboundLayers.map((l) => l.name));
    const single = inbound.length === 1 && inbound[0]?.length === 1 ? inbound[0][0] : undefined;
    if (single === undefined || (previous !== undefined && single !== previous)) {
      throw new UnsupportedLayerError(
        `layer '${layer.name}' (${layer.getClassName()}) is not fed by the previous layer alone (inputs: ${JSON.stringify(inbound)}); only sequential chains of layers convert`,
      );
    }
  }

  private layer(layer: LayerLike, kind: string, x: Value): Value {
    const config = layer.getConfig();
    const out = layer.outputShape;
    if (!Array.isArray(out) || Array.isArray(out[0])) throw new UnsupportedLayerError(`layer '${layer.name}' (${kind}) has several outputs`);
    const outShape = [...(out as tf.Shape)];
    switch (kind) {
      case 'Conv2D':
        return this.conv2d(layer, config, x, outShape);
      case 'MaxPooling2D':
      case 'AveragePooling2D':
        return this.pool(layer, kind, config, x, outShape);
      case 'GlobalAveragePooling2D':
      case 'GlobalMaxPooling2D': {
        this.channelsLast(layer, config);
        const v = this.toNchw(this.expectRank(layer, x, 4));
        const pooled = this.op(kind === 'GlobalAveragePooling2D' ? 'GlobalAveragePool' : 'GlobalMaxPool', [v.name]);
        return { name: this.op('Flatten', [pooled], { axis: 1 }), shape: outShape, nchw: false };
      }
      case 'Flatten': {
        // TF.js flattens in NHWC order: transpose back first so Dense weights line up.
        const v = this.toNhwc(x);
        return { name: this.op('Flatten', [v.name], { axis: 1 }), shape: outShape, nchw: false };
      }
      case 'Dense':
        return this.dense(layer, config, x, outShape);
      case 'Dropout':
        return x; // inference: identity
      case 'BatchNormalization':
        return this.batchNorm(layer, config, x);
      case 'Activation':
        return this.activation(layer, String(config['activation']), x);
      case 'ReLU':
        return this.relu(layer, config, x);
      case 'Softmax': {
        const axis = config['axis'];
        if (typeof axis !== 'number') throw new UnsupportedLayerError(`layer '${layer.name}' (Softmax): axis ${JSON.stringify(axis)} is not a single axis`);
        return { ...x, name: this.op('Softmax', [x.name], { axis: this.graphAxis(x, axis) }) };
      }
      default:
        throw new UnsupportedLayerError(
          `layer '${layer.name}' of type ${kind} cannot be converted to ONNX; supported types: ${SUPPORTED_LAYERS.filter((l) => l !== 'InputLayer').join(', ')}`,
        );
    }
  }

  private conv2d(layer: LayerLike, config: tf.serialization.ConfigDict, x: Value, outShape: Shape): Value {
    this.channelsLast(layer, config);
    const v = this.toNchw(this.expectRank(layer, x, 4));
    const kernelSize = pair(config['kernelSize']);
    const strides = pair(config['strides'] ?? 1);
    const dilations = pair(config['dilationRate'] ?? 1);
    const padding = String(config['padding']);
    const w = this.initializer(layer, 'kernel', hwioToOihw(this.weight(layer, 'kernel')));
    const inputs = [v.name, w];
    if (config['useBias'] !== false) inputs.push(this.initializer(layer, 'bias', this.weight(layer, 'bias')));
    const attributes = {
      kernel_shape: kernelSize,
      strides,
      dilations,
      ...this.padding(layer, padding, [x.shape[1] ?? null, x.shape[2] ?? null], kernelSize, strides, dilations),
    };
    const conv = this.op('Conv', inputs, attributes);
    return this.activation(layer, String(config['activation'] ?? 'linear'), { name: conv, shape: outShape, nchw: true });
  }

  private pool(layer: LayerLike, kind: 'MaxPooling2D' | 'AveragePooling2D', config: tf.serialization.ConfigDict, x: Value, outShape: Shape): Value {
    this.channelsLast(layer, config);
    const v = this.toNchw(this.expectRank(layer, x, 4));
    const kernel = pair(config['poolSize']);
    const strides = pair(config['strides'] ?? config['poolSize']);
    const padding = this.padding(layer, String(config['padding']), [x.shape[1] ?? null, x.shape[2] ?? null], kernel, strides, [1, 1]);
    // AveragePool's default count_include_pad = 0 matches TF's 'same' averaging over real pixels only.
    const name = this.op(kind === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool', [v.name], { kernel_shape: kernel, strides, ...padding });
    return { name, shape: outShape, nchw: true };
  }

  private dense(layer: LayerLike, config: tf.serialization.ConfigDict, x: Value, outShape: Shape): Value {
    if (x.shape.length !== 2) {
      throw new UnsupportedLayerError(`layer '${layer.name}' (Dense) gets rank-${x.shape.length} input [${x.shape.join(', ')}]; only Dense on flat [batch, features] input converts (add Flatten or global pooling before it)`);
    }
    const inputs = [x.name, this.initializer(layer, 'kernel', this.weight(layer, 'kernel'))];
    if (config['useBias'] !== false) inputs.push(this.initializer(layer, 'bias', this.weight(layer, 'bias')));
    const gemm = this.op('Gemm', inputs);
    return this.activation(layer, String(config['activation'] ?? 'linear'), { name: gemm, shape: outShape, nchw: false });
  }

  private batchNorm(layer: LayerLike, config: tf.serialization.ConfigDict, x: Value): Value {
    const rank = x.shape.length;
    const axis = config['axis'];
    const normalised = typeof axis === 'number' ? (axis < 0 ? axis + rank : axis) : NaN;
    if (normalised !== rank - 1 || (rank !== 4 && rank !== 2)) {
      throw new UnsupportedLayerError(`layer '${layer.name}' (BatchNormalization): axis ${JSON.stringify(axis)} on rank-${rank} input; only the channel axis (-1) of image or flat input converts`);
    }
    const v = rank === 4 ? this.toNchw(x) : x;
    const channels = x.shape[rank - 1];
    if (typeof channels !== 'number') throw new UnsupportedLayerError(`layer '${layer.name}' (BatchNormalization): unknown channel count`);
    const scale = config['scale'] !== false ? this.weight(layer, 'gamma') : { dims: [channels], data: new Float32Array(channels).fill(1) };
    const bias = config['center'] !== false ? this.weight(layer, 'beta') : { dims: [channels], data: new Float32Array(channels) };
    const inputs = [
      v.name,
      this.initializer(layer, 'gamma', scale),
      this.initializer(layer, 'beta', bias),
      this.initializer(layer, 'moving_mean', this.weight(layer, 'moving_mean')),
      this.initializer(layer, 'moving_variance', this.weight(layer, 'moving_variance')),
    ];
    const epsilon = Number(config['epsilon'] ?? 1e-3);
    return { ...v, name: this.op('BatchNormalization', inputs, { epsilon: { float: epsilon } }) };
  }

  private relu(layer: LayerLike, config: tf.serialization.ConfigDict, x: Value): Value {
    const maxValue = config['maxValue'];
    if (maxValue === null || maxValue === undefined) return { ...x, name: this.op('Relu', [x.name]) };
    if (typeof maxValue !== 'number') throw new UnsupportedLayerError(`layer '${layer.name}' (ReLU): maxValue ${JSON.stringify(maxValue)} is not a number`);
    return { ...x, name: this.clip(x.name, 0, maxValue) };
  }

  private activation(layer: LayerLike, activation: string, x: Value): Value {
    switch (activation) {
      case 'linear':
        return x;
      case 'relu':
        return { ...x, name: this.op('Relu', [x.name]) };
      case 'relu6':
        return { ...x, name: this.clip(x.name, 0, 6) };
      case 'sigmoid':
        return { ...x, name: this.op('Sigmoid', [x.name]) };
      case 'tanh':
        return { ...x, name: this.op('Tanh', [x.name]) };
      case 'elu':
        return { ...x, name: this.op('Elu', [x.name], { alpha: { float: 1 } }) };
      case 'softmax':
        // TF.js takes the softmax over the last (channel) axis.
        return { ...x, name: this.op('Softmax', [x.name], { axis: this.graphAxis(x, -1) }) };
      default:
        throw new UnsupportedLayerError(`layer '${layer.name}' (${layer.getClassName()}): activation '${activation}' cannot be converted; supported: linear, relu, relu6, sigmoid, tanh, elu, softmax`);
    }
  }

  /** TF's padding as explicit ONNX pads: 'same' puts the odd pixel at the end, as TF does. */
  private padding(layer: LayerLike, padding: string, spatial: [number | null, number | null], kernel: number[], strides: number[], dilations: number[]): Record<string, number[]> {
    if (padding === 'valid') return { pads: [0, 0, 0, 0] };
    if (padding !== 'same') throw new UnsupportedLayerError(`layer '${layer.name}' (${layer.getClassName()}): padding '${padding}' cannot be converted; use 'same' or 'valid'`);
    const begin: number[] = [];
    const end: number[] = [];
    for (let i = 0; i < 2; i++) {
      const size = spatial[i];
      if (size === null || size === undefined) throw new UnsupportedLayerError(`layer '${layer.name}' (${layer.getClassName()}): 'same' padding needs a fixed input size`);
      const stride = strides[i] as number;
      const effective = ((kernel[i] as number) - 1) * (dilations[i] as number) + 1;
      const out = Math.ceil(size / stride);
      const total = Math.max((out - 1) * stride + effective - size, 0);
      begin.push(Math.floor(total / 2));
      end.push(total - Math.floor(total / 2));
    }
    return { pads: [...begin, ...end] };
  }

  private channelsLast(layer: LayerLike, config: tf.serialization.ConfigDict): void {
    const format = config['dataFormat'];
    if (format !== undefined && format !== 'channelsLast') {
      throw new UnsupportedLayerError(`layer '${layer.name}' (${layer.getClassName()}): dataFormat '${String(format)}' cannot be converted; only channelsLast converts`);
    }
  }

  private expectRank(layer: LayerLike, x: Value, rank: number): Value {
    if (x.shape.length !== rank) throw new UnsupportedLayerError(`layer '${layer.name}' (${layer.getClassName()}) gets rank-${x.shape.length} input; expected rank ${rank}`);
    return x;
  }

  /** A TF.js (NHWC) axis as the axis of the value in the graph. */
  private graphAxis(x: Value, axis: number): number {
    const rank = x.shape.length;
    const a = axis < 0 ? axis + rank : axis;
    if (!x.nchw) return a;
    return [0, 2, 3, 1][a] as number;
  }

  private toNchw(x: Value): Value {
    if (x.nchw || x.shape.length !== 4) return x;
    return { ...x, name: this.op('Transpose', [x.name], { perm: [0, 3, 1, 2] }), nchw: true };
  }

  private toNhwc(x: Value): Value {
    if (!x.nchw) return x;
    return { ...x, name: this.op('Transpose', [x.name], { perm: [0, 2, 3, 1] }), nchw: false };
  }

  private clip(input: string, min: number, max: number): string {
    const lo = this.constant(`clip_min_${this.counter}`, [], Float32Array.of(min));
    const hi = this.constant(`clip_max_${this.counter}`, [], Float32Array.of(max));
    return this.op('Clip', [input, lo, hi]);
  }

  /** A copy of one of the layer's weights (`read()` returns the variable itself: nothing to dispose). */
  private weight(layer: LayerLike, suffix: string): WeightData {
    const found = layer.weights.find((w) => w.originalName.endsWith(`/${suffix}`) || w.originalName === suffix);
    if (!found) throw new UnsupportedLayerError(`layer '${layer.name}' (${layer.getClassName()}) has no '${suffix}' weight (has: ${layer.weights.map((w) => w.originalName).join(', ')})`);
    const tensor = found.read();
    if (tensor.dtype !== 'float32') throw new UnsupportedLayerError(`layer '${layer.name}': weight '${suffix}' is ${tensor.dtype}, not float32`);
    return { dims: tensor.shape, data: Float32Array.from(tensor.dataSync() as Float32Array) };
  }

  private initializer(layer: LayerLike, what: string, weight: WeightData): string {
    return this.constant(`${layer.name}/${what}`, weight.dims, weight.data);
  }

  private constant(name: string, dims: readonly number[], data: Float32Array): string {
    this.initializers.push({ name, dims, data });
    return name;
  }

  private op(op: string, inputs: string[], attributes?: OnnxNode['attributes']): string {
    const output = `${op.toLowerCase()}_${this.counter++}`;
    this.nodes.push({ op, inputs, outputs: [output], ...(attributes ? { attributes } : {}) });
    return output;
  }
}

interface WeightData {
  dims: readonly number[];
  data: Float32Array;
}

/** TF.js convolution kernel [kh, kw, in, out] → ONNX [out, in, kh, kw]. */
function hwioToOihw({ dims, data }: WeightData): WeightData {
  const [kh, kw, ci, co] = dims as [number, number, number, number];
  const out = new Float32Array(data.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < ci; i++) {
        for (let o = 0; o < co; o++) out[((o * ci + i) * kh + y) * kw + x] = data[((y * kw + x) * ci + i) * co + o] as number;
      }
    }
  }
  return { dims: [co, ci, kh, kw], data: out };
}

function pair(v: unknown): number[] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((n) => typeof n === 'number')) return v as number[];
  if (Array.isArray(v) && v.length === 1 && typeof v[0] === 'number') return [v[0], v[0]];
  throw new UnsupportedLayerError(`expected a size or a pair of sizes, got ${JSON.stringify(v)}`);
}

/**
 * Largest absolute difference between the TF.js model's and the ONNX session's outputs on `batch`
 * random inputs in [0, 1) (the range of preprocessed images), from a fixed seed: a conversion check
 * cheap enough to run whenever a model is loaded.
 */
export function maxDifferenceFromTfjs(model: tf.LayersModel, session: SyncOnnxSession, conversion: OnnxConversion, batch = 2, seed = 7): number {
  const dims = conversion.inputShape.map((d, i) => (i === 0 ? batch : d));
  if (dims.some((d) => d === null)) throw new Error(`cannot compare a model with unknown input dimensions [${conversion.inputShape.join(', ')}]`);
  const shape = dims as number[];
  return tf.tidy(() => {
    const x = tf.randomUniform(shape, 0, 1, 'float32', seed);
    const data = x.dataSync() as Float32Array;
    const y = model.predict(x);
    const expected = (Array.isArray(y) ? y[0] : y) as tf.Tensor;
    const got = session.run({ [conversion.inputName]: { data: Float32Array.from(data), dims: shape } }, [conversion.outputName])[conversion.outputName];
    if (!got) throw new Error('the ONNX session returned no output');
    const want = expected.dataSync();
    if (got.data.length !== want.length) throw new Error(`ONNX output has ${got.data.length} values, TF.js ${want.length}`);
    let max = 0;
    for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs((got.data[i] as number) - (want[i] as number)));
    return max;
  });
}
