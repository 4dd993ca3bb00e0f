import { NasError } from '@mitosis/core';

/**
 * Implicit QL on a symmetric tridiagonal matrix (shared by the dense decomposition, the leaves of the
 * divide-and-conquer solver and the Lanczos Ritz problem). Internal to the package.
 */

export const EPS = 2 ** -52;
const MAX_QL_ITERATIONS = 60;

/** √(a² + b²) without overflow or destructive underflow. */
export function pythag(a: number, b: number): number {
  const x = Math.abs(a);
  const y = Math.abs(b);
  if (x > y) {
    const t = y / x;
    return x * Math.sqrt(1 + t * t);
  }
  if (y === 0) return 0;
  const t = x / y;
  return y * Math.sqrt(1 + t * t);
}

/**
 * Implicit QL with shifts on the tridiagonal (d, e), in place: d becomes the (unsorted) eigenvalues.
 * When `zt` is given (`n × n`, row i = column i of the accumulated transform), each plane rotation is applied
 * to rows i and i+1, so the inner loop is contiguous. `scale` (default 0) raises the norm that off-diagonals
 * are compared with to at least it: a block of a larger matrix passes that matrix's norm.
 */
export function implicitQl(d: Float64Array, e: Float64Array, n: number, zt: Float64Array | null, scale = 0): void {
  // Off-diagonals below eps·‖T‖ count as zero as well as those small next to their diagonal neighbours:
  // with a cluster of (near-)zero eigenvalues the purely local test never fires (0 ≤ eps·0 is false for a
  // tiny e) and QL would cycle without converging.
  let norm = scale;
  for (let i = 0; i < n; i++) norm = Math.max(norm, Math.abs(d[i] as number) + Math.abs((e[i] as number | undefined) ?? 0));
  const floor = EPS * norm;
  for (let l = 0; l < n; l++) {
    let iterations = 0;
    for (;;) {
      let m = l;
      for (; m < n - 1; m++) {
        const dd = Math.abs(d[m] as number) + Math.abs(d[m + 1] as number);
        const em = Math.abs(e[m] as number);
        if (em <= EPS * dd || em <= floor || em < Number.MIN_VALUE * 1e10) break;
      }
      if (m === l) break;
      if (++iterations > MAX_QL_ITERATIONS) {
        throw new NasError('E_NUMERICAL', `Tridiagonal QL did not converge for eigenvalue ${l} of ${n}`, {
          index: l,
          n,
        });
      }
      const el = e[l] as number;
      let g = ((d[l + 1] as number) - (d[l] as number)) / (2 * el);
      let r = pythag(g, 1);
      g = (d[m] as number) - (d[l] as number) + el / (g + (g >= 0 ? r : -r));
      let s = 1;
      let c = 1;
      let p = 0;
      let deflated = false;
      for (let i = m - 1; i >= l; i--) {
        const ei = e[i] as number;
        const f = s * ei;
        const b = c * ei;
        r = pythag(f, g);
        e[i + 1] = r;
        if (r === 0) {
          // An off-diagonal underflowed: the problem splits; retry from the top with the new split.
          d[i + 1] = (d[i + 1] as number) - p;
          e[m] = 0;
          deflated = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = (d[i + 1] as number) - p;
        r = ((d[i] as number) - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        if (zt !== null) {
          const ri = i * n;
          const rj = ri + n;
          for (let k = 0; k < n; k++) {
            const a = zt[rj + k] as number;
            const z = zt[ri + k] as number;
            zt[rj + k] = s * z + c * a;
            zt[ri + k] = c * z - s * a;
          }
        }
      }
      if (deflated) continue;
      d[l] = (d[l] as number) - p;
      e[l] = g;
      e[m] = 0;
    }
  }
}

/** Sorts eigenvalues ascending, permuting the rows of `zt` alongside. */
export function sortAscending(values: Float64Array, zt: Float64Array | null, n: number): void {
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (values[a] as number) - (values[b] as number));
  const sorted = Float64Array.from(order, (i) => values[i] as number);
  values.set(sorted);
  if (zt !== null) {
    const copy = zt.slice();
    order.forEach((from, to) => zt.set(copy.subarray(from * n, from * n + n), to * n));
  }
}

