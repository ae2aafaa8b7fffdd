import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import {
  encodeOnnxModel, onnxRuntimeStatus, SyncOnnxSession,
  type FloatTensor, type OnnxAttribute, type OnnxGraphSpec, type OnnxInitializer, type OnnxNode,
} from '@ringcount/model-core';

/**
 * Convolution kernels (Conv2D, FusedConv2D, both convolution gradients) and the conv bias
 * gradient's Sum for the TF.js WASM backend, run on ONNX Runtime (onnxruntime-node): its native
 * AVX2/AVX-512 kernels are 2–4× faster here than XNNPACK's 128-bit WASM SIMD. See README.md.
 *
 * Each kernel builds a small ONNX graph per (kernel, shapes, attributes) — NHWC↔NCHW transposes
 * inside the graph, weights as graph inputs because they change every step — and runs it with
 * `SyncOnnxSession` (synchronous, as TF.js kernels must be). Inputs are read straight from the WASM
 * heap and the result is written straight into a new WASM tensor, unless the heap is a
 * SharedArrayBuffer (threaded WASM build), which the native binding rejects: then inputs are
 * copied out and the result copied in. Cases a graph cannot express (another data format, a
 * non-float dtype, padding ONNX cannot state) use the kernel registered before (the WASM engine's
 * or the shipped one).
 */

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap };

export interface OrtKernelOptions {
  /** ONNX Runtime intra-op threads per convolution. */
  intraOpThreads: number;
}

/** A tensor living in JS memory (not on the WASM heap), fed to a graph as is. */
type HostTensor = FloatTensor;

interface GraphCall {
  /** Identifies the graph: kernel, shapes (batch excluded when chunked) and attributes. */
  key: string;
  /** Builds the graph for `batch` images (the chunk size when chunked, else the full batch). */
  graph: (batch: number) => OnnxGraphSpec;
  /** Graph inputs: WASM tensors (read from the heap, as their own shape) or host tensors. */
  feeds: Record<string, tf.TensorInfo | HostTensor>;
  /** Shape of the returned TF.js tensor. */
  outShape: number[];
  /** Shape of the graph's output `y` when it differs from `outShape` (same elements, same order). */
  outDims?: number[];
  /**
   * Run image by image in chunks: these feeds and the output are batch-major (dimension 0) and
   * each image is computed independently, so a chunk is a view of consecutive images.
   */
  batchFeeds?: string[];
}

/**
 * Images per ONNX Runtime call when a kernel runs in chunks: about this many bytes of input plus
 * output per call, so that the graph's intermediates (NCHW copies) stay in cache and a large
 * inference batch needs no new, larger session and arena.
 */
const CHUNK_BYTES = 8 << 20;

/** Sessions kept at most; the least recently used is disposed beyond that (shapes vary with batch size). */
const MAX_SESSIONS = 96;
/** Scratch memory kept at most (the filter gradient's padded and im2col buffers); least recently used dropped first. */
const MAX_SCRATCH_BYTES = 512 << 20;

/** ONNX Runtime sessions and host scratch buffers, each kept by key in least-recently-used order. */
class SessionCache {
  private readonly sessions = new Map<string, SyncOnnxSession>();
  private readonly buffers = new Map<string, Float32Array>();
  private scratchBytes = 0;
  constructor(private readonly options: OrtKernelOptions) {}

  get(key: string, graph: () => OnnxGraphSpec): SyncOnnxSession {
    let session = touch(this.sessions, key);
    if (session !== undefined) return session;
    session = new SyncOnnxSession(encodeOnnxModel(graph()), {
      intraOpThreads: this.options.intraOpThreads,
      // Idle pool threads sleep: between convolutions the main thread runs TF.js's other kernels,
      // and spinning workers (one pool per session) would take its core.
      config: { 'session.intra_op.allow_spinning': '0' },
    });
    this.sessions.set(key, session);
    for (const [oldKey, old] of this.sessions) {
      if (this.sessions.size <= MAX_SESSIONS) break;
      old.dispose();
      this.sessions.delete(oldKey);
    }
    return session;
  }

  /**
   * A host buffer of `length` floats kept under `key` and reused by every call with that key.
   * Allocated zeroed; callers write the same positions each call (the key fixes the shapes), so
   * padding left zero once stays zero.
   */
  scratch(key: string, length: number): Float32Array {
    let buffer = touch(this.buffers, key);
    if (buffer !== undefined && buffer.length === length) return buffer;
    this.scratchBytes += length * 4 - (buffer?.byteLength ?? 0);
    buffer = new Float32Array(length);
    this.buffers.set(key, buffer);
    for (const [oldKey, old] of this.buffers) {
      if (this.scratchBytes <= MAX_SCRATCH_BYTES || oldKey === key) break;
      this.scratchBytes -= old.byteLength;
      this.buffers.delete(oldKey);
    }
    return buffer;
  }

  get size(): number {
    return this.sessions.size;
  }

  clear(): void {
    for (const session of this.sessions.values()) session.dispose();
    this.sessions.clear();
    this.buffers.clear();
    this.scratchBytes = 0;
  }
}

/** The value under `key`, moved to the most-recently-used end of the map's order. */
function touch<T>(map: Map<string, T>, key: string): T | undefined {
  const value = map.get(key);
  if (value !== undefined) {
    map.delete(key);
    map.set(key, value);
  }
  return value;
}

let sessions: SessionCache | undefined;
/** While false the kernels below pass every call to the kernel registered before them. */
let enabled = false;
const stats = { onnxRuntime: 0, fallback: 0, nchwc: 0 };

