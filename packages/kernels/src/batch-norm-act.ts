import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import { batchNormInfer, batchNormReluTrain, batchNormTrain, type BatchNormTrainResult } from './batch-norm.js';
import { geometry, rowFunctions, Scratch, sigmoid, type Geometry, type Locals, type RowFn, type WasmAlloc } from './simd-rows.js';
import { Code, compiledFor, encodeModule, heapOffset, instantiate, simdSupported, wasmHeapMemory, type WasmMemory } from './wasm-simd.js';

/**
 * Batch normalisation with batch statistics followed by an activation, as one TF.js kernel with one registered
 * gradient kernel on wasm: the whole layer is 3 passes forward (sum, squared deviation, normalise + activate)
 * and 2 backward (activation derivative + the two per-channel sums, then the input gradient), every per-channel
 * coefficient computed in JavaScript in float64 in between. Against the composition of TF.js ops this removes
 * some 40 small kernels, their tape entries and saved-tensor clones per layer, and the separate activation
 * passes.
 */
export type BatchNormActivation = 'linear' | 'relu' | 'relu6' | 'swish';

/** Kernel names (wasm only). */
export const BatchNormAct = 'MitosisBatchNormAct';
export const BatchNormActGrad = 'MitosisBatchNormActGrad';
/** The input gradient of {@link BatchNormActInfer} (frozen statistics): `dx = dy·act′(z)·γ/√(σ²+ε)`. */
export const BatchNormActInferGrad = 'MitosisBatchNormActInferGrad';
export const BatchNormActInfer = 'MitosisBatchNormActInfer';

/** Rows per partial sum: each block is summed in float32 in wasm, blocks are added in float64. */
const BLOCK_ROWS = 1024;

interface Fns {
  /** (x; acc, rows): acc = Σ x (stored, not added). */
  readonly colSum: RowFn;
  /** (x; mean, acc, rows): acc = Σ (x − mean)². */
  readonly colSqDev: RowFn;
  /** (x, y; coef, rows): y = act(x·scale + shift), coef = [scale, shift]. */
  readonly fwd: RowFn;
  /** (dy, x, dz, y; coef, acc, rows): dz = dy·act′(z), z = x·scale + shift; acc = [Σ dz, Σ dz·x] (dz not written for linear). */
  readonly gradSums: RowFn;
  /** (dz, x, dx; coef, rows): dx = k0·dz + k1·x + k2, coef = [k0, k1, k2]. */
  readonly gradApply: RowFn;
  /** (dy, x, y, dx; coef, rows): dx = dy·act′(z)·scale, z = x·scale + shift, coef = [scale, shift]. */
  readonly inferGrad: RowFn;
}

