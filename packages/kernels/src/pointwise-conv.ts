import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import { Code, compiledFor, encodeModule, heapOffset, I32, instantiate, simdSupported, V128, wasmHeapMemory, type WasmMemory } from './wasm-simd.js';

/** Kernel name (wasm only) of the row-major product `x · w`, `x` `[M, K]`, `w` `[K, N]`. */
export const RowMatMul = 'MitosisRowMatMul';

/** Register tile: 4 rows of `x` × 8 columns of `w`. */
const TILE_M = 4;
const TILE_N = 8;

/**
 * Emits `f(x, wp, out, rowGroups)`: `out[m, n] = Σ_k x[m, k] · w[k, n]` for `4·rowGroups` rows, `x`
 * `[M, K]` and `out` `[M, N]` row-major, `wp` the filter packed by 8-column tiles (`[N/8, K, 8]`, see
 * `packTiles`). Loops: 8-column tile (its K×8 block of `wp`, K·32 bytes, stays in L1), group of 4 rows
 * (the caller passes a block of rows that stays in cache), k; the eight accumulators of a 4×8 output
 * tile live in `v128` locals, and each k loads two `w` vectors and splats four `x` values.
 */
function emitGemm(k: number, n: number): Uint8Array {
  const [X, W, OUT, GROUPS, NB, XP, WP, KC, OT, XG, G, D0, D1, S] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
  const acc = (r: number, h: number): number => 14 + r * 2 + h;
  const xRow = k * 4;
  const outRow = n * 4;
  const code = new Code();
  code.i32(0).set(NB);
  code.countedLoop(NB, TILE_N * 4, outRow, (t) => {
    t.get(X).set(XG).get(OUT).get(NB).add().set(OT).get(GROUPS).set(G);
    t.repeat(G, (g) => {
      for (let r = 0; r < TILE_M; r++) for (let h = 0; h < 2; h++) g.zero().set(acc(r, h));
      // WP = wp + tile·K·32 = wp + NB·K
      g.get(XG).set(XP).get(W).get(NB).i32(k).bytes.push(0x6c);
      g.add().set(WP).i32(k).set(KC);
      g.repeat(KC, (q) => {
        q.get(WP).load().set(D0).get(WP).load(16).set(D1);
        for (let r = 0; r < TILE_M; r++) {
          q.get(XP).loadSplat(r * xRow).set(S);
          q.get(acc(r, 0)).get(S).get(D0).f32x4Mul().f32x4Add().set(acc(r, 0));
          q.get(acc(r, 1)).get(S).get(D1).f32x4Mul().f32x4Add().set(acc(r, 1));
        }
        q.inc(XP, 4).inc(WP, TILE_N * 4);
      });
      for (let r = 0; r < TILE_M; r++) for (let h = 0; h < 2; h++) g.get(OT).get(acc(r, h)).store(r * outRow + h * 16);
      g.inc(XG, TILE_M * xRow).inc(OT, TILE_M * outRow);
    });
  });
  return encodeModule([
    {
      name: 'f',
      params: [I32, I32, I32, I32],
      locals: [I32, I32, I32, I32, I32, I32, I32, V128, V128, V128, ...new Array<number>(TILE_M * 2).fill(V128)],
      body: code,
    },
  ]);
}

/** Copies row-major `w` `[K, N]` into `[N/8, K, 8]` (each 8-column tile contiguous). */
export function packTiles(src: Float32Array, dst: Float32Array, k: number, n: number): void {
  let o = 0;
  for (let t = 0; t < n; t += TILE_N) {
    for (let r = 0; r < k; r++) {
      const base = r * n + t;
      for (let j = 0; j < TILE_N; j++) dst[o++] = src[base + j] ?? 0;
    }
  }
}

/** Row groups per call: a block of 4·G rows of `x` takes about 32 KiB. */
function blockGroups(k: number): number {
  return Math.max(1, Math.floor(2048 / k));
}

type GemmFn = (x: number, w: number, out: number, rowGroups: number) => void;
function gemmFn(memory: WasmMemory, k: number, n: number): GemmFn {
  return compiledFor(memory, `gemm/${k}x${n}`, () => instantiate(emitGemm(k, n), memory)['f'] as GemmFn);
}

/**
 * `out = x · w` on heap byte offsets: `x` `[m, k]` and `out` `[m, n]` row-major, `packed` the filter as
 * {@link packTiles} writes it; m a multiple of 4, n of 8. Rows go in blocks that stay in cache.
 */
export function gemmOnHeap(memory: WasmMemory, xOff: number, packed: number, outOff: number, m: number, k: number, n: number): void {
  const fn = gemmFn(memory, k, n);
  const groups = m / TILE_M;
  const block = blockGroups(k);
  for (let g0 = 0; g0 < groups; g0 += block) {
    const rows = g0 * TILE_M;
    fn(xOff + rows * k * 4, packed, outOff + rows * n * 4, Math.min(block, groups - g0));
  }
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
  const wasm = backend.wasm as unknown as { _malloc(bytes: number): number; _free(ptr: number): void };
  const packed = wasm._malloc(k * n * 4);
  try {
    // Offsets after every allocation (an allocation may grow the heap).
    const wOff = heapOffset(backend, w);
    packTiles(new Float32Array(memory.buffer, wOff, k * n), new Float32Array(memory.buffer, packed, k * n), k, n);
    gemmOnHeap(memory, heapOffset(backend, x), packed, heapOffset(backend, out), m, k, n);
  } finally {
    wasm._free(packed);
  }
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
 * in one generated SIMD kernel (4×8 register tiles; `w` is repacked by 8-column tiles per call, a
 * K·N copy). Call only when
 * {@link rowMatMulAvailable}.
 */
export function rowMatMulSimd(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  return tf.engine().runKernel(RowMatMul, { x, w }) as tf.Tensor2D;
}