function heapF32(backend: BackendWasm, info: tf.TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

function graphFor(key: string, graph: () => OnnxGraphSpec): SyncOnnxSession {
  return cache().get(key, graph);
}

function cache(): SessionCache {
  if (sessions === undefined) throw new Error('ONNX Runtime kernels used before registerOrtKernels()');
  return sessions;
}

/** Runs the kernel registered before ours (`counted`: as a fallback for a case the graphs do not cover). */
function callPrevious(kernelName: string, previous: tf.KernelFunc | undefined, args: KernelArgs, counted: boolean):
  tf.TensorInfo | tf.TensorInfo[] {
  if (previous === undefined) throw new Error(`${kernelName} (wasm): no kernel to run this case (ONNX Runtime graphs do not cover it)`);
  if (counted) stats.fallback++;
  return previous(args);
}

const isHeapTensor = (t: tf.TensorInfo | HostTensor): t is tf.TensorInfo => 'dataId' in t;

/** Runs one graph on ONNX Runtime (in batch chunks when asked) and returns its output `y` as a new WASM tensor. */
function runGraph(backend: BackendWasm, call: GraphCall): tf.TensorInfo {
  stats.onnxRuntime++;
  const out = backend.makeOutput(call.outShape, 'float32');
  try {
    // Views are taken after allocating the output: growing the WASM memory detaches earlier ones.
    const outView = heapF32(backend, out);
    const shared = typeof SharedArrayBuffer !== 'undefined' && outView.buffer instanceof SharedArrayBuffer;
    const views: Record<string, FloatTensor> = {};
    for (const [name, t] of Object.entries(call.feeds)) {
      views[name] = isHeapTensor(t) ? { data: heapF32(backend, t), dims: t.shape } : t;
    }
    const outDims = call.outDims ?? call.outShape;
    const batch = outDims[0]!;
    const chunk = call.batchFeeds === undefined ? batch : Math.max(1, Math.min(batch, Math.floor(CHUNK_BYTES /
      ((outView.length + call.batchFeeds.reduce((sum, name) => sum + views[name]!.data.length, 0)) * 4 / batch))));
    for (let b0 = 0; b0 < batch; b0 += chunk) {
      const images = Math.min(chunk, batch - b0);
      const slice = (t: FloatTensor): FloatTensor => {
        if (images === batch) return t;
        const perImage = t.data.length / batch;
        return { data: t.data.subarray(b0 * perImage, (b0 + images) * perImage), dims: [images, ...t.dims.slice(1)] };
      };
      const feeds: Record<string, FloatTensor> = {};
      for (const [name, t] of Object.entries(views)) {
        const view = call.batchFeeds?.includes(name) === true ? slice(t) : t;
        // The native binding rejects SharedArrayBuffer views (threaded WASM heap): copy those.
        feeds[name] = shared && isHeapTensor(call.feeds[name]!) ? { data: view.data.slice(), dims: view.dims } : view;
      }
      const target = slice({ data: outView, dims: outDims });
      const session = graphFor(call.batchFeeds === undefined ? call.key : `${call.key}|batch ${images}`, () => call.graph(images));
      if (shared) target.data.set(session.run(feeds, ['y']).y!.data);
      else session.runInto(feeds, { y: target });
    }
  } catch (error) {
    backend.disposeData(out.dataId);
    throw error;
  }
  return out;
}

/** Shape with its batch dimension replaced. */
const withBatch = (shape: readonly number[], batch: number): number[] => [batch, ...shape.slice(1)];

const transpose = (input: string, output: string, perm: readonly number[]): OnnxNode =>
  ({ op: 'Transpose', inputs: [input], outputs: [output], attributes: { perm } });

const NHWC_TO_NCHW = [0, 3, 1, 2];
const NCHW_TO_NHWC = [0, 2, 3, 1];
/** TF filter [KH, KW, Cin, Cout] → ONNX Conv weight [Cout, Cin, KH, KW]. */
const HWIO_TO_OIHW = [3, 2, 0, 1];

function isChannelsLast(dataFormat: unknown): boolean {
  return dataFormat === undefined || dataFormat === 'NHWC' || dataFormat === 'channelsLast';
}

function allFloat32(...infos: (tf.TensorInfo | undefined)[]): boolean {
  return infos.every((i) => i === undefined || i.dtype === 'float32');
}

/** ONNX Conv/pooling output length for explicit pads (floor rounding). */
const onnxOutLength = (input: number, kernel: number, stride: number, dilation: number, padBegin: number, padEnd: number): number =>
  Math.floor((input + padBegin + padEnd - ((kernel - 1) * dilation + 1)) / stride) + 1;

/** The activation of a FusedConv2D as ONNX nodes applied to `input` (NHWC), or null if ONNX has none here. */
function activationNodes(activation: string, input: string, output: string, leakyAlpha: number):
  { nodes: OnnxNode[]; initializers: OnnxInitializer[]; slope: boolean } | null {
  const node = (op: string, inputs: string[], attributes?: OnnxNode['attributes']): OnnxNode =>
    ({ op, inputs, outputs: [output], ...(attributes ? { attributes } : {}) });
  switch (activation) {
    case 'linear': return { nodes: [node('Identity', [input])], initializers: [], slope: false };
    case 'relu': return { nodes: [node('Relu', [input])], initializers: [], slope: false };
    case 'sigmoid': return { nodes: [node('Sigmoid', [input])], initializers: [], slope: false };
    case 'elu': return { nodes: [node('Elu', [input], { alpha: { float: 1 } })], initializers: [], slope: false };
    case 'leakyrelu': return { nodes: [node('LeakyRelu', [input], { alpha: { float: leakyAlpha } })], initializers: [], slope: false };
    case 'relu6':
      return {
        nodes: [node('Clip', [input, 'clip_min', 'clip_max'])],
        initializers: [
          { name: 'clip_min', dims: [], data: new Float32Array([0]) },
          { name: 'clip_max', dims: [], data: new Float32Array([6]) },
        ],
        slope: false,
      };
    case 'prelu': return { nodes: [node('PRelu', [input, 'slope'])], initializers: [], slope: true };
    default: return null;
  }
}

interface ConvGeometry {
  x: number[]; filter: number[]; out: number[];
  strides: [number, number]; dilations: [number, number];
  /** ONNX order: [top, left, bottom, right]. */
  pads: [number, number, number, number];
}

/** The forward convolution graph: NHWC x and HWIO filter in, NHWC y out, with optional bias and a fused activation. */
function convGraph(g: ConvGeometry, bias: boolean, activation: string, leakyAlpha: number, slopeShape: number[] | undefined): OnnxGraphSpec {
  const act = activationNodes(activation, 'y_nhwc', 'y', leakyAlpha)!;
  const [kh, kw] = [g.filter[0]!, g.filter[1]!];
  const conv: OnnxNode = {
    op: 'Conv', inputs: ['x_nchw', 'w_oihw', ...(bias ? ['b'] : [])], outputs: ['y_nchw'],
    attributes: { kernel_shape: [kh, kw], strides: g.strides, dilations: g.dilations, pads: g.pads },
  };
  return {
    name: 'tfjs_conv2d',
    nodes: [
      transpose('x', 'x_nchw', NHWC_TO_NCHW),
      transpose('w', 'w_oihw', HWIO_TO_OIHW),
      conv,
      transpose('y_nchw', 'y_nhwc', NCHW_TO_NHWC),
      ...act.nodes,
    ],
    initializers: act.initializers,
    inputs: [
      { name: 'x', shape: g.x }, { name: 'w', shape: g.filter },
      ...(bias ? [{ name: 'b', shape: [g.filter[3]!] }] : []),
      ...(slopeShape !== undefined ? [{ name: 'slope', shape: slopeShape }] : []),
    ],
    outputs: [{ name: 'y', shape: g.out }],
  };
}

/**
 * ONNX Runtime's fast CPU convolution is its NCHWc ("blocked channels") kernel, which its graph
 * optimiser only substitutes for a Conv whose weights are constant initializers: with weights as
 * graph inputs (ours change every step) a plain Conv runs MLAS's generic im2col path at about half
 * the speed. So the graph below uses the NCHWc operators directly (domain com.microsoft.nchwc, the
 * same nodes ONNX Runtime writes into an optimised model file): ReorderInput reads NHWC, Conv takes
 * the filter already in the blocked OIHWBiBo layout — reordered here in JS, a few thousand values —
 * and ReorderOutput writes NHWC. The block size is MLAS's (16 with AVX-512, 8 with AVX2), read
 * from ReorderInput's output shape; a self-check against the plain graph guards the layout.
 */
const NCHWC_DOMAIN = 'com.microsoft.nchwc';

/** The NCHWc block size, or 0 when the NCHWc operators are unusable here (then plain Conv graphs run). */
let nchwcBlock: number | undefined;

function nchwcBlockSize(): number {
  if (nchwcBlock !== undefined) return nchwcBlock;
  nchwcBlock = 0;
  if (process.env.RINGCOUNT_ORT_NCHWC === 'off') return 0;
  try {
    const probe = new SyncOnnxSession(encodeOnnxModel({
      name: 'nchwc_block_probe',
      nodes: [{ op: 'ReorderInput', domain: NCHWC_DOMAIN, inputs: ['x'], outputs: ['y'], attributes: { channels_last: 1 } }],
      initializers: [], inputs: [{ name: 'x', shape: [1, 1, 1, 4] }], outputs: [{ name: 'y', shape: ['n', 'c', 'h', 'w'] }],
    }));
    const block = probe.run({ x: { data: new Float32Array(4), dims: [1, 1, 1, 4] } }, ['y']).y!.dims[1] ?? 0;
    probe.dispose();
    if (block >= 4 && block % 4 === 0) nchwcBlock = block;
    if (nchwcBlock > 0 && !nchwcSelfCheck()) {
      console.warn('[engine] ONNX Runtime NCHWc convolution disagrees with plain Conv here; using plain Conv graphs');
      nchwcBlock = 0;
    }
  } catch (error) {
    console.warn(`[engine] ONNX Runtime NCHWc operators unavailable (${(error as Error).message.split('\n')[0]}); using plain Conv graphs`);
    nchwcBlock = 0;
  }
  return nchwcBlock;
}

/** Activations the NCHWc Conv fuses (MLAS activation kinds), as its attributes. */
function nchwcActivation(activation: string, leakyAlpha: number): Record<string, OnnxAttribute> | null {
  switch (activation) {
    case 'linear': return {};
    case 'relu': return { activation: { string: 'Relu' } };
    case 'relu6': return { activation: { string: 'Clip' }, activation_params: { floats: [0, 6] } };
    case 'leakyrelu': return { activation: { string: 'LeakyRelu' }, activation_params: { floats: [leakyAlpha] } };
    case 'sigmoid': return { activation: { string: 'Sigmoid' } };
    default: return null;
  }
}

/** Whether a convolution of these channel counts can run as NCHWc (input channels whole blocks). */
const nchwcFits = (inChannels: number, outChannels: number): boolean => {
  const block = nchwcBlockSize();
  return block > 0 && inChannels % block === 0 && outChannels % 4 === 0;
};

const roundUp = (n: number, block: number): number => Math.ceil(n / block) * block;

/**
 * A filter in NCHWc's OIHWBiBo layout — [Cout/B][Cin/B][KH·KW][Bi][Bo], output channels zero-padded
 * to whole blocks — from `at(k, i, o)`, the weight of kernel position k, input channel i, output channel o.
 */
function reorderFilterNchwc(kernelSize: number, cin: number, cout: number, block: number,
  at: (k: number, i: number, o: number) => number): Float32Array {
  const out = new Float32Array(roundUp(cout, block) * cin * kernelSize);
  let d = 0;
  for (let ob = 0; ob < out.length / (cin * kernelSize); ob += block) {
    for (let ib = 0; ib < cin; ib += block) {
      for (let k = 0; k < kernelSize; k++) {
        for (let bi = 0; bi < block; bi++) {
          for (let bo = 0; bo < block; bo++, d++) if (ob + bo < cout) out[d] = at(k, ib + bi, ob + bo);
        }
      }
    }
  }
  return out;
}

/** The NCHWc convolution graph: NHWC x, reordered filter `w` [Cout padded, Cin, KH, KW], optional padded bias; NHWC y. */
function nchwcConvGraph(g: ConvGeometry, bias: boolean, activationAttributes: Record<string, OnnxAttribute>): OnnxGraphSpec {
  const [kh, kw, cin, cout] = g.filter as [number, number, number, number];
  const coutPadded = roundUp(cout, nchwcBlockSize());
  return {
    name: 'tfjs_conv2d_nchwc',
    nodes: [
      { op: 'ReorderInput', domain: NCHWC_DOMAIN, inputs: ['x'], outputs: ['x_nchwc'], attributes: { channels_last: 1 } },
      {
        op: 'Conv', domain: NCHWC_DOMAIN, inputs: ['x_nchwc', 'w', ...(bias ? ['b'] : [])], outputs: ['y_nchwc'],
        attributes: { kernel_shape: [kh, kw], strides: g.strides, dilations: g.dilations, pads: g.pads, group: 1, ...activationAttributes },
      },
      { op: 'ReorderOutput', domain: NCHWC_DOMAIN, inputs: ['y_nchwc'], outputs: ['y'], attributes: { channels: cout, channels_last: 1 } },
    ],
    initializers: [],
    inputs: [
      { name: 'x', shape: g.x }, { name: 'w', shape: [coutPadded, cin, kh, kw] },
      ...(bias ? [{ name: 'b', shape: [coutPadded] }] : []),
    ],
    outputs: [{ name: 'y', shape: g.out }],
  };
}

/** Runs an NCHWc convolution of heap tensor `x` with a filter given by `at` (see reorderFilterNchwc). */
function runNchwcConv(backend: BackendWasm, kernel: string, x: tf.TensorInfo, g: ConvGeometry,
  at: (k: number, i: number, o: number) => number, bias: Float32Array | undefined, activationAttributes: Record<string, OnnxAttribute>): tf.TensorInfo {
  const [kh, kw, cin, cout] = g.filter as [number, number, number, number];
  const block = nchwcBlockSize();
  const coutPadded = roundUp(cout, block);
  const w = reorderFilterNchwc(kh * kw, cin, cout, block, at);
  stats.nchwc++;
  const feeds: Record<string, tf.TensorInfo | HostTensor> = { x, w: { data: w, dims: [coutPadded, cin, kh, kw] } };
  if (bias !== undefined) {
    const padded = new Float32Array(coutPadded);
    padded.set(bias);
    feeds.b = { data: padded, dims: [coutPadded] };
  }
  return runGraph(backend, {
    key: `${kernel}-nchwc|${JSON.stringify({ ...g, x: g.x.slice(1), out: g.out.slice(1) })}|${bias !== undefined}|${JSON.stringify(activationAttributes)}`,
    graph: (batch) => nchwcConvGraph({ ...g, x: withBatch(g.x, batch), out: withBatch(g.out, batch) }, bias !== undefined, activationAttributes),
    feeds, outShape: g.out, batchFeeds: ['x'],
  });
}

/** Runs a small random convolution both ways; true when NCHWc matches the plain Conv graph. */
function nchwcSelfCheck(): boolean {
  const block = nchwcBlock!;
  const g: ConvGeometry = { x: [2, 5, 6, block], filter: [3, 3, block, 12], out: [2, 5, 6, 12], strides: [1, 1], dilations: [1, 1], pads: [1, 1, 1, 1] };
  const random = (n: number, seed: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 1000 + i * 12.9898));
  const x = random(2 * 5 * 6 * block, 1);
  const filter = random(9 * block * 12, 2);
  const bias = random(12, 3);
  const plain = new SyncOnnxSession(encodeOnnxModel(convGraph(g, true, 'relu', 0, undefined)));
  const blocked = new SyncOnnxSession(encodeOnnxModel(nchwcConvGraph(g, true, { activation: { string: 'Relu' } })));
  try {
    const expected = plain.run({ x: { data: x, dims: g.x }, w: { data: filter, dims: g.filter }, b: { data: bias, dims: [12] } }, ['y']).y!.data;
    const paddedBias = new Float32Array(roundUp(12, block));
    paddedBias.set(bias);
    const w = reorderFilterNchwc(9, block, 12, block, (k, i, o) => filter[(k * block + i) * 12 + o] as number);
    const actual = blocked.run({
      x: { data: x, dims: g.x }, w: { data: w, dims: [roundUp(12, block), block, 3, 3] }, b: { data: paddedBias, dims: [paddedBias.length] },
    }, ['y']).y!.data;
    let worst = 0;
    for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs((actual[i] as number) - (expected[i] as number)));
    return actual.length === expected.length && worst < 1e-4;
  } finally {
    plain.dispose();
    blocked.dispose();
  }
}

