import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import { Code, compiledFor, encodeModule, heapOffset, I32, instantiate, simdSupported, V128, wasmHeapMemory, type WasmMemory } from './wasm-simd.js';

/** Kernel name (wasm only) of the depthwise convolution with implicit zero padding. */
export const DepthwiseConvPadded = 'MitosisDepthwiseConvPadded';

/** Sizes of a depthwise convolution (channel multiplier 1), in elements: what its kernels' shapes share. */
export interface DepthwiseGeometry {
  readonly batch: number;
  readonly inHeight: number;
  readonly inWidth: number;
  readonly outHeight: number;
  readonly outWidth: number;
  readonly filterHeight: number;
  readonly filterWidth: number;
  readonly strideHeight: number;
  readonly strideWidth: number;
  /** Implicit zero rows above / columns left of the input (≥ 0); bottom and right follow from the sizes. */
  readonly padTop: number;
  readonly padLeft: number;
}

/** A {@link DepthwiseGeometry} with its channel count (a multiple of 4), as the generated kernels take it. */
export interface DepthwiseShape extends DepthwiseGeometry {
  readonly channels: number;
}

const SHAPE_KEYS = [
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

/**
 * The {@link DepthwiseShape} in a kernel's attributes, checked: integers, padding and batch ≥ 0 (an empty batch is a
 * valid input), sizes ≥ 1, channels a multiple of 4; `kernel` names the kernel in the errors.
 */
export function depthwiseShapeFromAttrs(kernel: string, attrs: tf.NamedAttrMap | undefined): DepthwiseShape {
  const out: Record<string, number> = {};
  for (const k of SHAPE_KEYS) {
    const v = attrs?.[k];
    const min = k === 'padTop' || k === 'padLeft' || k === 'batch' ? 0 : 1;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new Error(`${kernel}: attribute "${k}" must be an integer ≥ ${min}`);
    out[k] = v;
  }
  const shape = out as unknown as DepthwiseShape;
  if (shape.channels % 4 !== 0) throw new Error(`${kernel}: channels must be a multiple of 4`);
  return shape;
}

/** Static shape of one {@link DepthwiseConvPadded} call, in elements. */
export interface DepthwiseConvShape extends DepthwiseShape {
  /**
   * Output layout, in pixels (default dense `[N, Ho, Wo, C]`): output (n, oh, ow) is written at pixel
   * `outOffset + n·outImageStride + oh·outRowStride + ow·outColStride` of the output buffer.
   */
  readonly outRowStride?: number;
  readonly outColStride?: number;
  readonly outImageStride?: number;
  readonly outOffset?: number;
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
 * Emits `f(x, w, out, batch)`: for n < batch, `out[n, oh, ow, c] = Σ_{i, j} x[n, oh·sh + i − pt, ow·sw + j − pl, c] · w[i, j, c]`
 * over the taps that fall inside `x` `[N, H, W, C]` (zero padding is implicit), `w` `[kh, kw, C]`, `out`
 * `[N, Ho, Wo, C]`. Output rows and columns are split into runs with the same valid taps (borders,
 * interior), each emitted with only its taps, so every address is a non-negative base plus a constant.
 * Loops: image, row run, row, 4-channel group (its kh·kw weight vectors in `v128` locals), column run,
 * column.
 */
function emitConv(s: DepthwiseConvShape): Uint8Array {
  const { inHeight, inWidth, outWidth, channels: c, filterWidth: kw } = s;
  const taps = s.filterHeight * kw;
  const pixel = c * 4;
  const rowBytes = inWidth * pixel;
  const [X, WT, OUT, BATCH, N, RC, CB, P, Q, XROW, XIMG, OROW, CC, OIMG, A] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
  const w = (t: number): number => 15 + t;
  const outRow = (s.outRowStride ?? outWidth) * pixel;
  const outCol = (s.outColStride ?? 1) * pixel;
  const outImage = (s.outImageStride ?? s.outHeight * outWidth) * pixel;
  const rowSegs = segments(s.outHeight, inHeight, s.filterHeight, s.strideHeight, s.padTop);
  const colSegs = segments(outWidth, inWidth, kw, s.strideWidth, s.padLeft);
  const code = new Code();
  code.get(X).set(XIMG).get(OUT).i32((s.outOffset ?? 0) * pixel).add().set(OIMG).i32(0).set(N);
  code.countedLoopTo(N, 1, BATCH, (k) => {
    for (const rs of rowSegs) {
      // XROW: the first valid tap row of this run's first output row.
      const firstRow = rs.lo <= rs.hi ? rs.start * s.strideHeight - s.padTop + rs.lo : 0;
      k.get(XIMG).i32(firstRow * rowBytes).add().set(XROW).i32(0).set(RC);
      k.get(OIMG).i32(rs.start * outRow).add().set(OROW);
      k.countedLoop(RC, 1, rs.count, (r) => {
        r.i32(0).set(CB);
        r.countedLoop(CB, 16, pixel, (g) => {
          for (let t = 0; t < taps; t++) g.get(WT).get(CB).add().load(t * pixel).set(w(t));
          for (const cs of colSegs) {
            const firstCol = cs.lo <= cs.hi ? cs.start * s.strideWidth - s.padLeft + cs.lo : 0;
            g.get(OROW).get(CB).add().i32(cs.start * outCol).add().set(P);
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
              o.inc(P, outCol).inc(Q, s.strideWidth * pixel);
            });
          }
        });
        r.inc(XROW, s.strideHeight * rowBytes).inc(OROW, outRow);
      });
    }
    k.inc(XIMG, inHeight * rowBytes).inc(OIMG, outImage);
  });
  return encodeModule([
    {
      name: 'f',
      params: [I32, I32, I32, I32],
      locals: [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, V128, ...new Array<number>(taps).fill(V128)],
      body: code,
    },
  ]);
}

