/**
 * Small Float64 vector helpers. A "row" is a `dim`-long slice of a neuron-major buffer (`rows × dim` values);
 * the helpers take an offset so that no subarray views are allocated in hot loops.
 */

/** Σ a[aOff+i]·b[bOff+i] over `n` entries (default: the whole of `a`). */
export function dot(a: Float64Array, b: Float64Array, n = a.length, aOff = 0, bOff = 0): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += (a[aOff + i] as number) * (b[bOff + i] as number);
  return s;
}

/** Euclidean norm of `n` entries of `a` from `off`. */
export function norm(a: Float64Array, n = a.length, off = 0): number {
  return Math.sqrt(dot(a, a, n, off, off));
}

/** y[yOff+i] += alpha·x[xOff+i] for `n` entries (in place). */
export function axpy(alpha: number, x: Float64Array, y: Float64Array, n = x.length, xOff = 0, yOff = 0): void {
  for (let i = 0; i < n; i++) y[yOff + i] = (y[yOff + i] as number) + alpha * (x[xOff + i] as number);
}

/** x[off+i] *= alpha for `n` entries (in place). */
export function scale(alpha: number, x: Float64Array, n = x.length, off = 0): void {
  for (let i = 0; i < n; i++) x[off + i] = (x[off + i] as number) * alpha;
}

/**
 * Scales `n` entries of `x` from `off` to unit norm in place and returns the norm they had. A zero (or
 * non-finite) slice is left unchanged and its norm is returned, so callers decide what a zero vector means.
 */
export function normalise(x: Float64Array, n = x.length, off = 0): number {
  const r = norm(x, n, off);
  if (r > 0 && Number.isFinite(r)) scale(1 / r, x, n, off);
  return r;
}

/**
 * Removes from `x` (length `dim`, at `xOff`) its components along the first `count` rows of `basis`
 * (`count × dim`, rows assumed orthonormal), by modified Gram–Schmidt applied twice ("twice is enough",
 * which keeps the result orthogonal to working precision). Returns the norm of what is left; `x` is not
 * normalised.
 */
export function orthogonaliseAgainst(
  x: Float64Array,
  basis: Float64Array,
  count: number,
  dim: number,
  xOff = 0,
  basisOff = 0,
): number {
  for (let pass = 0; pass < 2; pass++) {
    for (let r = 0; r < count; r++) {
      const off = basisOff + r * dim;
      const c = dot(basis, x, dim, off, xOff);
      if (c !== 0) axpy(-c, basis, x, dim, off, xOff);
    }
  }
  return norm(x, dim, xOff);
}

/**
 * Orthonormalises the `rows × dim` row-major `vectors` in place (modified Gram–Schmidt, two passes per row).
 * Rows that are (numerically) dependent on the earlier ones — left with a norm below `tol` times their
 * original norm — are set to zero. Returns the number of independent rows.
 */
export function orthonormalise(vectors: Float64Array, rows: number, dim: number, tol = 1e-12): number {
  let rank = 0;
  for (let r = 0; r < rows; r++) {
    const off = r * dim;
    const before = norm(vectors, dim, off);
    const after = orthogonaliseAgainst(vectors, vectors, r, dim, off, 0);
    if (before === 0 || !(after > tol * before)) {
      vectors.fill(0, off, off + dim);
    } else {
      scale(1 / after, vectors, dim, off);
      rank++;
    }
  }
  return rank;
}

/** Replaces the `n × n` row-major matrix at `off` by (A + Aᵀ)/2 in place. */
export function symmetrise(a: Float64Array, n: number, off = 0): void {
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const ij = off + i * n + j;
      const ji = off + j * n + i;
      const m = 0.5 * ((a[ij] as number) + (a[ji] as number));
      a[ij] = m;
      a[ji] = m;
    }
  }
}

/** max |A_ij − A_ji| / max |A_ij| of the `n × n` matrix at `off` (0 for a zero matrix). */
export function relativeAsymmetry(a: Float64Array, n: number, off = 0): number {
  let big = 0;
  let diff = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const x = a[off + i * n + j] as number;
      big = Math.max(big, Math.abs(x));
      if (j > i) diff = Math.max(diff, Math.abs(x - (a[off + j * n + i] as number)));
    }
  }
  return big === 0 ? 0 : diff / big;
}

/** out = A·x for the `n × n` row-major matrix at `aOff` and the vector at `xOff`; `out` gets `n` values from `outOff`. */
export function matVec(
  a: Float64Array,
  n: number,
  x: Float64Array,
  out: Float64Array,
  aOff = 0,
  xOff = 0,
  outOff = 0,
): void {
  for (let i = 0; i < n; i++) out[outOff + i] = dot(a, x, n, aOff + i * n, xOff);
}

/** Index of the first non-finite entry among `n` from `off`, or −1. */
export function firstNonFinite(x: Float64Array, n = x.length, off = 0): number {
  for (let i = 0; i < n; i++) if (!Number.isFinite(x[off + i] as number)) return i;
  return -1;
}
