import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import { Code, encodeModule, heapOffset, I32, instantiate, simdSupported, V128, wasmHeapMemory, type WasmMemory } from './wasm-simd.js';

/** Kernel name (wasm only) of the row-major product `x · w`, `x` `[M, K]`, `w` `[K, N]`. */
export const RowMatMul = 'MitosisRowMatMul';

/** Register tile: 4 rows of `x` × 8 columns of `w`. */
const TILE_M = 4;
const TILE_N = 8;

/**
 * Emits `f(x, w, out, rowGroups)`: `out[m, n] = Σ_k x[m, k] · w[k, n]` for `4·rowGroups` rows, `x`
 * `[M, K]`, `w` `[K, N]`, `out` `[M, N]`, all row-major. For each group of 4 rows and each 8-column
 * tile the eight accumulators live in `v128` locals while k runs: per k, two `w` vectors and four
 * splatted `x` values. `w` is read in layout order (no packing); a 4-row block of `x` stays in L1.
 */
function emitGemm(k: number, n: number): Uint8Array {
  const [X, W, OUT, GROUPS, NB, XP, WP, KC, OT, D0, D1, S] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const acc = (r: number, h: number): number => 12 + r * 2 + h;
  const xRow = k * 4;
  const outRow = n * 4;
  const code = new Code();
  code.repeat(GROUPS, (g) => {
    g.i32(0).set(NB);
    g.countedLoop(NB, TILE_N * 4, outRow, (t) => {
      for (let r = 0; r < TILE_M; r++) for (let h = 0; h < 2; h++) t.zero().set(acc(r, h));
      t.get(X).set(XP).get(W).get(NB).add().set(WP).i32(k).set(KC);
      t.repeat(KC, (q) => {
        q.get(WP).load().set(D0).get(WP).load(16).set(D1);
        for (let r = 0; r < TILE_M; r++) {
          q.get(XP).loadSplat(r * xRow).set(S);
          q.get(acc(r, 0)).get(S).get(D0).f32x4Mul().f32x4Add().set(acc(r, 0));
          q.get(acc(r, 1)).get(S).get(D1).f32x4Mul().f32x4Add().set(acc(r, 1));
        }
        q.inc(XP, 4).inc(WP, outRow);
      });
      t.get(OUT).get(NB).add().set(OT);
      for (let r = 0; r < TILE_M; r++) for (let h = 0; h < 2; h++) t.get(OT).get(acc(r, h)).store(r * outRow + h * 16);
    });
    g.inc(X, TILE_M * xRow).inc(OUT, TILE_M * outRow);
  });
  return encodeModule([
    {
      name: 'f',
      params: [I32, I32, I32, I32],
      locals: [I32, I32, I32, I32, I32, V128, V128, V128, ...new Array<number>(TILE_M * 2).fill(V128)],
      body: code,
    },
  ]);
}

type GemmFn = (x: number, w: number, out: number, rowGroups: number) => void;
const compiledByMemory = new WeakMap<WasmMemory, Map<string, GemmFn>>();

function gemmFn(memory: WasmMemory, k: number, n: number): GemmFn {
  let cache = compiledByMemory.get(memory);
  if (cache === undefined) {
    cache = new Map();
    compiledByMemory.set(memory, cache);
  }
  const key = `${k}x${n}`;
  let fn = cache.get(key);
  if (fn === undefined) {
    fn = instantiate(emitGemm(k, n), memory)['f'] as GemmFn;
    if (cache.size >= 128) cache.clear();
    cache.set(key, fn);
  }
  return fn;
}

function gemmKernel(args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const x = args.inputs['x'];
  const w = args.inputs['w'];
  if (x === undefined || w === undefined) throw new Error(`${RowMatMul}: inputs x and w are required`);
  if (x.shape.length !== 2 || w.shape.length !== 2 || x.shape[1] !== w.shape[0]) {
    throw new Error(`${RowMatMul}: x [M, K] and w [K, N] expected, got [${x.shape.join(',')}], [${w.shape.join(',')}]`);
  }
  const [m, k] = x.shape as [number, number];
  const n = w.shape[1] as number;
  if (!rowMatMulFits(m, k, n)) throw new Error(`${RowMatMul}: M must be a positive multiple of ${TILE_M}, N of ${TILE_N}, K ≥ 1`);
  if (x.dtype !== 'float32' || w.dtype !== 'float32') throw new Error(`${RowMatMul}: float32 only`);
  const memory = wasmHeapMemory(backend);
  if (memory === undefined) throw new Error(`${RowMatMul}: the wasm heap memory is not importable`);
  const out = backend.makeOutput([m, n], 'float32');
  gemmFn(memory, k, n)(heapOffset(backend, x), heapOffset(backend, w), heapOffset(backend, out), m / TILE_M);
  return out;
}

function rowMatMulFits(m: number, k: number, n: number): boolean {
  return m > 0 && m % TILE_M === 0 && n > 0 && n % TILE_N === 0 && k > 0;
}

/** True when {@link rowMatMulSimd} can run for these sizes on the active backend (registers its kernel). */
export function rowMatMulAvailable(m: number, k: number, n: number): boolean {
  if (!rowMatMulFits(m, k, n)) return false;
  if (tf.getBackend() !== 'wasm' || !simdSupported() || wasmHeapMemory(tf.backend()) === undefined) return false;
  if (tf.getKernel(RowMatMul, 'wasm') === undefined) {
    tf.registerKernel({ kernelName: RowMatMul, backendName: 'wasm', kernelFunc: gemmKernel as unknown as tf.KernelFunc });
  }
  return true;
}

/**
 * `x · w` `[M, N]` for row-major `x` `[M, K]` and `w` `[K, N]` (a pointwise convolution over M pixels)
 * in one generated SIMD kernel (4×8 register tiles, no packing). Call only when
 * {@link rowMatMulAvailable}.
 */
export function rowMatMulSimd(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  return tf.engine().runKernel(RowMatMul, { x, w }) as tf.Tensor2D;
}