/** `f(x, w, out, batch)`: the batch (≥ 1) is a run-time argument, so one module serves every batch size. */
type ConvFn = (x: number, w: number, out: number, batch: number) => void;
function convFn(memory: WasmMemory, shape: DepthwiseConvShape): ConvFn {
  return compiledFor(memory, `depthwise/${JSON.stringify({ ...shape, batch: 0 })}`, () => instantiate(emitConv(shape), memory)['f'] as ConvFn);
}

function convKernel(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const s = depthwiseShapeFromAttrs(DepthwiseConvPadded, args.attrs);
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
  if (s.batch > 0) convFn(memory, s)(heapOffset(backend, x), heapOffset(backend, filter), heapOffset(backend, out), s.batch);
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

/** Kernel name (wasm only) of the strided depthwise input gradient by output phases. */
export const DepthwiseInputGradPhases = 'MitosisDepthwiseInputGradPhases';

/** One axis of one output phase: `count` outputs `a, a + s, …`, tap indices (descending), implicit padding. */
interface PhaseAxis {
  readonly count: number;
  readonly taps: readonly number[];
  readonly pad: number;
}

/**
 * Phase `a` of one axis of a strided convolution's input gradient: inputs `a + s·u` receive
 * `Σ w[i] · dy[u + (a + p − i)/s]` over the taps i with `a + p − i ≡ 0 (mod s)`, a stride-1
 * correlation of `dy` with those taps (in descending i) and `−min (a + p − i)/s` rows of implicit
 * padding. Undefined when that padding would be negative.
 */
function phaseAxis(inLen: number, k: number, stride: number, padStart: number, a: number): PhaseAxis | undefined {
  const count = Math.max(0, Math.ceil((inLen - a) / stride));
  const taps: number[] = [];
  for (let i = k - 1; i >= 0; i--) if ((((a + padStart - i) % stride) + stride) % stride === 0) taps.push(i);
  const top = taps[0];
  if (top === undefined) return { count, taps, pad: 0 };
  const dMin = (a + padStart - top) / stride;
  return dMin > 0 ? undefined : { count, taps, pad: -dMin };
}

/** Attributes of {@link DepthwiseInputGradPhases}. */
interface PhasesAttrs {
  readonly inHeight: number;
  readonly inWidth: number;
  readonly strideHeight: number;
  readonly strideWidth: number;
  readonly padTop: number;
  readonly padLeft: number;
}

function phasePlans(dyShape: readonly number[], filterShape: readonly number[], p: PhasesAttrs): [PhaseAxis[], PhaseAxis[]] | undefined {
  const [kh, kw] = filterShape as [number, number];
  const rows: PhaseAxis[] = [];
  const cols: PhaseAxis[] = [];
  for (let a = 0; a < p.strideHeight; a++) {
    const r = phaseAxis(p.inHeight, kh, p.strideHeight, p.padTop, a);
    if (r === undefined) return undefined;
    rows.push(r);
  }
  for (let b = 0; b < p.strideWidth; b++) {
    const c = phaseAxis(p.inWidth, kw, p.strideWidth, p.padLeft, b);
    if (c === undefined) return undefined;
    cols.push(c);
  }
  return dyShape.length === 4 ? [rows, cols] : undefined;
}

function phasesKernel(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const dy = args.inputs['dy'];
  const filter = args.inputs['filter'];
  if (dy === undefined || filter === undefined) throw new Error(`${DepthwiseInputGradPhases}: inputs dy and filter are required`);
  const p = args.attrs as unknown as PhasesAttrs;
  const plans = phasePlans(dy.shape, filter.shape, p);
  const [n, ho, wo, c] = dy.shape as [number, number, number, number];
  const [kh, kw] = filter.shape as [number, number];
  if (plans === undefined || c % 4 !== 0 || filter.shape[2] !== c || filter.shape[3] !== 1) {
    throw new Error(`${DepthwiseInputGradPhases}: unsupported geometry (dy [${dy.shape.join(',')}], filter [${filter.shape.join(',')}])`);
  }
  const memory = wasmHeapMemory(backend);
  if (memory === undefined) throw new Error(`${DepthwiseInputGradPhases}: the wasm heap memory is not importable`);
  const [rows, cols] = plans;
  const h = p.inHeight;
  const w = p.inWidth;
  const out = backend.makeOutput([n, h, w, c], 'float32');
  const wasm = backend.wasm as unknown as { _malloc(bytes: number): number; _free(ptr: number): void };
  const scratch = wasm._malloc(kh * kw * c * 4);
  try {
    const outOff = heapOffset(backend, out);
    const dyOff = heapOffset(backend, dy);
    const fOff = heapOffset(backend, filter);
    // Phases without taps on an axis receive nothing: zero the output first in that case.
    if (rows.some((r) => r.count > 0 && r.taps.length === 0) || cols.some((q) => q.count > 0 && q.taps.length === 0)) {
      new Float32Array(memory.buffer, outOff, n * h * w * c).fill(0);
    }
    rows.forEach((r, a) => {
      cols.forEach((q, b) => {
        if (n === 0 || r.count === 0 || q.count === 0 || r.taps.length === 0 || q.taps.length === 0) return;
        const src = new Float32Array(memory.buffer, fOff, kh * kw * c);
        const sub = new Float32Array(memory.buffer, scratch, r.taps.length * q.taps.length * c);
        let o = 0;
        for (const i of r.taps) {
          for (const j of q.taps) {
            sub.set(src.subarray((i * kw + j) * c, (i * kw + j + 1) * c), o);
            o += c;
          }
        }
        const shape: DepthwiseConvShape = {
          batch: n,
          inHeight: ho,
          inWidth: wo,
          outHeight: r.count,
          outWidth: q.count,
          channels: c,
          filterHeight: r.taps.length,
          filterWidth: q.taps.length,
          strideHeight: 1,
          strideWidth: 1,
          padTop: r.pad,
          padLeft: q.pad,
          outRowStride: p.strideHeight * w,
          outColStride: p.strideWidth,
          outImageStride: h * w,
          outOffset: a * w + b,
        };
        convFn(memory, shape)(dyOff, scratch, outOff, shape.batch);
      });
    });
  } finally {
    wasm._free(scratch);
  }
  return out;
}

/**
 * True when {@link depthwiseInputGradPhasesSimd} handles this strided depthwise input gradient on the
 * active backend (registers its kernel): wasm with SIMD, channels a multiple of 4, multiplier 1, and
 * no phase that would need negative padding.
 */
export function depthwiseInputGradPhasesAvailable(dyShape: readonly number[], filterShape: readonly number[], attrs: PhasesAttrs): boolean {
  if ((dyShape[3] ?? 1) % 4 !== 0 || filterShape[3] !== 1 || phasePlans(dyShape, filterShape, attrs) === undefined) return false;
  if (!depthwiseConvSimdAvailable()) return false;
  if (tf.getKernel(DepthwiseInputGradPhases, 'wasm') === undefined) {
    tf.registerKernel({ kernelName: DepthwiseInputGradPhases, backendName: 'wasm', kernelFunc: phasesKernel as unknown as tf.KernelFunc });
  }
  return true;
}

/**
 * Input gradient `[N, H, W, C]` of a strided depthwise convolution (multiplier 1) from `dy`
 * `[N, Ho, Wo, C]` and `filter` `[kh, kw, C, 1]`, without zero-dilating `dy`: each of the sh·sw output
 * phases `dx[:, a::sh, b::sw]` is a stride-1 correlation of `dy` with the taps that reach it, written
 * in place by the generated SIMD kernel. Call only when {@link depthwiseInputGradPhasesAvailable}.
 */
export function depthwiseInputGradPhasesSimd(dy: tf.Tensor4D, filter: tf.Tensor4D, attrs: PhasesAttrs): tf.Tensor4D {
  return tf.engine().runKernel(DepthwiseInputGradPhases, { dy, filter }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}
