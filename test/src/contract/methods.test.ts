import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRandom, type EigenResult, type MethodContext, type MethodLayer, type MethodScores, type ScoreRequest } from '@mitosis/core';
import { MacsCostModel } from '@mitosis/hardware';
import { buildChannelGraph, neuronDim, tinyMobileNetSpec } from '@mitosis/ir';
import { growPolicy, methodLayers, priceWidths, prunePolicy, resizePolicy, type SearchSpace } from '@mitosis/growth';
import { workspaceServices } from '../integration/growth-helpers.js';

/**
 * Every installed method, on a fake context over a network with two splittable producers tied by a residual
 * `add` (ir's tinyMobileNetSpec): random but well-formed scores of every kind it asks for, a round budget, and
 * caps. Its plan must pass the plan policy, and what the policy keeps must respect caps, tied groups and the
 * budget; growths must keep the network function at ε = 0 (Σ weights of the offspring that keep the parent's θ = 1; a
 * fresh neuron adds its own).
 */
const spec = tinyMobileNetSpec();
const macs = new MacsCostModel();
const space = { id: 'tiny', seed: spec, layers: { conv1: { cap: 12, min: 2 }, pw2: { cap: 9, min: 2 }, fc: { cap: 8, min: 2 } } } as unknown as SearchSpace;

function fakeScores(needs: readonly ScoreRequest[], layers: readonly MethodLayer[], rng: SeededRandom): MethodScores {
  const values = (n: number): Float64Array => Float64Array.from({ length: n }, () => rng.next());
  const scores: Record<string, unknown> = {};
  for (const need of needs) {
    if (need.kind === 'splitting') {
      scores['splitting'] = layers.map((l): EigenResult => {
        const dim = neuronDim(spec, l.node);
        const unit = (): Float64Array => {
          const v = Float64Array.from({ length: l.width * dim }, () => rng.next() - 0.5);
          for (let j = 0; j < l.width; j++) {
            const row = v.subarray(j * dim, (j + 1) * dim);
            const norm = Math.hypot(...row);
            row.forEach((x, k) => (row[k] = x / norm));
          }
          return v;
        };
        return {
          block: l.node,
          neurons: l.width,
          dim,
          lambdaMin: Float64Array.from({ length: l.width }, () => -rng.next()),
          lambdaMax: Float64Array.from({ length: l.width }, () => rng.next()),
          vMin: unit(),
          vMax: unit(),
          residualMin: new Float64Array(l.width),
          residualMax: new Float64Array(l.width),
        };
      });
    } else if (need.kind === 'bnScale') scores['bnScale'] = layers.map((l) => values(l.width));
    else scores[need.kind] = layers.map((l) => values(l.width));
  }
  return scores as MethodScores;
}

describe('every installed method against the plan policy (contract)', async () => {
  const services = await workspaceServices();
  const layers = methodLayers(space, spec, macs);
  const cost = macs.estimate(spec).total!;

  it('the tied producers conv1 and pw1 form one unit of choice', () => {
    const tied = layers.find((l) => l.node === 'conv1')!;
    assert.deepEqual(tied.producers, ['conv1', 'pw1']);
    assert.equal(buildChannelGraph(spec).producers.get('pw1')!.group, tied.channelGroup);
  });

  for (const id of services.growers.ids()) {
    it(`grower ${id}: a valid plan within caps, tied groups and the round budget`, async () => {
      const grower = services.growers.create(id, {});
      const rng = new SeededRandom(7);
      const budget = Math.max(...layers.map((l) => l.marginalCost ?? 0)) * 4;
      const context: MethodContext = { round: 1, spec, layers, scores: fakeScores(grower.needs, layers, rng), costModel: macs, costUnit: 'macs', cost, target: cost + 3 * budget, budget, random: () => rng.next() };
      const plan = await grower.plan(context);
      assert.equal(plan.action, 'grow');
      assert.equal(plan.method, id);
      for (const e of plan.entries) {
        assert.ok(Math.abs(e.offspring.filter((o) => o.replace === undefined).reduce((s, o) => s + o.weight, 0) - 1) < 1e-9, `${id}: offspring weights of ${e.node}[${e.neuron}]`);
        for (const o of e.offspring) for (const v of [o.direction, o.replace]) if (v !== undefined) assert.equal(v.length, neuronDim(spec, e.node));
      }
      const { plan: kept, stats } = growPolicy(plan, { spec, layers, costModel: macs, budget });
      const perGroup = new Set(kept.entries.map((e) => `${layers.find((l) => l.node === e.node)!.channelGroup}:${e.neuron}`));
      assert.equal(perGroup.size, kept.entries.length, 'one growth per tied channel');
      for (const l of layers) {
        const added = kept.entries.filter((e) => e.node === l.node).reduce((s, e) => s + e.offspring.length - 1, 0);
        assert.ok(l.cap === null || l.width + added <= l.cap, `${l.node} over its cap`);
      }
      assert.ok(stats.cost.after! - cost <= budget + 1e-6, 'over the round budget');
    });
  }

  for (const id of services.pruners.ids()) {
    it(`pruner ${id}: a ranking the policy cuts to the round target without breaking minimum widths`, async () => {
      const pruner = services.pruners.create(id, {});
      const rng = new SeededRandom(8);
      const budget = cost * 0.2;
      const context: MethodContext = { round: 1, spec, layers, scores: fakeScores(pruner.needs, layers, rng), costModel: macs, costUnit: 'macs', cost, target: cost - budget, budget, random: () => rng.next() };
      const plan = await pruner.plan(context);
      assert.equal(plan.action, 'prune');
      assert.ok(plan.entries.length > 0, `${id} ranked nothing`);
      const { plan: kept, stats } = prunePolicy(plan, { spec, layers, costModel: macs, budget });
      assert.ok(stats.cost.after! <= cost - budget, `${id} did not reach the round target`);
      for (const l of layers) assert.ok(l.width - kept.entries.filter((e) => e.node === l.node).length >= l.min, `${l.node} below its minimum`);
    });
  }

  for (const id of services.resizers.ids()) {
    it(`resizer ${id}: widths at or above the minimum, priced within the target`, async () => {
      const resizer = services.resizers.create(id, {});
      const rng = new SeededRandom(9);
      const target = cost * 1.5;
      const plan = await resizer.plan({ spec, layers, costModel: macs, costUnit: 'macs', target, price: (w) => priceWidths(macs, spec, w), random: () => rng.next() });
      const { stats } = resizePolicy(plan, { spec, layers, costModel: macs, budget: null });
      assert.ok(stats.cost.after! <= target);
      assert.ok(stats.cost.after! >= 0.8 * target, `${id} left most of the budget unused (${stats.cost.after} of ${target})`);
    });
  }
});
