import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { GrowerRegistry, NasError, SeededRandom, loadPlugins, type GrowthPlan } from '@mitosis/core';
import { fakeContext, fakeNetworkSpec, type FakeLayer } from '@mitosis/grower-kit/testing';
import { neuronDim, parseNetworkSpec } from '@mitosis/ir';
import { RandomNeuronGrowerContribution } from './random-neuron-grower.js';
import { RandomSplitGrowerContribution } from './random-split-grower.js';

const pluginDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const growers = new GrowerRegistry([new RandomSplitGrowerContribution(), new RandomNeuronGrowerContribution()]);

/** Two layers, 10 + 10 neurons, θ lengths 3 and 11 in the fake network; λ are irrelevant to the baselines. */
const layers: FakeLayer[] = [
  { node: 'fc1', lambdaMin: new Array<number>(10).fill(-1), dim: 3 },
  { node: 'fc2', lambdaMin: new Array<number>(10).fill(-1), dim: 11 },
];

async function planWithSeed(id: string, seed: number, options: object = {}, of: readonly FakeLayer[] = layers): Promise<GrowthPlan> {
  const random = new SeededRandom(seed);
  return growers.create(id, options).plan(fakeContext(of, { random: () => random.next() }));
}

describe('baseline growers', () => {
  it('fill their defaults (S2D count rule: fraction 0.3; small fresh neurons 0.01)', () => {
    assert.deepEqual(growers.options('random-split', {}), { selection: 'quantile', fraction: 0.3, k: 1, epsilon: 0.01 });
    assert.deepEqual(growers.options('random-neuron', {}), {
      selection: 'quantile',
      fraction: 0.3,
      k: 1,
      initScale: 0.01,
      outgoingScale: 0.01,
    });
    assert.throws(() => growers.options('random-neuron', { epsilon: 0.1 }), (e) => NasError.is(e, 'E_OPTIONS_INVALID'));
  });

  it('need no scores and report their method', async () => {
    for (const id of ['random-split', 'random-neuron']) {
      const g = growers.create(id, {});
      assert.deepEqual(g.needs, []);
      const plan = await g.plan(fakeContext(layers, { scores: {} }));
      assert.equal(plan.action, 'grow');
      assert.equal(plan.method, id);
      assert.equal((plan.details as { requested: number }).requested, 6);
    }
  });

  it('read θ lengths from a valid network spec', () => {
    const spec = parseNetworkSpec(fakeNetworkSpec(layers), 'fake');
    assert.deepEqual([neuronDim(spec, 'fc1'), neuronDim(spec, 'fc2')], [3, 11]);
  });

  for (const id of ['random-split', 'random-neuron']) {
    it(`${id} is a deterministic function of the seed`, async () => {
      const a = await planWithSeed(id, 42);
      const b = await planWithSeed(id, 42);
      const c = await planWithSeed(id, 43);
      assert.deepEqual(a, b);
      assert.notDeepEqual(a.entries, c.entries);
      assert.equal(a.entries.length, 6); // floor(0.3 · 20)
      assert.equal(new Set(a.entries.map((e) => `${e.node}/${e.neuron}`)).size, 6);
    });

    it(`${id} respects the caps and the top-k count`, async () => {
      const capped: FakeLayer[] = [
        { node: 'fc1', lambdaMin: new Array<number>(10).fill(0), cap: 11 },
        { node: 'fc2', lambdaMin: new Array<number>(10).fill(0), cap: 10 },
        { node: 'fc3', lambdaMin: new Array<number>(4).fill(0), cap: null },
      ];
      for (let seed = 0; seed < 20; seed++) {
        const plan = await planWithSeed(id, seed, { selection: 'top-k', k: 4 }, capped);
        const byNode = (n: string): number => plan.entries.filter((e) => e.node === n).length;
        assert.ok(byNode('fc1') <= 1 && byNode('fc2') === 0);
        assert.equal(plan.entries.length, 4);
      }
    });

    it(`${id} names a layer whose cap is below its width`, async () => {
      const bad: FakeLayer[] = [{ node: 'conv2', lambdaMin: [0, 0, 0], cap: 2 }];
      await assert.rejects(planWithSeed(id, 1, {}, bad), (e) => NasError.is(e, 'E_CONFIG_INVALID') && /conv2/.test(e.message));
    });

    it(`${id} neither counts nor grows layers that are not splittable`, async () => {
      const mixed: FakeLayer[] = [
        { node: 'fc1', lambdaMin: new Array<number>(10).fill(0), dim: 3 },
        { node: 'proj', lambdaMin: new Array<number>(30).fill(0), splittable: false },
        { node: 'fc2', lambdaMin: new Array<number>(10).fill(0), dim: 11 },
      ];
      for (let seed = 0; seed < 10; seed++) {
        const plan = await planWithSeed(id, seed, {}, mixed);
        assert.equal(plan.entries.length, 6); // floor(0.3 · 20): proj's 30 neurons are not counted
        assert.ok(plan.entries.every((e) => e.node !== 'proj'));
      }
    });

    it(`${id} names a layer whose width disagrees with the network spec`, async () => {
      const random = new SeededRandom(1);
      const spec = fakeNetworkSpec([{ node: 'fc1', lambdaMin: [0, 0, 0, 0] }]);
      const context = fakeContext([{ node: 'fc1', lambdaMin: [0, 0, 0] }], { spec, random: () => random.next() });
      await assert.rejects(growers.create(id, {}).plan(context), (e) => NasError.is(e, 'E_SHAPE_MISMATCH') && /fc1/.test(e.message));
    });
  }

  it('random-split splits symmetrically along unit directions of the layer’s θ length', async () => {
    const plan = await planWithSeed('random-split', 7);
    for (const e of plan.entries) {
      assert.equal(e.scheme, 'random-direction');
      const [a, b] = e.offspring;
      assert.equal(a!.weight + b!.weight, 1);
      assert.equal(a!.direction!.length, e.node === 'fc1' ? 3 : 11);
      assert.ok(Math.abs(Math.hypot(...a!.direction!) - 1) < 1e-12);
      assert.deepEqual(b!.direction, a!.direction!.map((x) => -x));
    }
    assert.equal(plan.predictedDeltaLoss, null);
  });

  it('random-neuron keeps the host and adds a fresh small neuron with a small outgoing weight', async () => {
    const plan = await planWithSeed('random-neuron', 7, { initScale: 0.02, outgoingScale: 0.05 });
    const signs = new Set<number>();
    for (const e of plan.entries) {
      const [host, fresh] = e.offspring;
      assert.deepEqual(host, { weight: 1 });
      assert.equal(Math.abs(fresh!.weight), 0.05);
      signs.add(Math.sign(fresh!.weight));
      assert.equal(fresh!.replace!.length, e.node === 'fc1' ? 3 : 11);
      assert.ok(fresh!.replace!.every((x) => Math.abs(x) < 0.02 * 6));
    }
    assert.equal(signs.size, 2, 'both outgoing signs occur over six draws with seed 7');
  });

  it('load through the plugin loader with both ids', async () => {
    const { container } = await loadPlugins([pluginDir]);
    assert.deepEqual(container.get(GrowerRegistry).ids(), ['random-neuron', 'random-split']);
  });
});
