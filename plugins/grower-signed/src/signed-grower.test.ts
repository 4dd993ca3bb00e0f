import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { GrowerRegistry, NasError, loadPlugins, type GrowthPlan, type NeuronGrowth } from '@mitosis/core';
import { fakeContext, fakeEigenResults, type FakeLayer } from '@mitosis/grower-kit/testing';
import { SIGNED_SCHEMES, SignedGrowerContribution, schemeOffspring, type SignedOptions } from './signed-grower.js';

const pluginDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const growers = new GrowerRegistry([new SignedGrowerContribution()]);

function grower(options: Partial<SignedOptions> = {}) {
  return growers.create('signed', options);
}

const details = <T>(plan: GrowthPlan): T => plan.details as T;

/** Σ_i w_i δ_iᵀ S δ_i and Σ_i w_i δ_i for diagonal S, computed from the plan's offspring. */
function secondOrder(entry: NeuronGrowth, diagS: readonly number[]): { ii: number; shift: number[] } {
  const shift = diagS.map(() => 0);
  let ii = 0;
  for (const o of entry.offspring) {
    const d = o.direction ?? diagS.map(() => 0);
    d.forEach((x, k) => {
      ii += o.weight * diagS[k]! * x * x;
      shift[k] = shift[k]! + o.weight * x;
    });
  }
  return { ii, shift };
}