/** Conv2D and FusedConv2D (what tfjs-layers' conv2d dispatches: Conv2D while training, FusedConv2D for inference). */
function makeConvForward(kernelName: 'Conv2D' | 'FusedConv2D', previous: tf.KernelFunc | undefined): tf.KernelFunc {
  return (params) => {
    const args = params as KernelArgs;
    const backend = args.backend as BackendWasm;
    const { x, filter, bias, preluActivationWeights: slope } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    const attrs = args.attrs as unknown as tf.FusedConv2DAttrs;
    const activation = kernelName === 'FusedConv2D' ? attrs.activation ?? 'linear' : 'linear';
    const fallback = (): tf.TensorInfo | tf.TensorInfo[] => callPrevious(kernelName, previous, args, true);
    if (!enabled) return callPrevious(kernelName, previous, args, false);
    if (x === undefined || filter === undefined || !allFloat32(x, filter, bias, slope) || !isChannelsLast(attrs.dataFormat) ||
      x.shape.length !== 4 || tf.util.sizeFromShape(x.shape) === 0) return fallback();
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number], filter.shape as [number, number, number, number], attrs.strides,
      attrs.dilations ?? 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
    const g: ConvGeometry = {
      x: x.shape, filter: filter.shape, out: info.outShape,
      strides: [info.strideHeight, info.strideWidth], dilations: [info.dilationHeight, info.dilationWidth],
      pads: [info.padInfo.top, info.padInfo.left, info.padInfo.bottom, info.padInfo.right],
    };
    const expressible = g.pads.every((p) => p >= 0) &&
      onnxOutLength(info.inHeight, info.filterHeight, info.strideHeight, info.dilationHeight, g.pads[0], g.pads[2]) === info.outHeight &&
      onnxOutLength(info.inWidth, info.filterWidth, info.strideWidth, info.dilationWidth, g.pads[1], g.pads[3]) === info.outWidth &&
      (bias === undefined || (bias.shape.length === 1 && bias.shape[0] === info.outChannels)) &&
      activationNodes(activation, 'a', 'b', 0) !== null && (activation === 'prelu') === (slope !== undefined);
    if (!expressible) return fallback();
    // One or two input channels (a grayscale first layer): XNNPACK's direct WASM convolution is
    // ~2× faster than ONNX Runtime's im2col+GEMM (K = 9 is too short a reduction) plus the NCHW
    // output transpose. Not counted as a fallback: it is the faster engine for this case.
    if (info.inChannels <= 2 && previous !== undefined) return previous(args);
    const leakyAlpha = attrs.leakyreluAlpha ?? 0.2;
    const fused = nchwcActivation(activation, leakyAlpha);
    if (fused !== null && nchwcFits(info.inChannels, info.outChannels)) {
      const [cin, cout] = [info.inChannels, info.outChannels];
      const w = heapF32(backend, filter);
      return runNchwcConv(backend, 'conv', x, g, (k, i, o) => w[(k * cin + i) * cout + o] as number,
        bias === undefined ? undefined : heapF32(backend, bias).slice(), fused);
    }
    return runGraph(backend, {
      key: `conv|${JSON.stringify({ ...g, x: g.x.slice(1), out: g.out.slice(1) })}|${bias !== undefined}|${activation}|${leakyAlpha}|${slope?.shape.join(',') ?? ''}`,
      graph: (batch) => convGraph({ ...g, x: withBatch(g.x, batch), out: withBatch(g.out, batch) }, bias !== undefined,
        activation, leakyAlpha, slope?.shape),
      feeds: { x, w: filter, ...(bias ? { b: bias } : {}), ...(slope ? { slope } : {}) },
      outShape: info.outShape,
      // A PReLU slope may vary along the batch; chunks would need slices of it too.
      ...(slope === undefined || slope.shape.length < 4 ? { batchFeeds: ['x'] } : {}),
    });
  };
}

