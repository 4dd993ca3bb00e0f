import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { NasError, ResizerRegistry, contributionsOf, importPlugin, loadPlugins, readPluginDescriptor } from '@mitosis/core';
import { chainMacs, fakeResizeContext, type FakePrice, type FakeResizeLayer } from './testing/fake-resize-context.js';
import { WidthMultiplierContribution } from './width-multiplier.js';
import { widthsAt } from './width-scaling.js';

const pluginDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const registry = new ResizerRegistry([new WidthMultiplierContribution()]);
const pointers = (e: unknown): string[] =>
  ((e as NasError).details['problems'] as { pointer: string }[]).map((p) => p.pointer);

/** A three-layer MLP, 20 inputs, 10 outputs: 3520 MACs at α = 1. */
const mlp: FakeResizeLayer[] = [
  { node: 'fc1', width: 16 },
  { node: 'fc2', width: 32 },
  { node: 'fc3', width: 64, min: 4 },
];
const macs = chainMacs(20, 10);

interface Details {
  alpha: number;
  cost: number | null;
  target: number | null;
  iterations: number;
  steps?: number;
  next: { alpha: number; cost: number } | null;
  withinTarget?: boolean | null;
}

/** The largest cost ≤ target over a fine grid of α in [0.05, 8]: what no member of the family may beat. */
function bestOnGrid(layers: readonly FakeResizeLayer[], price: FakePrice, target: number, divisor: number): number {
  const scalable = layers.map((l) => ({ node: l.node, width: l.width, min: l.min ?? 1, cap: l.cap ?? null }));
  let best = Number.NEGATIVE_INFINITY;
  for (let i = 0; i <= 100_000; i++) {
    const w = widthsAt(scalable, 0.05 + (i * 7.95) / 100_000, divisor);
    const cost = price(layers.map((l) => w[l.node]!)) as number;
    if (cost <= target && cost > best) best = cost;
  }
  return best;
}

