import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import { depthwiseShapeFromAttrs, segments, type DepthwiseGeometry, type DepthwiseShape } from './depthwise-conv.js';
import { Code, compiledFor, encodeModule, heapOffset, I32, instantiate, simdSupported, V128, wasmHeapMemory, type WasmMemory } from './wasm-simd.js';

/** Kernel name of the per-image depthwise filter-gradient partial sums (wasm only). */
export const DepthwiseFilterGradPartials = 'MitosisDepthwiseFilterGradPartials';

/** Static shape of one {@link DepthwiseFilterGradPartials} call, in elements. */
export type DepthwisePartialsShape = DepthwiseShape;

/**
 * Emits `f(x, dy, acc, batch)`: for every image n < batch, tap (i, j) and channel c,
 * `acc[n, i·kw + j, c] += Σ_{oh, ow} x[n, oh·sh + i − pt, ow·sw + j − pl, c] · dy[n, oh, ow, c]` over the
 * taps inside `x` `[N, H, W, C]` (zero padding implicit), `dy` `[N, Ho, Wo, C]`, `acc` `[N, kh·kw, C]`
 * (zeroed by the caller). Output rows and columns are split into runs with the same valid taps
 * (borders, interior; see `segments`), each emitted with only its taps, so addresses are non-negative
 * bases plus constants. Loops: image, row run, row, 4-channel group, column run, column; the kh·kw
 * accumulators of a channel group live in `v128` locals across one output row (per-row sums, then
 * added into `acc`).
 */
function emitPartials(s: DepthwisePartialsShape): Uint8Array {
  const { inHeight, inWidth, outHeight, outWidth, channels: c, filterWidth: kw } = s;
  const taps = s.filterHeight * kw;
  const pixel = c * 4;
  const rowBytes = inWidth * pixel;
  // Locals: params x 0, dy 1, acc 2, batch 3; i32 n 4, rc 5, cb 6, p 7, q 8, xRow 9, xImg 10, dyRow 11,
  // accImg 12, cc 13, dyImg 14; v128 d 15, a_t 16 + t.
  const [X, DY, ACC, BATCH, N, RC, CB, P, Q, XROW, XIMG, DYROW, ACCIMG, CC, DYIMG, D] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
  const a = (t: number): number => 16 + t;
  const rowSegs = segments(outHeight, inHeight, s.filterHeight, s.strideHeight, s.padTop).filter((r) => r.lo <= r.hi);
  const colSegs = segments(outWidth, inWidth, kw, s.strideWidth, s.padLeft).filter((r) => r.lo <= r.hi);
  const code = new Code();
  code.get(X).set(XIMG).get(DY).set(DYIMG).get(ACC).set(ACCIMG).i32(0).set(N);
  code.countedLoopTo(N, 1, BATCH, (k) => {
    for (const rs of rowSegs) {
      const firstRow = rs.start * s.strideHeight - s.padTop + rs.lo;
      k.get(XIMG).i32(firstRow * rowBytes).add().set(XROW);
      k.get(DYIMG).i32(rs.start * outWidth * pixel).add().set(DYROW).i32(0).set(RC);
      k.countedLoop(RC, 1, rs.count, (r) => {
        r.i32(0).set(CB);
        r.countedLoop(CB, 16, pixel, (g) => {
          for (let t = 0; t < taps; t++) g.zero().set(a(t));
          for (const cs of colSegs) {
            const firstCol = cs.start * s.strideWidth - s.padLeft + cs.lo;
            g.get(DYROW).get(CB).add().i32(cs.start * pixel).add().set(P);
            g.get(XROW).get(CB).add().i32(firstCol * pixel).add().set(Q);
            g.i32(0).set(CC);
            g.countedLoop(CC, 1, cs.count, (w) => {
              w.get(P).load().set(D);
              for (let i = rs.lo; i <= rs.hi; i++) {
                for (let j = cs.lo; j <= cs.hi; j++) {
                  const t = i * kw + j;
                  const off = ((i - rs.lo) * inWidth + (j - cs.lo)) * pixel;
                  w.get(a(t)).get(Q).load(off).get(D).f32x4Mul().f32x4Add().set(a(t));
                }
              }
              w.inc(P, pixel).inc(Q, s.strideWidth * pixel);
            });
          }
          // acc[n, t, cb/4 …] += a_t
          g.get(ACCIMG).get(CB).add().set(P);
          for (let t = 0; t < taps; t++) {
            g.get(P).get(P).load(t * pixel).get(a(t)).f32x4Add().store(t * pixel);
          }
        });
        r.inc(XROW, s.strideHeight * rowBytes).inc(DYROW, outWidth * pixel);
      });
    }
    k.inc(XIMG, inHeight * rowBytes).inc(DYIMG, outHeight * outWidth * pixel).inc(ACCIMG, taps * pixel);
  });
  return encodeModule([
    {
      name: 'f',
      params: [I32, I32, I32, I32],
      locals: [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, V128, ...new Array<number>(taps).fill(V128)],
      body: code,
    },
  ]);
}

/** `f(x, dy, acc, batch)`: the batch (≥ 1) is a run-time argument, so one module serves every batch size. */
type PartialsFn = (x: number, dy: number, acc: number, batch: number) => void;

/** Compiled kernels per backend memory, keyed by shape without the batch (a few per network; bounded). */
function compiled(memory: WasmMemory, shape: DepthwisePartialsShape): PartialsFn {
  return compiledFor(memory, `depthwise-filter-grad/${JSON.stringify({ ...shape, batch: 0 })}`, () => instantiate(emitPartials(shape), memory)['f'] as PartialsFn);
}

/**
 * The `wasm` kernel of {@link DepthwiseFilterGradPartials}: inputs `x` `[N, H, W, C]`, `dy`
 * `[N, Ho, Wo, C]`; output `[N, kh·kw, C]`, per-image sums of `x`-tap · `dy` (see `emitPartials`).
 */
function partialsKernel(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const s = depthwiseShapeFromAttrs(DepthwiseFilterGradPartials, args.attrs);
  const x = args.inputs['x'];
  const dy = args.inputs['dy'];
  if (x === undefined || dy === undefined) throw new Error(`${DepthwiseFilterGradPartials}: inputs x and dy are required`);
  const expectX = [s.batch, s.inHeight, s.inWidth, s.channels];
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
  if (s.batch > 0) fn(heapOffset(backend, x), heapOffset(backend, dy), outOffset, s.batch);
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

/**
 * Filter gradient of a depthwise convolution with channel multiplier 1 on `wasm`, in one SIMD pass
 * over the input and the output gradient (zero padding implicit; channels padded to a multiple of 4
 * only when needed): the kernel
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
    // Zero padding is implicit in the kernel; only channels are padded (to a multiple of 4).
    const chan = (t: tf.Tensor4D): tf.Tensor4D =>
      cp === c ? t : (tf.pad(t, [[0, 0], [0, 0], [0, 0], [0, cp - c]]) as tf.Tensor4D);
    const xp = chan(x);
    const dyp = chan(dy);
    const shape: DepthwisePartialsShape = {
      batch: g.batch,
      inHeight: g.inHeight,
      inWidth: g.inWidth,
      outHeight: g.outHeight,
      outWidth: g.outWidth,
      channels: cp,
      filterHeight: kh,
      filterWidth: kw,
      strideHeight: g.strideHeight,
      strideWidth: g.strideWidth,
      padTop: g.padTop,
      padLeft: g.padLeft,
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