/**
 * Conv2DBackpropInput: dx = ConvTranspose(dy, W) — the transposed convolution is exactly the input
 * gradient. Pads begin at the forward pads; the end pad (or, when the forward pass left trailing
 * rows unused, `output_padding`) makes dx exactly the input's size.
 */
function makeConvBackpropInput(previous: tf.KernelFunc | undefined): tf.KernelFunc {
  return (params) => {
    const args = params as KernelArgs;
    const backend = args.backend as BackendWasm;
    const dy = args.inputs.dy as tf.TensorInfo;
    const filter = args.inputs.filter as tf.TensorInfo;
    const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
    const fallback = (): tf.TensorInfo | tf.TensorInfo[] => callPrevious('Conv2DBackpropInput', previous, args, true);
    if (!enabled) return callPrevious('Conv2DBackpropInput', previous, args, false);
    if (!allFloat32(dy, filter) || !isChannelsLast(attrs.dataFormat) || tf.util.sizeFromShape(dy.shape) === 0) return fallback();
    const info = tf.backend_util.computeConv2DInfo(
      attrs.inputShape, filter.shape as [number, number, number, number], attrs.strides, 1, attrs.pad,
      attrs.dimRoundingMode, false, 'channelsLast');
    const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw, inHeight: h, inWidth: w } = info;
    const { top, left } = info.padInfo;
    // Length of the transposed convolution without end padding, from the forward pad at the start.
    const endH = sh * (info.outHeight - 1) + kh - top - h;
    const endW = sw * (info.outWidth - 1) + kw - left - w;
    const pads = [top, left, Math.max(0, endH), Math.max(0, endW)];
    const outputPadding = [Math.max(0, -endH), Math.max(0, -endW)];
    if (top < 0 || left < 0 || outputPadding[0]! >= sh || outputPadding[1]! >= sw ||
      dy.shape[1] !== info.outHeight || dy.shape[2] !== info.outWidth) return fallback();
    const dxShape = [...attrs.inputShape];
    const { inChannels: cin, outChannels: cout } = info;
    // Stride 1: dx = conv(dy, W rotated 180° with in/out channels swapped, pads K−1−pad), which
    // runs on the NCHWc kernel (ConvTranspose has none).
    const flippedPads: [number, number, number, number] = [kh - 1 - top, kw - 1 - left, kh - 1 - info.padInfo.bottom, kw - 1 - info.padInfo.right];
    if (sh === 1 && sw === 1 && flippedPads.every((p) => p >= 0) && nchwcFits(cout, cin)) {
      const w = heapF32(backend, filter);
      const g: ConvGeometry = { x: dy.shape, filter: [kh, kw, cout, cin], out: dxShape, strides: [1, 1], dilations: [1, 1], pads: flippedPads };
      // Filter of the dx convolution at kernel position k, input channel o (a dy channel), output channel i.
      return runNchwcConv(backend, 'dx', dy, g, (k, o, i) => w[((kh * kw - 1 - k) * cin + i) * cout + o] as number, undefined, {});
    }
    return runGraph(backend, {
      key: `dx|${dy.shape.slice(1).join(',')}|${filter.shape.join(',')}|${[sh, sw, ...pads, ...outputPadding].join(',')}`,
      graph: (batch) => ({
        name: 'tfjs_conv2d_backprop_input',
        nodes: [
          transpose('dy', 'dy_nchw', NHWC_TO_NCHW),
          transpose('w', 'w_oihw', HWIO_TO_OIHW),
          {
            op: 'ConvTranspose', inputs: ['dy_nchw', 'w_oihw'], outputs: ['dx_nchw'],
            attributes: { kernel_shape: [kh, kw], strides: [sh, sw], pads, output_padding: outputPadding },
          },
          transpose('dx_nchw', 'y', NCHW_TO_NHWC),
        ],
        initializers: [],
        inputs: [{ name: 'dy', shape: withBatch(dy.shape, batch) }, { name: 'w', shape: filter.shape }],
        outputs: [{ name: 'y', shape: withBatch(dxShape, batch) }],
      }),
      feeds: { dy, w: filter },
      outShape: dxShape,
      batchFeeds: ['dy'],
    });
  };
}

