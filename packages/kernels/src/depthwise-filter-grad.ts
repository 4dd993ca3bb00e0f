import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import { Code, encodeModule, heapOffset, I32, instantiate, simdSupported, V128, wasmHeapMemory, type WasmMemory } from './wasm-simd.js';

/** Kernel name of the per-image depthwise filter-gradient partial sums (wasm only). */
export const DepthwiseFilterGradPartials = 'MitosisDepthwiseFilterGradPartials';

/** Static shape of one {@link DepthwiseFilterGradPartials} call, in elements. */
export interface DepthwisePartialsShape {
  readonly batch: number;
  /** Padded input rows and columns (every tap read lies inside). */
  readonly padHeight: number;
  readonly padWidth: number;
  readonly outHeight: number;
  readonly outWidth: number;
  /** Channels, a multiple of 4. */
  readonly channels: number;
  readonly filterHeight: number;
  readonly filterWidth: number;
  readonly strideHeight: number;
  readonly strideWidth: number;
}

/**
 * Emits `f(x, dy, acc)`: for every image n, tap (i, j) and channel c,
 * `acc[n, i·kw + j, c] += Σ_{oh, ow} x[n, oh·sh + i, ow·sw + j, c] · dy[n, oh, ow, c]`
 * with `x` `[N, Hp, Wp, C]` (already padded), `dy` `[N, Ho, Wo, C]`, `acc` `[N, kh·kw, C]` (zeroed by
 * the caller). Loops: image, output row, 4-channel group, output column; the kh·kw accumulators of a
 * channel group live in `v128` locals across one output row (per-row sums, then added into `acc`).
 * Every size is a constant of the generated code, so tap offsets are load immediates.
 */
function emitPartials(s: DepthwisePartialsShape): Uint8Array {
  const { batch, padHeight, padWidth, outHeight, outWidth, channels: c } = s;
  const taps = s.filterHeight * s.filterWidth;
  const pixel = c * 4; // bytes per pixel
  // Locals: params x 0, dy 1, acc 2; i32 n 3, oh 4, cb 5, p 6, q 7, xRow 8, xImg 9, dyRow 10, accImg 11,
  // ow 12; v128 d 13, a_t 14 + t.
  const [X, DY, ACC, N, OH, CB, P, Q, XROW, XIMG, DYROW, ACCIMG, OW, D] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
  const a = (t: number): number => 14 + t;
  const tapOffset = (t: number): number =>
    (Math.floor(t / s.filterWidth) * padWidth + (t % s.filterWidth)) * pixel;
  const code = new Code();
  code.get(X).set(XIMG).get(DY).set(DYROW).get(ACC).set(ACCIMG).i32(0).set(N);
  code.countedLoop(N, 1, batch, (k) => {
    k.get(XIMG).set(XROW).i32(0).set(OH);
    k.countedLoop(OH, 1, outHeight, (r) => {
      r.i32(0).set(CB);
      r.countedLoop(CB, 16, pixel, (g) => {
        for (let t = 0; t < taps; t++) g.zero().set(a(t));
        g.get(DYROW).get(CB).add().set(P);
        g.get(XROW).get(CB).add().set(Q);
        g.i32(0).set(OW);
        g.countedLoop(OW, 1, outWidth, (w) => {
          w.get(P).load().set(D);
          for (let t = 0; t < taps; t++) {
            w.get(a(t)).get(Q).load(tapOffset(t)).get(D).f32x4Mul().f32x4Add().set(a(t));
          }
          w.inc(P, pixel).inc(Q, s.strideWidth * pixel);
        });
        // acc[n, t, cb/4 …] += a_t
        g.get(ACCIMG).get(CB).add().set(P);
        for (let t = 0; t < taps; t++) {
          g.get(P).get(P).load(t * pixel).get(a(t)).f32x4Add().store(t * pixel);
        }
      });
      r.inc(XROW, s.strideHeight * padWidth * pixel).inc(DYROW, outWidth * pixel);
    });
    k.inc(XIMG, padHeight * padWidth * pixel).inc(ACCIMG, taps * pixel);
  });
  return encodeModule([
    {
      name: 'f',
      params: [I32, I32, I32],
      locals: [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, V128, ...new Array<number>(taps).fill(V128)],
      body: code,
    },
  ]);
}

