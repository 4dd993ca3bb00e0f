import { NasError } from '@mitosis/core';
import { firstNonFinite } from './vector.js';
import { applyReflectorsRight } from './dense-kernels.js';
import { tridiagonalDivideConquer } from './tridiagonal-dc.js';
import { EPS, implicitQl, sortAscending } from './tridiagonal-ql.js';

/**
 * Dense symmetric eigen-decomposition in Float64: Householder reduction to tridiagonal form (≈ (4/3)n³, one
 * fused pass over the lower triangle per column), then
 * - {@link symmetricEigen}: all eigenpairs of the tridiagonal matrix by divide and conquer
 *   ({@link tridiagonalDivideConquer}, ≤ (4/3)n³ in matrix products) and the back-transformation by the
 *   Householder reflectors in compact WY blocks (2n³ in matrix products);
 * - {@link symmetricExtremeEigen}: all eigenvalues by implicit QL without vectors (O(n²)) and the two extreme
 *   eigenvectors by inverse iteration on the tridiagonal matrix (O(n²));
 * - {@link symmetricEigenByQl}: the former full decomposition (Q formed explicitly, QL rotations applied to it,
 *   ≈ 9n³ in all), kept as an independent reference for tests and benchmarks.
 * QL is the implicit iteration with Wilkinson-type shifts (Golub & Van Loan, "Matrix Computations", §8.3; the
 * QL variant as in Wilkinson & Reinsch's Handbook).
 *
 * Matrices are row-major `n × n` Float64Arrays; only symmetric input is meaningful (symmetrise first):
 * {@link symmetricEigen} and {@link symmetricExtremeEigen} read the lower triangle only.
 * Every routine scales its input to max |entry| = 1 internally, so tiny or huge entries neither underflow
 * nor overflow, and a zero matrix is exact (all eigenvalues 0, identity eigenvectors).
 */

/** All eigenpairs, ascending. `vectors` is `n × n` row-major with row i the unit eigenvector of `values[i]`. */
export interface SymmetricEigen {
  readonly n: number;
  readonly values: Float64Array;
  readonly vectors: Float64Array;
}

/** All eigenvalues (ascending) and unit eigenvectors (length n) of the smallest and the largest one. */
export interface ExtremeEigen {
  readonly n: number;
  readonly values: Float64Array;
  readonly vMin: Float64Array;
  readonly vMax: Float64Array;
}

/** Rows of the tridiagonal form plus the Householder vectors that produced it. */
interface Tridiagonal {
  /** Diagonal, length n. */
  readonly d: Float64Array;
  /** e[i] couples i and i+1; length n with e[n−1] = 0. */
  readonly e: Float64Array;
  /** Row k (columns k+1…n−1) holds the Householder vector v_k of H_k = I − β_k v_k v_kᵀ. */
  readonly w: Float64Array;
  readonly beta: Float64Array;
}

function checkFinite(values: Float64Array, n: number, offset: number, what: string): void {
  const bad = firstNonFinite(values, n, offset);
  if (bad >= 0) {
    throw new NasError('E_NUMERICAL', `${what} has a non-finite entry (${String(values[offset + bad])}) at index ${bad}`, {
      index: bad,
    });
  }
}

function maxAbs(values: Float64Array, n: number, offset: number): number {
  let m = 0;
  for (let i = 0; i < n; i++) m = Math.max(m, Math.abs(values[offset + i] as number));
  return m;
}

/**
 * Householder reduction of the (scaled) copy `a` to tridiagonal T = Qᵀ A Q with Q = H_0 H_1 ⋯ H_{n−3}, reading
 * and updating only the lower triangle. Step k's rank-two update B ← B − v wᵀ − w vᵀ of the trailing block is
 * deferred and fused with step k+1's product B v (one pass over the block per step instead of three): column
 * k+1 is updated first, which gives v_{k+1}; then each row is updated and, still in registers, multiplied by
 * v_{k+1} both as a row and as a column of the symmetric block. v_k is stored in row k (columns k+1…n−1), the
 * upper triangle that the reduction never reads.
 */
