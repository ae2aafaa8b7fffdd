import * as tf from '@tensorflow/tfjs';
// Importing the package also registers the shipped WASM kernels, which must happen before ours
// replace some of them.
import { type BackendWasm, getThreadsCount } from '@tensorflow/tfjs-backend-wasm';

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
 * Written as a matrix product A·B with A = patches [KH·KW·Cin, M] and B = dy as [M, Cout]
 * (M = N·OH·OW) through the backend's BatchMatMul, which runs on XNNPACK's fully-connected
 * operator for batch 1 without transposes (the rows of A are its "batch"); the product's
 * [KH·KW·Cin, Cout] layout is exactly the filter layout. (A convolution with dy as a 64×64
 * "kernel" computes the same thing but is a poor shape for XNNPACK.)
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
  if (info.strideHeight === 1 && info.strideWidth === 1) return filterGradOnPaddedGrid(backend, x, dy, info);
  const [patches, dyRows] = patchesByGather(backend, x, dy, info);
  const product = callWasmKernel('BatchMatMul', {
    inputs: { a: patches, b: dyRows }, backend, attrs: { transposeA: false, transposeB: false },
  });
  backend.disposeData(patches.dataId);
  backend.disposeData(dyRows.dataId);
  const dw = callWasmKernel('Reshape', { inputs: { x: product }, backend, attrs: { shape: attrs.filterShape } });
  backend.disposeData(product.dataId);
  return dw;
}

/**
 * Bytes of the A and B blocks of one block product, per thread: small enough to stay in cache while
 * XNNPACK re-reads them, large enough that per-call costs (operator creation, packing B, waking
 * the thread pool) stay small. Measured single-threaded on the reference CNN: 4 MB beat 1 MB,
 * 16 MB and unblocked by 10–20%.
 */
const FILTER_GRAD_BLOCK_BYTES_PER_THREAD = 4 << 20;

/**
 * Stride 1. Works on the zero-padded input grid (Hp×Wp = output size + kernel − 1) with dy
 * zero-padded to the same grid (bottom/right): then the patch row for (kh, kw, ci) is the padded
 * image plane of channel ci read from flat offset kh·Wp+kw — a contiguous copy, no gather —
 * because every position where dy is non-zero reads inside its own image and the others are
 * multiplied by 0 (a few % more multiply-adds than M = N·OH·OW).
 *
 * The reduction over M' = N·Hp·Wp (10⁴–10⁵) is split into blocks whose A and B parts fit in L2:
 * XNNPACK's fully-connected kernels re-read B once per few rows of A and A once per few columns
 * of B over the whole reduction, so one product over all of M' is bound by memory bandwidth.
 * Block products are summed in float64.
 */
function filterGradOnPaddedGrid(backend: BackendWasm, x: tf.TensorInfo, dy: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo): tf.TensorInfo {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: cin, outHeight: oh, outWidth: ow, outChannels: cout,
    filterHeight: kh, filterWidth: kw } = info;
  const { top, left } = info.padInfo;
  const hp = oh + kh - 1;
  const wp = ow + kw - 1;
  const mp = n * hp * wp;
  const rows = kh * kw * cin;
  // x as [Cin·N] planes zero-padded to Hp×Wp, plus one zero plane of slack at the end (the last
  // channel's shifted reads run past its block by at most (kh−1)·Wp + kw−1 < Hp·Wp). Padding is
  // done with row copies: the shipped PadV2 is several times slower than memcpy.
  const xT = callWasmKernel('Transpose', { inputs: { x }, backend, attrs: { perm: [3, 0, 1, 2] } });
  const xPadded = backend.makeOutput([cin * n + 1, hp, wp], 'float32');
  padPlanes(heapF32(backend, xT), heapF32(backend, xPadded), cin * n, h, w, hp, wp, top, left);
  backend.disposeData(xT.dataId);
  const dyPadded = backend.makeOutput([mp, cout], 'float32');
  padPlanes(heapF32(backend, dy), heapF32(backend, dyPadded), n, oh, ow * cout, hp, wp * cout, 0, 0);

  const blockBytes = FILTER_GRAD_BLOCK_BYTES_PER_THREAD * getThreadsCount();
  const block = Math.max(64, Math.min(mp, Math.floor(blockBytes / 4 / (rows + cout))));
  const sum = new Float64Array(rows * cout);
  for (let m0 = 0; m0 < mp; m0 += block) {
    const mc = Math.min(block, mp - m0);
    // Fresh tensors per block: XNNPACK caches the packed B per tensor id.
    const a = backend.makeOutput([1, rows, mc], 'float32');
    const b = backend.makeOutput([1, mc, cout], 'float32');
    // Heap views are taken after allocating: growing the WASM memory detaches earlier views.
    const src = heapF32(backend, xPadded);
    const aValues = heapF32(backend, a);
    let row = 0;
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        const shift = ky * wp + kx + m0;
        for (let c = 0; c < cin; c++, row++) {
          const from = c * mp + shift;
          aValues.set(src.subarray(from, from + mc), row * mc);
        }
      }
    }
    heapF32(backend, b).set(heapF32(backend, dyPadded).subarray(m0 * cout, (m0 + mc) * cout));
    const product = callWasmKernel('BatchMatMul', {
      inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false },
    });
    const partial = heapF32(backend, product);
    for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] as number) + (partial[i] as number);
    backend.disposeData(product.dataId);
    backend.disposeData(a.dataId);
    backend.disposeData(b.dataId);
  }
  backend.disposeData(xPadded.dataId);
  backend.disposeData(dyPadded.dataId);
  const dw = backend.makeOutput([kh, kw, cin, cout], 'float32');
  heapF32(backend, dw).set(sum);
  return dw;
}

