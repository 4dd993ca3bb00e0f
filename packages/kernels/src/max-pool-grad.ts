import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import { layout } from './simd-rows.js';
import { Code, compiledFor, encodeModule, heapOffset, I32, instantiate, simdSupported, V128, wasmHeapMemory, type WasmMemory } from './wasm-simd.js';

type Rounding = 'floor' | 'round' | 'ceil' | undefined;

/** Geometry of a non-overlapping max pool that {@link maxPoolGradSimdKernel} handles. */
interface PoolGeometry {
  readonly n: number;
  readonly h: number;
  readonly w: number;
  readonly c: number;
  readonly kh: number;
  readonly kw: number;
  readonly outH: number;
  readonly outW: number;
}

type RowsFn = (x: number, y: number, dy: number, dx: number, rows: number) => void;

/**
 * Emits `grad(x, y, dy, dx, rows)` for one image's `rows` output rows: for each output pixel and each
 * group of four channels, the window's positions are scanned in row-major order and the first one
 * whose input equals the pooled maximum `y` receives `dy` (TF.js's tie rule: the first maximum wins);
 * the window's other positions receive 0. Windows do not overlap (stride = window), so every written
 * position belongs to exactly one window.
 */
function emitGrad(g: PoolGeometry): Uint8Array {
  const pixel = g.c * 4;
  // Groups of four channels; with C not a multiple of 4 the last group overlaps the one before (its lanes compute
  // the same values for the shared channels, so writing them twice is harmless).
  const { groups, rowOffset } = layout(g.c);
  // Params: x 0, y 1, dy 2, dx 3, rows 4; locals: col 5 (i32), found 6, ymax 7, d 8, eq 9 (v128).
  const [X, Y, DY, DX, ROWS, COL, FOUND, YMAX, D, EQ] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const code = new Code();
  code.repeat(ROWS, (r) => {
    r.i32(g.outW).set(COL);
    r.repeat(COL, (q) => {
      for (let k = 0; k < groups; k++) {
        const o = rowOffset(k);
        q.get(Y).load(o).set(YMAX);
        q.get(DY).load(o).set(D);
        q.zero().set(FOUND);
        for (let i = 0; i < g.kh; i++) {
          for (let j = 0; j < g.kw; j++) {
            const off = (i * g.w + j) * pixel + o;
            q.get(X).load(off).get(YMAX).f32x4Eq().get(FOUND).andNot().set(EQ);
            q.get(DX).get(D).get(EQ).and().store(off);
            q.get(FOUND).get(EQ).or().set(FOUND);
          }
        }
      }
      q.inc(X, g.kw * pixel).inc(DX, g.kw * pixel).inc(Y, pixel).inc(DY, pixel);
    });
    // To the first row of the next window row (skipping columns no window covers).
    const skip = (g.kh * g.w - g.outW * g.kw) * pixel;
    r.inc(X, skip).inc(DX, skip);
  });
  return encodeModule([{ name: 'grad', params: [I32, I32, I32, I32, I32], locals: [I32, V128, V128, V128, V128], body: code }]);
}

function gradFn(memory: WasmMemory, g: PoolGeometry): RowsFn {
  return compiledFor(memory, `max-pool-grad/${g.w}/${g.c}/${g.kh}/${g.kw}/${g.outW}`, () => instantiate(emitGrad(g), memory)['grad'] as RowsFn);
}

/** `computePool2DInfo` of a `MaxPoolGrad` call. */
function poolInfo(args: Parameters<tf.KernelFunc>[0], input: tf.TensorInfo): tf.backend_util.Conv2DInfo {
  const a = args.attrs ?? {};
  return tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    a['filterSize'] as [number, number] | number,
    a['strides'] as [number, number] | number,
    1,
    a['pad'] as 'same' | 'valid' | number,
    (a['dimRoundingMode'] as Rounding | null) ?? undefined,
  );
}

/**
 * The geometry when `MaxPoolGrad` is a non-overlapping pool (stride = window, no padding before the first
 * window) over float32 NHWC with at least 4 channels, on a wasm heap that SIMD code can import.
 */
