import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NasError, type GrowthPlan, type MethodLayer, type NeuronGrowth, type PrunePlan } from '@mitosis/core';
import { MacsCostModel } from '@mitosis/hardware';
import { tinyMobileNetSpec } from '@mitosis/ir';
import { methodLayers, priceWidths } from './method-layers.js';
import { growPolicy, prunePolicy, resizePolicy } from './plan-policy.js';
import type { SearchSpace } from '../space/search-space.js';

const macs = new MacsCostModel();
const spec = tinyMobileNetSpec();
const space = (layers?: SearchSpace['layers']): SearchSpace => ({ id: 'tiny', seed: spec, ...(layers === undefined ? {} : { layers }) }) as unknown as SearchSpace;

function split(node: string, neuron: number, score: number, weights: [number, number] = [0.5, 0.5]): NeuronGrowth {
  return { node, neuron, offspring: [{ weight: weights[0] }, { weight: weights[1] }], scheme: 'test', score, predictedDeltaLoss: score, cost: null };
}
const growPlan = (entries: NeuronGrowth[]): GrowthPlan => ({ action: 'grow', method: 't', round: 1, epsilon: 0.01, entries, predictedDeltaLoss: null });

describe('methodLayers', () => {
  it('makes one unit per channel group, tied producers together, with exact marginal and pruning costs', () => {
    const layers = methodLayers(space(), spec, macs);
    const byNode = new Map(layers.map((l) => [l.node, l]));
    // conv1 and pw1 are tied by add1: one unit, addressed through its first splittable producer.
    assert.ok(byNode.has('conv1'));
    assert.ok(!byNode.has('pw1'));
    assert.deepEqual(byNode.get('conv1')!.producers, ['conv1', 'pw1']);
    const base = macs.estimate(spec).total!;
    for (const l of layers) {
      assert.equal(l.marginalCost, priceWidths(macs, spec, { [l.node]: l.width + 1 })! - base);
      assert.equal(l.pruneCost, base - priceWidths(macs, spec, { [l.node]: l.width - 1 })!);
    }
  });

  it('keeps only the listed layers with their caps, minimum widths and groups, and rejects unknown ones', () => {
    const layers = methodLayers(space({ pw2: { cap: 10, min: 2, group: 'late' } }), spec, macs);
    assert.deepEqual(layers.map((l) => [l.node, l.cap, l.min, l.group]), [['pw2', 10, 2, 'late']]);
    assert.throws(() => methodLayers(space({ dw1: { cap: 4 } }), spec, macs), (e: unknown) => NasError.is(e, 'E_CONFIG_INVALID') && (e.details['problems'] as { pointer: string }[])[0]!.pointer === '/layers/dw1');
  });
});

describe('growPolicy', () => {
  const layers = methodLayers(space({ conv1: { cap: 9 }, pw2: { cap: 20 }, fc: {} }), spec, macs);
  const input = (budget: number | null) => ({ spec, layers, costModel: macs, budget });

  it('keeps one growth per channel of a tied group and respects caps, best score first', () => {
    const plan = growPlan([split('conv1', 0, -1), split('conv1', 0, -3), split('conv1', 1, -2), split('pw2', 0, -0.5)]);
    const { plan: out, stats } = growPolicy(plan, input(null));
    // conv1 has room for one channel (cap 9, width 8): the best score (-3, neuron 0) wins; the duplicate is tied.
    assert.deepEqual(out.entries.map((e) => [e.node, e.neuron, e.score]), [['conv1', 0, -3], ['pw2', 0, -0.5]]);
    assert.deepEqual(stats.dropped, { cap: 1, min: 0, tied: 1, budget: 0 });
    assert.deepEqual(stats.channels, { conv1: 1, pw2: 1 });
  });

  it('keeps growths best score first while the exactly re-priced network fits the round budget', () => {
    const entries = Array.from({ length: 10 }, (_, j) => split('pw2', j % 6, -10 + j));
    const plan = growPlan(entries.filter((_, j) => j < 6));
    const one = layers.find((l) => l.node === 'pw2')!.marginalCost!;
    const { plan: out, stats } = growPolicy(plan, input(one * 3.5));
    assert.equal(out.entries.length, 3);
    assert.deepEqual(out.entries.map((e) => e.score), [-10, -9, -8]);
    assert.ok(stats.cost.after! - stats.cost.before! <= one * 3.5);
    assert.ok(stats.budgetUsed! > 0.8 && stats.budgetUsed! <= 1);
    assert.equal(stats.dropped.budget, 3);
  });

  it('skips a growth too expensive for what is left and keeps cheaper ones after it', () => {
    const conv = layers.find((l) => l.node === 'conv1')!.marginalCost!;
    const fc = layers.find((l) => l.node === 'fc')!.marginalCost!;
    assert.ok(conv > 2 * fc);
    const { plan: out, stats } = growPolicy(growPlan([split('conv1', 0, -5), split('fc', 0, -1), split('fc', 1, -0.5)]), input(2 * fc + 1));
    assert.deepEqual(out.entries.map((e) => `${e.node}${e.neuron}`), ['fc0', 'fc1']);
    assert.equal(stats.dropped.budget, 1);
  });

  it('rejects plans that would change the network function or name unknown layers', () => {
    assert.throws(() => growPolicy(growPlan([split('pw2', 0, -1, [0.5, 0.6])]), input(null)), (e: unknown) => NasError.is(e, 'E_PLAN_INVALID') && /sum to 1.1, not 1/.test(e.message));
    assert.throws(() => growPolicy(growPlan([split('dw1', 0, -1)]), input(null)), (e: unknown) => NasError.is(e, 'E_PLAN_INVALID'));
    assert.throws(() => growPolicy(growPlan([split('pw2', 6, -1)]), input(null)), (e: unknown) => NasError.is(e, 'E_PLAN_INVALID'));
  });
});