/**
 * Conv2DBackpropFilter as one convolution with the batch as channels: x as [Cin, N, H, W] (Cin
 * images of N channels) convolved with dy as [Cout, N, OH, OW] (Cout filters of size OH×OW),
 * dilated by the forward stride, gives dW as [Cin, Cout, KH, KW].
 */
function makeConvBackpropFilter(previous: tf.KernelFunc | undefined): tf.KernelFunc {
  return (params) => {
    const args = params as KernelArgs;
    const backend = args.backend as BackendWasm;
    const x = args.inputs.x as tf.TensorInfo;
    const dy = args.inputs.dy as tf.TensorInfo;
    const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    const fallback = (): tf.TensorInfo | tf.TensorInfo[] => callPrevious('Conv2DBackpropFilter', previous, args, true);
    if (!enabled) return callPrevious('Conv2DBackpropFilter', previous, args, false);
    if (!allFloat32(x, dy) || !isChannelsLast(attrs.dataFormat) || tf.util.sizeFromShape(x.shape) === 0) return fallback();
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number], attrs.filterShape, attrs.strides, 1, attrs.pad,
      attrs.dimRoundingMode, false, 'channelsLast');
    const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw, inHeight: h, inWidth: w,
      outHeight: oh, outWidth: ow } = info;
    const { top, left } = info.padInfo;
    // End pads that make the "output" exactly KH×KW; negative when the forward pass left trailing
    // input rows unused (ONNX pads cannot crop), which the previous kernel handles.
    if (dy.shape[1] !== oh || dy.shape[2] !== ow) return fallback();
    if (sh === 1 && sw === 1 && top >= 0 && left >= 0) return filterGradByMatMul(backend, x, dy, info);
    const pads = [top, left, kh + (oh - 1) * sh - h - top, kw + (ow - 1) * sw - w - left];
    if (pads.some((p) => p < 0)) return fallback();
    const [n, cin, cout] = [info.batchSize, info.inChannels, info.outChannels];
    return runGraph(backend, {
      key: `dw|${x.shape.join(',')}|${dy.shape.join(',')}|${[kh, kw, sh, sw, ...pads].join(',')}`,
      graph: () => ({
        name: 'tfjs_conv2d_backprop_filter',
        nodes: [
          transpose('x', 'x_cnhw', [3, 0, 1, 2]),
          transpose('dy', 'dy_cnhw', [3, 0, 1, 2]),
          {
            op: 'Conv', inputs: ['x_cnhw', 'dy_cnhw'], outputs: ['dw_iohw'],
            attributes: { kernel_shape: [oh, ow], strides: [1, 1], dilations: [sh, sw], pads },
          },
          transpose('dw_iohw', 'y', [2, 3, 0, 1]),
        ],
        initializers: [],
        inputs: [{ name: 'x', shape: [n, h, w, cin] }, { name: 'dy', shape: [n, oh, ow, cout] }],
        outputs: [{ name: 'y', shape: [kh, kw, cin, cout] }],
      }),
      feeds: { x, dy },
      outShape: [kh, kw, cin, cout],
    });
  };
}

