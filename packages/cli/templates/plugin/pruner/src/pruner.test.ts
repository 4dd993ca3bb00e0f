import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { NasError, PrunerRegistry, loadPlugins, type MethodContext, type Pruner } from '@mitosis/core';

/** The plugin's folder: tests load it exactly as mitosis does, from its package.json. */
const pluginDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

async function pruner(options: object = {}): Promise<Pruner> {
  const { container } = await loadPlugins([pluginDir]);
  return container.get(PrunerRegistry).create('{{id}}', options);
}

/** Only the fields the pruner reads; a real context comes from the loop. `norms: null` leaves the scores out. */
function context(norms: number[][] | null): MethodContext {
  const layers = ['conv1', 'conv2'].map((node) => ({ node, width: 3, min: 1, splittable: true }));
  const scores = norms === null ? {} : { weightNorm: norms.map((n) => Float64Array.from(n)) };
  return { round: 1, layers, scores } as unknown as MethodContext;
}

describe('{{id}} pruner', () => {
  it('loads through the plugin loader and asks for L2 weight norms', async () => {
    const { plugins } = await loadPlugins([pluginDir]);
    assert.deepEqual(plugins.map((p) => p.manifest.id), ['{{id}}']);
    assert.deepEqual((await pruner()).needs, [{ kind: 'weightNorm', norm: 2 }]);
  });

  it('ranks channels by their norm relative to their layer, smallest first', async () => {
    const plan = await (await pruner()).plan(context([[1, 2, 3], [10, 40, 10]]));
    // Relative to the layer means (2 and 20): 0.5, 1, 1.5 and 0.5, 2, 0.5; ties keep layer, then channel order.
    assert.deepEqual(plan.entries.map((e) => [e.node, e.channel]), [
      ['conv1', 0], ['conv2', 0], ['conv2', 2], ['conv1', 1], ['conv1', 2], ['conv2', 1],
    ]);
    assert.equal(plan.action, 'prune');
  });

  it('compares raw norms across layers with perLayer: false', async () => {
    const plan = await (await pruner({ perLayer: false })).plan(context([[1, 2, 3], [10, 40, 10]]));
    assert.deepEqual(plan.entries.map((e) => e.score), [1, 2, 3, 10, 10, 40]);
  });

  it('fails clearly when the loop passed no weight norms', async () => {
    await assert.rejects((await pruner()).plan(context(null)), (e) => NasError.is(e, 'E_RUN_FAILED'));
  });
});
