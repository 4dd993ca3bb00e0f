import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { NasError, SeededRandom, ShrinkerRegistry, contributionsOf, importPlugin, loadPlugins, readPluginDescriptor, type CellEdge, type ShrinkCandidate, type ShrinkContext } from '@mitosis/core';
import { AutoShrinkContribution, autoshrinkMetric } from './autoshrink.js';

const pluginDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const registry = new ShrinkerRegistry([new AutoShrinkContribution()]);

const edges = (n: number): CellEdge[] => Array.from({ length: n }, (_, i) => ({ from: i, to: i + 1 }));
const context = (removable: readonly CellEdge[], seed = 1): ShrinkContext => {
  const rng = new SeededRandom(seed);
  return { iteration: 1, nodes: 8, edges: removable, removable, initialEdges: removable.length, costUnit: 'macs', target: null, cost: { macs: 1e7 }, random: () => rng.next() };
};
const candidate = (edge: CellEdge, accuracy: number | null, macs: number | null, loss = 1): ShrinkCandidate => ({ edge, edges: 10, accuracy, loss, cost: { macs, params: 1000 } });

describe('autoshrink', () => {
  it('scores with the reference metric: acc 0.9 at 3×10⁸ MACs is 0.652287874528 (algorithms.md §9 J)', () => {
    assert.ok(Math.abs(autoshrinkMetric(0.9, 3e8) - 0.652287874528) < 1e-12);
    assert.equal(autoshrinkMetric(0.5, 1e6), 0.5);
  });

  it('has the reference defaults: k = 10, 20 proxy epochs, keep fraction 0.01, MACs', () => {
    const shrinker = registry.create('autoshrink');
    assert.deepEqual(registry.options('autoshrink', {}), {
      k: 10,
      proxyEpochs: 20,
      proxySamples: null,
      costWeight: 0.1,
      costUnit: 'macs',
      costReference: null,
      keepFraction: 0.01,
      maxIterations: null,
      final: 'best',
    });
    assert.deepEqual(shrinker.proxy, { epochs: 20, samples: null });
    assert.equal(shrinker.costUnit, 'macs');
    assert.throws(() => registry.options('autoshrink', { k: 0 }), (e: unknown) => NasError.is(e, 'E_OPTIONS_INVALID') && /\/k/.test(e.message));
  });

  it('proposes k distinct removable edges, seeded, and all of them when fewer are left', async () => {
    const shrinker = registry.create('autoshrink', { k: 4 });
    const pool = edges(12);
    const a = await shrinker.propose(context(pool, 7));
    assert.equal(a.length, 4);
    assert.equal(new Set(a.map((e) => e.from)).size, 4);
    for (const e of a) assert.ok(pool.some((p) => p.from === e.from && p.to === e.to));
    assert.deepEqual(await shrinker.propose(context(pool, 7)), a);
    assert.notDeepEqual(await shrinker.propose(context(pool, 8)), a);
    // Every edge is drawn about equally often (a uniform draw without replacement).
    const counts = new Array<number>(12).fill(0);
    const rng = new SeededRandom(3);
    for (let t = 0; t < 3000; t++) for (const e of await shrinker.propose({ ...context(pool), random: () => rng.next() })) counts[e.from]! += 1;
    for (const c of counts) assert.ok(Math.abs(c - 1000) < 120, `${counts.join(',')}`);
    assert.equal((await registry.create('autoshrink', { k: 10 }).propose(context(edges(3)))).length, 3);
  });

  it('keeps the candidate with the highest accuracy − 0.1·log10(MACs/1M), trading accuracy against cost', async () => {
    const shrinker = registry.create('autoshrink');
    const cands = [candidate({ from: 0, to: 1 }, 0.8, 4e6), candidate({ from: 1, to: 2 }, 0.79, 2e6), candidate({ from: 2, to: 3 }, 0.9, 4e7)];
    const choice = await shrinker.choose(context(edges(3)), cands);
    const expected = cands.map((c) => c.accuracy! - 0.1 * (Math.log10(c.cost.macs!) - 6));
    choice.scores.forEach((s, i) => assert.ok(Math.abs(s - expected[i]!) < 1e-12));
    // 0.79 at 2M beats 0.8 at 4M (0.1·log10 2 ≈ 0.03 > 0.01) and 0.9 at 40M.
    assert.equal(choice.chosen, 1);
    // Another unit and weight: params, −1 per decade above 1000 params (all equal here: accuracy decides).
    const byParams = registry.create('autoshrink', { costUnit: 'params', costWeight: 1, costReference: 1000 });
    assert.equal((await byParams.choose(context(edges(3)), cands)).chosen, 2);
    // A regression loss: −loss stands in for accuracy.
    const reg = [candidate({ from: 0, to: 1 }, null, 1e6, 0.5), candidate({ from: 1, to: 2 }, null, 1e6, 0.2)];
    assert.equal((await shrinker.choose(context(edges(2)), reg)).chosen, 1);
    // A candidate the unit cannot price is an error, not a silent zero.
    await assert.rejects(shrinker.choose(context(edges(1)), [candidate({ from: 0, to: 1 }, 0.5, null)]), (e: unknown) => NasError.is(e, 'E_UNIT_MISMATCH'));
  });

  it('binds exactly what its manifest declares and loads through the plugin loader', async () => {
    const plugin = await importPlugin(readPluginDescriptor(pluginDir));
    assert.equal(plugin.manifest.id, 'autoshrink');
    assert.deepEqual(contributionsOf(plugin.module)['shrinkers'], ['autoshrink']);
    const { container } = await loadPlugins([pluginDir]);
    assert.deepEqual(container.get(ShrinkerRegistry).ids(), ['autoshrink']);
  });
});