/**
 * Stride-1 filter gradient as one matrix product on ONNX Runtime: A [KH·KW·Cin, M'] · B [M', Cout]
 * = dW in [KH, KW, Cin, Cout] layout, with M' = N·Hp·Wp running over the zero-padded input grid
 * (Hp×Wp = output size + kernel − 1) and dy zero-padded to that grid (bottom/right). Row (kh, kw, c)
 * of A is then channel c's padded planes read from flat offset kh·Wp+kw — a contiguous copy —
 * because every position where dy is non-zero reads inside its own image, and the others meet a
 * zero of B. ONNX Runtime makes the padded channel-major planes (Transpose + Pad) and runs the
 * product at ~75 GFLOP/s on one core; JS does the row copies. (As one Conv with the batch as
 * channels, ONNX Runtime ran this 2–3× slower: per-image im2col, skinny products; as KH·KW
 * products of zero-copy shifted views, slower again, each product re-reading B.)
 */
function filterGradByMatMul(backend: BackendWasm, x: tf.TensorInfo, dy: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo): tf.TensorInfo {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: cin, outHeight: oh, outWidth: ow, outChannels: cout,
    filterHeight: kh, filterWidth: kw } = info;
  const { top, left } = info.padInfo;
  const hp = oh + kh - 1;
  const wp = ow + kw - 1;
  const mp = n * hp * wp;
  const taps = kh * kw;
  // Stage 1: x [N, H, W, Cin] → channel-major planes zero-padded to Hp×Wp.
  const padKey = `dw-pad|${n},${h},${w},${cin}|${hp},${wp},${top},${left}`;
  const padSession = graphFor(padKey, () => ({
    name: 'tfjs_conv2d_backprop_filter_pad', opset: 10, // Pad-2 takes its pads as an attribute
    nodes: [
      transpose('x', 'x_cnhw', [3, 0, 1, 2]),
      { op: 'Pad', inputs: ['x_cnhw'], outputs: ['y'], attributes: { pads: [0, 0, top, left, 0, 0, hp - h - top, wp - w - left] } },
    ],
    initializers: [],
    inputs: [{ name: 'x', shape: [n, h, w, cin] }],
    outputs: [{ name: 'y', shape: [cin, n, hp, wp] }],
  }));
  // One plane of slack after the Cin·N planes: a shifted view runs past the last plane by at most
  // (KH−1)·Wp + KW−1 < Hp·Wp values (zero, never written).
  const xPadded = cache().scratch(`${padKey}|x`, (cin * n + 1) * hp * wp);
  const xView = heapF32(backend, x);
  const shared = typeof SharedArrayBuffer !== 'undefined' && xView.buffer instanceof SharedArrayBuffer;
  padSession.runInto({ x: { data: shared ? xView.slice() : xView, dims: x.shape } },
    { y: { data: xPadded.subarray(0, cin * mp), dims: [cin, n, hp, wp] } });
  // Stage 2: A [KH·KW·Cin, M'] whose row (kh, kw, c) is channel c's padded planes read from flat
  // offset kh·Wp+kw (a contiguous copy), dy zero-padded to the grid as B [M', Cout], and A·B.
  // (Splitting M' into cache-sized blocks, as the WASM kernel does for XNNPACK, measured no gain
  // with ONNX Runtime's GEMM.)
  const rows = taps * cin;
  const key = `dw-matmul|${rows}|${mp}|${cout}`;
  const graph = (): OnnxGraphSpec => ({
    name: 'tfjs_conv2d_backprop_filter_matmul',
    nodes: [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }],
    initializers: [],
    inputs: [{ name: 'a', shape: [rows, mp] }, { name: 'b', shape: [mp, cout] }],
    outputs: [{ name: 'y', shape: [rows, cout] }],
  });
  const a = cache().scratch(`${key}|a`, rows * mp);
  let row = 0;
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) {
      for (let c = 0; c < cin; c++, row++) {
        const from = c * mp + ky * wp + kx;
        a.set(xPadded.subarray(from, from + mp), row * mp);
      }
    }
  }
  const b = cache().scratch(`dw-b|${n},${oh},${ow},${cout}|${hp},${wp}`, mp * cout);
  copyIntoPadded(heapF32(backend, dy), b, n, oh, ow * cout, hp, wp * cout, 0, 0);
  return runGraph(backend, {
    key, graph,
    feeds: { a: { data: a, dims: [rows, mp] }, b: { data: b, dims: [mp, cout] } },
    outShape: [kh, kw, cin, cout], outDims: [rows, cout],
  });
}

