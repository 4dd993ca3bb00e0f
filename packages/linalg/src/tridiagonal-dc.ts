import { gemmNT } from './dense-kernels.js';
import { EPS, implicitQl, pythag, sortAscending } from './tridiagonal-ql.js';

/**
 * All eigenpairs of a symmetric tridiagonal matrix by divide and conquer (Cuppen 1981; the orthogonality-
 * preserving variant of Gu & Eisenstat 1995, as in LAPACK's dstedc):
 *
 * 1. Tear T at the middle: T = diag(T₁, T₂) + ρ u uᵀ with ρ = |e_mid|, u = e_a + sign(e_mid)·e_b.
 * 2. Solve both halves (recursively; blocks of at most {@link LEAF} rows by implicit QL).
 * 3. Merge: T = Q (D + ρ z zᵀ) Qᵀ with Q = diag(Q₁, Q₂), z = Qᵀu. Eigenpairs whose z component is negligible,
 *    or whose eigenvalue nearly repeats another (a plane rotation zeroes one z component), deflate: they are
 *    already eigenpairs of T. The others solve the secular equation 1 + ρ Σ z_j²/(d_j − λ) = 0, one root per
 *    interval, each computed relative to its nearer pole so that every difference d_j − λ_i is accurate.
 * 4. z is recomputed from the computed roots (Löwner's formula), which makes the rank-one eigenvectors
 *    ẑ_j/(d_j − λ_i) numerically orthogonal even for close roots; the new eigenvectors are Q times them, two
 *    matrix products that skip the zero blocks of Q.
 *
 * Cost ≈ (4/3)n³ flops at the worst (no deflation), in matrix products, against ≈ 6n³ in plane rotations for QL.
 */

/** Blocks at most this size are solved by implicit QL. */
const LEAF = 32;
/** Iterations of the secular-equation solver before it accepts its current iterate (never reached in tests). */
const MAX_SECULAR_ITERATIONS = 120;

/**
 * Eigenvalues and eigenvectors of the tridiagonal (d, e) of order n (e[i] couples i and i+1). On return `d`
 * holds the eigenvalues ascending; the result is `n × n` row-major with column j the unit eigenvector of d[j].
 * `e` is not modified. Throws `E_NUMERICAL` where a leaf's QL does not converge.
 */
export function tridiagonalDivideConquer(d: Float64Array, e: Float64Array, n: number): Float64Array {
  const z = new Float64Array(n * n);
  // ‖T‖ (max row sum): leaves deflate off-diagonals against it, not against their own (possibly tiny) norm.
  let norm = 0;
  for (let i = 0; i < n; i++) {
    norm = Math.max(norm, Math.abs(d[i] as number) + (i > 0 ? Math.abs(e[i - 1] as number) : 0) + (i < n - 1 ? Math.abs(e[i] as number) : 0));
  }
  if (n > 0) solveBlock(d, e, z, n, 0, n, norm);
  return z;
}

function solveBlock(d: Float64Array, e: Float64Array, z: Float64Array, n: number, lo: number, hi: number, norm: number): void {
  const size = hi - lo;
  if (size <= LEAF) {
    solveLeaf(d, e, z, n, lo, hi, norm);
    return;
  }
  const mid = lo + (size >> 1);
  const beta = e[mid - 1] as number;
  const rho = Math.abs(beta);
  d[mid - 1] = (d[mid - 1] as number) - rho;
  d[mid] = (d[mid] as number) - rho;
  solveBlock(d, e, z, n, lo, mid, norm);
  solveBlock(d, e, z, n, mid, hi, norm);
  mergeBlocks(d, z, n, lo, mid, hi, rho, beta < 0 ? -1 : 1);
}