/**
 * Copies `planes` planes of rows×rowLength values into zeroed planes of paddedRows×paddedRowLength,
 * offset by (top, left); anything in `dst` past the last plane is zeroed too.
 */
function padPlanes(src: Float32Array, dst: Float32Array, planes: number, rows: number, rowLength: number,
  paddedRows: number, paddedRowLength: number, top: number, left: number): void {
  dst.fill(0);
  for (let p = 0; p < planes; p++) {
    for (let r = 0; r < rows; r++) {
      const from = (p * rows + r) * rowLength;
      dst.set(src.subarray(from, from + rowLength), (p * paddedRows + r + top) * paddedRowLength + left);
    }
  }
}

/** Any stride: gather each patch row element by element from x transposed to [Cin, N, H, W]. */
function patchesByGather(backend: BackendWasm, x: tf.TensorInfo, dy: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo): [tf.TensorInfo, tf.TensorInfo] {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: cin, outHeight: oh, outWidth: ow, outChannels: cout,
    filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  const m = n * oh * ow;
  const xT = callWasmKernel('Transpose', { inputs: { x }, backend, attrs: { perm: [3, 0, 1, 2] } });
  const patches = backend.makeOutput([1, kh * kw * cin, m], 'float32');
  fillPatchesTransposed(heapF32(backend, xT), heapF32(backend, patches), { n, h, w, cin, oh, ow, kh, kw, sh, sw, top, left });
  backend.disposeData(xT.dataId);
  const dyRows = callWasmKernel('Reshape', { inputs: { x: dy }, backend, attrs: { shape: [1, m, cout] } });
  return [patches, dyRows];
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
 * MaxPoolGrad: dy routed to each window's first maximum (row-major scan, the `cpu` backend's rule,
 * so ties and padding behave the same), computed in one JS pass over the WASM heap. The shipped
 * WASM kernel is slow (~100 ms per step on the reference CNN) and, for overlapping 'same'
 * windows, disagrees with `cpu`. 2×2/stride-2 windows (the usual `maxPooling2d(2)`) take a
 * branch-light path: each input element is in at most one window, so dx needs no accumulation.
 */
function maxPoolGrad(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const dy = args.inputs.dy as tf.TensorInfo;
  const input = args.inputs.input as tf.TensorInfo;
  const attrs = args.attrs as unknown as tf.MaxPoolGradAttrs;
  requireFloat32('MaxPoolGrad', dy, input);
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad,
    attrs.dimRoundingMode);
  const dx = backend.makeOutput(input.shape, 'float32');
  const x = heapF32(backend, input);
  const dyValues = heapF32(backend, dy);
  const dxValues = heapF32(backend, dx);
  const nonOverlapping2x2 = info.filterHeight === 2 && info.filterWidth === 2 && info.strideHeight === 2 &&
    info.strideWidth === 2 && info.padInfo.top === 0 && info.padInfo.left === 0 &&
    info.outHeight * 2 <= info.inHeight && info.outWidth * 2 <= info.inWidth;
  if (nonOverlapping2x2) {
    maxPool2x2Grad(x, dyValues, dxValues, info.batchSize, info.inHeight, info.inWidth, info.inChannels,
      info.outHeight, info.outWidth);
  } else {
    maxPoolGradGeneral(x, dyValues, dxValues, info);
  }
  return dx;
}

function maxPool2x2Grad(x: Float32Array, dy: Float32Array, dx: Float32Array,
  n: number, h: number, w: number, c: number, oh: number, ow: number): void {
  // A native memset, then one store per window; the selects below compile without branches,
  // which matters because the position of a window's maximum is unpredictable.
  dx.fill(0);
  const rowStride = w * c;
  let o = 0;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      let i00 = (b * h + oy * 2) * rowStride;
      for (let ox = 0; ox < ow; ox++, i00 += c) {
        for (let ch = 0; ch < c; ch++, o++, i00++) {
          const i01 = i00 + c;
          const i10 = i00 + rowStride;
          const i11 = i10 + c;
          // First maximum in row-major order, as the cpu backend (strict '>' keeps the earlier one).
          let best = x[i00] as number;
          let at = best > -Infinity ? i00 : -1;
          const v01 = x[i01] as number;
          at = v01 > best ? i01 : at;
          best = v01 > best ? v01 : best;
          const v10 = x[i10] as number;
          at = v10 > best ? i10 : at;
          best = v10 > best ? v10 : best;
          at = (x[i11] as number) > best ? i11 : at;
          if (at >= 0) dx[at] = dy[o] as number;
        }
      }
    }
  }
}