/**
 * Copies `planes` planes of rows×rowLength values into planes of paddedRows×paddedRowLength at
 * offset (top, left). The rest of `dst` is left as is (zero: see SessionCache.scratch).
 */
function copyIntoPadded(src: Float32Array, dst: Float32Array, planes: number, rows: number, rowLength: number,
  paddedRows: number, paddedRowLength: number, top: number, left: number): void {
  for (let p = 0; p < planes; p++) {
    for (let r = 0; r < rows; r++) {
      const from = (p * rows + r) * rowLength;
      dst.set(src.subarray(from, from + rowLength), (p * paddedRows + r + top) * paddedRowLength + left);
    }
  }
}

/** Elements below which a Sum stays in JS: an ONNX Runtime call costs tens of microseconds. */
const ORT_SUM_MIN_ELEMENTS = 1 << 16;

/**
 * Sum over leading axes (a conv bias gradient: dy summed over batch, height and width) as a
 * matrix product ones[1, outer] · x[outer, inner] on ONNX Runtime: ~4× faster than the JS pass.
 * Other reductions, and small ones, go to the kernel registered before.
 */
function makeSum(previous: tf.KernelFunc | undefined): tf.KernelFunc {
  return (params) => {
    const args = params as KernelArgs;
    const x = args.inputs.x as tf.TensorInfo;
    const attrs = args.attrs as unknown as tf.SumAttrs;
    if (!enabled) return callPrevious('Sum', previous, args, false);
    const axes = tf.util.parseAxisParam(attrs.axis, x.shape).sort((a, b) => a - b);
    const leading = x.dtype === 'float32' && axes.length > 0 && axes.length < x.shape.length && axes.every((axis, i) => axis === i);
    // Not counted as a fallback: other reductions are simply not this kernel's business.
    if (!leading || tf.util.sizeFromShape(x.shape) < ORT_SUM_MIN_ELEMENTS) return callPrevious('Sum', previous, args, false);
    const k = axes.length;
    const outer = tf.util.sizeFromShape(x.shape.slice(0, k));
    const inner = tf.util.sizeFromShape(x.shape.slice(k));
    const key = `sum|${outer}|${inner}`;
    const graph = (): OnnxGraphSpec => ({
      name: 'tfjs_sum_leading_axes',
      nodes: [{ op: 'MatMul', inputs: ['ones', 'x'], outputs: ['y'] }],
      initializers: [],
      inputs: [{ name: 'ones', shape: [1, outer] }, { name: 'x', shape: [outer, inner] }],
      outputs: [{ name: 'y', shape: [1, inner] }],
    });
    const ones = cache().scratch(`${key}|ones`, outer);
    if (ones[0] !== 1) ones.fill(1);
    return runGraph(args.backend as BackendWasm, {
      key, graph,
      feeds: { ones: { data: ones, dims: [1, outer] }, x: { ...x, shape: [outer, inner] } },
      outShape: attrs.keepDims ? x.shape.map((d, i) => (i < k ? 1 : d)) : x.shape.slice(k),
      outDims: [1, inner],
    });
  };
}

