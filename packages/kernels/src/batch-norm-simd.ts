import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import { Code, compiledFor, encodeModule, heapOffset, I32, instantiate, simdSupported, V128, wasmHeapMemory, type WasmMemory } from './wasm-simd.js';

/** Kernel names (wasm only) of the fused batch-norm passes below. */
export const ChannelMoments = 'MitosisChannelMoments';
export const BatchNormGradSums = 'MitosisBatchNormGradSums';
export const BatchNormGradApply = 'MitosisBatchNormGradApply';

/** Rows per partial sum: each block is summed in float32 in wasm, blocks are added in float64. */
const BLOCK_ROWS = 1024;

type RowFn = (...pointersAndRows: number[]) => void;

interface BnFns {
  /** (x, acc, rows): acc[c] += Σ_r x[r, c]. */
  readonly colSum: RowFn;
  /** (x, mean, acc, rows): acc[c] += Σ_r (x[r, c] − mean[c])². */
  readonly colSqDev: RowFn;
  /** (dy, x, acc, rows) or (dy, x, y, acc, rows) with ReLU: acc[c] += Σ dz; acc[C + c] += Σ dz·x, dz = dy·[y > 0]. */
  readonly gradSums: RowFn;
  /** (dy, x, out, coef, rows) or (dy, x, y, out, coef, rows): out = coef[0]·dz + coef[1]·x + coef[2]. */
  readonly gradApply: RowFn;
}

/**
 * Emits the four row-major `[rows, C]` passes for `c` channels (a multiple of 4). Every function loops
 * over rows (runtime count) and, inside, over the C/4 channel groups fully unrolled with constant
 * memory offsets, so each tensor is read once, in layout order, with a handful of instructions per
 * four values; per-channel accumulators stay in L1.
 */
function emitBn(c: number, relu: boolean): Uint8Array {
  const row = c * 4;
  const groups = c / 4;
  /**
   * A function of `rowPointers` row-major tensors and `fixed` per-channel pointers (then `rows`): the
   * row pointers advance by one row per iteration. Locals after the params: V, W (v128).
   */
  const fn = (
    name: string,
    rowPointers: number,
    fixed: number,
    body: (code: Code, g: number, v: { V: number; W: number }) => void,
  ) => {
    const params = rowPointers + fixed + 1;
    const rows = params - 1;
    const V = params;
    const W = params + 1;
    const code = new Code();
    code.repeat(rows, (r) => {
      for (let g = 0; g < groups; g++) body(r, g * 16, { V, W });
      for (let i = 0; i < rowPointers; i++) r.inc(i, row);
    });
    return { name, params: new Array<number>(params).fill(I32), locals: [V128, V128], body: code };
  };
  // colSum(x; acc): acc += x
  const colSum = fn('colSum', 1, 1, (g, o) => {
    g.get(1).get(1).load(o).get(0).load(o).f32x4Add().store(o);
  });
  // colSqDev(x; mean, acc): acc += (x − mean)²
  const colSqDev = fn('colSqDev', 1, 2, (g, o, v) => {
    g.get(0).load(o).get(1).load(o).f32x4Sub().set(v.V);
    g.get(2).get(2).load(o).get(v.V).get(v.V).f32x4Mul().f32x4Add().store(o);
  });
  // Gradient passes: row pointers dy 0, x 1, [y 2]; then acc / coef; gradApply also writes out (a row pointer).
  const nIn = relu ? 3 : 2;
  const dz = (g: Code, o: number, v: { V: number }): void => {
    g.get(0).load(o);
    if (relu) g.get(2).load(o).zero().f32x4Gt().and();
    g.set(v.V);
  };
  // gradSums(dy, x, [y]; acc): acc[0] += dz, acc[1] += dz·x
  const gradSums = fn('gradSums', nIn, 1, (g, o, v) => {
    dz(g, o, v);
    g.get(nIn).get(nIn).load(o).get(v.V).f32x4Add().store(o);
    g.get(nIn).get(nIn).load(row + o).get(v.V).get(1).load(o).f32x4Mul().f32x4Add().store(row + o);
  });
  // gradApply(dy, x, [y], out; coef): out = coef[0]·dz + coef[1]·x + coef[2]
  const gradApply = fn('gradApply', nIn + 1, 1, (g, o, v) => {
    dz(g, o, v);
    const coef = nIn + 1;
    g.get(nIn).get(coef).load(o).get(v.V).f32x4Mul();
    g.get(coef).load(row + o).get(1).load(o).f32x4Mul().f32x4Add();
    g.get(coef).load(2 * row + o).f32x4Add().store(o);
  });
  return encodeModule([colSum, colSqDev, gradSums, gradApply]);
}

