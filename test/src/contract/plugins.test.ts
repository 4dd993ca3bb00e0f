import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
  EXTENSION_POINTS,
  GrowerRegistry,
  CostModelRegistry,
  EigenSolverRegistry,
  PrunerRegistry,
  ResizerRegistry,
  NasError,
  contributionsOf,
  importPlugin,
  loadPlugins,
  readPluginDescriptor,
} from '@mitosis/core';
import { runCli, type Io } from '@mitosis/cli';
import { useBackend } from '@mitosis/engine';
import { fullNetwork, loadSearchSpace, methodLayers, parseBudget, runMethod, type RunEvent, type SearchSpace } from '@mitosis/growth';
import { MacsCostModel } from '@mitosis/hardware';
import { readEvents, tempDir, workspaceServices } from '../integration/growth-helpers.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const pluginDirs = readdirSync(join(repo, 'plugins')).map((d) => join(repo, 'plugins', d));

describe('every workspace plugin (contract)', () => {
  for (const dir of pluginDirs) {
    it(`${dir.slice(repo.length + 1)}: manifest validates and equals what its module binds`, async () => {
      const plugin = await importPlugin(readPluginDescriptor(dir));
      const bound = contributionsOf(plugin.module);
      for (const [kind, ids] of Object.entries(plugin.manifest.contributes)) {
        assert.deepEqual(bound[kind as keyof typeof bound], [...(ids ?? [])].sort());
      }
    });
  }

  it('all load together, with unique ids, and every contribution\'s defaults validate against its schema', async () => {
    const { container } = await loadPlugins(pluginDirs);
    const registries = EXTENSION_POINTS.map((p) => container.get(p.registry));
    // Looked up by class, not by position in EXTENSION_POINTS (which grows as extension points are added).
    const growers = container.get(GrowerRegistry);
    const costModels = container.get(CostModelRegistry);
    const eigenSolvers = container.get(EigenSolverRegistry);
    for (const r of [growers, costModels, eigenSolvers]) assert.ok(registries.includes(r as (typeof registries)[number]));
    let count = 0;
    for (const registry of registries) {
      for (const c of registry.all()) {
        assert.match(c.id, /^[a-z][a-z0-9-]*$/);
        assert.ok(c.description.length > 10, `${c.id} needs a description`);
        const needsProfile = (c as { requiresProfile?: boolean }).requiresProfile === true;
        // options() validates what it returns against the contribution's schema (defaults filled in) and
        // throws E_OPTIONS_INVALID otherwise; a wrong type must be refused the same way.
        const defaults = registry.options(c.id, needsProfile ? { profile: 'note10-cpu' } : {});
        assert.ok(defaults !== null && typeof defaults === 'object' && !Array.isArray(defaults), `${c.id}: defaults ${JSON.stringify(defaults)}`);
        assert.throws(() => registry.options(c.id, 42), (e: unknown) => NasError.is(e, 'E_OPTIONS_INVALID'), `${c.id} accepted 42 as its options`);
        count += 1;
      }
    }
    assert.ok(count >= 16, `expected the shipped contributions, found ${count}`);
    for (const id of ['s2d', 'signed', 'energy-aware', 'random-split', 'random-neuron']) assert.ok(growers.has(id), id);
    for (const id of ['prune-l1', 'prune-slimming', 'prune-taylor']) assert.ok(container.get(PrunerRegistry).has(id), id);
    assert.ok(container.get(ResizerRegistry).has('width-multiplier'));
    for (const id of ['macs', 'params', 'latency', 'energy']) assert.ok(costModels.has(id), id);
    for (const id of ['dense', 'rayleigh', 'lanczos']) assert.ok(eigenSolvers.has(id), id);
  });

  it('mitosis plugins --json lists every workspace plugin and its contributions', async () => {
    let stdout = '';
    const io: Io = { stdout: (s) => void (stdout += s), stderr: () => undefined, interactive: false };
    const code = await runCli(['plugins', '--json'], io);
    assert.equal(code, 0);
    const doc = JSON.parse(stdout) as { plugins: { id: string; contributes: Record<string, { id: string }[]> }[] };
    const ids = doc.plugins.map((p) => p.id).sort();
    const expected = pluginDirs.map((d) => readPluginDescriptor(d).manifest.id).sort();
    for (const id of expected) assert.ok(ids.includes(id), `${id} missing from ${ids.join(', ')}`);
    const growers = doc.plugins.flatMap((p) => (p.contributes['growers'] ?? []).map((c) => c.id));
    assert.ok(growers.includes('energy-aware'));
  });
});

/**
 * A two-hidden-layer MLP with batch norm (network slimming's γ) on 192 Gaussian blobs, one epoch per phase: small
 * enough to run every shipped method for a real round (scores computed by the loop, plan checked by the plan
 * policy, change applied, fine-tuned) in about a second each.
 */
