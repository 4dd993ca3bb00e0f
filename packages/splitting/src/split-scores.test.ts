import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import type { EigenResult, EigenSolver, SplittingOperator } from '@mitosis/core';
import { tf } from '@mitosis/engine';
import { symmetricExtremeEigen } from '@mitosis/linalg';
import { benchmarkEigen } from './bench-eigen.js';
import { computeSplitScores } from './split-scores.js';
import { useCpuBackend } from './test-backend.js';
import { checkDNet } from './test-networks.js';

before(useCpuBackend);

/** A minimal exact solver over the operator's explicit matrices (tests only). */
function exactSolver(id: string): EigenSolver {
  return {
    id,
    async solve(op: SplittingOperator): Promise<EigenResult[]> {
      const out: EigenResult[] = [];
      for (let k = 0; k < op.blocks.length; k++) {
        const { name, neurons, dim } = op.blocks[k]!;
        const s = await op.matrices(k);
        const r = { lambdaMin: new Float64Array(neurons), lambdaMax: new Float64Array(neurons), vMin: new Float64Array(neurons * dim), vMax: new Float64Array(neurons * dim) };
        for (let j = 0; j < neurons; j++) {
          const e = symmetricExtremeEigen(s, dim, j * dim * dim);
          r.lambdaMin[j] = e.values[0]!;
          r.lambdaMax[j] = e.values[dim - 1]!;
          r.vMin.set(e.vMin, j * dim);
          r.vMax.set(e.vMax, j * dim);
        }
        out.push({ block: name, neurons, dim, ...r, residualMin: new Float64Array(neurons), residualMax: new Float64Array(neurons) });
      }
      return out;
    },
  };
}

test('computeSplitScores: check D through a solver, JSON-ready output', async () => {
  const { spec, weights, data } = checkDNet();
  const scores = await computeSplitScores({ spec, weights, data, loss: 'mse', solver: exactSolver('exact') });
  assert.equal(scores.solver, 'exact');
  assert.equal(scores.samples, 2);
  assert.equal(scores.layers.length, 1);
  const n = scores.layers[0]!.neurons[0]!;
  assert.ok(Math.abs(n.lambdaMin - -1.431899072026518) < 3e-6);
  assert.ok(Math.abs(n.lambdaMax - 0.424049144186089) < 3e-6);
  assert.equal(n.vMin.length, 2);
  assert.doesNotThrow(() => JSON.stringify(scores));
});

test('benchmarkEigen: plumbing on a tiny configuration (identical solvers agree exactly, no leaks)', async () => {
  const before = tf.memory().numTensors;
  const report = await benchmarkEigen({
    solvers: [exactSolver('dense'), exactSolver('copy')],
    inputChannels: [2],
    neurons: 3,
    spatial: 4,
    samples: 12,
    batchSize: 6,
    trainEpochs: 1,
    worstOf: 2,
  });
  assert.deepEqual(report.results.map((r) => [r.d, r.solver]), [[18, 'dense'], [18, 'copy']]);
  const copy = report.results[1]!;
  assert.equal(copy.lambdaRelErr, 0);
  assert.ok(Math.abs(copy.cos - 1) < 1e-12);
  assert.ok(report.rayleighEpoch[0]!.ratio > 0);
  assert.equal(tf.memory().numTensors, before);
});

test('check F: Rayleigh-quotient gradient matches finite differences; η = 0.1 reaches λ_min at iteration 30 ± 2', () => {
  const s = [2, 1, 0, 1, -1, 0.5, 0, 0.5, 0.3];
  const mv = (v: number[]): number[] => [0, 1, 2].map((r) => s[3 * r]! * v[0]! + s[3 * r + 1]! * v[1]! + s[3 * r + 2]! * v[2]!);
  const dot = (a: number[], b: number[]): number => a.reduce((acc, x, i) => acc + x * b[i]!, 0);
  const rq = (v: number[]): number => dot(v, mv(v)) / dot(v, v);
  const grad = (v: number[]): number[] => {
    const sv = mv(v);
    const vv = dot(v, v);
    const vsv = dot(v, sv);
    return sv.map((x, i) => (2 * (x * vv - v[i]! * vsv)) / (vv * vv));
  };
  const v0 = [0.3, -0.7, 1.1];
  const g = grad(v0);
  for (let i = 0; i < 3; i++) {
    const h = 1e-6;
    const up = [...v0];
    const dn = [...v0];
    up[i]! += h;
    dn[i]! -= h;
    assert.ok(Math.abs((rq(up) - rq(dn)) / (2 * h) - g[i]!) < 1e-8);
  }
  let v = [1, 1, 1].map((x) => x / Math.sqrt(3));
  let reached = -1;
  for (let it = 1; it <= 100 && reached < 0; it++) {
    const gr = grad(v);
    const next = v.map((x, i) => x - 0.1 * gr[i]!);
    const nn = Math.sqrt(dot(next, next));
    v = next.map((x) => x / nn);
    if (Math.abs(rq(v) - -1.435182425313032) < 1e-10) reached = it;
  }
  assert.ok(Math.abs(reached - 30) <= 2, `reached at iteration ${reached}`);
  const sign = Math.sign(v[0]!);
  [0.269383246565912, -0.925380594276986, 0.266652249578325].forEach((x, i) => assert.ok(Math.abs(sign * v[i]! - x) < 1e-5));
});