function bnFns(memory: WasmMemory, c: number, relu: boolean): BnFns {
  return compiledFor(memory, `batch-norm/${c}/${relu}`, () => {
    const e = instantiate(emitBn(c, relu), memory);
    return {
      colSum: e['colSum'] as RowFn,
      colSqDev: e['colSqDev'] as RowFn,
      gradSums: e['gradSums'] as RowFn,
      gradApply: e['gradApply'] as RowFn,
    };
  });
}

interface Ctx {
  readonly backend: BackendWasm;
  readonly memory: WasmMemory;
  readonly m: number;
  readonly c: number;
}

function context(kernel: string, args: { inputs: tf.NamedTensorInfoMap; backend: unknown }, names: string[]): Ctx & { ins: tf.TensorInfo[] } {
  const backend = args.backend as BackendWasm;
  const memory = wasmHeapMemory(backend);
  if (memory === undefined) throw new Error(`${kernel}: the wasm heap memory is not importable`);
  const ins = names.map((n) => {
    const t = args.inputs[n];
    if (t === undefined) throw new Error(`${kernel}: input "${n}" is missing`);
    if (t.dtype !== 'float32') throw new Error(`${kernel}: input "${n}" must be float32`);
    return t;
  });
  const first = ins[0] as tf.TensorInfo;
  if (first.shape.length !== 2) throw new Error(`${kernel}: inputs must be [M, C]`);
  const [m, c] = first.shape as [number, number];
  if (c % 4 !== 0 || m < 1) throw new Error(`${kernel}: C must be a multiple of 4 and M ≥ 1 (got [${m}, ${c}])`);
  for (const t of ins.slice(1)) {
    if (t.shape.length === 2 && t.shape[1] === c && (t.shape[0] === m || n3(t, c))) continue;
    throw new Error(`${kernel}: input shapes [${ins.map((i) => i.shape.join(',')).join('], [')}] are inconsistent`);
  }
  return { backend, memory, m, c, ins };
}

function n3(t: tf.TensorInfo, c: number): boolean {
  return t.shape[0] === 3 && t.shape[1] === c;
}

/**
 * Runs `f(…pointers, partial, rows)` over blocks of {@link BLOCK_ROWS} rows, each into a zeroed float32
 * partial of `width` values, and returns the float64 total.
 */
function blockSums(ctx: Ctx, width: number, call: (rowByteOffset: number, partial: number, rows: number) => void): Float64Array {
  const wasm = ctx.backend.wasm as unknown as { _malloc(n: number): number; _free(p: number): void };
  const partial = wasm._malloc(width * 4);
  const total = new Float64Array(width);
  try {
    for (let r0 = 0; r0 < ctx.m; r0 += BLOCK_ROWS) {
      const rows = Math.min(BLOCK_ROWS, ctx.m - r0);
      const view = new Float32Array(ctx.memory.buffer, partial, width);
      view.fill(0);
      call(r0 * ctx.c * 4, partial, rows);
      const after = new Float32Array(ctx.memory.buffer, partial, width);
      for (let i = 0; i < width; i++) total[i] = (total[i] ?? 0) + (after[i] ?? 0);
    }
  } finally {
    wasm._free(partial);
  }
  return total;
}

