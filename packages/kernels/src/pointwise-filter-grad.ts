import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import { Code, compiledFor, encodeModule, heapOffset, I32, instantiate, simdSupported, V128, wasmHeapMemory, type WasmMemory } from './wasm-simd.js';

/** Kernel name (wasm only) of `xᵀ · dy` for row-major `x` `[M, Ci]`, `dy` `[M, Co]`. */
export const TransposedProduct = 'MitosisTransposedProduct';

/** Register tile: 4 rows of the output (input channels) × 8 columns (output channels). */
const TILE_ROWS = 4;
const TILE_COLS = 8;

/**
 * Emits `f(x, dy, out, rows)`: `out[ci, co] += Σ_{r < rows} x[r, ci] · dy[r, co]`, `out` `[Ci, Co]`.
 * For every 4×8 output tile the eight accumulators stay in `v128` locals while the rows stream by:
 * each row loads 8 `dy` values (two vectors) and splats 4 `x` values. Reads `x` and `dy` in layout
 * order with no transpose or packing; the caller passes blocks of rows small enough to stay in cache.
 */
function emitProduct(ci: number, co: number): Uint8Array {
  const [X, DY, OUT, ROWS, R, CIB, COB, XP, DP, OT, D0, D1, S] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  const acc = (k: number, h: number): number => 13 + k * 2 + h;
  const xRow = ci * 4;
  const dyRow = co * 4;
  const code = new Code();
  code.i32(0).set(CIB);
  code.countedLoop(CIB, TILE_ROWS * 4, xRow, (a) => {
    a.i32(0).set(COB);
    a.countedLoop(COB, TILE_COLS * 4, dyRow, (b) => {
      // OT = out + (CIB/4)·Co·4 + COB = out + CIB·Co + COB
      b.get(OUT).get(CIB).i32(co).bytes.push(0x6c); // i32.mul
      b.add().get(COB).add().set(OT);
      for (let k = 0; k < TILE_ROWS; k++) {
        for (let h = 0; h < 2; h++) b.get(OT).load(k * dyRow + h * 16).set(acc(k, h));
      }
      b.get(X).get(CIB).add().set(XP).get(DY).get(COB).add().set(DP).get(ROWS).set(R);
      b.repeat(R, (r) => {
        r.get(DP).load().set(D0).get(DP).load(16).set(D1);
        for (let k = 0; k < TILE_ROWS; k++) {
          r.get(XP).loadSplat(k * 4).set(S);
          r.get(acc(k, 0)).get(S).get(D0).f32x4Mul().f32x4Add().set(acc(k, 0));
          r.get(acc(k, 1)).get(S).get(D1).f32x4Mul().f32x4Add().set(acc(k, 1));
        }
        r.inc(XP, xRow).inc(DP, dyRow);
      });
      for (let k = 0; k < TILE_ROWS; k++) {
        for (let h = 0; h < 2; h++) b.get(OT).get(acc(k, h)).store(k * dyRow + h * 16);
      }
    });
  });
  return encodeModule([
    {
      name: 'f',
      params: [I32, I32, I32, I32],
      locals: [I32, I32, I32, I32, I32, I32, V128, V128, V128, ...new Array<number>(TILE_ROWS * 2).fill(V128)],
      body: code,
    },
  ]);
}

type ProductFn = (x: number, dy: number, out: number, rows: number) => void;
function productFn(memory: WasmMemory, ci: number, co: number): ProductFn {
  return compiledFor(memory, `transposed-product/${ci}x${co}`, () => instantiate(emitProduct(ci, co), memory)['f'] as ProductFn);
}

/** Rows per call: the x and dy blocks (rows × (Ci + Co) floats) take about 16 KiB (L1). */
function blockRows(ci: number, co: number): number {
  return Math.max(8, Math.floor(4096 / (ci + co)));
}

/**
 * `out = xᵀ · dy` on heap byte offsets: `x` `[m, ci]`, `dy` `[m, co]` row-major, `out` `[ci, co]` (overwritten, or
 * added to with `accumulate`); ci a multiple of 4, co of 8.
 */