function maxPoolGradGeneral(x: Float32Array, dy: Float32Array, dx: Float32Array, info: tf.backend_util.Conv2DInfo): void {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow,
    strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
  dx.fill(0);
  let o = 0;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const y0 = oy * sh - info.padInfo.top;
      const yLo = Math.max(0, y0);
      const yHi = Math.min(h, y0 + fh);
      for (let ox = 0; ox < ow; ox++) {
        const x0 = ox * sw - info.padInfo.left;
        const xLo = Math.max(0, x0);
        const xHi = Math.min(w, x0 + fw);
        for (let ch = 0; ch < c; ch++, o++) {
          let best = -Infinity;
          let at = -1;
          for (let iy = yLo; iy < yHi; iy++) {
            for (let ix = xLo; ix < xHi; ix++) {
              const i = ((b * h + iy) * w + ix) * c + ch;
              const v = x[i] as number;
              if (v > best) { best = v; at = i; }
            }
          }
          if (at >= 0) dx[at] = (dx[at] as number) + (dy[o] as number);
        }
      }
    }
  }
}

/**
 * Sum over leading axes (e.g. a conv layer's bias gradient: dy summed over batch, height and
 * width) as one sequential JS pass with float64 accumulators. The shipped kernel first
 * transposes the reduced axes innermost, which costs more than the sum itself. Other axis
 * patterns use the shipped kernel.
 */
function makeSum(original: tf.KernelFunc | undefined): tf.KernelFunc {
  return (args) => {
    const backend = args.backend as BackendWasm;
    const x = args.inputs.x as tf.TensorInfo;
    const attrs = args.attrs as unknown as tf.SumAttrs;
    const axes = tf.util.parseAxisParam(attrs.axis, x.shape).sort((a, b) => a - b);
    const leading = x.dtype === 'float32' && axes.length > 0 && axes.length < x.shape.length &&
      axes.every((axis, i) => axis === i);
    if (!leading) {
      if (original === undefined) throw new Error('Sum (wasm): unsupported reduction');
      return original(args);
    }
    const k = axes.length;
    const outer = tf.util.sizeFromShape(x.shape.slice(0, k));
    const inner = tf.util.sizeFromShape(x.shape.slice(k));
    const outShape = attrs.keepDims ? x.shape.map((d, i) => (i < k ? 1 : d)) : x.shape.slice(k);
    const out = backend.makeOutput(outShape, 'float32');
    const values = heapF32(backend, x);
    heapF32(backend, out).set(sumLeadingRows(values, outer, inner));
    return out;
  };
}

/** Column sums of a row-major [outer, inner] matrix; four rows per pass quarter the accumulator traffic. */
function sumLeadingRows(values: Float32Array, outer: number, inner: number): Float64Array {
  const acc = new Float64Array(inner);
  let i = 0;
  let base = 0;
  for (; i + 4 <= outer; i += 4, base += 4 * inner) {
    for (let j = 0; j < inner; j++) {
      const k = base + j;
      acc[j] = (acc[j] as number) + (((values[k] as number) + (values[k + inner] as number)) +
        ((values[k + 2 * inner] as number) + (values[k + 3 * inner] as number)));
    }
  }
  for (; i < outer; i++, base += inner) {
    for (let j = 0; j < inner; j++) acc[j] = (acc[j] as number) + (values[base + j] as number);
  }
  return acc;
}

/**
 * Identity shares the input's buffer (reference counted), as the `cpu` backend does: tensors are
 * immutable, and the shipped WASM kernel copies it (~25 ms per step for a 128×128×16 batch of 32
 * in the reference CNN's training step).
 */
function identity(args: KernelArgs): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  (args.backend as BackendWasm).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

let registered = false;

/**
 * Registers the kernels above for the 'wasm' backend (idempotent). Call before training; the
 * WASM backend does not need to be initialised yet.
 */
export function registerWasmGradientKernels(): void {
  if (registered) return;
  replaceKernel('Conv2DBackpropFilter', () => conv2DBackpropFilter as tf.KernelFunc);
  replaceKernel('Conv2DBackpropInput', makeConv2DBackpropInput);
  replaceKernel('MaxPoolGrad', () => maxPoolGrad as tf.KernelFunc);
  replaceKernel('Sum', makeSum);
  replaceKernel('Identity', (original) => (args) =>
    ((args.inputs.x as tf.TensorInfo).dtype === 'string' && original !== undefined ? original(args) : identity(args as KernelArgs)));
  // A cast to the same dtype (the ReLU gradient casts its float32 step mask) is an identity too.
  replaceKernel('Cast', (original) => (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype === (args.attrs as unknown as tf.CastAttrs).dtype && x.dtype !== 'string') return identity(args as KernelArgs);
    if (original === undefined) throw new Error('Cast (wasm): no kernel for this cast');
    return original(args);
  });
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
