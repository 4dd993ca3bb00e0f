import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { GrowerRegistry, NasError, loadPlugins, type GrowthPlan } from '@mitosis/core';
import { fakeContext, fakeEigenResults, type FakeLayer } from '@mitosis/grower-kit/testing';
import { S2dGrowerContribution, type S2dOptions } from './s2d-grower.js';

const pluginDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Check H's S2D quantile λ, spread over two layers (global indices 0–4 and 5–9). */
const checkH: FakeLayer[] = [
  { node: 'fc1', lambdaMin: [0.3, -0.2, -1.5, 0.1, -0.05] },
  { node: 'fc2', lambdaMin: [-0.9, 0, -0.4, 0.2, -0.6], dim: 3, vMin: [[0, 3, 4], [1, 0, 0], [1, 0, 0], [1, 0, 0], [0, 0, -2]] },
];

const growers = new GrowerRegistry([new S2dGrowerContribution()]);

function grower(options: Partial<S2dOptions> = {}) {
  return growers.create('s2d', options);
}

const details = <T>(plan: GrowthPlan): T => plan.details as T;

const picked = (plan: { entries: readonly { node: string; neuron: number }[] }): [string, number][] =>
  plan.entries.map((e) => [e.node, e.neuron]);

describe('s2d grower', () => {
  it('fills the reference defaults and rejects unknown options', () => {
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

  it('declares the splitting scores of its solver, with the solver options, as its needs', () => {
    assert.deepEqual(grower().needs, [{ kind: 'splitting', solver: 'dense', solverOptions: {} }]);
    assert.deepEqual(grower({ solver: 'lanczos', solverOptions: { iterations: 30 } }).needs, [
      { kind: 'splitting', solver: 'lanczos', solverOptions: { iterations: 30 } },
    ]);
  });

  it('reproduces check H: the 0.3 quantile thre = −0.4 splits global indices {2, 5, 9}', async () => {
    const plan = await grower().plan(fakeContext(checkH));
    assert.deepEqual(picked(plan), [['fc1', 2], ['fc2', 0], ['fc2', 4]]);
    assert.equal(details<{ threshold: number }>(plan).threshold, -0.4);
    assert.equal(details<{ solver: string }>(plan).solver, 'dense');
    assert.equal(plan.action, 'grow');
    assert.equal(plan.method, 's2d');
    assert.equal(plan.epsilon, 0.01);
    assert.deepEqual(plan.entries.map((e) => e.cost), [1, 1, 1]);
  });

  it('skips layers that are not splittable, and their placeholder λ never move the quantile', async () => {
    // Counted in, proj's 10 neurons would make N = 20 and move the quantile to sorted(λ)[6] = −0.05.
    const proj: FakeLayer = { node: 'proj', lambdaMin: new Array<number>(10).fill(0), splittable: false };
    const withProjection: FakeLayer[] = [checkH[0]!, proj, checkH[1]!];
    const plan = await grower().plan(fakeContext(withProjection));
    assert.deepEqual(picked(plan), [['fc1', 2], ['fc2', 0], ['fc2', 4]]);
    const d = details<{ threshold: number; lambdaMin: { count: number; max: number }; droppedByCap: number }>(plan);
    assert.equal(d.threshold, -0.4);
    assert.deepEqual([d.lambdaMin.count, d.lambdaMin.max], [10, 0.3]);
    assert.equal(d.droppedByCap, 0);
  });

  it('splits θ ± ε·v_min along the unit eigenvector with weights ½, ½ and predicts ε²/2·λ_min', async () => {
    const plan = await grower({ epsilon: 0.001 }).plan(fakeContext(checkH));
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
    const strict = await grower({ fraction: 0.5 }).plan(fakeContext(stable));
    assert.deepEqual(picked(strict), []);
    assert.equal(details<{ droppedNonNegative: number }>(strict).droppedNonNegative, 2);
    const reference = await grower({ fraction: 0.5, requireNegative: false }).plan(fakeContext(stable));
    assert.deepEqual(picked(reference), [['fc1', 1], ['fc1', 3]]);
  });

  it('top-k takes the k most negative within the caps', async () => {
    const capped: FakeLayer[] = [
      { node: 'fc1', lambdaMin: [-5, -4, -3, 1], cap: 5 },
      { node: 'fc2', lambdaMin: [-2, -1], cap: null },
    ];
    const plan = await grower({ selection: 'top-k', k: 3 }).plan(fakeContext(capped));
    assert.deepEqual(picked(plan), [['fc1', 0], ['fc2', 0], ['fc2', 1]]);
    const layers = details<{ layers: { node: string; added: number }[] }>(plan).layers;
    assert.deepEqual(layers.map((l) => [l.node, l.added]), [['fc1', 1], ['fc2', 2]]);
  });

  it('never exceeds a cap under the quantile rule, and names a layer whose cap is below its width', async () => {
    const capped: FakeLayer[] = [{ node: 'conv1', lambdaMin: [-5, -4, -3, -2, -1, 0, 1, 2, 3, 4], cap: 11 }];
    const plan = await grower({ fraction: 0.5 }).plan(fakeContext(capped));
    assert.deepEqual(picked(plan), [['conv1', 0]]);
    const bad: FakeLayer[] = [{ node: 'conv1', lambdaMin: [-1, -1], cap: 1 }];
    await assert.rejects(grower().plan(fakeContext(bad)), (e) => NasError.is(e, 'E_CONFIG_INVALID') && /conv1/.test(e.message));
  });

  it('rejects splitting scores that are missing or do not line up with the context', async () => {
    const layers: FakeLayer[] = [{ node: 'fc1', lambdaMin: [-1] }];
    const other = fakeEigenResults([{ node: 'other', lambdaMin: [-1] }]);
    await assert.rejects(
      grower().plan(fakeContext(layers, { scores: { splitting: other } })),
      (e) => NasError.is(e, 'E_SHAPE_MISMATCH') && /fc1/.test(e.message),
    );
    await assert.rejects(grower().plan(fakeContext(layers, { scores: {} })), (e) => NasError.is(e, 'E_RUN_FAILED') && /s2d/.test(e.message));
  });

  it('loads through the plugin loader', async () => {
    const { container } = await loadPlugins([pluginDir]);
    const g = container.get(GrowerRegistry).create('s2d', { solver: 'rayleigh' });
    assert.deepEqual(g.needs, [{ kind: 'splitting', solver: 'rayleigh', solverOptions: {} }]);
    const plan = await g.plan(fakeContext(checkH));
    assert.equal(plan.entries.length, 3);
  });
});