function tridiagonalise(a: Float64Array, n: number): Tridiagonal {
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  const beta = new Float64Array(Math.max(n - 2, 0));
  const v = new Float64Array(n);
  const p = new Float64Array(n);
  // The pending update of the previous step: B ← B − vp wpᵀ − wp vpᵀ on rows and columns ≥ k.
  const vp = new Float64Array(n);
  const wp = new Float64Array(n);
  let pending = false;
  for (let k = 0; k < n - 2; k++) {
    if (pending) {
      const vk = vp[k] as number;
      const wk = wp[k] as number;
      for (let i = k; i < n; i++) a[i * n + k] = (a[i * n + k] as number) - (vp[i] as number) * wk - (wp[i] as number) * vk;
    }
    d[k] = a[k * n + k] as number;
    const x0 = a[(k + 1) * n + k] as number;
    // ‖x‖ scaled by max |x_i|, so that columns of tiny entries neither underflow nor give a huge β.
    let big = 0;
    for (let i = k + 2; i < n; i++) big = Math.max(big, Math.abs(a[i * n + k] as number));
    const rowK = k * n;
    if (big === 0) {
      // Column already reduced: H_k = I (β_k = 0); only the pending update is applied.
      e[k] = x0;
      for (let j = k + 1; j < n; j++) a[rowK + j] = 0;
      if (pending) {
        for (let i = k + 1; i < n; i++) {
          const row = i * n;
          const vpi = vp[i] as number;
          const wpi = wp[i] as number;
          for (let j = k + 1; j <= i; j++) a[row + j] = (a[row + j] as number) - vpi * (wp[j] as number) - wpi * (vp[j] as number);
        }
      }
      pending = false;
      continue;
    }
    big = Math.max(big, Math.abs(x0));
    let sum = 0;
    for (let i = k + 1; i < n; i++) sum += ((a[i * n + k] as number) / big) ** 2;
    const sigma = big * Math.sqrt(sum);
    const alpha = x0 >= 0 ? -sigma : sigma;
    e[k] = alpha;
    // v_k = (x − α e₁)/(x0 − α): first entry 1, the others at most 1 in magnitude; β = 2/(vᵀv) = 1 + |x0|/σ.
    const lead = x0 - alpha;
    v[k + 1] = 1;
    for (let i = k + 2; i < n; i++) v[i] = (a[i * n + k] as number) / lead;
    for (let j = k + 1; j < n; j++) a[rowK + j] = v[j] as number;
    const b = 1 + Math.abs(x0) / sigma;
    beta[k] = b;
    // One pass over the lower triangle of the trailing block: apply the pending update, accumulate p = B v.
    p.fill(0, k + 1, n);
    for (let i = k + 1; i < n; i++) {
      const row = i * n;
      const vi = v[i] as number;
      let s = 0;
      if (pending) {
        const vpi = vp[i] as number;
        const wpi = wp[i] as number;
        for (let j = k + 1; j < i; j++) {
          const x = (a[row + j] as number) - vpi * (wp[j] as number) - wpi * (vp[j] as number);
          a[row + j] = x;
          s += x * (v[j] as number);
          p[j] = (p[j] as number) + x * vi;
        }
        const x = (a[row + i] as number) - 2 * vpi * wpi;
        a[row + i] = x;
        s += x * vi;
      } else {
        for (let j = k + 1; j < i; j++) {
          const x = a[row + j] as number;
          s += x * (v[j] as number);
          p[j] = (p[j] as number) + x * vi;
        }
        s += (a[row + i] as number) * vi;
      }
      p[i] = (p[i] as number) + s;
    }
    // w = βp − (β²/2)(pᵀv) v becomes the pending update.
    let pv = 0;
    for (let i = k + 1; i < n; i++) pv += (p[i] as number) * (v[i] as number);
    const half = 0.5 * b * b * pv;
    for (let i = k + 1; i < n; i++) {
      vp[i] = v[i] as number;
      wp[i] = b * (p[i] as number) - half * (v[i] as number);
    }
    pending = true;
  }
  if (pending) {
    for (let i = n - 2; i < n; i++) {
      for (let j = n - 2; j <= i; j++) {
        a[i * n + j] = (a[i * n + j] as number) - (vp[i] as number) * (wp[j] as number) - (wp[i] as number) * (vp[j] as number);
      }
    }
  }
  if (n >= 2) {
    d[n - 2] = a[(n - 2) * n + n - 2] as number;
    e[n - 2] = a[(n - 1) * n + n - 2] as number;
  }
  if (n >= 1) d[n - 1] = a[n * n - 1] as number;
  return { d, e, w: a, beta };
}

/**
 * The former reduction (reference path of {@link symmetricEigenByQl}): the trailing block kept full (both
 * triangles), a product and a rank-two update per step.
 */