describe('width-multiplier', () => {
  it('fills the defaults (search α in [0.05, 8], no rounding divisor) and rejects bad options with pointers', () => {
    assert.deepEqual(registry.options('width-multiplier', {}), { alpha: null, alphaMin: 0.05, alphaMax: 8, divisor: 1 });
    const rejects = (options: object, pointer: string): void =>
      assert.throws(
        () => registry.create('width-multiplier', options),
        (e) => NasError.is(e, 'E_OPTIONS_INVALID') && pointers(e).includes(pointer),
        pointer,
      );
    rejects({ alphaMin: 0 }, '/alphaMin');
    rejects({ alpha: -0.5 }, '/alpha');
    rejects({ divisor: 1.5 }, '/divisor');
    rejects({ divisor: 0 }, '/divisor');
    rejects({ beta: 1 }, '/beta');
    rejects({ alphaMin: 2, alphaMax: 2 }, '/alphaMax');
  });

  for (const [divisor, target] of [[1, 2000], [1, 3519], [1, 50_000], [8, 2000], [8, 9000]] as const) {
    it(`divisor ${divisor}, target ${target}: the largest cost ≤ target the single-α family allows, the next member above it`, async () => {
      const { context } = fakeResizeContext(mlp, macs, target);
      const plan = await registry.create('width-multiplier', { divisor }).plan(context);
      const d = plan.details as unknown as Details;
      const widths = mlp.map((l) => plan.widths[l.node]!);
      assert.equal(d.cost, macs(widths));
      assert.ok(d.cost! <= target, `cost ${d.cost} > ${target}`);
      assert.equal(d.cost, bestOnGrid(mlp, macs, target, divisor));
      // α + one step exceeds the target, and its widths are no smaller anywhere.
      assert.ok(d.next !== null && d.next.cost > target && d.next.alpha > d.alpha);
      const next = widthsAt(context.layers, d.next.alpha, divisor);
      for (const l of mlp) assert.ok(next[l.node]! >= plan.widths[l.node]!);
      // The reported α reproduces the widths; the search used O(log steps) prices.
      assert.deepEqual(widthsAt(context.layers, d.alpha, divisor), plan.widths);
      assert.ok(d.iterations <= Math.ceil(Math.log2(d.steps!)) + 2, `${d.iterations} prices for ${d.steps} steps`);
      if (divisor === 8) for (const w of widths.slice(0, 2)) assert.equal(w % 8, 0);
      assert.equal(plan.action, 'resize');
      assert.equal(plan.method, 'width-multiplier');
      assert.deepEqual(plan.widths, (await registry.create('width-multiplier', { divisor }).plan(context)).widths);
    });
  }

  it('reaches for the reference point: target = cost at α = 1 gives back the reference widths', async () => {
    const { context } = fakeResizeContext(mlp, macs, 3520);
    const plan = await registry.create('width-multiplier').plan(context);
    assert.deepEqual(plan.widths, { fc1: 16, fc2: 32, fc3: 64 });
  });

  it('keeps minimum widths and caps', async () => {
    const layers: FakeResizeLayer[] = [{ node: 'a', width: 10, min: 6 }, { node: 'b', width: 10, cap: 12 }];
    const small = await registry.create('width-multiplier', { alpha: 0.2 }).plan(fakeResizeContext(layers, macs, null).context);
    assert.deepEqual(small.widths, { a: 6, b: 2 });
    const large = await registry.create('width-multiplier', { alpha: 3 }).plan(fakeResizeContext(layers, macs, null).context);
    assert.deepEqual(large.widths, { a: 30, b: 12 });
  });

  it('takes alphaMax when even the widest member fits the target', async () => {
    const { context } = fakeResizeContext(mlp, macs, 1e9);
    const plan = await registry.create('width-multiplier', { alphaMax: 2 }).plan(context);
    assert.deepEqual(plan.widths, { fc1: 32, fc2: 64, fc3: 128 });
    const d = plan.details as unknown as Details;
    assert.equal(d.alpha, 2);
    assert.equal(d.next, null);
    assert.equal(d.iterations, 2);
  });

  it('refuses a target that even α = alphaMin exceeds (budget infeasible), naming the cost it would need', async () => {
    // α = 0.05: widths round(0.8), round(1.6), max(4, round(3.2)) cost 20 + 2 + 8 + 40 = 70 MACs.
    const { context } = fakeResizeContext(mlp, macs, 69);
    await assert.rejects(registry.create('width-multiplier').plan(context), (e) => {
      assert.ok(NasError.is(e, 'E_BUDGET_INFEASIBLE'));
      assert.equal(e.details['reason'], 'budget-infeasible');
      assert.equal(e.details['target'], 69);
      assert.equal(e.details['cost'], 70);
      return true;
    });
    const exact = await registry.create('width-multiplier').plan(fakeResizeContext(mlp, macs, 70).context);
    assert.deepEqual(exact.widths, { fc1: 1, fc2: 2, fc3: 4 });
  });

  it('refuses a run without a target unless α is fixed; a fixed α prices once and reports the target check', async () => {
    await assert.rejects(
      registry.create('width-multiplier').plan(fakeResizeContext(mlp, macs, null).context),
      (e) => NasError.is(e, 'E_CONFIG_INVALID') && e.details['reason'] === 'no-target' && /alpha/.test(e.message),
    );
    const { context, priced } = fakeResizeContext(mlp, macs, null);
    const plan = await registry.create('width-multiplier', { alpha: 0.5 }).plan(context);
    assert.deepEqual(plan.widths, { fc1: 8, fc2: 16, fc3: 32 });
    assert.deepEqual(priced, [[8, 16, 32]]);
    assert.equal((plan.details as unknown as Details).withinTarget, null);
    const over = await registry.create('width-multiplier', { alpha: 0.5 }).plan(fakeResizeContext(mlp, macs, 69).context);
    assert.equal((over.details as unknown as Details).withinTarget, false);
  });

  it('refuses a network the cost model cannot price', async () => {
    const { context } = fakeResizeContext(mlp, () => null, 2000);
    await assert.rejects(
      registry.create('width-multiplier').plan(context),
      (e) => NasError.is(e, 'E_CONFIG_INVALID') && e.details['reason'] === 'unpriced' && e.details['costModel'] === 'fake-cost',
    );
  });

  it('loads through the plugin loader and binds exactly what its manifest declares', async () => {
    const plugin = await importPlugin(readPluginDescriptor(pluginDir));
    assert.equal(plugin.manifest.id, 'resizers');
    assert.deepEqual(contributionsOf(plugin.module)['resizers'], ['width-multiplier']);
    const { container } = await loadPlugins([pluginDir]);
    const resizers = container.get(ResizerRegistry);
    assert.deepEqual(resizers.ids(), ['width-multiplier']);
    const plan = await resizers.create('width-multiplier').plan(fakeResizeContext(mlp, macs, 2000).context);
    assert.ok(macs(mlp.map((l) => plan.widths[l.node]!))! <= 2000);
  });
});
