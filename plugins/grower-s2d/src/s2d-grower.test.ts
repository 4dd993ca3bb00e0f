import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { ContainerModule } from '@mitosis/core/di';
import { EigenSolverContribution, GrowerRegistry, NasError, loadPlugins } from '@mitosis/core';
import {
  fakeContext,
  fakeEigenRegistry,
  fakeEigenResults,
  type FakeLayer,
} from '@mitosis/grower-kit/testing';
import { S2dGrowerContribution, type S2dOptions } from './s2d-grower.js';

const pluginDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Check H's S2D quantile λ, spread over two layers (global indices 0–4 and 5–9). */
const checkH: FakeLayer[] = [
  { node: 'fc1', lambdaMin: [0.3, -0.2, -1.5, 0.1, -0.05] },
  { node: 'fc2', lambdaMin: [-0.9, 0, -0.4, 0.2, -0.6], dim: 3, vMin: [[0, 3, 4], [1, 0, 0], [1, 0, 0], [1, 0, 0], [0, 0, -2]] },
];

function grower(layers: readonly FakeLayer[], options: Partial<S2dOptions> = {}) {
  const { registry, calls } = fakeEigenRegistry(layers);
  return { grower: new GrowerRegistry([new S2dGrowerContribution(registry)]).create('s2d', options), calls };
}

const picked = (plan: { entries: readonly { node: string; neuron: number }[] }): [string, number][] =>
  plan.entries.map((e) => [e.node, e.neuron]);

describe('s2d grower', () => {
  it('fills the reference defaults and rejects unknown options', () => {
    const growers = new GrowerRegistry([new S2dGrowerContribution(fakeEigenRegistry([]).registry)]);
    assert.deepEqual(growers.options('s2d', {}), {
      solver: 'dense',
      solverOptions: {},
      selection: 'quantile',
      fraction: 0.3,
      k: 1,
      requireNegative: true,
      epsilon: 0.01,
    });
    assert.throws(() => growers.options('s2d', { fraction: 1.2 }), (e) => NasError.is(e, 'E_OPTIONS_INVALID'));
    assert.throws(() => growers.options('s2d', { selection: 'all' }), (e) => NasError.is(e, 'E_OPTIONS_INVALID'));
    assert.throws(() => growers.options('s2d', { eps: 0.1 }), (e) => NasError.is(e, 'E_OPTIONS_INVALID'));
  });

  it('reproduces check H: the 0.3 quantile thre = −0.4 splits global indices {2, 5, 9}', async () => {
    const { grower: g, calls } = grower(checkH);
    const plan = await g.plan(fakeContext(checkH));
    assert.deepEqual(picked(plan), [['fc1', 2], ['fc2', 0], ['fc2', 4]]);
    assert.equal((plan.stats as { threshold: number }).threshold, -0.4);
    assert.deepEqual(calls.created, [{ id: 'dense', options: {} }]);
    assert.equal(plan.grower, 's2d');
    assert.equal(plan.epsilon, 0.01);
  });

  it('splits θ ± ε·v_min along the unit eigenvector with weights ½, ½ and predicts ε²/2·λ_min', async () => {
    const plan = await grower(checkH, { epsilon: 0.001 }).grower.plan(fakeContext(checkH));
    const fc2 = plan.entries.find((e) => e.node === 'fc2' && e.neuron === 0)!;
    assert.deepEqual(fc2.offspring, [{ weight: 0.5, direction: [0, 0.6, 0.8] }, { weight: 0.5, direction: [-0, -0.6, -0.8] }]);
    assert.deepEqual(plan.entries.find((e) => e.neuron === 4)!.offspring[0]!.direction, [0, 0, -1]);
    for (const e of plan.entries) {
      assert.equal(e.offspring.reduce((s, o) => s + o.weight, 0), 1);
      assert.ok(Math.abs(e.predictedDeltaLoss! - 0.5e-6 * e.score) < 1e-18);
    }
    assert.ok(Math.abs(plan.predictedDeltaLoss! - 0.5e-6 * (-1.5 - 0.9 - 0.6)) < 1e-18);
  });

  it('drops non-negative λ_min unless requireNegative is off (the reference behaviour)', async () => {
    const stable: FakeLayer[] = [{ node: 'fc1', lambdaMin: [0.5, 0.1, 0.3, 0.2] }];
    const strict = await grower(stable, { fraction: 0.5 }).grower.plan(fakeContext(stable));
    assert.deepEqual(picked(strict), []);
    assert.equal((strict.stats as { droppedNonNegative: number }).droppedNonNegative, 2);
    const reference = await grower(stable, { fraction: 0.5, requireNegative: false }).grower.plan(fakeContext(stable));
    assert.deepEqual(picked(reference), [['fc1', 1], ['fc1', 3]]);
  });

  it('top-k takes the k most negative within the caps', async () => {
    const capped: FakeLayer[] = [
      { node: 'fc1', lambdaMin: [-5, -4, -3, 1], cap: 5 },
      { node: 'fc2', lambdaMin: [-2, -1], cap: null },
    ];
    const plan = await grower(capped, { selection: 'top-k', k: 3 }).grower.plan(fakeContext(capped));
    assert.deepEqual(picked(plan), [['fc1', 0], ['fc2', 0], ['fc2', 1]]);
    const layers = (plan.stats as { layers: { node: string; added: number }[] }).layers;
    assert.deepEqual(layers.map((l) => [l.node, l.added]), [['fc1', 1], ['fc2', 2]]);
  });

  it('never exceeds a cap under the quantile rule, and names a layer whose cap is below its width', async () => {
    const capped: FakeLayer[] = [{ node: 'conv1', lambdaMin: [-5, -4, -3, -2, -1, 0, 1, 2, 3, 4], cap: 11 }];
    const plan = await grower(capped, { fraction: 0.5 }).grower.plan(fakeContext(capped));
    assert.deepEqual(picked(plan), [['conv1', 0]]);
    const bad: FakeLayer[] = [{ node: 'conv1', lambdaMin: [-1, -1], cap: 1 }];
    await assert.rejects(grower(bad).grower.plan(fakeContext(bad)), (e) => NasError.is(e, 'E_CONFIG_INVALID') && /conv1/.test(e.message));
  });

  it('rejects eigen results that do not line up with the context', async () => {
    const { registry } = fakeEigenRegistry([{ node: 'other', lambdaMin: [-1] }]);
    const g = new GrowerRegistry([new S2dGrowerContribution(registry)]).create('s2d', {});
    await assert.rejects(g.plan(fakeContext([{ node: 'fc1', lambdaMin: [-1] }])), (e) => NasError.is(e, 'E_SHAPE_MISMATCH'));
  });

  it('loads through the plugin loader with an installed solver', async () => {
    const { container } = await loadPlugins([pluginDir]);
    container.load(
      new ContainerModule(({ bind }) => {
        bind(EigenSolverContribution).toConstantValue({
          id: 'dense',
          description: 'fixed eigenpairs',
          optionsSchema: { type: 'object' },
          create: () => ({ id: 'dense', solve: async () => fakeEigenResults(checkH) }),
        });
      }),
    );
    const plan = await container.get(GrowerRegistry).create('s2d').plan(fakeContext(checkH));
    assert.equal(plan.entries.length, 3);
  });
});