function solveLeaf(d: Float64Array, e: Float64Array, z: Float64Array, n: number, lo: number, hi: number, norm: number): void {
  const size = hi - lo;
  const dd = d.slice(lo, hi);
  const ee = new Float64Array(size);
  for (let i = 0; i < size - 1; i++) ee[i] = e[lo + i] as number;
  const zt = new Float64Array(size * size);
  for (let i = 0; i < size; i++) zt[i * size + i] = 1;
  implicitQl(dd, ee, size, zt, norm);
  sortAscending(dd, zt, size);
  for (let c = 0; c < size; c++) {
    d[lo + c] = dd[c] as number;
    for (let r = 0; r < size; r++) z[(lo + r) * n + lo + c] = zt[c * size + r] as number;
  }
}

/**
 * Merges the solved halves [lo, mid) and [mid, hi) (eigenvalues ascending in d, eigenvectors in the diagonal
 * blocks of z) into the eigen-decomposition of their sum plus ρ u uᵀ, u = e_{mid−1} + sign·e_{mid}.
 */
function mergeBlocks(d: Float64Array, z: Float64Array, n: number, lo: number, mid: number, hi: number, rho: number, sign: number): void {
  const m = hi - lo;
  const top = mid - lo;
  // z = Qᵀu: the last row of Q₁ and ±the first row of Q₂; ‖z‖² = 2, so ρ z zᵀ = (2ρ) ẑ ẑᵀ with ẑ = z/√2.
  const zv = new Float64Array(m);
  const values = new Float64Array(m);
  for (let c = 0; c < m; c++) {
    zv[c] = (c < top ? (z[(mid - 1) * n + lo + c] as number) : sign * (z[mid * n + lo + c] as number)) * Math.SQRT1_2;
    values[c] = d[lo + c] as number;
  }
  const r = 2 * rho;
  // Both halves are ascending: merge them into one order.
  const order = new Int32Array(m);
  for (let i = 0, a = 0, b = top; i < m; i++) {
    order[i] = b >= m || (a < top && (values[a] as number) <= (values[b] as number)) ? a++ : b++;
  }
  let dmax = 0;
  for (let c = 0; c < m; c++) dmax = Math.max(dmax, Math.abs(values[c] as number));
  const tol = 8 * EPS * Math.max(dmax, r);
  // Column support in the block: 1 top rows only, 2 bottom rows only, 3 both (after a deflating rotation).
  const support = new Uint8Array(m);
  for (let c = 0; c < m; c++) support[c] = c < top ? 1 : 2;
  const deflated: number[] = [];
  const keep: number[] = [];
  let prev = -1;
  for (let i = 0; i < m; i++) {
    const c = order[i] as number;
    const zc = zv[c] as number;
    if (r * Math.abs(zc) <= tol) {
      deflated.push(c);
      continue;
    }
    if (prev < 0) {
      prev = c;
      continue;
    }
    const zp = zv[prev] as number;
    const t = pythag(zp, zc);
    const cs = zc / t;
    const sn = zp / t;
    const dp = values[prev] as number;
    const dc = values[c] as number;
    if (Math.abs((dc - dp) * cs * sn) <= tol) {
      // Rotate columns prev and c so that prev's z component vanishes: prev deflates with a Rayleigh value.
      for (let row = lo; row < hi; row++) {
        const o = row * n + lo;
        const a = z[o + prev] as number;
        const b = z[o + c] as number;
        z[o + prev] = cs * a - sn * b;
        z[o + c] = sn * a + cs * b;
      }
      support[prev] = support[c] = (support[prev] as number) | (support[c] as number);
      values[prev] = dp * cs * cs + dc * sn * sn;
      values[c] = dp * sn * sn + dc * cs * cs;
      zv[prev] = 0;
      zv[c] = t;
      deflated.push(prev);
    } else {
      keep.push(prev);
    }
    prev = c;
  }
  if (prev >= 0) keep.push(prev);

  const k = keep.length;
  const dk = Float64Array.from(keep, (c) => values[c] as number);
  const zk = Float64Array.from(keep, (c) => zv[c] as number);
  // delta[i·k + j] = d_j − λ_i, then (in place) the rank-one eigenvector i.
  const delta = new Float64Array(k * k);
  const lambda = new Float64Array(k);
  for (let i = 0; i < k; i++) lambda[i] = secularRoot(dk, zk, r, k, i, delta);
  // Löwner: ẑ_j² = (λ_j − d_j)/ρ · Π_{i≠j} (λ_i − d_j)/(d_i − d_j), with the sign of z_j.
  const zhat = new Float64Array(k).fill(1);
  for (let i = 0; i < k; i++) {
    const row = i * k;
    const di = dk[i] as number;
    for (let j = 0; j < k; j++) {
      const f = j === i ? -(delta[row + j] as number) / r : -(delta[row + j] as number) / (di - (dk[j] as number));
      zhat[j] = (zhat[j] as number) * f;
    }
  }
  for (let j = 0; j < k; j++) zhat[j] = Math.sqrt(Math.abs(zhat[j] as number)) * ((zk[j] as number) < 0 ? -1 : 1);
  for (let i = 0; i < k; i++) {
    const row = i * k;
    let s = 0;
    for (let j = 0; j < k; j++) {
      const u = (zhat[j] as number) / (delta[row + j] as number);
      delta[row + j] = u;
      s += u * u;
    }
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < k; j++) delta[row + j] = (delta[row + j] as number) * inv;
  }

  // New columns: C[rows][i] = Σ_j Z[rows][keep_j]·U[i][j], separately for the top and bottom rows, each over the
  // columns that are non-zero there.
  const fresh = new Float64Array(m * k);
  const part = (rowFrom: number, rows: number, bit: number): void => {
    const cols: number[] = [];
    for (let j = 0; j < k; j++) if (((support[keep[j] as number] as number) & bit) !== 0) cols.push(j);
    const w = cols.length;
    if (w === 0 || rows === 0) return;
    const a = new Float64Array(rows * w);
    for (let row = 0; row < rows; row++) {
      const o = (lo + rowFrom + row) * n + lo;
      for (let t = 0; t < w; t++) a[row * w + t] = z[o + (keep[cols[t] as number] as number)] as number;
    }
    const u = new Float64Array(k * w);
    for (let i = 0; i < k; i++) for (let t = 0; t < w; t++) u[i * w + t] = delta[i * k + (cols[t] as number)] as number;
    gemmNT(a, 0, w, u, 0, w, fresh, rowFrom * k, k, rows, k, w);
  };
  part(0, top, 1);
  part(top, m - top, 2);

  // Deflated columns are kept as they are; gather them before the block is overwritten.
  const nd = deflated.length;
  const old = new Float64Array(m * nd);
  for (let row = 0; row < m; row++) {
    const o = (lo + row) * n + lo;
    for (let t = 0; t < nd; t++) old[row * nd + t] = z[o + (deflated[t] as number)] as number;
  }
  // All m eigenvalues ascending: source s < k is fresh column s, s ≥ k is deflated column s − k.
  const all = new Float64Array(m);
  lambda.forEach((x, i) => (all[i] = x));
  deflated.forEach((c, t) => (all[k + t] = values[c] as number));
  const sorted = Array.from({ length: m }, (_, s) => s).sort((a, b) => (all[a] as number) - (all[b] as number));
  for (let row = 0; row < m; row++) {
    const o = (lo + row) * n + lo;
    for (let t = 0; t < m; t++) {
      const s = sorted[t] as number;
      z[o + t] = s < k ? (fresh[row * k + s] as number) : (old[row * nd + s - k] as number);
    }
  }
  for (let t = 0; t < m; t++) d[lo + t] = all[sorted[t] as number] as number;
}

