import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * Fast gradient kernels for the TF.js WASM backend, so it can train CNNs.
 *
 * As shipped, tfjs-backend-wasm 4.x has no Conv2DBackpropFilter (training a CNN throws), a
 * naive-loop Conv2DBackpropInput and a slow generic MaxPoolGrad. The kernels below reuse the
 * backend's XNNPACK-backed kernels (Conv2D, BatchMatMul) for the arithmetic and do the cheap
 * data movement in JS directly on the WASM heap, so they allocate no tfjs Tensors (nothing to
 * leak): every intermediate is a backend TensorInfo disposed before the kernel returns.
 * Only NHWC ('channelsLast', the TF.js default) and dilation 1 are supported, as in the WASM
 * backend's own Conv2D; other cases fall back to the original kernel or fail with a clear error.
 */

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap };

/** Runs another kernel already registered for the WASM backend, returning its raw output. */
function callWasmKernel(name: string, args: KernelArgs): tf.TensorInfo {
  const kernel = tf.getKernel(name, 'wasm');
  if (kernel === undefined) throw new Error(`WASM kernel '${name}' is not registered`);
  return kernel.kernelFunc(args) as tf.TensorInfo;
}

function heapF32(backend: BackendWasm, info: tf.TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

function requireFloat32(kernel: string, ...infos: tf.TensorInfo[]): void {
  for (const info of infos) {
    if (info.dtype !== 'float32') throw new Error(`${kernel} (wasm): expected float32 tensors, got ${info.dtype}`);
  }
}

function requireChannelsLast(kernel: string, dataFormat: unknown): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(`${kernel} (wasm): only dataFormat 'NHWC' is supported, got '${String(dataFormat)}'`);
  }
}

/**
 * Conv2DBackpropFilter: dW[kh,kw,ci,co] = Σ_{n,oh,ow} x[n, oh·s+kh−top, ow·s+kw−left, ci] · dy[n,oh,ow,co].
 *
 * Written as one matrix product A·B with A = patches [KH·KW·Cin, M] (M = N·OH·OW, built in JS
 * from x transposed to [Cin,N,H,W] so rows are contiguous copies) and B = dy as [M, Cout]. The
 * product's [KH·KW·Cin, Cout] layout is exactly the filter layout, and BatchMatMul with batch 1
 * and no transposes runs on XNNPACK's fully-connected operator (A rows = "batch").
 */
function conv2DBackpropFilter(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const x = args.inputs.x as tf.TensorInfo;
  const dy = args.inputs.dy as tf.TensorInfo;
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  requireFloat32('Conv2DBackpropFilter', x, dy);
  requireChannelsLast('Conv2DBackpropFilter', attrs.dataFormat);
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], attrs.filterShape, attrs.strides, 1, attrs.pad,
    attrs.dimRoundingMode, false, 'channelsLast');
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: cin, outHeight: oh, outWidth: ow, outChannels: cout,
    filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const m = n * oh * ow;

  let t0 = performance.now();
  const xT = callWasmKernel('Transpose', { inputs: { x }, backend, attrs: { perm: [3, 0, 1, 2] } });
  timing.transpose += performance.now() - t0; t0 = performance.now();
  const patches = backend.makeOutput([1, kh * kw * cin, m], 'float32');
  fillPatchesTransposed(heapF32(backend, xT), heapF32(backend, patches), { n, h, w, cin, oh, ow, kh, kw, sh, sw, top, left });
  backend.disposeData(xT.dataId);
  timing.fill += performance.now() - t0; t0 = performance.now();

  const dy3 = callWasmKernel('Reshape', { inputs: { x: dy }, backend, attrs: { shape: [1, m, cout] } });
  const product = callWasmKernel('BatchMatMul', {
    inputs: { a: patches, b: dy3 }, backend, attrs: { transposeA: false, transposeB: false },
  });
  backend.disposeData(patches.dataId);
  backend.disposeData(dy3.dataId);
  timing.matmul += performance.now() - t0;
  const dw = callWasmKernel('Reshape', { inputs: { x: product }, backend, attrs: { shape: [kh, kw, cin, cout] } });
  backend.disposeData(product.dataId);
  return dw;
}