function tridiagonaliseFull(w: Float64Array, n: number): Tridiagonal {
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  const beta = new Float64Array(Math.max(n - 2, 0));
  const p = new Float64Array(n);
  for (let k = 0; k < n - 2; k++) {
    const rowK = k * n;
    d[k] = w[rowK + k] as number;
    const x0 = w[rowK + k + 1] as number;
    let tail = 0;
    for (let j = k + 2; j < n; j++) tail += (w[rowK + j] as number) ** 2;
    if (tail === 0) {
      e[k] = x0;
      continue; // column already reduced: H_k = I (β_k = 0)
    }
    const sigma = Math.sqrt(x0 * x0 + tail);
    const alpha = x0 >= 0 ? -sigma : sigma;
    e[k] = alpha;
    w[rowK + k + 1] = x0 - alpha; // v_k = x − α e₁, stored in place of x
    const b = 1 / (sigma * (sigma + Math.abs(x0))); // 2 / (vᵀv)
    beta[k] = b;
    // p = β B v; w = p − (β/2)(pᵀv) v; B ← B − v wᵀ − w vᵀ, with B the trailing block.
    let pv = 0;
    for (let i = k + 1; i < n; i++) {
      const row = i * n;
      let s = 0;
      for (let j = k + 1; j < n; j++) s += (w[row + j] as number) * (w[rowK + j] as number);
      const pi = b * s;
      p[i] = pi;
      pv += pi * (w[rowK + i] as number);
    }
    const half = 0.5 * b * pv;
    for (let i = k + 1; i < n; i++) p[i] = (p[i] as number) - half * (w[rowK + i] as number);
    for (let i = k + 1; i < n; i++) {
      const row = i * n;
      const vi = w[rowK + i] as number;
      const pi = p[i] as number;
      for (let j = k + 1; j < n; j++) {
        w[row + j] = (w[row + j] as number) - vi * (p[j] as number) - pi * (w[rowK + j] as number);
      }
    }
  }
  if (n >= 2) {
    d[n - 2] = w[(n - 2) * n + n - 2] as number;
    e[n - 2] = w[(n - 2) * n + n - 1] as number;
  }
  if (n >= 1) d[n - 1] = w[n * n - 1] as number;
  return { d, e, w, beta };
}

/** Flips a unit vector so that its largest-magnitude entry is positive (a deterministic sign). */
function fixSign(x: Float64Array, n: number, off: number): void {
  let best = 0;
  let at = 0;
  for (let i = 0; i < n; i++) {
    const a = Math.abs(x[off + i] as number);
    if (a > best) {
      best = a;
      at = i;
    }
  }
  if ((x[off + at] as number) < 0) for (let i = 0; i < n; i++) x[off + i] = -(x[off + i] as number);
}

function identity(n: number): Float64Array {
  const z = new Float64Array(n * n);
  for (let i = 0; i < n; i++) z[i * n + i] = 1;
  return z;
}

/**
 * All eigenvalues (ascending) and unit eigenvectors of the symmetric `n × n` matrix stored row-major in
 * `matrix` from `offset`. The input is not modified. Non-finite entries → `E_NUMERICAL` with the index.
 * Eigenvectors of a repeated eigenvalue are an orthonormal basis of its eigenspace.
 *
 * Householder tridiagonalisation, divide and conquer on the tridiagonal matrix, blocked back-transformation
 * (see the file header); `node packages/linalg/scripts/bench-dense.mjs` times it against
 * {@link symmetricEigenByQl} and {@link symmetricExtremeEigen}.
 */
export function symmetricEigen(matrix: Float64Array, n: number, offset = 0): SymmetricEigen {
  checkFinite(matrix, n * n, offset, 'Matrix');
  const scaleBy = maxAbs(matrix, n * n, offset);
  if (scaleBy === 0) return { n, values: new Float64Array(n), vectors: identity(n) };
  const w = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) w[i] = (matrix[offset + i] as number) / scaleBy;
  const { d, e, beta } = tridiagonalise(w, n);
  const z = tridiagonalDivideConquer(d, e, n);
  // Rows of zt = columns of z (the tridiagonal eigenvectors), then zt ← zt Qᵀ: row i becomes (Q z_i)ᵀ.
  const zt = new Float64Array(n * n);
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) zt[c * n + r] = z[r * n + c] as number;
  applyReflectorsRight(zt, n, n, w, beta, Math.max(n - 2, 0));
  for (let i = 0; i < n; i++) {
    d[i] = (d[i] as number) * scaleBy;
    fixSign(zt, n, i * n);
  }
  return { n, values: d, vectors: zt };
}

/**
 * The same decomposition as {@link symmetricEigen} by the former method: the full-storage reduction, Q formed
 * explicitly and the QL rotations applied to it (≈ 9n³ flops, two thirds of the time in the rotations). An
 * independent reference for tests and benchmarks; use {@link symmetricEigen}.
 */