let registeredWith: OrtKernelOptions | undefined;

/**
 * Registers the kernels above for the 'wasm' backend, each falling back to the kernel registered
 * before it (register the WASM engine's kernels first). Idempotent; throws when ONNX Runtime is
 * unavailable (check `onnxRuntimeStatus()` first).
 */
export function registerOrtKernels(options: OrtKernelOptions): void {
  enabled = true;
  if (registeredWith !== undefined) return;
  const status = onnxRuntimeStatus();
  if (!status.available) throw new Error(`ONNX Runtime kernels unavailable: ${status.reason}`);
  sessions = new SessionCache(options);
  replaceKernel('Conv2D', (previous) => makeConvForward('Conv2D', previous));
  replaceKernel('FusedConv2D', (previous) => makeConvForward('FusedConv2D', previous));
  replaceKernel('Conv2DBackpropInput', makeConvBackpropInput);
  replaceKernel('Conv2DBackpropFilter', makeConvBackpropFilter);
  replaceKernel('Sum', makeSum);
  registeredWith = options;
}

/**
 * Turns the registered kernels on or off (off: every call goes to the kernel registered before,
 * i.e. the WASM engine's), e.g. to compare both in one process. `registerOrtKernels` turns them on.
 */
export function useOrtKernels(on: boolean): void {
  if (on && registeredWith === undefined) throw new Error('useOrtKernels(true) before registerOrtKernels()');
  enabled = on;
}

/**
 * Calls so far that ran on ONNX Runtime (`nchwc`: of them, convolutions on its NCHWc kernel), and
 * that fell back to the previous kernel.
 */
export function ortKernelStats(): { onnxRuntime: number; fallback: number; nchwc: number } {
  return { ...stats };
}

/** ONNX Runtime's NCHWc block size here (8 with AVX2, 16 with AVX-512), 0 when its NCHWc kernels are not used. */
export function ortNchwcBlockSize(): number {
  return nchwcBlockSize();
}

/** The options the ONNX Runtime kernels were registered with, or undefined when they are not. */
export function ortKernelsOptions(): OrtKernelOptions | undefined {
  return registeredWith;
}

/** Whether the ONNX Runtime kernels are registered and on. */
export function ortKernelsActive(): boolean {
  return enabled;
}

/** Open ONNX Runtime sessions (one per kernel, shape and attributes seen recently). */
export function ortSessionCount(): number {
  return sessions?.size ?? 0;
}

/** Disposes every cached session (they are rebuilt on demand), e.g. after training. */
export function clearOrtSessions(): void {
  sessions?.clear();
}

function replaceKernel(name: string, make: (previous: tf.KernelFunc | undefined) => tf.KernelFunc): void {
  const previous = tf.getKernel(name, 'wasm');
  if (previous !== undefined) tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({
    kernelName: name, backendName: 'wasm', kernelFunc: make(previous?.kernelFunc),
    // Kept so the shipped kernel (the fallback) still gets its C function bound at backend init.
    ...(previous?.setupFunc ? { setupFunc: previous.setupFunc } : {}),
  });
}