interface PatchGeometry {
  n: number; h: number; w: number; cin: number; oh: number; ow: number;
  kh: number; kw: number; sh: number; sw: number; top: number; left: number;
}

/** patches[(ky·KW+kx)·Cin+c, (b·OH+oy)·OW+ox] = xT[c, b, oy·sh+ky−top, ox·sw+kx−left] (0 outside). */
function fillPatchesTransposed(xT: Float32Array, patches: Float32Array, g: PatchGeometry): void {
  const { n, h, w, cin, oh, ow, kh, kw, sh, sw, top, left } = g;
  let dst = 0;
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) {
      // Output columns whose input column is inside the image: ox in [oxLo, oxHi).
      const oxLo = Math.max(0, Math.ceil((left - kx) / sw));
      const oxHi = Math.min(ow, Math.floor((w - 1 + left - kx) / sw) + 1);
      for (let c = 0; c < cin; c++) {
        for (let b = 0; b < n; b++) {
          const planeBase = (c * n + b) * h * w;
          for (let oy = 0; oy < oh; oy++) {
            const iy = oy * sh + ky - top;
            if (iy < 0 || iy >= h || oxHi <= oxLo) {
              patches.fill(0, dst, dst + ow);
              dst += ow;
              continue;
            }
            for (let ox = 0; ox < oxLo; ox++) patches[dst + ox] = 0;
            const rowBase = planeBase + iy * w + kx - left;
            // A plain loop: subarray()+set() allocates a view per row and is slower for short rows.
            for (let ox = oxLo; ox < oxHi; ox++) patches[dst + ox] = xT[rowBase + ox * sw] as number;
            for (let ox = oxHi; ox < ow; ox++) patches[dst + ox] = 0;
            dst += ow;
          }
        }
      }
    }
  }
}

/**
 * Conv2DBackpropInput for stride 1: dx = conv2d(dy, W rotated 180° with in/out channels swapped)
 * with padding (K−1−pad), i.e. a plain forward convolution that XNNPACK runs as fast as the
 * forward pass. Strided cases fall back to the backend's original kernel.
 */
function makeConv2DBackpropInput(original: tf.KernelFunc | undefined): tf.KernelFunc {
  return (args) => {
    const backend = args.backend as BackendWasm;
    const dy = args.inputs.dy as tf.TensorInfo;
    const filter = args.inputs.filter as tf.TensorInfo;
    const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
    requireFloat32('Conv2DBackpropInput', dy, filter);
    requireChannelsLast('Conv2DBackpropInput', attrs.dataFormat);
    const info = tf.backend_util.computeConv2DInfo(
      attrs.inputShape, filter.shape as [number, number, number, number], attrs.strides, 1, attrs.pad,
      attrs.dimRoundingMode, false, 'channelsLast');
    const { filterHeight: kh, filterWidth: kw, inChannels: cin, outChannels: cout } = info;
    const pads = [kh - 1 - info.padInfo.top, kh - 1 - info.padInfo.bottom, kw - 1 - info.padInfo.left,
      kw - 1 - info.padInfo.right];
    if (info.strideHeight !== 1 || info.strideWidth !== 1 || pads.some((p) => p < 0)) {
      if (original === undefined) throw new Error('Conv2DBackpropInput (wasm): unsupported strides/padding');
      return original(args);
    }
    const flipped = backend.makeOutput([kh, kw, cout, cin], 'float32');
    const src = heapF32(backend, filter);
    const dst = heapF32(backend, flipped);
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        const from = ((kh - 1 - ky) * kw + (kw - 1 - kx)) * cin * cout;
        const to = (ky * kw + kx) * cout * cin;
        for (let ci = 0; ci < cin; ci++) {
          for (let co = 0; co < cout; co++) dst[to + co * cin + ci] = src[from + ci * cout + co] as number;
        }
      }
    }
    const dx = callWasmKernel('Conv2D', {
      inputs: { x: dy, filter: flipped }, backend,
      attrs: {
        strides: [1, 1], pad: [[0, 0], [pads[0]!, pads[1]!], [pads[2]!, pads[3]!], [0, 0]],
        dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined as unknown as string,
      },
    });
    backend.disposeData(flipped.dataId);
    return dx;
  };
}