export function symmetricEigenByQl(matrix: Float64Array, n: number, offset = 0): SymmetricEigen {
  checkFinite(matrix, n * n, offset, 'Matrix');
  const scaleBy = maxAbs(matrix, n * n, offset);
  if (scaleBy === 0) return { n, values: new Float64Array(n), vectors: identity(n) };
  const w = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) w[i] = (matrix[offset + i] as number) / scaleBy;
  const { d, e, beta } = tridiagonaliseFull(w, n);
  // zt = Qᵀ, accumulated backwards as H_{n−3}·(…·H_0): row r of zt only changes in columns > k at step k.
  const zt = identity(n);
  for (let k = n - 3; k >= 0; k--) {
    const b = beta[k] as number;
    if (b === 0) continue;
    const vOff = k * n;
    for (let r = k + 1; r < n; r++) {
      const row = r * n;
      let t = 0;
      for (let j = k + 1; j < n; j++) t += (zt[row + j] as number) * (w[vOff + j] as number);
      t *= b;
      if (t !== 0) for (let j = k + 1; j < n; j++) zt[row + j] = (zt[row + j] as number) - t * (w[vOff + j] as number);
    }
  }
  implicitQl(d, e, n, zt);
  sortAscending(d, zt, n);
  for (let i = 0; i < n; i++) {
    d[i] = (d[i] as number) * scaleBy;
    fixSign(zt, n, i * n);
  }
  return { n, values: d, vectors: zt };
}

/**
 * Solves (T − λI)x = b for the tridiagonal T = (d, e) by Gaussian elimination with partial pivoting (row
 * interchanges give a second superdiagonal), replacing an exactly zero pivot by `tiny`. Used for inverse
 * iteration, where λ is an eigenvalue and the system is singular on purpose. Overwrites `b` with x.
 */
function shiftedTridiagonalSolve(d: Float64Array, e: Float64Array, n: number, lambda: number, tiny: number, b: Float64Array): void {
  const diag = new Float64Array(n);
  const sup = new Float64Array(n);
  const sup2 = new Float64Array(n);
  const low = new Float64Array(n);
  const swapped = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    diag[i] = (d[i] as number) - lambda;
    if (i < n - 1) {
      sup[i] = e[i] as number;
      low[i] = e[i] as number;
    }
  }
  for (let i = 0; i < n - 1; i++) {
    const di = diag[i] as number;
    const li = low[i] as number;
    if (Math.abs(di) >= Math.abs(li)) {
      const pivot = di === 0 ? tiny : di;
      diag[i] = pivot;
      const f = li / pivot;
      low[i] = f;
      diag[i + 1] = (diag[i + 1] as number) - f * (sup[i] as number);
    } else {
      const f = di / li;
      diag[i] = li;
      low[i] = f;
      const t = sup[i] as number;
      sup[i] = diag[i + 1] as number;
      diag[i + 1] = t - f * (diag[i + 1] as number);
      if (i < n - 2) {
        sup2[i] = sup[i + 1] as number;
        sup[i + 1] = -f * (sup2[i] as number);
      }
      swapped[i] = 1;
    }
  }
  if (diag[n - 1] === 0) diag[n - 1] = tiny;
  for (let i = 0; i < n - 1; i++) {
    if (swapped[i] === 1) {
      const t = b[i] as number;
      b[i] = b[i + 1] as number;
      b[i + 1] = t - (low[i] as number) * (b[i] as number);
    } else {
      b[i + 1] = (b[i + 1] as number) - (low[i] as number) * (b[i] as number);
    }
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = b[i] as number;
    if (i + 1 < n) s -= (sup[i] as number) * (b[i + 1] as number);
    if (i + 2 < n) s -= (sup2[i] as number) * (b[i + 2] as number);
    b[i] = s / (diag[i] as number);
  }
}

