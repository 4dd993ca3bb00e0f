import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import { Code, encodeModule, heapOffset, I32, instantiate, simdSupported, V128, wasmHeapMemory, type WasmMemory } from './wasm-simd.js';

/** Kernel name (wasm only) of the depthwise convolution with implicit zero padding. */
export const DepthwiseConvPadded = 'MitosisDepthwiseConvPadded';

/** Static shape of one {@link DepthwiseConvPadded} call, in elements. */
export interface DepthwiseConvShape {
  readonly batch: number;
  readonly inHeight: number;
  readonly inWidth: number;
  readonly outHeight: number;
  readonly outWidth: number;
  /** A multiple of 4. */
  readonly channels: number;
  readonly filterHeight: number;
  readonly filterWidth: number;
  readonly strideHeight: number;
  readonly strideWidth: number;
  /** Implicit zero rows above / columns left of the input (≥ 0); bottom and right follow from the sizes. */
  readonly padTop: number;
  readonly padLeft: number;
}

/** A run of output rows (or columns) whose valid taps are `lo…hi` (lo > hi: none). */
export interface Segment {
  readonly start: number;
  readonly count: number;
  readonly lo: number;
  readonly hi: number;
}

/** Groups outputs `0…outLen−1` by their range of taps that fall inside `[0, inLen)`. */
export function segments(outLen: number, inLen: number, k: number, stride: number, padStart: number): Segment[] {
  const out: Segment[] = [];
  for (let o = 0; o < outLen; o++) {
    const origin = o * stride - padStart;
    const lo = Math.max(0, -origin);
    const hi = Math.min(k - 1, inLen - 1 - origin);
    const last = out[out.length - 1];
    if (last !== undefined && last.lo === lo && last.hi === hi) out[out.length - 1] = { ...last, count: last.count + 1 };
    else out.push({ start: o, count: 1, lo, hi });
  }
  return out;
}

/**
 * Emits `f(x, w, out)`: `out[n, oh, ow, c] = Σ_{i, j} x[n, oh·sh + i − pt, ow·sw + j − pl, c] · w[i, j, c]`
 * over the taps that fall inside `x` `[N, H, W, C]` (zero padding is implicit), `w` `[kh, kw, C]`, `out`
 * `[N, Ho, Wo, C]`. Output rows and columns are split into runs with the same valid taps (borders,
 * interior), each emitted with only its taps, so every address is a non-negative base plus a constant.
 * Loops: image, row run, row, 4-channel group (its kh·kw weight vectors in `v128` locals), column run,
 * column.
 */
function emitConv(s: DepthwiseConvShape): Uint8Array {
  const { batch, inHeight, inWidth, outWidth, channels: c, filterWidth: kw } = s;
  const taps = s.filterHeight * kw;
  const pixel = c * 4;
  const rowBytes = inWidth * pixel;
  const [X, WT, OUT, N, RC, CB, P, Q, XROW, XIMG, OROW, CC, A] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  const w = (t: number): number => 13 + t;
  const rowSegs = segments(s.outHeight, inHeight, s.filterHeight, s.strideHeight, s.padTop);
  const colSegs = segments(outWidth, inWidth, kw, s.strideWidth, s.padLeft);
  const code = new Code();
  code.get(X).set(XIMG).get(OUT).set(OROW).i32(0).set(N);
  code.countedLoop(N, 1, batch, (k) => {
    for (const rs of rowSegs) {
      // XROW: the first valid tap row of this run's first output row.
      const firstRow = rs.lo <= rs.hi ? rs.start * s.strideHeight - s.padTop + rs.lo : 0;
      k.get(XIMG).i32(firstRow * rowBytes).add().set(XROW).i32(0).set(RC);
      k.countedLoop(RC, 1, rs.count, (r) => {
        r.i32(0).set(CB);
        r.countedLoop(CB, 16, pixel, (g) => {
          for (let t = 0; t < taps; t++) g.get(WT).get(CB).add().load(t * pixel).set(w(t));
          for (const cs of colSegs) {
            const firstCol = cs.lo <= cs.hi ? cs.start * s.strideWidth - s.padLeft + cs.lo : 0;
            g.get(OROW).get(CB).add().i32(cs.start * pixel).add().set(P);
            g.get(XROW).get(CB).add().i32(firstCol * pixel).add().set(Q);
            g.i32(0).set(CC);
            g.countedLoop(CC, 1, cs.count, (o) => {
              let first = true;
              for (let i = rs.lo; i <= rs.hi; i++) {
                for (let j = cs.lo; j <= cs.hi; j++) {
                  const off = ((i - rs.lo) * inWidth + (j - cs.lo)) * pixel;
                  if (!first) o.get(A);
                  o.get(Q).load(off).get(w(i * kw + j)).f32x4Mul();
                  if (!first) o.f32x4Add();
                  o.set(A);
                  first = false;
                }
              }
              if (first) o.zero().set(A);
              o.get(P).get(A).store();
              o.inc(P, pixel).inc(Q, s.strideWidth * pixel);
            });
          }
        });
        r.inc(XROW, s.strideHeight * rowBytes).inc(OROW, outWidth * pixel);
      });
    }
    k.inc(XIMG, inHeight * rowBytes);
  });
  return encodeModule([
    {
      name: 'f',
      params: [I32, I32, I32],
      locals: [I32, I32, I32, I32, I32, I32, I32, I32, I32, V128, ...new Array<number>(taps).fill(V128)],
      body: code,
    },
  ]);
}

type ConvFn = (x: number, w: number, out: number) => void;
const compiledByMemory = new WeakMap<WasmMemory, Map<string, ConvFn>>();

