import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NasError, PrunerRegistry, type PrunePlan } from '@mitosis/core';
import { fakeMethodContext } from './testing/fake-method-context.js';
import { SlimmingPrunerContribution } from './slimming-pruner.js';

const registry = new PrunerRegistry([new SlimmingPrunerContribution()]);
const order = (plan: PrunePlan): [string, number][] => plan.entries.map((e) => [e.node, e.channel]);
const pointers = (e: unknown): string[] =>
  ((e as NasError).details['problems'] as { pointer: string }[]).map((p) => p.pointer);

describe('prune-slimming', () => {
  it('defaults to the reference sparsity 1e-4 and rejects a negative one or unknown options', () => {
    assert.deepEqual(registry.options('prune-slimming', {}), { sparsity: 1e-4 });
    assert.throws(
      () => registry.options('prune-slimming', { sparsity: -1e-4 }),
      (e) => NasError.is(e, 'E_OPTIONS_INVALID') && pointers(e).includes('/sparsity'),
    );
    assert.throws(
      () => registry.options('prune-slimming', { percent: 0.7 }),
      (e) => NasError.is(e, 'E_OPTIONS_INVALID') && pointers(e).includes('/percent'),
    );
  });

  it('asks the loop for sparsity training on the batch-norm scales (λ = sparsity), none at 0', () => {
    assert.deepEqual(registry.create('prune-slimming').training, { bnScaleL1: 1e-4 });
    assert.deepEqual(registry.create('prune-slimming', { sparsity: 1e-5 }).training, { bnScaleL1: 1e-5 });
    assert.equal(registry.create('prune-slimming', { sparsity: 0 }).training, undefined);
    assert.deepEqual(registry.create('prune-slimming').needs, [{ kind: 'bnScale' }, { kind: 'weightNorm', norm: 1 }]);
  });

  it('reproduces check J: |γ| pooled over two layers; removing the ≤ thre prefix at 50 % keeps global {0, 2, 5}', async () => {
    const context = fakeMethodContext([
      { node: 'a', bnScale: [0.9, 0.01, 0.5, 0.02], weightNorm: [1, 1, 1, 1] },
      { node: 'b', bnScale: [0.3, 0.7, 0.001, 0.4], weightNorm: [1, 1, 1, 1] },
    ]);
    const plan = await registry.create('prune-slimming').plan(context);
    assert.deepEqual(order(plan), [['b', 2], ['a', 1], ['a', 3], ['b', 0], ['b', 3], ['a', 2], ['b', 1], ['a', 0]]);
    assert.deepEqual(plan.entries.map((e) => e.score), [0.001, 0.01, 0.02, 0.3, 0.4, 0.5, 0.7, 0.9]);
    // thre = sorted(|γ|)[int(8 · 0.5)] = 0.4; the reference keeps |γ| > thre, i.e. removes this 5-entry prefix.
    const removed = new Set(plan.entries.slice(0, 5).map((e) => (e.node === 'a' ? 0 : 4) + e.channel));
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7].filter((g) => !removed.has(g)), [0, 2, 5]);
  });

  it('ranks the channels of a layer without batch norm after every γ-ranked channel, by normalised weight norm', async () => {
    const context = fakeMethodContext([
      { node: 'a', bnScale: [0.9, 0.2], weightNorm: [5, 5] },
      { node: 'fc', weightNorm: [2, 1, 3] },
      { node: 'b', bnScale: [0.05], weightNorm: [7] },
    ]);
    const plan = await registry.create('prune-slimming').plan(context);
    assert.deepEqual(order(plan), [['b', 0], ['a', 1], ['a', 0], ['fc', 1], ['fc', 0], ['fc', 2]]);
    // fc's scores are its norms over their mean (2): lower than a's |γ| = 0.9, yet ranked after it.
    assert.deepEqual(plan.entries.slice(3).map((e) => e.score), [0.5, 1, 1.5]);
    const details = plan.details as { fallbackLayers: string[]; layers: { node: string; score: string; scale: number }[] };
    assert.deepEqual(details.fallbackLayers, ['fc']);
    assert.deepEqual(details.layers.map((l) => [l.node, l.score, l.scale]), [['a', 'bnScale', 1], ['fc', 'weightNorm', 2], ['b', 'bnScale', 1]]);
  });

  it('refuses a network without any batch norm, naming its layers', async () => {
    const context = fakeMethodContext([
      { node: 'fc1', weightNorm: [1, 2], bnScale: null },
      { node: 'fc2', weightNorm: [3], bnScale: null },
    ]);
    await assert.rejects(
      registry.create('prune-slimming').plan(context),
      (e) => NasError.is(e, 'E_CONFIG_INVALID') && /fc1, fc2/.test(e.message) && /prune-l1/.test(e.message),
    );
  });

  it('needs the batch-norm scales in the context', async () => {
    await assert.rejects(
      registry.create('prune-slimming').plan(fakeMethodContext([{ node: 'a', weightNorm: [1] }])),
      (e) => NasError.is(e, 'E_RUN_FAILED') && e.details['kind'] === 'bnScale',
    );
  });
});
