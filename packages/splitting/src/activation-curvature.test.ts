import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ACTIVATIONS, NasError } from '@mitosis/core';
import { activationCurvature, activationCurvatureTf, activationValue, hasZeroCurvature } from './activation-curvature.js';
import { tf } from './tf.js';
import { useCpuBackend } from './test-backend.js';

const points = [-3.1, -1.7, -0.6, -0.05, 0.3, 0.7, 1, 2.2, 4.5];

/** Central second difference of f at z. */
function secondDifference(f: (z: number) => number, z: number, h = 1e-4): number {
  return (f(z + h) - 2 * f(z) + f(z - h)) / (h * h);
}

test('σ″ of the smooth activations matches finite differences of σ', () => {
  for (const kind of ['tanh', 'sigmoid', 'softplus', 'swish', 'gaussian'] as const) {
    for (const z of points) {
      const fd = secondDifference((t) => activationValue(kind, t), z);
      const an = activationCurvature(kind, z);
      assert.ok(Math.abs(fd - an) < 1e-6, `${kind}(${z}): analytic ${an} vs FD ${fd}`);
    }
  }
});

test('relu / relu6 use the softplus-β surrogate: FD of log(1+e^{βz})/β; peak β/4; configurable β', () => {
  for (const beta of [3, 1.5]) {
    const sp = (z: number): number => Math.log1p(Math.exp(beta * z)) / beta;
    for (const z of [...points, 5.8, 6.3]) {
      const relu = activationCurvature('relu', z, { reluBeta: beta });
      assert.ok(Math.abs(relu - secondDifference(sp, z)) < 1e-6, `relu β=${beta} z=${z}`);
      const relu6 = activationCurvature('relu6', z, { reluBeta: beta });
      const fd6 = secondDifference((t) => sp(t) - sp(t - 6), z);
      assert.ok(Math.abs(relu6 - fd6) < 1e-6, `relu6 β=${beta} z=${z}: ${relu6} vs ${fd6}`);
    }
  }
  assert.equal(activationCurvature('relu', 0), 0.75);
  assert.throws(() => activationCurvature('relu', 0, { reluBeta: 0 }), (e: unknown) => NasError.is(e, 'E_OPTIONS_INVALID'));
});

test('identity has exactly zero curvature and is flagged', () => {
  for (const z of points) assert.equal(activationCurvature('identity', z), 0);
  assert.ok(hasZeroCurvature('identity'));
  assert.ok(!hasZeroCurvature('relu'));
});

test('Firefly sigmoid bug is not reproduced: σ″(0.7) = −0.07458', () => {
  assert.ok(Math.abs(activationCurvature('sigmoid', 0.7) - -0.07458) < 1e-5);
});

test('TF.js curvatures equal the float64 ones for every activation, without leaks', async () => {
  await useCpuBackend();
  const before = tf.memory().numTensors;
  const z = tf.tensor1d(points);
  for (const kind of ACTIVATIONS) {
    for (const beta of [3, 2]) {
      const out = activationCurvatureTf(kind, z, { reluBeta: beta });
      const got = out.dataSync();
      out.dispose();
      points.forEach((p, i) => {
        const want = activationCurvature(kind, p, { reluBeta: beta });
        assert.ok(Math.abs(got[i]! - want) < 1e-6 * (1 + Math.abs(want)), `${kind}(${p}): tf ${got[i]} vs ${want}`);
      });
    }
  }
  z.dispose();
  assert.equal(tf.memory().numTensors, before);
});
