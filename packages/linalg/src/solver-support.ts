import { NasError, type SeededRandom } from '@mitosis/core';
import { dot, firstNonFinite, normalise } from './vector.js';

/**
 * Pieces every eigen solver shares: finiteness checks that name the block and neuron, residual norms,
 * random unit start vectors and cancellation.
 */

/**
 * Throws `E_NUMERICAL` naming the block and the neuron when a row of `values` (`neurons × dim`) holds a NaN
 * or an infinity. `what` says where the values came from ("S·v", "splitting matrix").
 */
export function checkFiniteRows(values: Float64Array, neurons: number, dim: number, block: string, what: string): void {
  for (let j = 0; j < neurons; j++) {
    const bad = firstNonFinite(values, dim, j * dim);
    if (bad >= 0) {
      throw new NasError(
        'E_NUMERICAL',
        `Non-finite ${what} (${String(values[j * dim + bad])}) in block "${block}", neuron ${j}, entry ${bad}`,
        { block, neuron: j, entry: bad },
      );
    }
  }
}

/**
 * ‖S v_j − λ_j v_j‖ for every row: `sv` and `v` are `neurons × dim`, `lambda` has one value per neuron.
 */
export function residualNorms(sv: Float64Array, v: Float64Array, lambda: Float64Array, neurons: number, dim: number): Float64Array {
  const out = new Float64Array(neurons);
  for (let j = 0; j < neurons; j++) {
    const l = lambda[j] as number;
    let s = 0;
    for (let i = 0; i < dim; i++) {
      const r = (sv[j * dim + i] as number) - l * (v[j * dim + i] as number);
      s += r * r;
    }
    out[j] = Math.sqrt(s);
  }
  return out;
}

/** Rayleigh quotients vᵀSv / vᵀv per row (0 for a zero row). */
export function rayleighQuotients(sv: Float64Array, v: Float64Array, neurons: number, dim: number): Float64Array {
  const out = new Float64Array(neurons);
  for (let j = 0; j < neurons; j++) {
    const vv = dot(v, v, dim, j * dim, j * dim);
    out[j] = vv > 0 ? dot(v, sv, dim, j * dim, j * dim) / vv : 0;
  }
  return out;
}

/**
 * `neurons × dim` rows drawn U(−spread, spread) and scaled to unit norm (the fast-splitting code's
 * initialisation of v). A row that comes out zero (impossible in practice) becomes e₁.
 */
export function randomUnitRows(neurons: number, dim: number, rng: SeededRandom, spread = 0.1): Float64Array {
  const out = new Float64Array(neurons * dim);
  for (let i = 0; i < out.length; i++) out[i] = spread * (2 * rng.next() - 1);
  for (let j = 0; j < neurons; j++) if (normalise(out, dim, j * dim) === 0) out[j * dim] = 1;
  return out;
}

/** Throws the signal's reason (an AbortError by default) when it has been aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  signal?.throwIfAborted();
}

/** Relative residuals and convergence flags of one block's extreme pairs (see `EigenResult`). */
export interface Convergence {
  readonly relativeResidualMin: Float64Array;
  readonly relativeResidualMax: Float64Array;
  readonly convergedMin: Uint8Array;
  readonly convergedMax: Uint8Array;
  readonly tolerance: number;
}

/**
 * ‖S v − λ v‖ / ‖S‖ with ‖S‖ = max(|λ_min|, |λ_max|) per neuron, and the flags `relative ≤ tolerance`. A neuron
 * with S = 0 (both λ and both residuals 0) is converged. Non-finite values are not converged.
 */
export function convergence(
  residualMin: Float64Array,
  residualMax: Float64Array,
  lambdaMin: Float64Array,
  lambdaMax: Float64Array,
  tolerance: number,
): Convergence {
  const n = lambdaMin.length;
  const relativeResidualMin = new Float64Array(n);
  const relativeResidualMax = new Float64Array(n);
  const convergedMin = new Uint8Array(n);
  const convergedMax = new Uint8Array(n);
  for (let j = 0; j < n; j++) {
    const scale = Math.max(Math.abs(lambdaMin[j] as number), Math.abs(lambdaMax[j] as number));
    const rel = (r: number): number => (r === 0 ? 0 : scale > 0 ? r / scale : Number.POSITIVE_INFINITY);
    relativeResidualMin[j] = rel(residualMin[j] as number);
    relativeResidualMax[j] = rel(residualMax[j] as number);
    convergedMin[j] = (relativeResidualMin[j] as number) <= tolerance ? 1 : 0;
    convergedMax[j] = (relativeResidualMax[j] as number) <= tolerance ? 1 : 0;
  }
  return { relativeResidualMin, relativeResidualMax, convergedMin, convergedMax, tolerance };
}