function emit(c: number, act: BatchNormActivation): Uint8Array {
  const { lanes, fn } = rowFunctions(c);
  const colSum = fn(
    'colSum',
    1,
    1,
    (g, v, o, _l, acc) => {
      g.get(acc(0, v)).get(0).load(o).f32x4Add().set(acc(0, v));
    },
    1,
  );
  const colSqDev = fn(
    'colSqDev',
    1,
    2,
    (g, v, o, l, acc) => {
      g.get(0).load(o).get(1).load(v * 16).f32x4Sub().set(l.D);
      g.get(acc(0, v)).get(l.D).get(l.D).f32x4Mul().f32x4Add().set(acc(0, v));
    },
    1,
  );
  /** Z = x·scale + shift, x at row pointer `xp`, coef at param `cp`. */
  const affine = (g: Code, v: number, o: number, l: Locals, xp: number, cp: number): void => {
    g.get(xp).load(o).get(cp).load(v * 16).f32x4Mul().get(cp).load(lanes + v * 16).f32x4Add().set(l.Z);
  };
  // fwd(x 0, y 1; coef 2)
  const fwd = fn('fwd', 2, 1, (g, v, o, l) => {
    affine(g, v, o, l, 0, 2);
    if (act === 'swish') sigmoid(g, l);
    g.get(1);
    if (act === 'linear') g.get(l.Z);
    else if (act === 'relu') g.get(l.Z).zero().f32x4Max();
    else if (act === 'relu6') g.get(l.Z).zero().f32x4Max().get(l.konst(6)).f32x4Min();
    else g.get(l.Z).get(l.S).f32x4Mul();
    g.store(o);
  });
  /**
   * D = dz = dy·act′(z) for dy at row pointer `dyp`, Z already set, the forward output y at row pointer `yp`.
   * Swish reads its forward output y (saved, not recomputed): sigmoid(z) = y/z, or 1/2 + z/4 for |z| ≤ 1e-3 (the
   * next term, z³/48, is below 2.1e-11).
   */
  const activationGrad = (g: Code, o: number, l: Locals, dyp: number, yp: number): void => {
    if (act === 'relu') {
      g.get(dyp).load(o).get(l.Z).zero().f32x4Gt().and().set(l.D);
    } else if (act === 'relu6') {
      // TF.js's ReLU6 gradient: dy where 0 < z ≤ 6.
      g.get(dyp).load(o).get(l.Z).zero().f32x4Gt().and().get(l.Z).get(l.konst(6)).f32x4Le().and().set(l.D);
    } else {
      g.get(yp).load(o).set(l.T);
      g.get(l.T).get(l.Z).f32x4Div();
      g.get(l.konst(0.25)).get(l.Z).f32x4Mul().get(l.konst(0.5)).f32x4Add();
      g.get(l.Z).f32x4Abs().get(l.konst(1e-3)).f32x4Gt().bitselect().set(l.S);
      // dz = dy · (s + y·(1 − s)), the derivative of z·sigmoid(z)
      g.get(dyp).load(o);
      g.get(l.S).get(l.konst(1)).get(l.S).f32x4Sub().get(l.T).f32x4Mul().f32x4Add();
      g.f32x4Mul().set(l.D);
    }
  };
  // gradSums(dy 0, x 1, dz 2, y 3; coef 4, acc 5): D = dz.
  const gradSums = fn(
    'gradSums',
    4,
    2,
    (g, v, o, l, acc) => {
      if (act === 'linear') g.get(0).load(o).set(l.D);
      else {
        affine(g, v, o, l, 1, 4);
        activationGrad(g, o, l, 0, 3);
        g.get(2).get(l.D).store(o);
      }
      g.get(acc(0, v)).get(l.D).f32x4Add().set(acc(0, v));
      g.get(acc(1, v)).get(l.D).get(1).load(o).f32x4Mul().f32x4Add().set(acc(1, v));
    },
    2,
  );
  // gradApply(dz 0, x 1, dx 2; coef 3)
  const gradApply = fn('gradApply', 3, 1, (g, v, o) => {
    g.get(2);
    g.get(3).load(v * 16).get(0).load(o).f32x4Mul();
    g.get(3).load(lanes + v * 16).get(1).load(o).f32x4Mul().f32x4Add();
    g.get(3).load(2 * lanes + v * 16).f32x4Add().store(o);
  });
  // inferGrad(dy 0, x 1, y 2, dx 3; coef 4): dx = dz·scale.
  const inferGrad = fn('inferGrad', 4, 1, (g, v, o, l) => {
    if (act === 'linear') g.get(0).load(o).set(l.D);
    else {
      affine(g, v, o, l, 1, 4);
      activationGrad(g, o, l, 0, 2);
    }
    g.get(3).get(l.D).get(4).load(v * 16).f32x4Mul().store(o);
  });
  return encodeModule([colSum, colSqDev, fwd, gradSums, gradApply, inferGrad]);
}

function fns(memory: WasmMemory, c: number, act: BatchNormActivation): Fns {
  return compiledFor(memory, `batch-norm-act/${c}/${act}`, () => {
    const e = instantiate(emit(c, act), memory);
    return {
      colSum: e['colSum'] as RowFn,
      colSqDev: e['colSqDev'] as RowFn,
      fwd: e['fwd'] as RowFn,
      gradSums: e['gradSums'] as RowFn,
      gradApply: e['gradApply'] as RowFn,
      inferGrad: e['inferGrad'] as RowFn,
    };
  });
}

/**
 * Runs `call(rowByteOffset, partial, rows)` over blocks of {@link BLOCK_ROWS} rows, each storing its float32
 * partial sums (`per` × `lanes` values) at `partial`, and returns the float64 per-channel totals (`per` sums of `groups·4` lanes each).
 */
