import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NasError, type MethodLayer } from '@mitosis/core';
import { MacsCostModel } from '@mitosis/hardware';
import { buildChannelGraph, initWeights, referenceForward, tinyMobileNetSpec } from '@mitosis/ir';
import { applyPlan, checkBudgetFeasible, roundBudget, roundStop } from './stages.js';

const layer = (width: number, cap: number | null, min = 1, marginalCost: number | null = 10): MethodLayer => ({
  node: `l${width}`,
  producers: [`l${width}`],
  channelGroup: 0,
  width,
  cap,
  min,
  group: 'all',
  marginalCost,
  pruneCost: 10,
  splittable: true,
});

describe('roundStop', () => {
  it('stops a grower at the target, when nothing more fits, and at the caps', () => {
    assert.equal(roundStop('grower', [layer(4, 8)], 100, 100), 'budget');
    assert.equal(roundStop('grower', [layer(4, 8)], 95, 100), 'budget'); // one channel costs 10 > 5 left
    assert.equal(roundStop('grower', [layer(4, 8)], 80, 100), null);
    assert.equal(roundStop('grower', [layer(8, 8)], 80, 100), 'caps');
    assert.equal(roundStop('grower', [layer(8, null)], 80, null), null);
  });

  it('stops a pruner at or below the target and at the minimum widths', () => {
    assert.equal(roundStop('pruner', [layer(4, null)], 100, 100), 'budget');
    assert.equal(roundStop('pruner', [layer(4, null)], 120, 100), null);
    assert.equal(roundStop('pruner', [layer(2, null, 2)], 120, 100), 'min-widths');
  });
});

describe('roundBudget', () => {
  it('spreads what is left over the rounds left, in the method direction', () => {
    assert.equal(roundBudget('grower', 100, 400, 3), 100);
    assert.equal(roundBudget('grower', 300, 400, 1), 100);
    assert.equal(roundBudget('pruner', 400, 100, 3), 100);
    assert.equal(roundBudget('grower', 500, 400, 2), 0);
    assert.equal(roundBudget('grower', 100, null, 2), null);
  });
});

describe('checkBudgetFeasible', () => {
  it('refuses a grower target below the seed and a pruner target above the full network or below its floor', () => {
    assert.doesNotThrow(() => checkBudgetFeasible('grower', { cost: 100, floor: null }, 150, 'macs', 'g'));
    assert.throws(() => checkBudgetFeasible('grower', { cost: 100, floor: null }, 90, 'macs', 'g'), (e: unknown) => NasError.is(e, 'E_BUDGET_INFEASIBLE') && /below the seed/.test(e.message));
    assert.throws(() => checkBudgetFeasible('pruner', { cost: 100, floor: 10 }, 120, 'macs', 'p'), (e: unknown) => NasError.is(e, 'E_BUDGET_INFEASIBLE') && /above the full/.test(e.message));
    assert.throws(() => checkBudgetFeasible('pruner', { cost: 100, floor: 10 }, 5, 'macs', 'p'), (e: unknown) => NasError.is(e, 'E_BUDGET_INFEASIBLE'));
    assert.throws(() => checkBudgetFeasible('grower', { cost: null, floor: null }, 5, 'ms', 'g'), (e: unknown) => NasError.is(e, 'E_UNIT_MISMATCH'));
  });
});

describe('applyPlan', () => {
  const spec = tinyMobileNetSpec();
  const weights = initWeights(spec, 1);
  const x = Float64Array.from({ length: 8 * 8 * 3 }, (_, i) => Math.sin(i));

  it('grows a tied group and keeps the function at ε = 0', () => {
    const plan = { action: 'grow' as const, method: 't', round: 1, epsilon: 0, predictedDeltaLoss: null, entries: [{ node: 'conv1', neuron: 2, offspring: [{ weight: 0.5 }, { weight: 0.5 }], scheme: 't', score: -1, predictedDeltaLoss: null, cost: null }] };
    const out = applyPlan(spec, weights, plan);
    assert.equal(buildChannelGraph(out.spec).producers.get('pw1')!.width, 9);
    const a = referenceForward(spec, weights, x, 1);
    const b = referenceForward(out.spec, out.weights, x, 1);
    assert.equal(a.length, b.length);
    a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) < 1e-5, `output ${i}: ${v} vs ${b[i]}`));
  });

  it('prunes channels of several layers and resizes from scratch', () => {
    const pruned = applyPlan(spec, weights, { action: 'prune', method: 'p', round: 1, entries: [{ node: 'pw2', channel: 0, score: 0 }, { node: 'fc', channel: 4, score: 1 }, { node: 'pw2', channel: 5, score: 2 }] });
    const g = buildChannelGraph(pruned.spec);
    assert.equal(g.producers.get('pw2')!.width, 4);
    assert.equal(g.producers.get('fc')!.width, 4);
    const resized = applyPlan(spec, weights, { action: 'resize', method: 'w', round: 1, widths: { conv1: 12, fc: 7 } }, { seed: 3 });
    const r = buildChannelGraph(resized.spec);
    assert.equal(r.producers.get('pw1')!.width, 12);
    assert.equal(resized.weights.get('fc/kernel')!.shape[1], 7);
    assert.ok(new MacsCostModel().estimate(resized.spec).total! > new MacsCostModel().estimate(spec).total!);
  });
});
