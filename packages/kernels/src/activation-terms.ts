import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import { geometry, rowFunctions, Scratch, sigmoid, type Locals, type RowFn, type WasmAlloc } from './simd-rows.js';
import { Code, compiledFor, encodeModule, heapOffset, instantiate, simdSupported, wasmHeapMemory, type WasmMemory } from './wasm-simd.js';

/**
 * The per-element terms of a splitting matrix at one activation (algorithms.md §2.1, §3.1): for pre-activation
 * values z and the loss gradient g at the activation's output, `coef = g·σ''(z)·a` and `slope = σ'(z)·b` with
 * per-channel factors a, b (the folded batch-norm scale c: a = c², b = c). On wasm one generated SIMD pass over z
 * and g writes both, instead of some 15 TF.js kernels with a full-size tensor each.
 *
 * σ'' is the one of `@mitosis/splitting`'s curvature table: swish's exact second derivative; for ReLU and ReLU6
 * the softplus-β surrogate β·s·(1 − s), s = sigmoid(β·z) (ReLU6: its value at z minus its value at z − 6). σ' is
 * exact: swish's derivative, the step for ReLU (1 where z > 0) and ReLU6 (1 where 0 < z < 6).
 */
export type ActivationTermsKind = 'swish' | 'relu' | 'relu6';

/** Kernel name (wasm only). */
export const ActivationTerms = 'MitosisActivationTerms';

interface Fns {
  /** (z, g, coef; factors, rows) */
  readonly coef: RowFn;
  /** (z, g, coef, slope; factors, rows) */
  readonly both: RowFn;
}

/**
 * Sets D = σ''(z) and, with `slope`, S = σ'(z), for z loaded in Z; sigmoid() clobbers T, N, R and D, so the
 * ReLU forms keep z and a first term in the extra locals E[0], E[1]. Operation order follows the TF.js formulas
 * of `activationCurvatureTf`/`activationSlopeTf`, so that only the sigmoid's few ulps differ.
 */
function terms(g: Code, l: Locals, kind: ActivationTermsKind, beta: number, slope: boolean): void {
  const k = l.konst;
  const [z0, first] = l.E as [number, number];
  if (kind === 'swish') {
    sigmoid(g, l);
    // T = s·(1 − s); σ'' = T·2 + (z·T)·(1 − s·2); σ' = s + (z·s)·(1 − s).
    g.get(l.S).get(k(1)).get(l.S).f32x4Sub().f32x4Mul().set(l.T);
    g.get(l.T).get(k(2)).f32x4Mul();
    g.get(l.Z).get(l.T).f32x4Mul().get(k(1)).get(l.S).get(k(2)).f32x4Mul().f32x4Sub().f32x4Mul();
    g.f32x4Add().set(l.D);
    if (slope) g.get(l.S).get(l.Z).get(l.S).f32x4Mul().get(k(1)).get(l.S).f32x4Sub().f32x4Mul().f32x4Add().set(l.S);
    return;
  }
  // Softplus-β curvature β·s·(1 − s) at s = sigmoid(β·(z − shift)), left on the stack.
  const softplus = (shift: number): void => {
    g.get(z0);
    if (shift !== 0) g.get(k(shift)).f32x4Sub();
    g.get(k(beta)).f32x4Mul().set(l.Z);
    sigmoid(g, l);
    g.get(l.S).get(k(1)).get(l.S).f32x4Sub().f32x4Mul().get(k(beta)).f32x4Mul();
  };
  g.get(l.Z).set(z0);
  softplus(0);
  if (kind === 'relu6') {
    g.set(first);
    softplus(6);
    g.set(l.D);
    g.get(first).get(l.D).f32x4Sub().set(l.D);
  } else g.set(l.D);
  if (slope) {
    // 1 where z > 0 (ReLU6: and z < 6), else 0: comparison masks ANDed with 1.0.
    g.get(k(1)).get(z0).zero().f32x4Gt().and();
    if (kind === 'relu6') g.get(z0).get(k(6)).f32x4Lt().and();
    g.set(l.S);
  }
}

function emit(c: number, kind: ActivationTermsKind, beta: number, affine: boolean): Uint8Array {
  const { lanes, fn } = rowFunctions(c, 2);
  // Z = z, or with `affine` Z = x·scale + shift (factor rows 2 and 3), as the inference batch norm computes it.
  const load = (g: Code, v: number, o: number, l: Locals, factors: number): void => {
    g.get(0).load(o);
    if (affine) g.get(factors).load(2 * lanes + v * 16).f32x4Mul().get(factors).load(3 * lanes + v * 16).f32x4Add();
    g.set(l.Z);
  };
  // coef(z 0, g 1, coef 2; factors 3)
  const coef = fn('coef', 3, 1, (g, v, o, l) => {
    load(g, v, o, l, 3);
    terms(g, l, kind, beta, false);
    g.get(2).get(1).load(o).get(l.D).f32x4Mul().get(3).load(v * 16).f32x4Mul().store(o);
  });
  // both(z 0, g 1, coef 2, slope 3; factors 4)
  const both = fn('both', 4, 1, (g, v, o, l) => {
    load(g, v, o, l, 4);
    terms(g, l, kind, beta, true);
    g.get(2).get(1).load(o).get(l.D).f32x4Mul().get(4).load(v * 16).f32x4Mul().store(o);
    g.get(3).get(l.S).get(4).load(lanes + v * 16).f32x4Mul().store(o);
  });
  return encodeModule([coef, both]);
}

