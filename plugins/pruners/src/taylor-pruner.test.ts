import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NasError, PrunerRegistry, type PrunePlan } from '@mitosis/core';
import { fakeMethodContext } from './testing/fake-method-context.js';
import { TaylorPrunerContribution } from './taylor-pruner.js';

const registry = new PrunerRegistry([new TaylorPrunerContribution()]);
const order = (plan: PrunePlan): [string, number][] => plan.entries.map((e) => [e.node, e.channel]);
const pointers = (e: unknown): string[] =>
  ((e as NasError).details['problems'] as { pointer: string }[]).map((p) => p.pointer);

const layers = [
  { node: 'a', taylor: [3, 4] },
  { node: 'b', taylor: [0.05, 0.12] },
];

describe('prune-taylor', () => {
  it('defaults to no normalisation (the reference configurations) and rejects unknown values with pointers', () => {
    assert.deepEqual(registry.options('prune-taylor', {}), { normalise: 'none' });
    assert.throws(
      () => registry.options('prune-taylor', { normalise: 'l2' }),
      (e) => NasError.is(e, 'E_OPTIONS_INVALID') && pointers(e).includes('/normalise'),
    );
    assert.deepEqual(registry.create('prune-taylor').needs, [{ kind: 'taylor' }]);
    assert.equal(registry.create('prune-taylor').training, undefined);
  });

  it('ranks every channel of every layer by its importance, ascending', async () => {
    const plan = await registry.create('prune-taylor').plan(fakeMethodContext(layers));
    assert.deepEqual(order(plan), [['b', 0], ['b', 1], ['a', 0], ['a', 1]]);
    assert.deepEqual(plan.entries.map((e) => e.score), [0.05, 0.12, 3, 4]);
    const details = plan.details as { normalise: string; layers: { summary: unknown; scale: number }[] };
    assert.equal(details.normalise, 'none');
    assert.deepEqual(details.layers[1], {
      node: 'b',
      width: 2,
      minWidth: 1,
      score: 'taylor',
      summary: { min: 0.05, median: (0.05 + 0.12) / 2, max: 0.12 },
      scale: 1,
    });
  });

  it('layer: divides each layer by its L2 norm first, which interleaves the layers', async () => {
    const plan = await registry.create('prune-taylor', { normalise: 'layer' }).plan(fakeMethodContext(layers));
    assert.deepEqual(order(plan), [['b', 0], ['a', 0], ['a', 1], ['b', 1]]);
    const expected = [0.05 / 0.13, 0.6, 0.8, 0.12 / 0.13];
    plan.entries.forEach((e, i) => assert.ok(Math.abs(e.score - expected[i]!) < 1e-12, `entry ${i}: ${e.score}`));
    const scales = (plan.details as { layers: { scale: number }[] }).layers.map((l) => l.scale);
    assert.equal(scales[0], 5);
    assert.ok(Math.abs(scales[1]! - 0.13) < 1e-15);
  });

  it('puts channels of zero importance first, in layer then channel order, also when normalising', async () => {
    const zeros = [{ node: 'a', taylor: [0, 1] }, { node: 'b', taylor: [0, 0] }];
    for (const normalise of ['none', 'layer']) {
      const plan = await registry.create('prune-taylor', { normalise }).plan(fakeMethodContext(zeros));
      assert.deepEqual(order(plan), [['a', 0], ['b', 0], ['b', 1], ['a', 1]], normalise);
    }
  });

  it('needs the Taylor scores in the context', async () => {
    await assert.rejects(
      registry.create('prune-taylor').plan(fakeMethodContext([{ node: 'a', weightNorm: [1] }])),
      (e) => NasError.is(e, 'E_RUN_FAILED') && e.details['kind'] === 'taylor',
    );
  });
});
