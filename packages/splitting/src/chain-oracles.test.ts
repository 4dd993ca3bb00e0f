import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import type { NetworkSpec } from '@mitosis/core';
import { NetworkModel } from '@mitosis/engine';
import { symmetricEigen } from '@mitosis/linalg';
import { createSplittingOperator } from './splitting-operator.js';
import { SplitProbe, compareWithOracle, type OracleCheck } from './split-oracle.js';
import { useCpuBackend } from './test-backend.js';
import { branching, chainSetup, invertedResidual, mobileNetV1 } from './test-networks.js';

/*
 * Issue 12, items 1–2: the splitting matrix of a producer whose channel passes depthwise → BN → activation
 * chains before its first linear consumer, against the exact split Hessian: d²L/dε² of the loss after the actual
 * surgery (the offspring copy the depthwise filter, its BN and the later activations), in float64 by finite
 * differences of ir's reference forward (split-oracle.ts). MobileNetV1 blocks, an inverted residual block and a
 * branching chain, tanh and swish, random initialisation.
 */

before(useCpuBackend);

function spectralRadius(s: Float64Array, dim: number): number {
  const { values } = symmetricEigen(s, dim);
  return Math.max(Math.abs(values[0]!), Math.abs(values[dim - 1]!));
}

async function checkNetwork(spec: NetworkSpec, seed: number, blocks: string[]): Promise<OracleCheck[]> {
  const { weights, data } = chainSetup(spec, seed);
  const checks = await compareWithOracle(spec, weights, data, { loss: 'mse', batchSize: 4, seed });
  assert.deepEqual([...new Set(checks.map((c) => c.node))], blocks);
  return checks;
}

function assertChecks(label: string, checks: readonly OracleCheck[]): void {
  for (const c of checks) {
    const where = `${label} ${c.node}[${c.neuron}]`;
    assert.ok(c.matrixErr <= 1e-4, `${where}: max |S − S_exact| = ${c.matrixErr.toExponential(2)}·ρ`);
    assert.ok(c.productErr <= 1e-4, `${where}: ‖S·v − S_exact·v‖∞ = ${c.productErr.toExponential(2)}·ρ‖v‖`);
    assert.ok(c.lambdaErr <= 1e-3, `${where}: λ error ${c.lambdaErr.toExponential(2)}·ρ`);
    assert.ok(c.cosMin >= 0.999 && c.cosMax >= 0.999, `${where}: |cos| v_min ${c.cosMin.toFixed(5)}, v_max ${c.cosMax.toFixed(5)}`);
    assert.ok(Math.abs(c.deltaRatio - 1) <= 0.01, `${where}: ΔL / (ε²/2·vᵀSv) = ${c.deltaRatio}`);
  }
}

for (const a of ['tanh', 'swish'] as const) {
  test(`MobileNetV1 blocks (${a}): S, S·v, extreme eigenpairs and ΔL match the exact split Hessian`, async () => {
    const checks = await checkNetwork(mobileNetV1(a), 1, ['c0', 'pw1', 'pw2']);
    assertChecks(`mbv1-${a}`, checks);
  });

  test(`inverted residual block (${a}): the expand layer's matrix includes the depthwise chain`, async () => {
    const checks = await checkNetwork(invertedResidual(a), 2, ['stem', 'expand']);
    assertChecks(`mbv2-${a}`, checks);
  });
}

test('branching chains (two depthwise paths of different length, an add, a pool, flatten + BN + activation)', async () => {
  const checks = await checkNetwork(branching(), 3, ['c0']);
  assertChecks('branching', checks);
});

test('firstActivationOnly reproduces the matrix without the chain (it differs from the exact one)', async () => {
  const spec = mobileNetV1('tanh');
  const { weights, data } = chainSetup(spec, 1);
  const model = new NetworkModel(spec, weights);
  try {
    const full = createSplittingOperator(model, data, { loss: 'mse', batchSize: 4 });
    const first = createSplittingOperator(model, data, { loss: 'mse', batchSize: 4, firstActivationOnly: true });
    const exact = new SplitProbe(spec, weights, data, 'c0', 0).matrix();
    const rho = spectralRadius(exact, 18);
    const a = (await full.matrices(0)).subarray(0, 18 * 18);
    const b = (await first.matrices(0)).subarray(0, 18 * 18);
    let errFull = 0;
    let errFirst = 0;
    for (let i = 0; i < 18 * 18; i++) {
      errFull = Math.max(errFull, Math.abs(a[i]! - exact[i]!));
      errFirst = Math.max(errFirst, Math.abs(b[i]! - exact[i]!));
    }
    assert.ok(errFull / rho < 1e-4, `chain: ${errFull / rho}`);
    assert.ok(errFirst / rho > 1e-2, `first activation only: ${errFirst / rho} (the chain term is not negligible here)`);
    // The last block has no chain: both options agree exactly.
    const last = await full.matrices(2);
    const lastFirst = await first.matrices(2);
    assert.deepEqual(Array.from(last), Array.from(lastFirst));
    full.dispose();
    first.dispose();
  } finally {
    model.dispose();
  }
});