function fns(memory: WasmMemory, c: number, kind: ActivationTermsKind, beta: number, affine: boolean): Fns {
  return compiledFor(memory, `activation-terms/${c}/${kind}/${beta}/${affine}`, () => {
    const e = instantiate(emit(c, kind, beta, affine), memory);
    return { coef: e['coef'] as RowFn, both: e['both'] as RowFn };
  });
}

interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}

/** `z`, `g` (same shape, channels last) → `coef` (and `slope` when `slopeFactors` is given). */
function termsKernel(args: KernelArgs): tf.TensorInfo[] {
  const backend = args.backend as BackendWasm;
  const z = args.inputs['z'];
  const g = args.inputs['g'];
  if (z === undefined || g === undefined || z.dtype !== 'float32' || g.dtype !== 'float32') throw new Error(`${ActivationTerms}: float32 z and g are required`);
  const attrs = args.attrs ?? {};
  const kind = attrs['kind'] as ActivationTermsKind;
  const beta = attrs['beta'] as number;
  const coefFactors = attrs['coefFactors'] as number[];
  const slopeFactors = attrs['slopeFactors'] as number[] | undefined;
  const affineScale = attrs['affineScale'] as number[] | undefined;
  const affineShift = attrs['affineShift'] as number[] | undefined;
  const geo = geometry(z);
  const coefOut = backend.makeOutput([...z.shape], 'float32');
  const slopeOut = slopeFactors === undefined ? undefined : backend.makeOutput([...z.shape], 'float32');
  const scratch = new Scratch(backend.wasm as unknown as WasmAlloc);
  try {
    const lanes = geo.groups * 4;
    const factors = scratch.alloc(4 * lanes * 4);
    const mem = wasmHeapMemory(backend) as WasmMemory;
    const view = new Float32Array(mem.buffer, factors, 4 * lanes);
    for (let l = 0; l < lanes; l++) {
      const ch = geo.laneChannel(l);
      view[l] = coefFactors[ch] ?? 0;
      view[lanes + l] = slopeFactors?.[ch] ?? 0;
      view[2 * lanes + l] = affineScale?.[ch] ?? 0;
      view[3 * lanes + l] = affineShift?.[ch] ?? 0;
    }
    const f = fns(mem, geo.c, kind, beta, affineScale !== undefined);
    if (geo.m > 0) {
      const [zp, gp, cp] = [heapOffset(backend, z), heapOffset(backend, g), heapOffset(backend, coefOut)];
      if (slopeOut === undefined) f.coef(zp, gp, cp, factors, geo.m);
      else f.both(zp, gp, cp, heapOffset(backend, slopeOut), factors, geo.m);
    }
  } finally {
    scratch.free();
  }
  return slopeOut === undefined ? [coefOut] : [coefOut, slopeOut];
}

/** True when {@link activationTerms} runs as one fused wasm pass for `c` channels here (registers the kernel). */
export function activationTermsFused(c: number): boolean {
  if (c < 4 || tf.getBackend() !== 'wasm' || !simdSupported() || wasmHeapMemory(tf.backend()) === undefined) return false;
  if (tf.getKernel(ActivationTerms, 'wasm') === undefined) {
    tf.registerKernel({ kernelName: ActivationTerms, backendName: 'wasm', kernelFunc: termsKernel as unknown as tf.KernelFunc });
  }
  return true;
}

/** z as an inference batch norm's input x and its per-channel float32 coefficients: z = x·scale + shift. */
export interface ActivationTermsAffine {
  readonly scale: ArrayLike<number>;
  readonly shift: ArrayLike<number>;
}

/**
 * `coef = g·σ''(z)·coefFactors` and, with `slopeFactors`, `slope = σ'(z)·slopeFactors` (factors per channel, the
 * last axis of z and g, which have the same shape) in one wasm pass. With `affine`, the first tensor is the
 * batch norm's input x and z = x·scale + shift is formed in the pass (as `batchNormActInfer` forms it, see
 * `batchNormInferAffine`), so z is never written. Call only when {@link activationTermsFused}(channels); not
 * differentiable (it serves quantities computed from a finished backward pass).
 */
export function activationTerms(
  kind: ActivationTermsKind,
  z: tf.Tensor,
  g: tf.Tensor,
  coefFactors: ArrayLike<number>,
  slopeFactors: ArrayLike<number> | null,
  reluBeta: number,
  affine?: ActivationTermsAffine,
): { coef: tf.Tensor; slope: tf.Tensor | null } {
  const attrs: tf.NamedAttrMap = { kind, beta: reluBeta, coefFactors: Array.from(coefFactors) };
  if (slopeFactors !== null) attrs['slopeFactors'] = Array.from(slopeFactors);
  if (affine !== undefined) {
    attrs['affineScale'] = Array.from(affine.scale);
    attrs['affineShift'] = Array.from(affine.shift);
  }
  const out = tf.engine().runKernel(ActivationTerms, { z, g }, attrs) as unknown as tf.Tensor[];
  return { coef: out[0]!, slope: slopeFactors === null ? null : out[1]! };
}