function blockSums(
  memory: WasmMemory,
  scratch: Scratch,
  g: Geometry,
  per: number,
  call: (rowByteOffset: number, partial: number, rows: number) => void,
): Float64Array[] {
  const lanes = g.groups * 4;
  const partial = scratch.alloc(per * lanes * 4);
  const totals = Array.from({ length: per }, () => new Float64Array(g.c));
  for (let r0 = 0; r0 < g.m; r0 += BLOCK_ROWS) {
    const rows = Math.min(BLOCK_ROWS, g.m - r0);
    call(r0 * g.c * 4, partial, rows);
    const view = new Float32Array(memory.buffer, partial, per * lanes);
    const full = g.c - (g.c % 4);
    for (let k = 0; k < per; k++) {
      const total = totals[k] as Float64Array;
      for (let l = 0; l < lanes; l++) {
        const ch = g.laneChannel(l);
        // The overlapping last group counts only the channels that the full groups do not cover.
        if (l >= full && ch < full) continue;
        total[ch] = (total[ch] ?? 0) + (view[k * lanes + l] ?? 0);
      }
    }
  }
  return totals;
}

/** Writes per-channel float64 vectors as lane-expanded float32 vectors at `at`, one after another. */
function writeLanes(memory: WasmMemory, at: number, g: Geometry, vectors: ArrayLike<number>[]): void {
  const lanes = g.groups * 4;
  const view = new Float32Array(memory.buffer, at, vectors.length * lanes);
  vectors.forEach((vec, k) => {
    for (let l = 0; l < lanes; l++) view[k * lanes + l] = vec[g.laneChannel(l)] ?? 0;
  });
}

function readVector(memory: WasmMemory, backend: BackendWasm, t: tf.TensorInfo, c: number): Float32Array {
  return new Float32Array(memory.buffer, heapOffset(backend, t), c).slice();
}

interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}

function need(args: KernelArgs, kernel: string, name: string): tf.TensorInfo {
  const t = args.inputs[name];
  if (t === undefined) throw new Error(`${kernel}: input "${name}" is missing`);
  if (t.dtype !== 'float32') throw new Error(`${kernel}: input "${name}" must be float32`);
  return t;
}

function setup(args: KernelArgs, kernel: string): { backend: BackendWasm; memory: WasmMemory; act: BatchNormActivation; epsilon: number } {
  const backend = args.backend as BackendWasm;
  const memory = wasmHeapMemory(backend);
  if (memory === undefined) throw new Error(`${kernel}: the wasm heap memory is not importable`);
  const act = (args.attrs?.['activation'] ?? 'linear') as BatchNormActivation;
  const epsilon = args.attrs?.['epsilon'] as number;
  return { backend, memory, act, epsilon };
}

/** Per-channel `scale = γ/√(σ² + ε)`, `shift = β − μ·scale`, and `1/√(σ² + ε)`, in float64. */
function affineCoefficients(gamma: Float32Array, beta: Float32Array, mean: ArrayLike<number>, variance: ArrayLike<number>, epsilon: number) {
  const c = gamma.length;
  const invStd = new Float64Array(c);
  const scale = new Float64Array(c);
  const shift = new Float64Array(c);
  for (let i = 0; i < c; i++) {
    invStd[i] = 1 / Math.sqrt((variance[i] as number) + epsilon);
    scale[i] = (gamma[i] as number) * (invStd[i] as number);
    shift[i] = (beta[i] as number) - (mean[i] as number) * (scale[i] as number);
  }
  return { invStd, scale, shift };
}

/**
 * The per-channel `scale` and `shift` (float32, as the kernels hold them) of an inference batch norm with frozen
 * statistics: on wasm {@link batchNormActInfer} computes z = x·scale + shift with exactly these, so a pass that
 * applies them the same way (the activation terms' `affine`) reproduces its z bit for bit.
 */
export function batchNormInferAffine(gamma: Float32Array, beta: Float32Array, mean: ArrayLike<number>, variance: ArrayLike<number>, epsilon: number): { scale: Float32Array; shift: Float32Array } {
  const { scale, shift } = affineCoefficients(gamma, beta, mean, variance, epsilon);
  return { scale: Float32Array.from(scale), shift: Float32Array.from(shift) };
}