export function transposedProductOnHeap(memory: WasmMemory, xOff: number, dyOff: number, outOff: number, m: number, ci: number, co: number, accumulate = false): void {
  const fn = productFn(memory, ci, co);
  if (!accumulate) new Float32Array(memory.buffer, outOff, ci * co).fill(0);
  const block = blockRows(ci, co);
  for (let r0 = 0; r0 < m; r0 += block) fn(xOff + r0 * ci * 4, dyOff + r0 * co * 4, outOff, Math.min(block, m - r0));
}

function productKernel(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const x = args.inputs['x'];
  const dy = args.inputs['dy'];
  if (x === undefined || dy === undefined) throw new Error(`${TransposedProduct}: inputs x and dy are required`);
  const offsets = (args.attrs?.['rowOffsets'] as number[] | undefined) ?? [0];
  if (x.shape.length !== 2 || dy.shape.length !== 2) {
    throw new Error(`${TransposedProduct}: x [R, Ci] and dy [M, Co] expected, got [${x.shape.join(',')}], [${dy.shape.join(',')}]`);
  }
  const [rowsX, ci] = x.shape as [number, number];
  const [m, co] = dy.shape as [number, number];
  if (ci % TILE_ROWS !== 0 || co % TILE_COLS !== 0 || m < 1) {
    throw new Error(`${TransposedProduct}: Ci must be a multiple of ${TILE_ROWS}, Co of ${TILE_COLS}, M ≥ 1`);
  }
  if (offsets.length < 1 || offsets.some((o) => !Number.isInteger(o) || o < 0 || o + m > rowsX)) {
    throw new Error(`${TransposedProduct}: row offsets ${JSON.stringify(offsets)} read outside x (${rowsX} rows, M = ${m})`);
  }
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') throw new Error(`${TransposedProduct}: float32 only`);
  const memory = wasmHeapMemory(backend);
  if (memory === undefined) throw new Error(`${TransposedProduct}: the wasm heap memory is not importable`);
  const out = backend.makeOutput([offsets.length * ci, co], 'float32');
  const fn = productFn(memory, ci, co);
  const o = heapOffset(backend, out);
  new Float32Array(memory.buffer, o, offsets.length * ci * co).fill(0);
  const xp = heapOffset(backend, x);
  const dp = heapOffset(backend, dy);
  const block = blockRows(ci, co);
  // Row blocks outermost: a block of dy stays in cache while every offset's x block is multiplied in.
  for (let r0 = 0; r0 < m; r0 += block) {
    const rows = Math.min(block, m - r0);
    offsets.forEach((off, t) => fn(xp + (r0 + off) * ci * 4, dp + r0 * co * 4, o + t * ci * co * 4, rows));
  }
  return out;
}

/** True when {@link transposedProductSimd} can run for these widths on the active backend (registers it). */
export function transposedProductAvailable(ci: number, co: number): boolean {
  if (ci % TILE_ROWS !== 0 || co % TILE_COLS !== 0) return false;
  if (tf.getBackend() !== 'wasm' || !simdSupported() || wasmHeapMemory(tf.backend()) === undefined) return false;
  if (tf.getKernel(TransposedProduct, 'wasm') === undefined) {
    tf.registerKernel({ kernelName: TransposedProduct, backendName: 'wasm', kernelFunc: productKernel as unknown as tf.KernelFunc });
  }
  return true;
}

/**
 * `xᵀ · dy` `[Ci, Co]` for row-major `x` `[M, Ci]` and `dy` `[M, Co]` (a pointwise convolution's filter
 * gradient), in one generated SIMD kernel over blocks of rows: no transpose of either operand and no
 * packing. With `rowOffsets` `[o₀, …]`, returns `[T·Ci, Co]`, block t being `x[oₜ : oₜ + M]ᵀ · dy` (the
 * shifted taps of a full convolution's filter gradient); `x` then has at least `M + max oₜ` rows.
 * Call only when {@link transposedProductAvailable}.
 */
export function transposedProductSimd(x: tf.Tensor2D, dy: tf.Tensor2D, rowOffsets?: readonly number[]): tf.Tensor2D {
  const attrs = rowOffsets === undefined ? {} : { rowOffsets: [...rowOffsets] };
  return tf.engine().runKernel(TransposedProduct, { x, dy }, attrs) as tf.Tensor2D;
}