/** `x` `[M, C]` → `[2, C]`: per-channel mean and biased variance (two passes, the second about the mean). */
function momentsKernel(args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo {
  const ctx = context(ChannelMoments, args, ['x']);
  const { backend, memory, m, c } = ctx;
  const fns = bnFns(memory, c, false);
  const out = backend.makeOutput([2, c], 'float32');
  const x = heapOffset(backend, ctx.ins[0] as tf.TensorInfo);
  const o = heapOffset(backend, out);
  const sums = blockSums(ctx, c, (off, partial, rows) => fns.colSum(x + off, partial, rows));
  const mean = new Float32Array(memory.buffer, o, c);
  for (let i = 0; i < c; i++) mean[i] = (sums[i] ?? 0) / m;
  const sq = blockSums(ctx, c, (off, partial, rows) => fns.colSqDev(x + off, o, partial, rows));
  const variance = new Float32Array(memory.buffer, o + c * 4, c);
  for (let i = 0; i < c; i++) variance[i] = (sq[i] ?? 0) / m;
  return out;
}

/** `dy`, `x` (, `y` with ReLU) `[M, C]` → `[2, C]`: Σ dz and Σ dz·x per channel, dz = dy·[y > 0]. */
function gradSumsKernel(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const relu = args.attrs?.['relu'] === true;
  const ctx = context(BatchNormGradSums, args, relu ? ['dy', 'x', 'y'] : ['dy', 'x']);
  const { backend, memory, c } = ctx;
  const fns = bnFns(memory, c, relu);
  const out = backend.makeOutput([2, c], 'float32');
  const ptrs = ctx.ins.map((t) => heapOffset(backend, t));
  const sums = blockSums(ctx, 2 * c, (off, partial, rows) => fns.gradSums(...ptrs.map((p) => p + off), partial, rows));
  new Float32Array(memory.buffer, heapOffset(backend, out), 2 * c).set(sums);
  return out;
}

/** `dy`, `x` (, `y`), `coef` `[3, C]` → `[M, C]`: `coef[0]·dz + coef[1]·x + coef[2]`. */
function gradApplyKernel(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const relu = args.attrs?.['relu'] === true;
  const ctx = context(BatchNormGradApply, args, relu ? ['dy', 'x', 'y', 'coef'] : ['dy', 'x', 'coef']);
  const { backend, memory, m, c } = ctx;
  const coef = ctx.ins[ctx.ins.length - 1] as tf.TensorInfo;
  if (!n3(coef, c)) throw new Error(`${BatchNormGradApply}: coef must be [3, ${c}]`);
  const fns = bnFns(memory, c, relu);
  const out = backend.makeOutput([m, c], 'float32');
  const ptrs = ctx.ins.map((t) => heapOffset(backend, t));
  const coefPtr = ptrs.pop() as number;
  fns.gradApply(...ptrs, heapOffset(backend, out), coefPtr, m);
  return out;
}

/** Registers the three kernels for `wasm` (idempotent). */
function register(): void {
  const kernels: [string, unknown][] = [
    [ChannelMoments, momentsKernel],
    [BatchNormGradSums, gradSumsKernel],
    [BatchNormGradApply, gradApplyKernel],
  ];
  for (const [kernelName, f] of kernels) {
    if (tf.getKernel(kernelName, 'wasm') !== undefined) continue;
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: f as tf.KernelFunc });
  }
}

/** True when the fused batch-norm kernels can run for `c` channels on the active backend (registers them). */
export function batchNormSimdAvailable(c: number): boolean {
  if (c % 4 !== 0 || tf.getBackend() !== 'wasm' || !simdSupported()) return false;
  if (wasmHeapMemory(tf.backend()) === undefined) return false;
  register();
  return true;
}

/** `[2, C]`: mean and biased variance per channel of `x2` `[M, C]`, two passes on the wasm heap. */
export function channelMomentsSimd(x2: tf.Tensor2D): tf.Tensor2D {
  return tf.engine().runKernel(ChannelMoments, { x: x2 }) as tf.Tensor2D;
}

/** `[2, C]`: Σ dz and Σ dz·x per channel (dz = dy·[y > 0] when `y` is given, else dy). */
export function batchNormGradSumsSimd(dy: tf.Tensor2D, x: tf.Tensor2D, y?: tf.Tensor2D): tf.Tensor2D {
  const inputs: tf.NamedTensorMap = y === undefined ? { dy, x } : { dy, x, y };
  return tf.engine().runKernel(BatchNormGradSums, inputs, { relu: y !== undefined }) as tf.Tensor2D;
}

/** `[M, C]`: `coef[0]·dz + coef[1]·x + coef[2]` (dz as in {@link batchNormGradSumsSimd}). */
export function batchNormGradApplySimd(dy: tf.Tensor2D, x: tf.Tensor2D, coef: tf.Tensor2D, y?: tf.Tensor2D): tf.Tensor2D {
  const inputs: tf.NamedTensorMap = y === undefined ? { dy, x, coef } : { dy, x, y, coef };
  return tf.engine().runKernel(BatchNormGradApply, inputs, { relu: y !== undefined }) as tf.Tensor2D;
}