/** Forward: `x` `[..., C]`, `gamma`, `beta` `[C]` → `y` (like `x`), batch `mean` and biased `variance` `[C]`. */
function forwardKernel(args: KernelArgs): tf.TensorInfo[] {
  const { backend, memory: mem0, act, epsilon } = setup(args, BatchNormAct);
  const x = need(args, BatchNormAct, 'x');
  const g = geometry(x);
  const y = backend.makeOutput([...x.shape], 'float32');
  const meanOut = backend.makeOutput([g.c], 'float32');
  const varOut = backend.makeOutput([g.c], 'float32');
  // Allocations may grow (and replace) the heap: read the memory and offsets after them.
  const memory = wasmHeapMemory(backend) ?? mem0;
  const gamma = readVector(memory, backend, need(args, BatchNormAct, 'gamma'), g.c);
  const beta = readVector(memory, backend, need(args, BatchNormAct, 'beta'), g.c);
  const scratch = new Scratch(backend.wasm as unknown as WasmAlloc);
  try {
    const lanes = g.groups * 4;
    const coef = scratch.alloc(2 * lanes * 4);
    const mem = wasmHeapMemory(backend) ?? memory;
    const f = fns(mem, g.c, act);
    const xp = heapOffset(backend, x);
    const [sum] = blockSums(mem, scratch, g, 1, (off, partial, rows) => f.colSum(xp + off, partial, rows)) as [Float64Array];
    const mean = sum.map((s) => s / g.m);
    writeLanes(mem, coef, g, [mean]);
    const [sq] = blockSums(mem, scratch, g, 1, (off, partial, rows) => f.colSqDev(xp + off, coef, partial, rows)) as [Float64Array];
    const variance = sq.map((s) => s / g.m);
    const { scale, shift } = affineCoefficients(gamma, beta, mean, variance, epsilon);
    writeLanes(mem, coef, g, [scale, shift]);
    if (g.m > 0) f.fwd(xp, heapOffset(backend, y), coef, g.m);
    new Float32Array(mem.buffer, heapOffset(backend, meanOut), g.c).set(mean);
    new Float32Array(mem.buffer, heapOffset(backend, varOut), g.c).set(variance);
  } finally {
    scratch.free();
  }
  return [y, meanOut, varOut];
}

/**
 * Backward: `dy`, `x`, `y` (the forward output), `gamma`, `beta`, `mean`, `variance` → `dx`, `dgamma`, `dbeta` (Ioffe & Szegedy 2015, §3,
 * with dz = dy·act′(z)): `dβ = Σdz`, `dγ = Σ dz·x̂`, `dx = a·(dz − dβ/M − x̂·dγ/M)`, evaluated as
 * `dz·a + x·k + c` with per-channel `a = γ/√(σ²+ε)`, `k`, `c`.
 */