describe('prunePolicy', () => {
  const layers: MethodLayer[] = methodLayers(space({ conv1: { min: 6 }, pw2: { min: 1 }, fc: { min: 4 } }), spec, macs);
  const ranking = (nodes: [string, number][]): PrunePlan => ({ action: 'prune', method: 'p', round: 1, entries: nodes.map(([node, channel], i) => ({ node, channel, score: i })) });

  it('takes the shortest prefix reaching the round target, skipping what minimum widths forbid', () => {
    const plan = ranking([['fc', 0], ['fc', 1], ['conv1', 0], ['conv1', 1], ['conv1', 2], ['pw2', 0], ['pw2', 1], ['pw2', 2]]);
    const before = macs.estimate(spec).total!;
    // fc may lose 1 (min 4 of 5), conv1 2 (min 6 of 8).
    const all = prunePolicy(plan, { spec, layers, costModel: macs, budget: null });
    assert.deepEqual(all.plan.entries.map((e) => `${e.node}${e.channel}`), ['fc0', 'conv10', 'conv11', 'pw20', 'pw21', 'pw22']);
    assert.deepEqual(all.stats.dropped, { cap: 0, min: 2, tied: 0, budget: 0 });
    const afterThree = priceWidths(macs, spec, { fc: 4, conv1: 6 })!;
    const { plan: out, stats } = prunePolicy(plan, { spec, layers, costModel: macs, budget: before - afterThree - 1 });
    assert.equal(out.entries.length, 3);
    assert.equal(stats.cost.after, afterThree);
    assert.ok(stats.budgetUsed! >= 1);
  });

  it('ends on the candidate that reaches the target with the least overshoot, not on an expensive next channel', () => {
    const plan = ranking([['fc', 0], ['conv1', 0], ['conv1', 1], ['pw2', 0], ['pw2', 1]]);
    const before = macs.estimate(spec).total!;
    const two = priceWidths(macs, spec, { fc: 4, conv1: 7 })!;
    const withConv = priceWidths(macs, spec, { fc: 4, conv1: 6 })!;
    const widths = Object.fromEntries(layers.map((l) => [l.node, l.width]));
    const withPw = priceWidths(macs, spec, { ...widths, fc: 4, conv1: 7, pw2: widths['pw2']! - 1 })!;
    assert.ok(two - withPw < two - withConv, 'a pw2 channel costs less than a conv1 channel here');
    // The target is exactly what removing pw2's channel after the first two reaches; conv1's would overshoot it.
    const { plan: out, stats } = prunePolicy(plan, { spec, layers, costModel: macs, budget: before - withPw });
    assert.deepEqual(out.entries.map((e) => `${e.node}${e.channel}`), ['fc0', 'conv10', 'pw20']);
    assert.equal(stats.cost.after, withPw);
    assert.equal(stats.budgetUsed, 1);
  });

  it('counts a tied channel once', () => {
    const { stats } = prunePolicy(ranking([['conv1', 3], ['conv1', 3]]), { spec, layers, costModel: macs, budget: null });
    assert.equal(stats.dropped.tied, 1);
  });
});

describe('resizePolicy', () => {
  it('accepts widths at or above the minimum and prices them', () => {
    const layers = methodLayers(space({ pw2: { min: 2 } }), spec, macs);
    const { stats } = resizePolicy({ action: 'resize', method: 'w', round: 1, widths: { pw2: 3 } }, { spec, layers, costModel: macs, budget: null });
    assert.deepEqual(stats.channels, { pw2: -3 });
    assert.equal(stats.cost.after, priceWidths(macs, spec, { pw2: 3 }));
    assert.throws(() => resizePolicy({ action: 'resize', method: 'w', round: 1, widths: { pw2: 1 } }, { spec, layers, costModel: macs, budget: null }), (e: unknown) => NasError.is(e, 'E_PLAN_INVALID'));
  });
});