function convFn(memory: WasmMemory, shape: DepthwiseConvShape): ConvFn {
  let cache = compiledByMemory.get(memory);
  if (cache === undefined) {
    cache = new Map();
    compiledByMemory.set(memory, cache);
  }
  const key = JSON.stringify(shape);
  let fn = cache.get(key);
  if (fn === undefined) {
    fn = instantiate(emitConv(shape), memory)['f'] as ConvFn;
    if (cache.size >= 64) cache.clear();
    cache.set(key, fn);
  }
  return fn;
}

function shapeFromAttrs(attrs: tf.NamedAttrMap | undefined): DepthwiseConvShape {
  const keys = [
    'batch',
    'inHeight',
    'inWidth',
    'outHeight',
    'outWidth',
    'channels',
    'filterHeight',
    'filterWidth',
    'strideHeight',
    'strideWidth',
    'padTop',
    'padLeft',
  ] as const;
  const out: Record<string, number> = {};
  for (const k of keys) {
    const v = attrs?.[k];
    const min = k === 'padTop' || k === 'padLeft' ? 0 : 1;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      throw new Error(`${DepthwiseConvPadded}: attribute "${k}" must be a positive integer`);
    }
    out[k] = v;
  }
  const s = out as unknown as DepthwiseConvShape;
  if (s.channels % 4 !== 0) throw new Error(`${DepthwiseConvPadded}: channels must be a multiple of 4`);
  return s;
}

function convKernel(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const s = shapeFromAttrs(args.attrs);
  const x = args.inputs['x'];
  const filter = args.inputs['filter'];
  if (x === undefined || filter === undefined) throw new Error(`${DepthwiseConvPadded}: inputs x and filter are required`);
  const expectX = [s.batch, s.inHeight, s.inWidth, s.channels];
  const expectW = [s.filterHeight, s.filterWidth, s.channels, 1];
  if (!tf.util.arraysEqual(x.shape, expectX) || !tf.util.arraysEqual(filter.shape, expectW)) {
    throw new Error(`${DepthwiseConvPadded}: shapes [${x.shape.join(',')}], [${filter.shape.join(',')}] do not match [${expectX.join(',')}], [${expectW.join(',')}]`);
  }
  if (x.dtype !== 'float32' || filter.dtype !== 'float32') throw new Error(`${DepthwiseConvPadded}: float32 only`);
  const memory = wasmHeapMemory(backend);
  if (memory === undefined) throw new Error(`${DepthwiseConvPadded}: the wasm heap memory is not importable`);
  const out = backend.makeOutput([s.batch, s.outHeight, s.outWidth, s.channels], 'float32');
  convFn(memory, s)(heapOffset(backend, x), heapOffset(backend, filter), heapOffset(backend, out));
  return out;
}

/** True when {@link depthwiseConvSimd} can run on the active backend (registers its kernel). */
export function depthwiseConvSimdAvailable(): boolean {
  if (tf.getBackend() !== 'wasm' || !simdSupported() || wasmHeapMemory(tf.backend()) === undefined) return false;
  if (tf.getKernel(DepthwiseConvPadded, 'wasm') === undefined) {
    tf.registerKernel({ kernelName: DepthwiseConvPadded, backendName: 'wasm', kernelFunc: convKernel as unknown as tf.KernelFunc });
  }
  return true;
}

/**
 * Depthwise convolution (channel multiplier 1, dilation 1) of `x` `[N, H, W, C]` with `filter`
 * `[kh, kw, C, 1]` on `wasm` with zero padding `pad` (top, left ≥ 0; bottom, right may be negative:
 * cropping), in one generated SIMD kernel (borders handled in the kernel; channels padded to a multiple
 * of 4 only when needed). Call only when {@link depthwiseConvSimdAvailable}.
 *
 * @returns `[N, Ho, Wo, C]` with `Ho = ⌊(H + top + bottom − kh)/sh⌋ + 1` (likewise `Wo`)
 */
export function depthwiseConvSimd(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  strideHeight: number,
  strideWidth: number,
  pad: { readonly top: number; readonly bottom: number; readonly left: number; readonly right: number },
): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const [kh, kw] = filter.shape;
  return tf.tidy(() => {
    const cp = Math.ceil(c / 4) * 4;
    const outHeight = Math.floor((h + pad.top + pad.bottom - kh) / strideHeight) + 1;
    const outWidth = Math.floor((w + pad.left + pad.right - kw) / strideWidth) + 1;
    // Zero padding is implicit in the kernel; only channels are padded (to a multiple of 4).
    const src = cp === c ? x : (tf.pad(x, [[0, 0], [0, 0], [0, 0], [0, cp - c]]) as tf.Tensor4D);
    const wq = (cp === c ? filter : tf.pad(filter, [[0, 0], [0, 0], [0, cp - c], [0, 0]])) as tf.Tensor4D;
    const shape: DepthwiseConvShape = {
      batch: n,
      inHeight: h,
      inWidth: w,
      outHeight,
      outWidth,
      channels: cp,
      filterHeight: kh,
      filterWidth: kw,
      strideHeight,
      strideWidth,
      padTop: pad.top,
      padLeft: pad.left,
    };
    const y = tf.engine().runKernel(DepthwiseConvPadded, { x: src, filter: wq }, shape as unknown as tf.NamedAttrMap) as tf.Tensor4D;
    return cp === c ? y : (tf.slice(y, [0, 0, 0, 0], [n, outHeight, outWidth, c]) as tf.Tensor4D);
  });
}