describe('signed grower', () => {
  it('fills the documented defaults (c = 2, three schemes, the S2D count rule)', () => {
    assert.deepEqual(growers.options('signed', {}), {
      solver: 'dense',
      solverOptions: {},
      c: 2,
      schemes: ['s2d', 'signed-negative-pair', 'signed-amplified-positive'],
      selection: 'quantile',
      fraction: 0.3,
      k: 1,
      requireNegative: true,
      epsilon: 0.01,
    });
    assert.throws(() => growers.options('signed', { c: 0.5 }), (e) => NasError.is(e, 'E_OPTIONS_INVALID'));
    assert.throws(() => growers.options('signed', { schemes: [] }), (e) => NasError.is(e, 'E_OPTIONS_INVALID'));
    assert.throws(() => growers.options('signed', { schemes: ['s2d', 's2d'] }), (e) => NasError.is(e, 'E_OPTIONS_INVALID'));
  });

  it('picks the negative pair on an S2D-stable neuron (0 ≤ λ_min < λ_max); its weights sum to 1', async () => {
    // S = diag(0.2, 3): v_min = e0, v_max = e1.
    const layers: FakeLayer[] = [{ node: 'fc1', lambdaMin: [0.2], lambdaMax: [3] }];
    const plan = await grower({ selection: 'top-k', k: 1, epsilon: 1e-3 }).plan(fakeContext(layers));
    assert.equal(plan.entries.length, 1);
    const e = plan.entries[0]!;
    assert.equal(e.scheme, 'signed-negative-pair');
    assert.equal(e.offspring.reduce((s, o) => s + o.weight, 0), 1);
    assert.deepEqual(e.offspring.map((o) => o.weight), [1.5, -0.25, -0.25]);
    assert.equal(e.offspring[0]!.direction, undefined);
    const { ii, shift } = secondOrder(e, [0.2, 3]);
    assert.ok(Math.abs(ii - -0.5 * 3) < 1e-12, `II = ${ii}`);
    assert.deepEqual(shift.map((x) => Math.abs(x)), [0, 0]);
    assert.ok(Math.abs(e.predictedDeltaLoss! - (1e-6 / 2) * -1.5) < 1e-18);
    assert.equal(e.score, -0.75);
    assert.equal(e.cost, 2);
  });

  it('keeps S2D where positive splitting gains more per added neuron, and amplifies for large c', async () => {
    const layers: FakeLayer[] = [{ node: 'fc1', lambdaMin: [-2], lambdaMax: [1] }];
    const s2d = await grower({ selection: 'top-k' }).plan(fakeContext(layers));
    assert.equal(s2d.entries[0]?.scheme, 's2d');
    const amplified = await grower({ selection: 'top-k', c: 5 }).plan(fakeContext(layers));
    const e = amplified.entries[0]!;
    assert.equal(e.scheme, 'signed-amplified-positive');
    assert.deepEqual(e.offspring.map((o) => o.weight), [1.5, 1.5, -2]);
    assert.ok(Math.abs(secondOrder(e, [-2, 1]).ii - 3 * -2) < 1e-12);
  });

  it('uses the 4-copy combined scheme when enabled and best, reaching II* = (c+1)/2·λ_min − (c−1)/2·λ_max', async () => {
    const layers: FakeLayer[] = [{ node: 'fc1', lambdaMin: [-1.5], lambdaMax: [4] }];
    const plan = await grower({ selection: 'top-k', c: 3, schemes: [...SIGNED_SCHEMES] }).plan(fakeContext(layers));
    const e = plan.entries[0]!;
    assert.equal(e.scheme, 'signed-combined');
    assert.equal(e.offspring.reduce((s, o) => s + o.weight, 0), 1);
    assert.equal(e.offspring.reduce((s, o) => s + Math.abs(o.weight), 0), 3);
    assert.ok(Math.abs(secondOrder(e, [-1.5, 4]).ii - (2 * -1.5 - 1 * 4)) < 1e-12);
    assert.equal(e.cost, 3);
  });

  it('every scheme preserves the function (Σw = 1), has no mean shift and stays within Σ|w| ≤ c', () => {
    for (const c of [1, 2, 3.5]) {
      for (const scheme of SIGNED_SCHEMES) {
        const offspring = schemeOffspring(scheme, c, [0.6, 0.8], [0.8, -0.6]);
        assert.ok(Math.abs(offspring.reduce((s, o) => s + o.weight, 0) - 1) < 1e-15, `${scheme} c=${c}`);
        assert.ok(offspring.reduce((s, o) => s + Math.abs(o.weight), 0) <= c + 1e-12 || scheme === 's2d');
        const shift = [0, 1].map((k) => offspring.reduce((s, o) => s + o.weight * (o.direction?.[k] ?? 0), 0));
        assert.ok(shift.every((x) => Math.abs(x) < 1e-15), `${scheme} mean shift ${shift}`);
      }
    }
  });

  it('falls back to a 2-way split when the best scheme does not fit the cap, and skips what cannot', async () => {
    const layers: FakeLayer[] = [
      { node: 'a', lambdaMin: [-0.1], lambdaMax: [3], cap: 2 },
      { node: 'b', lambdaMin: [0.2], lambdaMax: [3], cap: 2 },
      { node: 'c', lambdaMin: [0.2, 0.1], lambdaMax: [3, 3], cap: 5 },
    ];
    const plan = await grower({ selection: 'top-k', k: 10 }).plan(fakeContext(layers));
    assert.deepEqual(plan.entries.map((e) => [e.node, e.neuron, e.scheme]), [
      ['a', 0, 's2d'],
      ['c', 0, 'signed-negative-pair'],
    ]);
    const stats = details<{ layers: { added: number; cap: number; width: number }[]; droppedByCap: number }>(plan);
    for (const l of stats.layers) assert.ok(l.added <= l.cap - l.width);
    assert.equal(stats.droppedByCap, 2);
    assert.deepEqual(details<{ schemes: Record<string, number> }>(plan).schemes, {
      s2d: 1,
      'signed-negative-pair': 1,
      'signed-amplified-positive': 0,
      'signed-combined': 0,
    });
  });

  it('declares its solver as its needs, reports method and details, and skips layers that are not splittable', async () => {
    assert.deepEqual(grower({ solver: 'lanczos', solverOptions: { tol: 1e-6 } }).needs, [
      { kind: 'splitting', solver: 'lanczos', solverOptions: { tol: 1e-6 } },
    ]);
    const layers: FakeLayer[] = [
      { node: 'proj', lambdaMin: [-5, -5], lambdaMax: [9, 9], splittable: false },
      { node: 'fc1', lambdaMin: [0.2, -1], lambdaMax: [3, 1] },
    ];
    const plan = await grower({ selection: 'top-k', k: 10 }).plan(fakeContext(layers));
    assert.equal(plan.action, 'grow');
    assert.equal(plan.method, 'signed');
    assert.deepEqual(plan.entries.map((e) => [e.node, e.neuron, e.scheme]), [
      ['fc1', 0, 'signed-negative-pair'],
      ['fc1', 1, 's2d'],
    ]);
    const d = details<{ solver: string; lambdaMin: { count: number }; lambdaMax: { count: number; max: number } }>(plan);
    assert.equal(d.solver, 'dense');
    assert.equal(d.lambdaMin.count, 2);
    assert.deepEqual([d.lambdaMax.count, d.lambdaMax.max], [2, 3]);
    await assert.rejects(grower().plan(fakeContext(layers, { scores: {} })), (e) => NasError.is(e, 'E_RUN_FAILED'));
  });

  it('loads through the plugin loader', async () => {
    const layers: FakeLayer[] = [{ node: 'fc1', lambdaMin: [0.2, -1, 0.5], lambdaMax: [3, 1, 2] }];
    const { container } = await loadPlugins([pluginDir]);
    // Scores per added neuron (c = 2): −0.75 (negative pair), −1 (s2d), −0.5; fraction 0.7 gives thre = −0.5.
    const plan = await container.get(GrowerRegistry).create('signed', { fraction: 0.7 }).plan(fakeContext(layers));
    assert.deepEqual(plan.entries.map((e) => [e.neuron, e.scheme]), [[0, 'signed-negative-pair'], [1, 's2d']]);
  });

  it('rejects splitting scores that do not line up with the layers', async () => {
    const layers: FakeLayer[] = [{ node: 'fc1', lambdaMin: [0.2, -1] }];
    const short = fakeEigenResults([{ node: 'fc1', lambdaMin: [0.2] }]);
    await assert.rejects(
      grower().plan(fakeContext(layers, { scores: { splitting: short } })),
      (e) => NasError.is(e, 'E_SHAPE_MISMATCH') && /fc1/.test(e.message),
    );
  });
});

describe('signed grower options', () => {
  it('rejects c = 1 without the S2D pair, before any run', () => {
    assert.throws(
      () => growers.create('signed', { c: 1, schemes: ['signed-negative-pair'] }),
      (e: unknown) => NasError.is(e, 'E_OPTIONS_INVALID') && /must include \\"s2d\\"/.test(JSON.stringify(e.details)),
    );
    assert.equal(growers.create('signed', { c: 1, schemes: ['s2d'] }).id, 'signed');
  });
});
