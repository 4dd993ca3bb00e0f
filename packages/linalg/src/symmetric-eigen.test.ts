import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NasError, SeededRandom } from '@mitosis/core';
import { symmetricEigen, symmetricEigenByQl, symmetricExtremeEigen, tridiagonalEigen } from './symmetric-eigen.js';
import { symmetricWithSpectrum } from './test-matrices.js';

/** max over columns of ‖A v − λ v‖ and max |VᵀV − I|. */
function quality(a: Float64Array, n: number, values: Float64Array, vectors: Float64Array): { residual: number; orthogonality: number } {
  let residual = 0;
  let orthogonality = 0;
  for (let k = 0; k < n; k++) {
    let r = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += (a[i * n + j] as number) * (vectors[k * n + j] as number);
      r += (s - (values[k] as number) * (vectors[k * n + i] as number)) ** 2;
    }
    residual = Math.max(residual, Math.sqrt(r));
    for (let l = 0; l < n; l++) {
      let d = 0;
      for (let i = 0; i < n; i++) d += (vectors[k * n + i] as number) * (vectors[l * n + i] as number);
      orthogonality = Math.max(orthogonality, Math.abs(d - (k === l ? 1 : 0)));
    }
  }
  return { residual, orthogonality };
}

function randomSymmetric(n: number, rng: SeededRandom): Float64Array {
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const x = rng.normal();
      a[i * n + j] = x;
      a[j * n + i] = x;
    }
  }
  return a;
}