/**
 * Root i (0-based, ascending) of 1 + r Σ_j z_j²/(d_j − λ) = 0 for strictly increasing d (length k), non-zero z
 * and r > 0: λ_i ∈ (d_i, d_{i+1}), the last in (d_{k−1}, d_{k−1} + r‖z‖²). Writes d_j − λ_i to
 * delta[i·k + j], computed as (d_j − d_o) − τ with d_o the pole nearer the root, and returns λ_i.
 *
 * Iteration: a two-pole rational model of the secular function (Bunch, Nielsen & Sorensen 1978) matched in
 * value and slope at the iterate, safeguarded by bisection inside a bracket that always holds the root.
 */
function secularRoot(dk: Float64Array, zk: Float64Array, r: number, k: number, i: number, delta: Float64Array): number {
  const row = i * k;
  let origin: number;
  let lo: number;
  let hi: number;
  if (i < k - 1) {
    const half = ((dk[i + 1] as number) - (dk[i] as number)) / 2;
    let f = 1;
    const di = dk[i] as number;
    for (let j = 0; j < k; j++) f += (r * (zk[j] as number) ** 2) / ((dk[j] as number) - di - half);
    if (f > 0) {
      origin = i;
      lo = 0;
      hi = half;
    } else {
      origin = i + 1;
      lo = -half;
      hi = 0;
    }
  } else {
    origin = i;
    lo = 0;
    let zz = 0;
    for (let j = 0; j < k; j++) zz += (zk[j] as number) ** 2;
    hi = r * zz;
  }
  const dOrigin = dk[origin] as number;
  for (let j = 0; j < k; j++) delta[row + j] = (dk[j] as number) - dOrigin;
  // Poles of the model: i and i+1 for an interior root, k−2 and k−1 for the last (k−1 alone when k = 1).
  const split = i < k - 1 ? i : k - 2;
  const poleA = split >= 0 ? (delta[row + split] as number) : Number.NEGATIVE_INFINITY;
  const poleB = delta[row + split + 1] as number;
  let tau = (lo + hi) / 2;
  for (let iteration = 0; iteration < MAX_SECULAR_ITERATIONS; iteration++) {
    let psi = 0;
    let dpsi = 0;
    let phi = 0;
    let dphi = 0;
    for (let j = 0; j <= split; j++) {
      const q = 1 / ((delta[row + j] as number) - tau);
      const t = r * (zk[j] as number) ** 2 * q;
      psi += t;
      dpsi += t * q;
    }
    for (let j = split + 1; j < k; j++) {
      const q = 1 / ((delta[row + j] as number) - tau);
      const t = r * (zk[j] as number) ** 2 * q;
      phi += t;
      dphi += t * q;
    }
    const g = 1 + psi + phi;
    const bound = EPS * ((8 + k) * (1 + Math.abs(psi) + Math.abs(phi)) + 3 * Math.abs(tau) * (dpsi + dphi));
    if (Math.abs(g) <= bound) break;
    if (g < 0) lo = tau;
    else hi = tau;
    if (hi - lo <= 2 * EPS * Math.max(Math.abs(lo), Math.abs(hi))) break;
    // Model c + b1/(A − x) + b2/(B − x) with the value and slope of ψ (poles ≤ A) and φ (poles ≥ B) at τ.
    let next = Number.NaN;
    const b2 = dphi * (poleB - tau) ** 2;
    const a2 = phi - b2 / (poleB - tau);
    if (split >= 0) {
      const b1 = dpsi * (poleA - tau) ** 2;
      const a1 = psi - b1 / (poleA - tau);
      const c = 1 + a1 + a2;
      // c(A − x)(B − x) + b1(B − x) + b2(A − x) = 0.
      const bq = c * (poleA + poleB) + b1 + b2;
      const cq = c * poleA * poleB + b1 * poleB + b2 * poleA;
      if (c === 0) {
        next = cq / (b1 + b2);
      } else {
        const disc = bq * bq - 4 * c * cq;
        if (disc >= 0) {
          const s = bq >= 0 ? bq + Math.sqrt(disc) : bq - Math.sqrt(disc);
          const x1 = s / (2 * c);
          const x2 = (2 * cq) / s;
          next = x1 > lo && x1 < hi ? x1 : x2;
        }
      }
    } else {
      const c = 1 + a2;
      if (c > 0) next = poleB + b2 / c;
    }
    tau = next > lo && next < hi ? next : (lo + hi) / 2;
  }
  for (let j = 0; j < k; j++) delta[row + j] = (delta[row + j] as number) - tau;
  return dOrigin + tau;
}