/**
 * MaxPoolGrad for 2×2 windows with stride 2 and no padding (the usual `maxPooling2d(2)`): each
 * input element belongs to at most one window, so dx is dy routed to the window's first maximum
 * (row-major order, the `cpu` backend's tie rule) and 0 elsewhere — one pass in JS over the heap.
 * Other pool geometries use the backend's original kernel.
 */
function makeMaxPoolGrad(original: tf.KernelFunc | undefined): tf.KernelFunc {
  return (args) => {
    const backend = args.backend as BackendWasm;
    const dy = args.inputs.dy as tf.TensorInfo;
    const input = args.inputs.input as tf.TensorInfo;
    const attrs = args.attrs as unknown as tf.MaxPoolGradAttrs;
    const info = tf.backend_util.computePool2DInfo(
      input.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad,
      attrs.dimRoundingMode);
    const fast = info.filterHeight === 2 && info.filterWidth === 2 && info.strideHeight === 2 &&
      info.strideWidth === 2 && info.padInfo.top === 0 && info.padInfo.left === 0 &&
      info.outHeight * 2 <= info.inHeight && info.outWidth * 2 <= info.inWidth &&
      input.dtype === 'float32' && dy.dtype === 'float32';
    if (!fast) {
      if (original === undefined) throw new Error('MaxPoolGrad (wasm): unsupported pooling geometry');
      return original(args);
    }
    const dx = backend.makeOutput(input.shape, 'float32');
    maxPool2x2Grad(heapF32(backend, input), heapF32(backend, dy), heapF32(backend, dx),
      info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth);
    return dx;
  };
}

function maxPool2x2Grad(x: Float32Array, dy: Float32Array, dx: Float32Array,
  n: number, h: number, w: number, c: number, oh: number, ow: number): void {
  if (oh * 2 !== h || ow * 2 !== w) dx.fill(0); // odd sizes leave a row/column outside every window
  const rowStride = w * c;
  let o = 0;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      let p00 = (b * h + oy * 2) * rowStride;
      for (let ox = 0; ox < ow; ox++) {
        for (let ch = 0; ch < c; ch++, o++) {
          const i00 = p00 + ch;
          const i01 = i00 + c;
          const i10 = i00 + rowStride;
          const i11 = i10 + c;
          const v00 = x[i00] as number;
          const v01 = x[i01] as number;
          const v10 = x[i10] as number;
          const v11 = x[i11] as number;
          const g = dy[o] as number;
          let best = v00;
          let which = 0;
          if (v01 > best) { best = v01; which = 1; }
          if (v10 > best) { best = v10; which = 2; }
          if (v11 > best) { which = 3; }
          dx[i00] = which === 0 ? g : 0;
          dx[i01] = which === 1 ? g : 0;
          dx[i10] = which === 2 ? g : 0;
          dx[i11] = which === 3 ? g : 0;
        }
        p00 += 2 * c;
      }
    }
  }
}

let registered = false;
export const timing = { transpose: 0, fill: 0, matmul: 0 };

/**
 * Registers the kernels above for the 'wasm' backend (idempotent). Call before training; the
 * WASM backend does not need to be initialised yet.
 */
export function registerWasmGradientKernels(): void {
  if (registered) return;
  replaceKernel('Conv2DBackpropFilter', () => conv2DBackpropFilter as tf.KernelFunc);
  replaceKernel('Conv2DBackpropInput', makeConv2DBackpropInput);
  replaceKernel('MaxPoolGrad', makeMaxPoolGrad);
  registered = true;
}

/**
 * Swaps the shipped kernel (if any) for ours. The shipped one stays reachable as a fallback, and
 * its setupFunc (which binds its C function when the backend initialises) is kept.
 */
function replaceKernel(name: string, make: (original: tf.KernelFunc | undefined) => tf.KernelFunc): void {
  const shipped = tf.getKernel(name, 'wasm');
  if (shipped !== undefined) tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({
    kernelName: name, backendName: 'wasm', kernelFunc: make(shipped?.kernelFunc),
    ...(shipped?.setupFunc ? { setupFunc: shipped.setupFunc } : {}),
  });
}