function assertClose(actual: number, expected: number, tol: number, what = ''): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what} ${actual} vs ${expected} (tol ${tol})`);
}

function assertParallel(v: Float64Array, expected: readonly number[], tol: number): void {
  let c = 0;
  expected.forEach((x, i) => (c += x * (v[i] as number)));
  assertClose(Math.abs(c), 1, tol, '|cos|');
}

describe('symmetricEigen: closed forms (algorithms.md §9)', () => {
  it('A: tanh neuron, rank-1 S has eigenvalues {−0.974383575999566, 0}, v_min = (1,1)/√2', () => {
    const s = -0.487191787999783;
    const { values, vectors } = symmetricEigen(Float64Array.of(s, s, s, s), 2);
    assertClose(values[0] as number, -0.974383575999566, 1e-14);
    assertClose(values[1] as number, 0, 1e-15);
    assertParallel(vectors.subarray(0, 2), [Math.SQRT1_2, Math.SQRT1_2], 1e-14);
  });

  it('B: sigmoid neuron, eigenvalues −0.136393981540631 and −0.00472342187688', () => {
    const m = Float64Array.of(-0.111313121639607, -0.051704558083801, -0.051704558083801, -0.029804281777903);
    const { values, vectors } = symmetricEigen(m, 2);
    assertClose(values[0] as number, -0.136393981540631, 1e-14);
    assertClose(values[1] as number, -0.00472342187688, 1e-14);
    assertParallel(vectors.subarray(0, 2), [0.899732231521836, 0.436442334748518], 1e-13);
  });

  it('D: conv filter with eval BatchNorm, eigenvalues −1.431899072026518 and 0.424049144186089', () => {
    const m = Float64Array.of(-1.181039352303413, 0.634548698178585, 0.634548698178585, 0.173189424462984);
    const { values } = symmetricEigen(m, 2);
    assertClose(values[0] as number, -1.431899072026518, 1e-14);
    assertClose(values[1] as number, 0.424049144186089, 1e-14);
  });

  it('F: 3×3 matrix, all three eigenvalues and v_min', () => {
    const f = Float64Array.of(2, 1, 0, 1, -1, 0.5, 0, 0.5, 0.3);
    for (const decompose of [symmetricEigen, symmetricExtremeEigen]) {
      const r = decompose(f, 3);
      assertClose(r.values[0] as number, -1.435182425313032, 1e-14);
      assertClose(r.values[1] as number, 0.421641965550213, 1e-14);
      assertClose(r.values[2] as number, 2.313540459762819, 1e-14);
      const vMin = 'vMin' in r ? r.vMin : r.vectors.subarray(0, 3);
      assertParallel(vMin, [0.269383246565912, -0.925380594276986, 0.266652249578325], 1e-13);
    }
  });
});

describe('symmetricEigen: random and degenerate matrices', () => {
  it('random Gaussian matrices n = 1…40 and 120: ‖AV − VΛ‖ and ‖VᵀV − I‖ at rounding level, ascending', () => {
    const rng = new SeededRandom(11);
    for (const n of [1, 2, 3, 4, 5, 7, 10, 17, 31, 40, 120]) {
      const a = randomSymmetric(n, rng);
      const { values, vectors } = symmetricEigen(a, n);
      const q = quality(a, n, values, vectors);
      assert.ok(q.residual < 1e-12 * n, `n=${n} residual ${q.residual}`);
      assert.ok(q.orthogonality < 1e-13 * n, `n=${n} orthogonality ${q.orthogonality}`);
      for (let i = 1; i < n; i++) assert.ok((values[i] as number) >= (values[i - 1] as number));
      // The trace is the sum of the eigenvalues.
      let trace = 0;
      for (let i = 0; i < n; i++) trace += a[i * n + i] as number;
      assertClose(values.reduce((s, x) => s + x, 0), trace, 1e-11 * n, 'trace');
    }
  });

  it('recovers a prescribed spectrum, tiny and huge scales alike', () => {
    const rng = new SeededRandom(5);
    const spectrum = [-3, -1, -1, 0, 0.5, 2, 2, 2, 7];
    for (const scale of [1e-200, 1e-6, 1, 1e150]) {
      const a = symmetricWithSpectrum(spectrum.map((x) => x * scale), rng);
      const { values, vectors } = symmetricEigen(a, spectrum.length);
      spectrum.forEach((x, i) => assertClose((values[i] as number) / scale, x, 1e-13, `scale ${scale} λ${i}`));
      const q = quality(Float64Array.from(a, (x) => x / scale), spectrum.length, values.map((x) => x / scale), vectors);
      assert.ok(q.residual < 1e-13 && q.orthogonality < 1e-13, JSON.stringify(q));
    }
  });

  it('zero matrix: eigenvalues 0 and the identity as eigenvectors', () => {
    const { values, vectors } = symmetricEigen(new Float64Array(16), 4);
    assert.deepEqual([...values], [0, 0, 0, 0]);
    assert.equal(quality(new Float64Array(16), 4, values, vectors).orthogonality, 0);
    const ext = symmetricExtremeEigen(new Float64Array(9), 3);
    assert.deepEqual([...ext.values], [0, 0, 0]);
    assert.equal(ext.vMin.reduce((s, x) => s + x * x, 0), 1);
  });

  it('repeated eigenvalues: c·I and a diagonal with ties give orthonormal vectors', () => {
    const n = 6;
    const ci = new Float64Array(n * n);
    for (let i = 0; i < n; i++) ci[i * n + i] = 2.5;
    const r1 = symmetricEigen(ci, n);
    assert.ok([...r1.values].every((x) => x === 2.5));
    const d = Float64Array.from({ length: n * n }, (_, k) => (k % (n + 1) === 0 ? [1, -2, 1, 3, -2, 1][k / (n + 1)] as number : 0));
    const r2 = symmetricEigen(d, n);
    assert.deepEqual([...r2.values], [-2, -2, 1, 1, 1, 3]);
    const q = quality(d, n, r2.values, r2.vectors);
    assert.ok(q.residual < 1e-15 && q.orthogonality < 1e-15, JSON.stringify(q));
    const ext = symmetricExtremeEigen(d, n);
    assert.equal(ext.values[0], -2);
    // v_min lies in the λ = −2 eigenspace (coordinates 1 and 4).
    assertClose((ext.vMin[1] as number) ** 2 + (ext.vMin[4] as number) ** 2, 1, 1e-14);
  });

  it('n = 1', () => {
    const r = symmetricEigen(Float64Array.of(-4), 1);
    assert.deepEqual([...r.values], [-4]);
    assert.deepEqual([...r.vectors], [1]);
    const e = symmetricExtremeEigen(Float64Array.of(-4), 1);
    assert.deepEqual([...e.vMin], [1]);
    assert.deepEqual([...e.vMax], [1]);
  });

  it('reads the matrix at an offset and leaves its input untouched', () => {
    const buf = Float64Array.of(9, 9, 2, 1, 1, 2);
    const before = buf.slice();
    const r = symmetricEigen(buf, 2, 2);
    assertClose(r.values[0] as number, 1, 1e-15);
    assertClose(r.values[1] as number, 3, 1e-15);
    assert.deepEqual(buf, before);
  });

  it('non-finite entries are E_NUMERICAL with the index', () => {
    const a = Float64Array.of(1, 0, 0, Number.NaN);
    for (const f of [symmetricEigen, symmetricExtremeEigen]) {
      assert.throws(() => f(a, 2), (e: unknown) => NasError.is(e, 'E_NUMERICAL') && e.details['index'] === 3);
    }
  });
});

describe('symmetricExtremeEigen', () => {
  it('agrees with the full decomposition on random matrices (values and ±vectors)', () => {
    const rng = new SeededRandom(2);
    for (const n of [2, 3, 8, 33, 90]) {
      const a = randomSymmetric(n, rng);
      const full = symmetricEigen(a, n);
      const ext = symmetricExtremeEigen(a, n);
      for (let i = 0; i < n; i++) assertClose(ext.values[i] as number, full.values[i] as number, 1e-12 * n);
      assertParallel(ext.vMin, [...full.vectors.subarray(0, n)], 1e-10);
      assertParallel(ext.vMax, [...full.vectors.subarray((n - 1) * n, n * n)], 1e-10);
    }
  });
});

describe('tridiagonalEigen', () => {
  it('matches the dense decomposition of the same tridiagonal matrix', () => {
    const rng = new SeededRandom(9);
    const n = 25;
    const d = Float64Array.from({ length: n }, () => rng.normal());
    const e = Float64Array.from({ length: n - 1 }, () => rng.normal());
    const dense = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      dense[i * n + i] = d[i] as number;
      if (i < n - 1) {
        dense[i * n + i + 1] = e[i] as number;
        dense[(i + 1) * n + i] = e[i] as number;
      }
    }
    const t = tridiagonalEigen(d, e);
    const q = quality(dense, n, t.values, t.vectors);
    assert.ok(q.residual < 1e-13 && q.orthogonality < 1e-13, JSON.stringify(q));
    const full = symmetricEigen(dense, n);
    for (let i = 0; i < n; i++) assertClose(t.values[i] as number, full.values[i] as number, 1e-13);
    const noVectors = tridiagonalEigen(d, e, { vectors: false });
    assert.equal(noVectors.vectors.length, 0);
    assert.deepEqual(noVectors.values, t.values);
  });

  it('split (zero off-diagonal), zero and 1×1 cases', () => {
    const t = tridiagonalEigen(Float64Array.of(3, 1, 2), Float64Array.of(0, 0));
    assert.deepEqual([...t.values], [1, 2, 3]);
    assert.deepEqual([...tridiagonalEigen(new Float64Array(3), new Float64Array(2)).values], [0, 0, 0]);
    assert.deepEqual([...tridiagonalEigen(Float64Array.of(5), new Float64Array(0)).values], [5]);
  });
});

/** The dense matrix of the tridiagonal (d, e). */
function tridiagonalMatrix(d: readonly number[], e: readonly number[]): Float64Array {
  const n = d.length;
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    a[i * n + i] = d[i] as number;
    if (i < n - 1) {
      a[i * n + i + 1] = e[i] as number;
      a[(i + 1) * n + i] = e[i] as number;
    }
  }
  return a;
}

/** Checks a full decomposition: ascending, ‖Av − λv‖ and |VᵀV − I| within `tol`·‖A‖ and `tol`, λ as the QL path's. */
function assertDecomposition(name: string, a: Float64Array, n: number, tol = 1e-13): void {
  const { values, vectors } = symmetricEigen(a, n);
  const reference = symmetricEigenByQl(a, n);
  const norm = Math.max(Math.abs(reference.values[0] as number), Math.abs(reference.values[n - 1] as number), Number.MIN_VALUE);
  const q = quality(a, n, values, vectors);
  assert.ok(q.residual <= tol * norm, `${name}: residual ${q.residual} vs ‖A‖ ${norm}`);
  assert.ok(q.orthogonality <= tol, `${name}: orthogonality ${q.orthogonality}`);
  for (let i = 0; i < n; i++) {
    if (i > 0) assert.ok((values[i] as number) >= (values[i - 1] as number), `${name}: not ascending at ${i}`);
    assertClose(values[i] as number, reference.values[i] as number, tol * norm, `${name}: λ${i}`);
  }
}

describe('symmetricEigen: divide and conquer (issue 12 item 5)', () => {
  it('random Gaussian matrices of random sizes 1…150 agree with the QL path', () => {
    const rng = new SeededRandom(21);
    const sizes = [1, 2, 32, 33, 64, 65, ...Array.from({ length: 8 }, () => 1 + Math.floor(rng.next() * 150))];
    for (const n of sizes) assertDecomposition(`gaussian n=${n}`, randomSymmetric(n, rng), n);
  });

  it('n = 2: a multiple of the identity, a diagonal and a coupled pair', () => {
    assertDecomposition('2·I', Float64Array.of(2, 0, 0, 2), 2);
    assertDecomposition('diag(3, −1)', Float64Array.of(3, 0, 0, -1), 2);
    assertDecomposition('[[1, 1e-200], [1e-200, 1]]', Float64Array.of(1, 1e-200, 1e-200, 1), 2);
    const r = symmetricEigen(Float64Array.of(0, 1, 1, 0), 2);
    assert.deepEqual([...r.values].map((x) => Math.round(x * 1e12) / 1e12), [-1, 1]);
  });

  it('repeated and clustered eigenvalues: c·I, diagonal with ties, exact and 1e-10 / 1e-13 clusters', () => {
    const n = 100;
    const ci = new Float64Array(n * n);
    const ties = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      ci[i * n + i] = 2.5;
      ties[i * n + i] = [1, -2, 1, 3, -2][i % 5] as number;
    }
    assertDecomposition('2.5·I', ci, n);
    assertDecomposition('diagonal with ties', ties, n);
    const rng = new SeededRandom(22);
    const clusters = Array.from({ length: 150 }, (_, i) => (i < 50 ? 1 : i < 100 ? 1 + 1e-10 * i : -1 + 1e-13 * i));
    assertDecomposition('clusters', symmetricWithSpectrum(clusters, rng), 150);
    const repeated = Array.from({ length: 120 }, (_, i) => [-3, 0, 0.5, 2][i % 4] as number);
    assertDecomposition('four eigenvalues, each 30 times', symmetricWithSpectrum(repeated, rng), 120);
  });

  it('Wilkinson matrices (pairs equal to 1e-14) and glued copies: orthogonal vectors', () => {
    for (const n of [21, 101]) {
      const m = (n - 1) / 2;
      assertDecomposition(`W${n}+`, tridiagonalMatrix(Array.from({ length: n }, (_, i) => Math.abs(i - m)), new Array<number>(n - 1).fill(1)), n);
    }
    const d: number[] = [];
    const e: number[] = [];
    for (let c = 0; c < 5; c++) {
      for (let i = 0; i < 21; i++) {
        d.push(Math.abs(i - 10));
        if (i < 20) e.push(1);
      }
      if (c < 4) e.push(1e-10);
    }
    assertDecomposition('five W21+ glued by 1e-10', tridiagonalMatrix(d, e), 105);
  });

  it('rank-deficient, block-diagonal and all-ones matrices', () => {
    const rng = new SeededRandom(23);
    const n = 90;
    const b = Array.from({ length: n * 4 }, () => rng.normal());
    const lowRank = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let t = 0; t < 4; t++) s += (b[i * 4 + t] as number) * (b[j * 4 + t] as number);
        lowRank[i * n + j] = s;
      }
    }
    assertDecomposition('rank 4 of 90', lowRank, n);
    const blocks = new Float64Array(120 * 120);
    for (let k = 0; k < 3; k++) {
      for (let i = 40 * k; i < 40 * k + 40; i++) {
        for (let j = 40 * k; j <= i; j++) {
          const x = rng.normal();
          blocks[i * 120 + j] = x;
          blocks[j * 120 + i] = x;
        }
      }
    }
    assertDecomposition('three decoupled blocks', blocks, 120);
    // Rank one: the reduction meets columns of rounding noise, each smaller than the last, down to underflow.
    assertDecomposition('all ones', new Float64Array(64 * 64).fill(1), 64);
    const graded = Array.from({ length: 130 }, (_, i) => 10 ** (-i / 8));
    assertDecomposition('graded 1 … 1e-16', symmetricWithSpectrum(graded, rng), 130);
  });

  it('symmetricExtremeEigen on a rank-one matrix (the same reduction) gives the exact extremes', () => {
    const ext = symmetricExtremeEigen(new Float64Array(64 * 64).fill(1), 64);
    assertClose(ext.values[63] as number, 64, 1e-12);
    assertClose(Math.abs(ext.values[0] as number), 0, 1e-12);
    assertParallel(ext.vMax, new Array<number>(64).fill(1 / 8), 1e-12);
  });
});