type PartialsFn = (x: number, dy: number, acc: number) => void;

/** Compiled kernels per backend memory, keyed by shape (a few per network; bounded). */
const compiledByMemory = new WeakMap<WasmMemory, Map<string, PartialsFn>>();
const MAX_COMPILED = 64;

function compiled(memory: WasmMemory, shape: DepthwisePartialsShape): PartialsFn {
  let cache = compiledByMemory.get(memory);
  if (cache === undefined) {
    cache = new Map();
    compiledByMemory.set(memory, cache);
  }
  const key = JSON.stringify(shape);
  let fn = cache.get(key);
  if (fn === undefined) {
    fn = instantiate(emitPartials(shape), memory)['f'] as PartialsFn;
    if (cache.size >= MAX_COMPILED) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
    cache.set(key, fn);
  }
  return fn;
}

function shapeFromAttrs(attrs: tf.NamedAttrMap | undefined): DepthwisePartialsShape {
  const get = (k: keyof DepthwisePartialsShape): number => {
    const v = attrs?.[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new Error(`${DepthwiseFilterGradPartials}: attribute "${k}" must be a positive integer`);
    }
    return v;
  };
  const shape: DepthwisePartialsShape = {
    batch: get('batch'),
    padHeight: get('padHeight'),
    padWidth: get('padWidth'),
    outHeight: get('outHeight'),
    outWidth: get('outWidth'),
    channels: get('channels'),
    filterHeight: get('filterHeight'),
    filterWidth: get('filterWidth'),
    strideHeight: get('strideHeight'),
    strideWidth: get('strideWidth'),
  };
  if (shape.channels % 4 !== 0) throw new Error(`${DepthwiseFilterGradPartials}: channels must be a multiple of 4`);
  if (
    (shape.outHeight - 1) * shape.strideHeight + shape.filterHeight > shape.padHeight ||
    (shape.outWidth - 1) * shape.strideWidth + shape.filterWidth > shape.padWidth
  ) {
    throw new Error(`${DepthwiseFilterGradPartials}: taps reach outside the padded input`);
  }
  return shape;
}

/**
 * The `wasm` kernel of {@link DepthwiseFilterGradPartials}: inputs `x` `[N, Hp, Wp, C]` (padded), `dy`
 * `[N, Ho, Wo, C]`; output `[N, kh·kw, C]`, per-image sums of `x`-tap · `dy` (see `emitPartials`).
 */
function partialsKernel(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const s = shapeFromAttrs(args.attrs);
  const x = args.inputs['x'];
  const dy = args.inputs['dy'];
  if (x === undefined || dy === undefined) throw new Error(`${DepthwiseFilterGradPartials}: inputs x and dy are required`);
  const expectX = [s.batch, s.padHeight, s.padWidth, s.channels];
  const expectDy = [s.batch, s.outHeight, s.outWidth, s.channels];
  if (!tf.util.arraysEqual(x.shape, expectX) || !tf.util.arraysEqual(dy.shape, expectDy)) {
    throw new Error(
      `${DepthwiseFilterGradPartials}: shapes [${x.shape.join(',')}], [${dy.shape.join(',')}] do not match [${expectX.join(',')}], [${expectDy.join(',')}]`,
    );
  }
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') throw new Error(`${DepthwiseFilterGradPartials}: float32 only`);
  const memory = wasmHeapMemory(backend);
  if (memory === undefined) throw new Error(`${DepthwiseFilterGradPartials}: the wasm heap memory is not importable`);
  const taps = s.filterHeight * s.filterWidth;
  const out = backend.makeOutput([s.batch, taps, s.channels], 'float32');
  const fn = compiled(memory, s);
  // Offsets after makeOutput (an allocation may grow the heap); the view is taken from the grown buffer.
  const outOffset = heapOffset(backend, out);
  new Float32Array(memory.buffer, outOffset, s.batch * taps * s.channels).fill(0);
  fn(heapOffset(backend, x), heapOffset(backend, dy), outOffset);
  return out;
}