function simdGeometry(args: Parameters<tf.KernelFunc>[0], info: tf.backend_util.Conv2DInfo, input: tf.TensorInfo, dy?: tf.TensorInfo): PoolGeometry | undefined {
  if (!simdSupported() || wasmHeapMemory(args.backend as tf.KernelBackend) === undefined) return undefined;
  const [n, h, w, c] = input.shape as [number, number, number, number];
  const ok =
    c >= 4 &&
    n > 0 &&
    info.outHeight > 0 &&
    info.outWidth > 0 &&
    info.filterHeight === info.strideHeight &&
    info.filterWidth === info.strideWidth &&
    info.padInfo.top === 0 &&
    info.padInfo.left === 0 &&
    info.outHeight * info.strideHeight <= h &&
    info.outWidth * info.strideWidth <= w &&
    (dy === undefined || dy.shape.join() === [n, info.outHeight, info.outWidth, c].join());
  if (!ok) return undefined;
  return { n, h, w, c, kh: info.filterHeight, kw: info.filterWidth, outH: info.outHeight, outW: info.outWidth };
}

/**
 * Any 2-D max pool's input gradient on the heap in plain JavaScript, with the cpu backend's rule: each
 * window's gradient goes to its first maximum in row-major order (positions in the padding excluded),
 * and overlapping windows add up.
 */
function genericGrad(info: tf.backend_util.Conv2DInfo, x: Float32Array, dy: Float32Array, dx: Float32Array): void {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  dx.fill(0);
  let o = 0;
  for (let b = 0; b < n; b++) {
    const image = b * h * w * c;
    for (let r = 0; r < oh; r++) {
      const r0 = r * sh - top;
      for (let q = 0; q < ow; q++) {
        const q0 = q * sw - left;
        for (let ch = 0; ch < c; ch++, o++) {
          let best = Number.NEGATIVE_INFINITY;
          let at = -1;
          for (let i = Math.max(0, r0); i < Math.min(h, r0 + kh); i++) {
            for (let j = Math.max(0, q0); j < Math.min(w, q0 + kw); j++) {
              const p = image + (i * w + j) * c + ch;
              const v = x[p] as number;
              if (v > best) {
                best = v;
                at = p;
              }
            }
          }
          if (at >= 0) dx[at] = (dx[at] as number) + (dy[o] as number);
        }
      }
    }
  }
}

/**
 * `MaxPoolGrad` for wasm, replacing wasm 4.22's own, which is slow (≈ 20 ns per input element) and wrong: it
 * drops the gradient of windows whose values are all negative (swish outputs often are). Non-overlapping
 * float32 pools with at least 4 channels (the 2×2 / stride-2 pools of the convnet spaces, grown widths too) run as one
 * generated SIMD pass that writes every input position once (positions no window covers get 0); other
 * float32 pools run in plain JavaScript on the heap with the cpu backend's rule (first maximum of each window,
 * overlapping windows summed). Other dtypes go to `fallback`.
 */
export function maxPoolGradSimdKernel(fallback: () => tf.KernelFunc | undefined): tf.KernelFunc {
  return (args) => {
    const { dy: dyInfo, input, output } = args.inputs;
    const memory = wasmHeapMemory(args.backend as tf.KernelBackend);
    if (
      dyInfo === undefined ||
      input === undefined ||
      output === undefined ||
      input.shape.length !== 4 ||
      [dyInfo, input, output].some((t) => t.dtype !== 'float32') ||
      memory === undefined
    ) {
      const f = fallback();
      if (f === undefined) throw new Error('MaxPoolGrad: no wasm kernel to fall back to');
      return f(args);
    }
    const backend = args.backend as BackendWasm;
    const info = poolInfo(args, input);
    const out = backend.makeOutput([...input.shape], 'float32');
    const size = tf.util.sizeFromShape(input.shape);
    if (size === 0) return out;
    // Offsets after makeOutput: an allocation may grow (and replace) the heap.
    const x = heapOffset(backend, input);
    const dy = heapOffset(backend, dyInfo);
    const dx = heapOffset(backend, out);
    const g = simdGeometry(args, info, input, dyInfo);
    if (g === undefined) {
      const dySize = tf.util.sizeFromShape(dyInfo.shape);
      genericGrad(info, new Float32Array(memory.buffer, x, size), new Float32Array(memory.buffer, dy, dySize), new Float32Array(memory.buffer, dx, size));
      return out;
    }
    const fn = gradFn(memory, g);
    const y = heapOffset(backend, output);
    if (g.outH * g.kh < g.h || g.outW * g.kw < g.w) new Float32Array(memory.buffer, dx, size).fill(0);
    const image = g.h * g.w * g.c * 4;
    const pooled = g.outH * g.outW * g.c * 4;
    for (let i = 0; i < g.n; i++) fn(x + i * image, y + i * pooled, dy + i * pooled, dx + i * image, g.outH);
    return out;
  };
}
