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

/**
 * `solver`'s results with every λ scaled by (1 + δ) and each v_min turned by θ towards v_max (orthogonal to it),
 * so that the errors benchmarkEigen must report are known exactly: relative λ error δ, |cos| = cos θ for v_min,
 * 1 for v_max. (Agreement between independent real solvers, dense and Lanczos, is checked over `mitosis bench eigen`
 * in test/src/integration/cli-json.test.ts; check F of the Rayleigh update is tested in plugins/eigen-rayleigh.)
 */
function offBy(solver: EigenSolver, id: string, delta: number, theta: number): EigenSolver {
  return {
    id,
    async solve(op: SplittingOperator): Promise<EigenResult[]> {
      return (await solver.solve(op)).map((r) => {
        const vMin = r.vMin.map((x, i) => Math.cos(theta) * x + Math.sin(theta) * r.vMax[i]!);
        return { ...r, lambdaMin: r.lambdaMin.map((l) => l * (1 + delta)), lambdaMax: r.lambdaMax.map((l) => l * (1 + delta)), vMin };
      });
    },
  };
}

test('benchmarkEigen reports each solver\'s errors against dense: known λ and angle errors, no leaks', async () => {
  const before = tf.memory().numTensors;
  const report = await benchmarkEigen({
    solvers: [exactSolver('dense'), offBy(exactSolver('exact'), 'off', 0.01, 0.3)],
    inputChannels: [2],
    neurons: 3,
    spatial: 4,
    samples: 12,
    batchSize: 6,
    trainEpochs: 1,
    worstOf: 2,
    data: 'synthetic',
  });
  assert.deepEqual(report.results.map((r) => [r.d, r.solver]), [[18, 'dense'], [18, 'off']]);
  const off = report.results[1]!;
  assert.ok(Math.abs(off.lambdaRelErr - 0.01) < 1e-9, `λmin error ${off.lambdaRelErr}`);
  assert.ok(Math.abs(off.lambdaMaxRelErr - 0.01) < 1e-9, `λmax error ${off.lambdaMaxRelErr}`);
  assert.ok(Math.abs(off.cos - Math.cos(0.3)) < 1e-6, `|cos| ${off.cos}`);
  assert.ok(Math.abs(off.cosMax - 1) < 1e-9, `|cos|max ${off.cosMax}`);
  assert.ok(report.rayleighEpoch[0]!.ratio > 0);
  assert.equal(tf.memory().numTensors, before);
});
