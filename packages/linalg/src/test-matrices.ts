import { SeededRandom, type EigenResult } from '@mitosis/core';
import type { ExplicitBlock } from './explicit-splitting-operator.js';
import { symmetricExtremeEigen } from './symmetric-eigen.js';

/**
 * Random symmetric test matrices with a prescribed spectrum, for solver tests and benchmarks.
 *
 * S = Q diag(λ) Qᵀ with Q a product of `reflections` random Householder reflections, built in
 * O(reflections · n²) (a full random orthogonal Q would cost O(n³) per neuron). Eight reflections already
 * spread every eigenvector over all coordinates.
 */
export function symmetricWithSpectrum(eigenvalues: readonly number[] | Float64Array, rng: SeededRandom, reflections = 8): Float64Array {
  const n = eigenvalues.length;
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) a[i * n + i] = eigenvalues[i] as number;
  const v = new Float64Array(n);
  const p = new Float64Array(n);
  for (let h = 0; h < reflections && n > 1; h++) {
    let vv = 0;
    for (let i = 0; i < n; i++) {
      const x = rng.normal();
      v[i] = x;
      vv += x * x;
    }
    const beta = 2 / vv;
    // A ← H A H with H = I − β v vᵀ: p = βAv, w = p − (β/2)(vᵀp)v, A ← A − v wᵀ − w vᵀ.
    let vp = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += (a[i * n + j] as number) * (v[j] as number);
      p[i] = beta * s;
      vp += (v[i] as number) * (p[i] as number);
    }
    for (let i = 0; i < n; i++) p[i] = (p[i] as number) - 0.5 * beta * vp * (v[i] as number);
    for (let i = 0; i < n; i++) {
      const vi = v[i] as number;
      const pi = p[i] as number;
      for (let j = 0; j < n; j++) a[i * n + j] = (a[i * n + j] as number) - vi * (p[j] as number) - pi * (v[j] as number);
    }
  }
  return a;
}

/**
 * A spectrum shaped like a splitting matrix's (S = E[g σ''(z) x xᵀ] is a difference of two PSD,
 * fast-decaying matrices): `negatives` negative eigenvalues — the most negative in [−1, −0.7]·`magnitude`, the
 * others in [−0.5, −0.2]·`magnitude`, so λ_min is separated as in a neuron worth splitting — a decaying
 * positive side λ_i ≈ magnitude·(i+1)^−1.2, and a bulk near zero of both signs. Unsorted.
 */
export function splittingLikeSpectrum(dim: number, rng: SeededRandom, negatives = 3, magnitude = 1): Float64Array {
  const values = new Float64Array(dim);
  for (let i = 0; i < dim; i++) {
    if (i === 0 && negatives > 0) values[i] = -magnitude * (0.7 + 0.3 * rng.next());
    else if (i < negatives) values[i] = -magnitude * (0.2 + 0.3 * rng.next());
    else if (i < negatives + Math.ceil(dim / 8)) values[i] = magnitude * (i - negatives + 1) ** -1.2 * (0.8 + 0.4 * rng.next());
    else values[i] = magnitude * 0.02 * rng.normal();
  }
  return values;
}

/**
 * A block of `neurons` splitting-like matrices (see {@link splittingLikeSpectrum}): neuron j has 1 + j mod 4
 * negative eigenvalues and scale `magnitude`·(1 + j mod 3), so blocks mix scales as real layers do.
 */
export function splittingLikeBlock(
  name: string,
  neurons: number,
  dim: number,
  rng: SeededRandom,
  magnitude = 1e-3,
): { name: string; neurons: number; dim: number; matrices: Float64Array } {
  const matrices = new Float64Array(neurons * dim * dim);
  for (let j = 0; j < neurons; j++) {
    const spectrum = splittingLikeSpectrum(dim, rng, 1 + (j % 4), magnitude * (1 + (j % 3)));
    matrices.set(symmetricWithSpectrum(spectrum, rng), j * dim * dim);
  }
  return { name, neurons, dim, matrices };
}

/** Worst relative λ error and worst |cos| against the exact pairs, over the `count` most negative neurons. */
export function compareWithExact(block: ExplicitBlock, r: EigenResult, count: number): { lambda: number; cos: number; lambdaMax: number; cosMax: number } {
  const { neurons, dim } = block;
  const exact = Array.from({ length: neurons }, (_, j) => symmetricExtremeEigen(block.matrices, dim, j * dim * dim));
  const order = exact.map((e, j) => [e.values[0]!, j] as const).sort((a, b) => a[0] - b[0]).slice(0, count);
  const out = { lambda: 0, cos: 1, lambdaMax: 0, cosMax: 1 };
  for (const [, j] of order) {
    const e = exact[j]!;
    let c = 0;
    let cm = 0;
    for (let i = 0; i < dim; i++) {
      c += e.vMin[i]! * r.vMin[j * dim + i]!;
      cm += e.vMax[i]! * r.vMax[j * dim + i]!;
    }
    out.lambda = Math.max(out.lambda, Math.abs(r.lambdaMin[j]! / e.values[0]! - 1));
    out.lambdaMax = Math.max(out.lambdaMax, Math.abs(r.lambdaMax[j]! / e.values[dim - 1]! - 1));
    out.cos = Math.min(out.cos, Math.abs(c));
    out.cosMax = Math.min(out.cosMax, Math.abs(cm));
  }
  return out;
}