function tinyMlp(): SearchSpace {
  const toy = loadSearchSpace('toy-1d').space;
  const dense = (name: string, input: string, units: number) => ({ name, op: 'dense', inputs: [input], units, useBias: true }) as const;
  const bn = (name: string, input: string) => ({ name, op: 'batchNorm', inputs: [input], epsilon: 1e-3, momentum: 0.99 }) as const;
  const tanh = (name: string, input: string) => ({ name, op: 'activation', inputs: [input], activation: 'tanh' }) as const;
  const phase = { ...toy.training, epochs: 1, batchSize: 32, optimizer: 'adam' as const, learningRate: 0.01, schedule: 'constant' as const };
  return {
    ...toy,
    id: 'tiny-mlp',
    seed: {
      format: 'mitosis-network',
      version: 1,
      name: 'tiny-mlp',
      nodes: [
        { name: 'x', op: 'input', shape: [2] },
        dense('h1', 'x', 6),
        bn('h1_bn', 'h1'),
        tanh('h1_act', 'h1_bn'),
        dense('h2', 'h1_act', 5),
        bn('h2_bn', 'h2'),
        tanh('h2_act', 'h2_bn'),
        dense('out', 'h2_act', 3),
      ],
      output: 'out',
    },
    layers: { h1: { cap: 12, min: 2 }, h2: { cap: 10, min: 2 } },
    data: { dataset: 'blobs', options: { count: 192, classes: 3 }, normalise: false },
    loss: 'ce',
    training: phase,
    fineTune: phase,
    scoring: { samples: 64, batchSize: 32 },
    defaults: { ...toy.defaults, growerOptions: {} },
  } as SearchSpace;
}

describe('every shipped grower, pruner and resizer runs one round on a tiny network (contract)', async () => {
  const services = await workspaceServices();
  const space = tinyMlp();
  const macs = new MacsCostModel();
  const seedCost = macs.estimate(space.seed).total!;
  const fullCost = macs.estimate(fullNetwork(space)).total!;
  const { dir, cleanup } = tempDir('plugin-rounds');
  before(async () => {
    await useBackend('cpu');
  });
  after(cleanup);

  const sum = (widths: Readonly<Record<string, number>>): number => ['h1', 'h2'].reduce((s, k) => s + (widths[k] ?? 0), 0);
  const kinds = [
    ['grower', services.growers.ids()],
    ['pruner', services.pruners.ids()],
    ['resizer', services.resizers.ids()],
  ] as const;

  it('the tiny network has room both ways', () => {
    assert.deepEqual(methodLayers(space, space.seed, macs).map((l) => [l.node, l.width, l.cap, l.min]), [
      ['h1', 6, 12, 2],
      ['h2', 5, 10, 2],
    ]);
    assert.ok(kinds.every(([, ids]) => ids.length > 0));
  });

  for (const [kind, ids] of kinds) {
    for (const id of ids) {
      it(`${kind} ${id}: one round changes the network the right way, within caps, minimum widths and budget`, async () => {
        const budget = kind === 'pruner' ? Math.round(0.75 * fullCost) : kind === 'grower' ? Math.round(1.6 * seedCost) : Math.round(1.3 * seedCost);
        const out = join(dir, id);
        const summary = await runMethod({ space, method: id, rounds: 1, budget: parseBudget(`${budget}macs`), out, seed: 3, quiet: true }, services);
        const events = readEvents(out);
        const start = events.find((e) => e.type === 'start') as RunEvent;
        const startWidths = start['widths'] as Record<string, number>;
        assert.deepEqual(startWidths, kind === 'pruner' ? { h1: 12, h2: 10, out: 3 } : kind === 'grower' ? { h1: 6, h2: 5, out: 3 } : startWidths);
        assert.equal(summary.epochs.total, summary.epochs.planned);
        for (const [node, layer] of Object.entries(space.layers ?? {})) {
          const w = summary.widths[node]!;
          assert.ok(w >= (layer.min ?? 1) && w <= (layer.cap ?? Infinity), `${id}: ${node} = ${w} outside [${layer.min}, ${layer.cap}]`);
        }
        assert.equal(summary.widths['out'], 3, `${id} changed the output layer`);
        if (kind === 'resizer') {
          assert.ok(summary.budgetMet, `${id}: ${summary.cost.macs} MACs over ${budget}`);
          return;
        }
        const round = events.find((e) => e.type === 'round' && e.round === 1);
        assert.ok(round !== undefined, `${id} made no change in round 1 (${events.map((e) => e.type).join(', ')}; stop: ${summary.stopReason})`);
        const change = round['change'] as { action: string; count: number; byLayer: Record<string, number> };
        assert.equal(change.action, kind === 'grower' ? 'grow' : 'prune');
        assert.ok(change.count >= 1);
        assert.ok(Object.keys(change.byLayer).every((n) => n === 'h1' || n === 'h2'), `${id} changed ${Object.keys(change.byLayer).join(', ')}`);
        const after = round['widths'] as Record<string, number>;
        // Every change the policy kept was applied: the widths moved by exactly the plan's count.
        assert.equal(sum(after) - sum(startWidths), kind === 'grower' ? change.count : -change.count, `${id}: widths ${JSON.stringify(startWidths)} → ${JSON.stringify(after)}`);
        const cost = (round['cost'] as { macs: number }).macs;
        if (kind === 'grower') assert.ok(cost > seedCost && cost <= budget, `${id}: ${cost} MACs after growing from ${seedCost} under ${budget}`);
        else assert.ok(cost < fullCost, `${id}: ${cost} MACs after pruning from ${fullCost}`);
      });
    }
  }
});
