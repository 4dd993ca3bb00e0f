import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NasError, PrunerRegistry, type PrunePlan } from '@mitosis/core';
import { fakeMethodContext } from './testing/fake-method-context.js';
import { L1PrunerContribution } from './l1-pruner.js';

const registry = new PrunerRegistry([new L1PrunerContribution()]);
const order = (plan: PrunePlan): [string, number][] => plan.entries.map((e) => [e.node, e.channel]);
const pointers = (e: unknown): string[] =>
  ((e as NasError).details['problems'] as { pointer: string }[]).map((p) => p.pointer);

describe('prune-l1', () => {
  it('defaults to the global ranking and rejects unknown modes and options with pointers', () => {
    assert.deepEqual(registry.options('prune-l1', {}), { mode: 'global' });
    assert.throws(
      () => registry.options('prune-l1', { mode: 'local' }),
      (e) => NasError.is(e, 'E_OPTIONS_INVALID') && pointers(e).includes('/mode'),
    );
    assert.throws(
      () => registry.options('prune-l1', { mode: 'uniform', ratio: 0.5 }),
      (e) => NasError.is(e, 'E_OPTIONS_INVALID') && pointers(e).includes('/ratio'),
    );
  });

  it('declares the L1 weight norm', () => {
    assert.deepEqual(registry.create('prune-l1').needs, [{ kind: 'weightNorm', norm: 1 }]);
  });

  it('reproduces check J: L1 norms (4, 0.4, 3) of 1×2×2 filters remove filter 1 first, keeping {0, 2}', async () => {
    // The loop's weightNorm is the mean |w|: Σ|w| / 4 for these four-weight filters.
    const plan = await registry.create('prune-l1').plan(fakeMethodContext([{ node: 'conv', weightNorm: [1, 0.1, 0.75] }]));
    assert.deepEqual(order(plan), [['conv', 1], ['conv', 2], ['conv', 0]]);
    assert.deepEqual(plan.entries.slice(1).map((e) => e.channel).sort(), [0, 2]);
    assert.equal(plan.action, 'prune');
    assert.equal(plan.method, 'prune-l1');
  });

  it('global: divides each layer by its mean norm, so layers of different scale compete; ties by layer then channel', async () => {
    const context = fakeMethodContext(
      [
        { node: 'a', weightNorm: [10, 20, 30] },
        { node: 'b', weightNorm: [0.25, 0.75] },
      ],
      { round: 3 },
    );
    const plan = await registry.create('prune-l1').plan(context);
    assert.deepEqual(order(plan), [['a', 0], ['b', 0], ['a', 1], ['a', 2], ['b', 1]]);
    assert.deepEqual(
      plan.entries.map((e) => e.score),
      [0.5, 0.5, 1, 1.5, 1.5],
    );
    assert.equal(plan.round, 3);
    const layers = (plan.details as { layers: { node: string; summary: unknown; scale: number }[] }).layers;
    assert.deepEqual(layers[0], {
      node: 'a',
      width: 3,
      minWidth: 1,
      score: 'weightNorm',
      summary: { min: 10, median: 20, max: 30 },
      scale: 20,
    });
    assert.equal(layers[1]!.scale, 0.5);
  });

  it('uniform: the same share of every layer, the lowest norms of each layer first', async () => {
    const context = fakeMethodContext([
      { node: 'a', weightNorm: [0.4, 0.1, 0.3, 0.2] },
      { node: 'b', weightNorm: [50, 10] },
    ]);
    const plan = await registry.create('prune-l1', { mode: 'uniform' }).plan(context);
    assert.deepEqual(order(plan), [['a', 1], ['a', 3], ['b', 1], ['a', 2], ['a', 0], ['b', 0]]);
    assert.deepEqual(plan.entries.map((e) => e.score), [0.25, 0.5, 0.5, 0.75, 1, 1]);
    assert.equal((plan.details as { mode: string }).mode, 'uniform');
    // Global mode on the same scores ranks b's weak channel (1/3 of b's mean) first.
    const global = await registry.create('prune-l1').plan(context);
    assert.deepEqual(order(global).slice(0, 2), [['b', 1], ['a', 1]]);
  });

  it('is deterministic: equal norms go in channel order, and two plans of one context are equal', async () => {
    const context = fakeMethodContext([{ node: 'a', weightNorm: [1, 1, 1] }, { node: 'b', weightNorm: [2, 2] }]);
    const pruner = registry.create('prune-l1');
    const first = await pruner.plan(context);
    assert.deepEqual(order(first), [['a', 0], ['a', 1], ['a', 2], ['b', 0], ['b', 1]]);
    assert.deepEqual(await pruner.plan(context), first);
  });
});