function gradKernel(args: KernelArgs): tf.TensorInfo[] {
  const { backend, act, epsilon } = setup(args, BatchNormActGrad);
  const dy = need(args, BatchNormActGrad, 'dy');
  const x = need(args, BatchNormActGrad, 'x');
  const g = geometry(x);
  const dx = backend.makeOutput([...x.shape], 'float32');
  const dGammaOut = backend.makeOutput([g.c], 'float32');
  const dBetaOut = backend.makeOutput([g.c], 'float32');
  const scratch = new Scratch(backend.wasm as unknown as WasmAlloc);
  try {
    const lanes = g.groups * 4;
    const coef = scratch.alloc(3 * lanes * 4);
    const dz = act === 'linear' ? heapOffset(backend, dy) : scratch.alloc(g.m * g.c * 4);
    const mem = wasmHeapMemory(backend) as WasmMemory;
    const gamma = readVector(mem, backend, need(args, BatchNormActGrad, 'gamma'), g.c);
    const beta = readVector(mem, backend, need(args, BatchNormActGrad, 'beta'), g.c);
    const mean = readVector(mem, backend, need(args, BatchNormActGrad, 'mean'), g.c);
    const variance = readVector(mem, backend, need(args, BatchNormActGrad, 'variance'), g.c);
    const f = fns(mem, g.c, act);
    const { invStd, scale, shift } = affineCoefficients(gamma, beta, mean, variance, epsilon);
    writeLanes(mem, coef, g, [scale, shift]);
    const [dyp, xp, yp] = [heapOffset(backend, dy), heapOffset(backend, x), heapOffset(backend, need(args, BatchNormActGrad, 'y'))];
    const [s0, s1] = blockSums(mem, scratch, g, 2, (off, partial, rows) => f.gradSums(dyp + off, xp + off, dz + off, yp + off, coef, partial, rows)) as [
      Float64Array,
      Float64Array,
    ];
    const k0 = new Float64Array(g.c);
    const k1 = new Float64Array(g.c);
    const k2 = new Float64Array(g.c);
    const dGamma = new Float32Array(g.c);
    for (let i = 0; i < g.c; i++) {
      const meanDz = (s0[i] as number) / g.m;
      const meanDzX = (s1[i] as number) / g.m;
      const is = invStd[i] as number;
      const mu = mean[i] as number;
      // dγ/M = invStd·(mean(dz·x) − μ·mean(dz))
      const dGammaOverM = is * (meanDzX - mu * meanDz);
      dGamma[i] = dGammaOverM * g.m;
      const a = scale[i] as number;
      const k = -a * is * dGammaOverM;
      k0[i] = a;
      k1[i] = k;
      k2[i] = -a * meanDz - k * mu;
    }
    writeLanes(mem, coef, g, [k0, k1, k2]);
    if (g.m > 0) f.gradApply(dz, xp, heapOffset(backend, dx), coef, g.m);
    new Float32Array(mem.buffer, heapOffset(backend, dGammaOut), g.c).set(dGamma);
    new Float32Array(mem.buffer, heapOffset(backend, dBetaOut), g.c).set(s0);
  } finally {
    scratch.free();
  }
  return [dx, dGammaOut, dBetaOut];
}

/** Inference: `x`, `mean`, `variance`, `gamma`, `beta` → `act(γ·(x − mean)/√(variance + ε) + β)`, one pass. */
function inferKernel(args: KernelArgs): tf.TensorInfo {
  return withInferCoefficients(args, BatchNormActInfer, (f, coef, g, backend) => {
    const x = need(args, BatchNormActInfer, 'x');
    const y = backend.makeOutput([...x.shape], 'float32');
    if (g.m > 0) f().fwd(heapOffset(backend, x), heapOffset(backend, y), coef, g.m);
    return y;
  });
}

/** Input gradient of the inference kernel: `dy`, `x`, `y`, `mean`, `variance`, `gamma`, `beta` → `dx`, one pass. */
function inferGradKernel(args: KernelArgs): tf.TensorInfo {
  return withInferCoefficients(args, BatchNormActInferGrad, (f, coef, g, backend) => {
    const [dy, x, y] = ['dy', 'x', 'y'].map((name) => need(args, BatchNormActInferGrad, name)) as [tf.TensorInfo, tf.TensorInfo, tf.TensorInfo];
    const dx = backend.makeOutput([...x.shape], 'float32');
    if (g.m > 0) f().inferGrad(heapOffset(backend, dy), heapOffset(backend, x), heapOffset(backend, y), heapOffset(backend, dx), coef, g.m);
    return dx;
  });
}

/**
 * Shared by the inference kernels: the frozen statistics' per-channel `[scale, shift]`, lane-expanded in scratch
 * memory at `coef`, then `run` (which may allocate its output: `f` and the offsets it reads come after).
 */
function withInferCoefficients(
  args: KernelArgs,
  kernel: string,
  run: (f: () => Fns, coef: number, g: Geometry, backend: BackendWasm) => tf.TensorInfo,
): tf.TensorInfo {
  const { backend, act, epsilon } = setup(args, kernel);
  const g = geometry(need(args, kernel, 'x'));
  const scratch = new Scratch(backend.wasm as unknown as WasmAlloc);
  try {
    const coef = scratch.alloc(2 * g.groups * 16);
    const mem = wasmHeapMemory(backend) as WasmMemory;
    const read = (name: string): Float32Array => readVector(mem, backend, need(args, kernel, name), g.c);
    const { scale, shift } = affineCoefficients(read('gamma'), read('beta'), read('mean'), read('variance'), epsilon);
    writeLanes(mem, coef, g, [scale, shift]);
    return run(() => fns(wasmHeapMemory(backend) as WasmMemory, g.c, act), coef, g, backend);
  } finally {
    scratch.free();
  }
}

