import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { GrowerRegistry, NasError, loadPlugins, type GrowthPlan } from '@mitosis/core';
import { EnergyAwareGrowerContribution, type EnergyAwareOptions } from './energy-aware-grower.js';
import { fakeContext, fakeEigenResults, type FakeLayer } from '@mitosis/grower-kit/testing';

const pluginDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Check H: λ = (−3, −2, −1, 0.5, −0.4, −2.5), layers (0, 0, 1, 1, 2, 2), costs (1, 2.5, 1.5), caps (2, 1, 1). */
const checkH: FakeLayer[] = [
  { node: 'l0', lambdaMin: [-3, -2], marginalCost: 1, cap: 4 },
  { node: 'l1', lambdaMin: [-1, 0.5], marginalCost: 2.5, cap: 3 },
  { node: 'l2', lambdaMin: [-0.4, -2.5], marginalCost: 1.5, cap: 3 },
];

const growers = new GrowerRegistry([new EnergyAwareGrowerContribution()]);

function grower(options: Partial<EnergyAwareOptions> = {}) {
  return growers.create('energy-aware', options);
}

const details = <T>(plan: GrowthPlan): T => plan.details as T;

describe('energy-aware grower', () => {
  it('fills the reference defaults (lanczos solver, sqrt costs, grow 0.2, β ≥ 0.99, ε 0.01)', () => {
    assert.deepEqual(growers.options('energy-aware', {}), {
      solver: 'lanczos',
      solverOptions: {},
      epsilon: 0.01,
      grow: 0.2,
      costTransform: 'sqrt',
      betaThreshold: 0.99,
      rounding: 'fill',
      budgetRanking: 'linear',
      costUnit: 'any',
    });
    assert.throws(() => growers.options('energy-aware', { budget: 3 }), (e) => NasError.is(e, 'E_OPTIONS_INVALID'));
    assert.throws(() => growers.options('energy-aware', { grow: 0 }), (e) => NasError.is(e, 'E_OPTIONS_INVALID'));
    assert.throws(() => growers.options('energy-aware', { costTransform: 'none' }), (e) => NasError.is(e, 'E_OPTIONS_INVALID'));
    for (const t of ['linear', 'sqrt', 'log']) {
      assert.equal((growers.options('energy-aware', { costTransform: t }) as EnergyAwareOptions).costTransform, t);
    }
  });

  it('declares the splitting scores of the lanczos solver (or the configured one) as its needs', () => {
    assert.deepEqual(grower().needs, [{ kind: 'splitting', solver: 'lanczos', solverOptions: {} }]);
    assert.deepEqual(grower({ solver: 'dense', solverOptions: { epochs: 3 } }).needs, [
      { kind: 'splitting', solver: 'dense', solverOptions: { epochs: 3 } },
    ]);
  });

  it('selects {0, 1, 5} of check H under a context budget of 4 (LP objective −7.7)', async () => {
    const plan = await grower({ costTransform: 'linear' }).plan(fakeContext(checkH, { budget: 4 }));
    assert.deepEqual(plan.entries.map((e) => [e.node, e.neuron]), [['l0', 0], ['l0', 1], ['l2', 1]]);
    assert.equal(plan.action, 'grow');
    assert.equal(plan.method, 'energy-aware');
    assert.equal(details<{ solver: string }>(plan).solver, 'lanczos');
    const stats = plan.details as { lp: { objective: number; fractional: number }; budget: { used: number; available: number } };
    assert.ok(Math.abs(stats.lp.objective - -7.7) < 1e-12);
    assert.equal(stats.lp.fractional, 1);
    assert.equal(stats.budget.available, 4);
    assert.equal(stats.budget.used, 1 + 1 + 1.5);
    assert.deepEqual(plan.entries.map((e) => e.cost), [1, 1, 1.5]);
    const e0 = plan.entries[0]!;
    assert.deepEqual(e0.offspring, [{ weight: 0.5, direction: [1, 0] }, { weight: 0.5, direction: [-1, -0] }]);
    assert.ok(Math.abs(e0.predictedDeltaLoss! - (0.01 ** 2 / 2) * -3) < 1e-15);
    assert.ok(Math.abs(plan.predictedDeltaLoss! - (0.01 ** 2 / 2) * (-3 - 2 - 2.5)) < 1e-15);
  });

  it('fills the budget the β rounding freed: an expensive fractional neuron no longer blocks cheaper ones', async () => {
    // λ/c order: big (−6/44 ≈ −0.136) before small (−1/14 ≈ −0.071); budget 45 takes small... only after big.
    const layers: FakeLayer[] = [
      { node: 'big', lambdaMin: [-6], marginalCost: 44, cap: 4 },
      { node: 'small', lambdaMin: [-1, -0.9, -0.8], marginalCost: 14, cap: 10 },
    ];
    const ctx = fakeContext(layers, { budget: 43 });
    const reference = await grower({ rounding: 'threshold' }).plan(ctx);
    assert.deepEqual(reference.entries.map((e) => e.node), []); // β(big) = 43/44 < 0.99, nothing else fits in the LP
    const filled = await grower().plan(ctx);
    assert.deepEqual(filled.entries.map((e) => `${e.node}${e.neuron}`), ['small0', 'small1', 'small2']);
    assert.equal(details<{ lp: { filled: number } }>(filled).lp.filled, 3);
  });

  it('ranks by λ / √Δ under budgetRanking sqrt while spending the true Δ', async () => {
    // λ/c: cheap (−1/1 = −1) before dear (−10/50 = −0.2); λ/√c: dear (−1.41) before cheap (−1). A budget of 50
    // takes dear whole only when it comes first.
    const layers: FakeLayer[] = [
      { node: 'cheap', lambdaMin: [-1], marginalCost: 1, cap: 2 },
      { node: 'dear', lambdaMin: [-10], marginalCost: 50, cap: 2 },
    ];
    const ctx = fakeContext(layers, { budget: 50 });
    assert.deepEqual((await grower({ rounding: 'threshold' }).plan(ctx)).entries.map((e) => e.node), ['cheap']);
    assert.deepEqual((await grower({ rounding: 'threshold', budgetRanking: 'sqrt' }).plan(ctx)).entries.map((e) => e.node), ['dear']);
  });

  it('uses the reference budget rule B_g = grow × Σ C_l·c_l per group when the context has no budget', async () => {
    // Groups: early = {l0, l1}, late = {l2}; sqrt costs 2, 3 and 1; widths 4, 2, 4.
    const layers: FakeLayer[] = [
      { node: 'l0', lambdaMin: [-4, -3, -2, -1], marginalCost: 4, group: 'early' },
      { node: 'l1', lambdaMin: [-9, 1], marginalCost: 9, group: 'early' },
      { node: 'l2', lambdaMin: [-1, -0.5, 0.2, 0.3], marginalCost: 1, group: 'late' },
    ];
    const plan = await grower({ grow: 0.25 }).plan(fakeContext(layers));
    const stats = plan.details as { budget: { unit: string; groups: { group: string; budget: number; used: number }[] } };
    assert.equal(stats.budget.unit, 'sqrt(macs)');
    // early: 0.25·(4·2 + 2·3) = 3.5; late: 0.25·(4·1) = 1.
    assert.deepEqual(stats.budget.groups.map((x) => [x.group, x.budget]), [['early', 3.5], ['late', 1]]);
    // early, by λ/c: l1/0 (−9/3) takes 3 of 3.5, then l0/0 (−4/2) gets β = 0.25 and is dropped;
    // late: l2/0 (−1/1) fills its budget of 1 exactly.
    assert.deepEqual(plan.entries.map((e) => [e.node, e.neuron]), [['l1', 0], ['l2', 0]]);
    for (const g of stats.budget.groups) assert.ok(g.used <= g.budget + 1e-12);
  });

  it('respects caps and never grows a neuron with λ ≥ 0, even with a huge budget', async () => {
    const layers: FakeLayer[] = [
      { node: 'a', lambdaMin: [-1, -2, -3, 0.1], cap: 6 },
      { node: 'b', lambdaMin: [0, 0.5], cap: null },
    ];
    const plan = await grower({ costTransform: 'linear' }).plan(fakeContext(layers, { budget: 1e9 }));
    assert.deepEqual(plan.entries.map((e) => [e.node, e.neuron]), [['a', 1], ['a', 2]]);
  });

  it('grows free layers (marginal cost ≤ 0) first, within their caps', async () => {
    const layers: FakeLayer[] = [
      { node: 'free', lambdaMin: [-1, -2, 3], marginalCost: -0.5, cap: 4 },
      { node: 'paid', lambdaMin: [-1], marginalCost: 10 },
    ];
    const plan = await grower({ costTransform: 'linear' }).plan(fakeContext(layers, { budget: 0 }));
    assert.deepEqual(plan.entries.map((e) => [e.node, e.neuron]), [['free', 1]]);
    assert.deepEqual(details<{ freeLayers: string[] }>(plan).freeLayers, ['free']);
  });

  it('spends a run budget in the cost model\'s own unit, whatever the reference transform', async () => {
    const sqrt = await grower().plan(fakeContext(checkH, { budget: 4, costUnit: 'ms' }));
    const linear = await grower({ costTransform: 'linear' }).plan(fakeContext(checkH, { budget: 4, costUnit: 'ms' }));
    assert.deepEqual(sqrt.entries.map((e) => e.neuron), linear.entries.map((e) => e.neuron));
    assert.equal(details<{ budget: { unit: string } }>(sqrt).budget.unit, 'ms');
  });

  it('raises E_UNIT_MISMATCH for a budget in another unit than the knapsack costs', async () => {
    const h = grower({ costTransform: 'linear', costUnit: 'mJ' });
    await assert.rejects(h.plan(fakeContext(checkH, { budget: 4, costUnit: 'ms' })), (e) => NasError.is(e, 'E_UNIT_MISMATCH'));
    const k = grower({ costTransform: 'linear' });
    await assert.rejects(
      k.plan(fakeContext(checkH, { budget: 4, costUnit: 'ms', costModelUnit: 'macs' })),
      (e) => NasError.is(e, 'E_UNIT_MISMATCH') && /fake-cost/.test(e.message),
    );
  });

  it('raises clear errors for a cap below the width and an unpriced layer', async () => {
    const capped: FakeLayer[] = [{ node: 'conv1', lambdaMin: [-1, -1, -1], cap: 2 }];
    await assert.rejects(grower().plan(fakeContext(capped)), (e) => NasError.is(e, 'E_CONFIG_INVALID') && /conv1/.test(e.message));
    const unpriced: FakeLayer[] = [{ node: 'fc9', lambdaMin: [-1], marginalCost: null }];
    await assert.rejects(grower().plan(fakeContext(unpriced)), (e) => NasError.is(e, 'E_CONFIG_INVALID') && /fc9/.test(e.message));
  });

  it('takes no part in layers that are not splittable: no items, no group budget, no marginal cost needed', async () => {
    const layers: FakeLayer[] = [
      { node: 'l0', lambdaMin: [-4, -3, -2, -1], marginalCost: 4, group: 'early' },
      { node: 'proj', lambdaMin: [-9, -9], marginalCost: null, group: 'early', splittable: false },
      { node: 'l2', lambdaMin: [-1, -0.5, 0.2, 0.3], marginalCost: 1, group: 'late' },
    ];
    const plan = await grower({ grow: 0.25 }).plan(fakeContext(layers));
    const stats = details<{ budget: { groups: { group: string; layers: string[]; budget: number }[] }; lambdaMin: { count: number } }>(plan);
    // early: 0.25·(4·2) = 2 (proj adds nothing); late: 0.25·(4·1) = 1.
    assert.deepEqual(stats.budget.groups.map((g) => [g.group, g.layers, g.budget]), [['early', ['l0'], 2], ['late', ['l2'], 1]]);
    assert.deepEqual(plan.entries.map((e) => [e.node, e.neuron]), [['l0', 0], ['l2', 0]]);
    assert.equal(stats.lambdaMin.count, 8);
  });

  it('weighs costs by the core cost transform: ln(1 + Δ) under log compresses the expensive layer', async () => {
    // Costs 1 and 8; grow 0.4. linear: B = 0.4·(2·1 + 2·8) = 7.2, by λ/c l0/0, l0/1 (−1) come before l1/0
    // (−6/8), which then gets β = 5.2/8 and is dropped. log: c = ln 2, ln 9, B = 0.4·(2 ln 2 + 2 ln 9) ≈ 2.31;
    // l1/0 (−6/ln 9 ≈ −2.73) comes first and takes ln 9 ≈ 2.20, l0/0 then gets β ≈ 0.17 and is dropped.
    const layers: FakeLayer[] = [
      { node: 'l0', lambdaMin: [-1, -1], marginalCost: 1 },
      { node: 'l1', lambdaMin: [-6, 1], marginalCost: 8 },
    ];
    const log = await grower({ costTransform: 'log', grow: 0.4 }).plan(fakeContext(layers));
    const budget = details<{ budget: { unit: string; available: number } }>(log).budget;
    assert.equal(budget.unit, 'log(macs)');
    assert.ok(Math.abs(budget.available - 0.4 * (2 * Math.log(2) + 2 * Math.log(9))) < 1e-12);
    assert.deepEqual(log.entries.map((e) => [e.node, e.neuron]), [['l1', 0]]);
    const linear = await grower({ costTransform: 'linear', grow: 0.4 }).plan(fakeContext(layers));
    assert.equal(details<{ budget: { unit: string } }>(linear).budget.unit, 'macs');
    assert.ok(Math.abs(details<{ budget: { available: number } }>(linear).budget.available - 7.2) < 1e-12);
    assert.deepEqual(linear.entries.map((e) => [e.node, e.neuron]), [['l0', 0], ['l0', 1]]);
  });

  it('rejects missing splitting scores and scores that do not line up', async () => {
    await assert.rejects(grower().plan(fakeContext(checkH, { scores: {} })), (e) => NasError.is(e, 'E_RUN_FAILED') && /energy-aware/.test(e.message));
    const shifted = fakeEigenResults([checkH[1]!, checkH[0]!, checkH[2]!]);
    await assert.rejects(
      grower().plan(fakeContext(checkH, { scores: { splitting: shifted } })),
      (e) => NasError.is(e, 'E_SHAPE_MISMATCH') && /l0/.test(e.message),
    );
  });

  it('loads through the plugin loader and declares solverOptions in its needs', async () => {
    const { container } = await loadPlugins([pluginDir]);
    const g = container.get(GrowerRegistry).create('energy-aware', { costTransform: 'linear', solver: 'rayleigh', solverOptions: { epochs: 3 } });
    assert.deepEqual(g.needs, [{ kind: 'splitting', solver: 'rayleigh', solverOptions: { epochs: 3 } }]);
    const plan = await g.plan(fakeContext(checkH, { budget: 4 }));
    assert.equal(plan.entries.length, 3);
  });
});