/** Registers {@link DepthwiseFilterGradPartials} for `wasm` (idempotent). */
export function registerDepthwisePartials(): void {
  if (tf.getKernel(DepthwiseFilterGradPartials, 'wasm') !== undefined) return;
  tf.registerKernel({
    kernelName: DepthwiseFilterGradPartials,
    backendName: 'wasm',
    kernelFunc: partialsKernel as unknown as tf.KernelFunc,
  });
}

/** True when {@link depthwiseFilterGradSimd} can run on the active backend. */
export function depthwiseSimdAvailable(): boolean {
  if (tf.getBackend() !== 'wasm' || !simdSupported()) return false;
  if (wasmHeapMemory(tf.backend()) === undefined) return false;
  registerDepthwisePartials();
  return true;
}

/** Geometry needed by {@link depthwiseFilterGradSimd} (as `convGeometry` returns it). */
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
  readonly padTop: number;
  readonly padLeft: number;
}

/**
 * Filter gradient of a depthwise convolution with channel multiplier 1 on `wasm`, in one SIMD pass
 * over the (zero-padded) input and the output gradient: `x` is padded to `[N, Hp, Wp, C′]` (C′ = C
 * rounded up to a multiple of 4; `dy` gets the same channel padding), the kernel
 * {@link DepthwiseFilterGradPartials} sums every tap's products per image, and `columnSums`-style
 * average pooling reduces the N per-image sums. Call only when {@link depthwiseSimdAvailable}.
 *
 * @param x forward input `[N, H, W, C]`
 * @param dy output gradient `[N, Ho, Wo, C]`
 * @returns `[kh, kw, C, 1]`
 */
export function depthwiseFilterGradSimd(x: tf.Tensor4D, dy: tf.Tensor4D, g: DepthwiseGeometry): tf.Tensor4D {
  const c = x.shape[3];
  const kh = g.filterHeight;
  const kw = g.filterWidth;
  return tf.tidy(() => {
    const cp = Math.ceil(c / 4) * 4;
    const hp = Math.max(g.inHeight + g.padTop, (g.outHeight - 1) * g.strideHeight + kh);
    const wp = Math.max(g.inWidth + g.padLeft, (g.outWidth - 1) * g.strideWidth + kw);
    const bottom = hp - g.inHeight - g.padTop;
    const right = wp - g.inWidth - g.padLeft;
    const xp =
      g.padTop + bottom + g.padLeft + right + (cp - c) === 0
        ? x
        : tf.pad(x, [
            [0, 0],
            [g.padTop, bottom],
            [g.padLeft, right],
            [0, cp - c],
          ]);
    const dyp =
      cp === c
        ? dy
        : tf.pad(dy, [
            [0, 0],
            [0, 0],
            [0, 0],
            [0, cp - c],
          ]);
    const shape: DepthwisePartialsShape = {
      batch: g.batch,
      padHeight: hp,
      padWidth: wp,
      outHeight: g.outHeight,
      outWidth: g.outWidth,
      channels: cp,
      filterHeight: kh,
      filterWidth: kw,
      strideHeight: g.strideHeight,
      strideWidth: g.strideWidth,
    };
    const parts = tf.engine().runKernel(
      DepthwiseFilterGradPartials,
      { x: xp, dy: dyp },
      shape as unknown as tf.NamedAttrMap,
    ) as tf.Tensor;
    // Sum over images: an average pool over the N rows, times N.
    const rows = tf.reshape(parts, [1, g.batch, 1, kh * kw * cp]) as tf.Tensor4D;
    const sum = tf.mul(tf.avgPool(rows, [g.batch, 1], [g.batch, 1], 'valid'), g.batch);
    const dw = tf.reshape(sum, [kh, kw, cp, 1]);
    return (cp === c ? dw : tf.slice(dw, [0, 0, 0, 0], [kh, kw, c, 1])) as tf.Tensor4D;
  });
}