/**
 * Gradients of the inference kernel with respect to its statistics and parameters, from TF.js ops (rarely
 * needed: a frozen batch norm's parameters are usually not trained): with dz = dy·act′(z) and a = γ·r,
 * r = 1/√(σ²+ε): dβ = Σdz, dγ = Σ dz·(x − μ)·r, dμ = −a·Σdz, dσ² = −½·γ·r³·Σ dz·(x − μ).
 */
function inferParameterGrads(dy: tf.Tensor, saved: tf.Tensor[], attrs: tf.NamedAttrMap): Record<'mean' | 'variance' | 'gamma' | 'beta', () => tf.Tensor> {
  const [x, mean, variance, gamma, beta, y] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
  const epsilon = attrs['epsilon'] as number;
  const act = (attrs['activation'] ?? 'linear') as BatchNormActivation;
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
  const r = (): tf.Tensor => tf.rsqrt(tf.add(variance, epsilon));
  const dz = (): tf.Tensor => {
    if (act === 'linear') return dy;
    const z = tf.add(tf.mul(tf.sub(x, mean), tf.mul(gamma, r())), beta);
    if (act === 'relu') return tf.mul(dy, tf.step(z));
    if (act === 'relu6') return tf.mul(dy, tf.mul(tf.step(z), tf.cast(tf.lessEqual(z, 6), 'float32')));
    const s = tf.sigmoid(z);
    return tf.mul(dy, tf.add(s, tf.mul(y, tf.sub(1, s))));
  };
  return {
    beta: () => tf.sum(dz(), axes),
    gamma: () => tf.mul(tf.sum(tf.mul(dz(), tf.sub(x, mean)), axes), r()),
    mean: () => tf.neg(tf.mul(tf.sum(dz(), axes), tf.mul(gamma, r()))),
    variance: () => tf.mul(tf.sum(tf.mul(dz(), tf.sub(x, mean)), axes), tf.mul(tf.mul(gamma, tf.pow(r(), 3)), -0.5)),
  };
}

let registered = false;

function register(): void {
  if (registered) return;
  registered = true;
  if (tf.getKernel(BatchNormAct, 'wasm') === undefined) {
    tf.registerKernel({ kernelName: BatchNormAct, backendName: 'wasm', kernelFunc: forwardKernel as unknown as tf.KernelFunc });
  }
  if (tf.getKernel(BatchNormActInfer, 'wasm') === undefined) {
    tf.registerKernel({ kernelName: BatchNormActInfer, backendName: 'wasm', kernelFunc: inferKernel as unknown as tf.KernelFunc });
  }
  if (tf.getKernel(BatchNormActGrad, 'wasm') === undefined) {
    tf.registerKernel({ kernelName: BatchNormActGrad, backendName: 'wasm', kernelFunc: gradKernel as unknown as tf.KernelFunc });
  }
  if (tf.getKernel(BatchNormActInferGrad, 'wasm') === undefined) {
    tf.registerKernel({ kernelName: BatchNormActInferGrad, backendName: 'wasm', kernelFunc: inferGradKernel as unknown as tf.KernelFunc });
  }
  if (tf.getGradient(BatchNormActInfer) === undefined) {
    tf.registerGradient({
      kernelName: BatchNormActInfer,
      inputsToSave: ['x', 'mean', 'variance', 'gamma', 'beta'],
      outputsToSave: [true],
      // Lazy per input: TF.js calls only the functions of inputs on a path to what is differentiated, so a
      // backward pass through frozen batch norms (the splitting pass) costs one kernel per layer.
      gradFunc: (dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
        const dy = (Array.isArray(dys) ? dys[0] : dys) as tf.Tensor;
        const [x, mean, variance, gamma, beta, y] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        return {
          x: () => tf.engine().runKernel(BatchNormActInferGrad, { dy, x, y, mean, variance, gamma, beta }, attrs) as tf.Tensor,
          ...inferParameterGrads(dy, saved, attrs),
        };
      },
    });
  }
  if (tf.getGradient(BatchNormAct) === undefined) {
    tf.registerGradient({
      kernelName: BatchNormAct,
      inputsToSave: ['x', 'gamma', 'beta'],
      // Saving clones through Identity, which shares the buffer on wasm (install-wasm-kernels.ts): no copies.
      outputsToSave: [true, true, true],
      gradFunc: (dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
        const dy = (Array.isArray(dys) ? dys[0] : dys) as tf.Tensor;
        const [x, gamma, beta, y, mean, variance] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        // Eagerly, in the scope of the whole backward pass: the three functions below are each called in a tidy
        // of their own, which would dispose the other two outputs of a lazy call.
        const [dx, dGamma, dBeta] = tf.engine().runKernel(BatchNormActGrad, { dy, x, y, gamma, beta, mean, variance }, attrs) as tf.Tensor[];
        return { x: () => dx as tf.Tensor, gamma: () => dGamma as tf.Tensor, beta: () => dBeta as tf.Tensor };
      },
    });
  }
}