/** A unit eigenvector of the tridiagonal (d, e) for its eigenvalue λ, by three steps of inverse iteration. */
function tridiagonalEigenvector(d: Float64Array, e: Float64Array, n: number, lambda: number): Float64Array {
  let tnorm = 0;
  for (let i = 0; i < n; i++) tnorm = Math.max(tnorm, Math.abs(d[i] as number) + 2 * Math.abs(e[i] as number));
  const tiny = EPS * Math.max(tnorm, Number.MIN_VALUE);
  const x = new Float64Array(n);
  // A fixed, irregular start vector: never orthogonal to an eigenvector in practice, and deterministic.
  let state = 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    x[i] = 0.5 + state / 4294967296;
  }
  for (let step = 0; step < 3; step++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += (x[i] as number) ** 2;
    const inv = 1 / Math.sqrt(s);
    for (let i = 0; i < n; i++) x[i] = (x[i] as number) * inv;
    shiftedTridiagonalSolve(d, e, n, lambda, tiny, x);
  }
  let s = 0;
  for (let i = 0; i < n; i++) s += (x[i] as number) ** 2;
  const inv = 1 / Math.sqrt(s);
  for (let i = 0; i < n; i++) x[i] = (x[i] as number) * inv;
  return x;
}

/**
 * All eigenvalues (ascending) and the unit eigenvectors of the smallest and largest, for the symmetric
 * `n × n` row-major matrix at `offset`: Householder reduction (≈ (4/3)n³), QL without vectors (O(n²)),
 * inverse iteration on the tridiagonal form and back-transformation by the Householder vectors (O(n²) each).
 * When the extreme eigenvalue is repeated, the vector is one unit vector of its eigenspace.
 */
export function symmetricExtremeEigen(matrix: Float64Array, n: number, offset = 0): ExtremeEigen {
  checkFinite(matrix, n * n, offset, 'Matrix');
  const scaleBy = maxAbs(matrix, n * n, offset);
  if (scaleBy === 0) {
    const vMin = new Float64Array(n);
    const vMax = new Float64Array(n);
    if (n > 0) {
      vMin[0] = 1;
      vMax[0] = 1;
    }
    return { n, values: new Float64Array(n), vMin, vMax };
  }
  const w = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) w[i] = (matrix[offset + i] as number) / scaleBy;
  const { d, e, beta } = tridiagonalise(w, n);
  const values = d.slice();
  implicitQl(values, e.slice(), n, null);
  values.sort();
  const backTransform = (y: Float64Array): Float64Array => {
    // Q y = H_0 (H_1 (⋯ H_{n−3} y)).
    for (let k = n - 3; k >= 0; k--) {
      const b = beta[k] as number;
      if (b === 0) continue;
      const vOff = k * n;
      let t = 0;
      for (let j = k + 1; j < n; j++) t += (w[vOff + j] as number) * (y[j] as number);
      t *= b;
      for (let j = k + 1; j < n; j++) y[j] = (y[j] as number) - t * (w[vOff + j] as number);
    }
    fixSign(y, n, 0);
    return y;
  };
  const vMin = backTransform(tridiagonalEigenvector(d, e, n, values[0] as number));
  const vMax = backTransform(tridiagonalEigenvector(d, e, n, values[n - 1] as number));
  for (let i = 0; i < n; i++) values[i] = (values[i] as number) * scaleBy;
  return { n, values, vMin, vMax };
}

/**
 * Eigen-decomposition of the symmetric tridiagonal matrix with `diagonal` (length k) and `offDiagonal`
 * (length ≥ k−1; entry i couples i and i+1). Values ascending; with `vectors` (default true) the `k × k`
 * row-major unit eigenvectors, row i for `values[i]` (otherwise an empty array). Inputs are not modified.
 * Used for the Ritz problem of Lanczos.
 */
export function tridiagonalEigen(
  diagonal: Float64Array,
  offDiagonal: Float64Array,
  options: { readonly vectors?: boolean } = {},
): SymmetricEigen {
  const n = diagonal.length;
  checkFinite(diagonal, n, 0, 'Tridiagonal diagonal');
  checkFinite(offDiagonal, Math.max(n - 1, 0), 0, 'Tridiagonal off-diagonal');
  const wantVectors = options.vectors ?? true;
  const scaleBy = Math.max(maxAbs(diagonal, n, 0), maxAbs(offDiagonal, Math.max(n - 1, 0), 0));
  const zt = wantVectors ? identity(n) : null;
  if (scaleBy === 0) return { n, values: new Float64Array(n), vectors: zt ?? new Float64Array(0) };
  const d = Float64Array.from(diagonal, (x) => x / scaleBy);
  const e = new Float64Array(n);
  for (let i = 0; i < n - 1; i++) e[i] = (offDiagonal[i] as number) / scaleBy;
  implicitQl(d, e, n, zt);
  sortAscending(d, zt, n);
  for (let i = 0; i < n; i++) {
    d[i] = (d[i] as number) * scaleBy;
    if (zt !== null) fixSign(zt, n, i * n);
  }
  return { n, values: d, vectors: zt ?? new Float64Array(0) };
}