/** True when {@link batchNormActTrain} runs as the fused wasm kernels for `c` channels here. */
export function batchNormActFused(c: number): boolean {
  return c >= 4 && tf.getBackend() === 'wasm' && simdSupported() && wasmHeapMemory(tf.backend()) !== undefined;
}

/**
 * Training-mode batch normalisation over every axis but the last, then `activation` (`swish` is z·sigmoid(z)):
 * `y = act(γ·(x − μ)/√(σ² + ε) + β)`. On wasm with SIMD and C ≥ 4, one fused kernel each way (see the module
 * comment; the sigmoid uses Cephes' `expf` reduction, within a few float32 ulps of TF.js's); elsewhere the
 * composition of {@link batchNormTrain} (or {@link batchNormReluTrain}) and TF.js's activation ops. `mean` and
 * `variance` (biased) are not differentiable: gradients flow through `y` only.
 */
export function batchNormActTrain(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
  activation: BatchNormActivation,
): BatchNormTrainResult {
  const c = x.shape[x.shape.length - 1] ?? 1;
  if (!batchNormActFused(c) || x.dtype !== 'float32') {
    if (activation === 'relu') return batchNormReluTrain(x, gamma, beta, epsilon);
    const r = batchNormTrain(x, gamma, beta, epsilon);
    if (activation === 'linear') return r;
    const y = tf.tidy(() => (activation === 'relu6' ? tf.relu6(r.y) : tf.mul(r.y, tf.sigmoid(r.y))));
    r.y.dispose();
    return { ...r, y };
  }
  register();
  const [y, mean, variance] = tf.engine().runKernel(BatchNormAct, { x, gamma, beta }, { epsilon, activation }) as [
    tf.Tensor,
    tf.Tensor1D,
    tf.Tensor1D,
  ];
  return { y, mean, variance };
}

/**
 * Inference-mode batch normalisation with given statistics, then `activation`:
 * `y = act(γ·(x − mean)/√(variance + ε) + β)`. On wasm with SIMD and C ≥ 4, one pass of the fused kernel, and
 * one pass back for the input gradient (the gradients of the statistics and parameters come from TF.js ops, and
 * only when asked for); otherwise {@link batchNormInfer} and TF.js's activation ops. Differentiable either way.
 */
export function batchNormActInfer(
  x: tf.Tensor,
  mean: tf.Tensor1D,
  variance: tf.Tensor1D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
  activation: BatchNormActivation,
): tf.Tensor {
  const c = x.shape[x.shape.length - 1] ?? 1;
  if (!batchNormActFused(c) || x.dtype !== 'float32') {
    return tf.tidy(() => {
      const z = batchNormInfer(x, mean, variance, gamma, beta, epsilon);
      if (activation === 'relu') return tf.relu(z);
      if (activation === 'relu6') return tf.relu6(z);
      if (activation === 'swish') return tf.mul(z, tf.sigmoid(z));
      return z;
    });
  }
  register();
  return tf.engine().runKernel(BatchNormActInfer, { x, mean, variance, gamma, beta }, { epsilon, activation }) as tf.Tensor;
}
