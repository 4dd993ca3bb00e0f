import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { NasError, PrunerRegistry, loadPlugins, type MethodContext } from '@mitosis/core';

const pluginDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Only the fields the pruner reads: two layers and their weight norms. */
const context = {
  round: 2,
  layers: [{ node: 'conv1' }, { node: 'conv2' }],
  scores: { weightNorm: [Float64Array.from([0.5, 0.1, 0.3]), Float64Array.from([0.3, 0.05])] },
} as unknown as MethodContext;

describe('example plugin: magnitude pruner', () => {
  it('loads through the plugin loader and ranks the smallest norms first, ties in layer order', async () => {
    const { container } = await loadPlugins([pluginDir]);
    const pruner = container.get(PrunerRegistry).create('magnitude');
    assert.deepEqual(pruner.needs, [{ kind: 'weightNorm', norm: 2 }]);
    const plan = await pruner.plan(context);
    assert.deepEqual(
      plan.entries.map((e) => [e.node, e.channel]),
      [['conv2', 1], ['conv1', 1], ['conv1', 2], ['conv2', 0], ['conv1', 0]],
    );
    assert.equal(plan.round, 2);
  });

  it('asks for the norm its options name and rejects any other', async () => {
    const { container } = await loadPlugins([pluginDir]);
    const pruners = container.get(PrunerRegistry);
    assert.deepEqual(pruners.create('magnitude', { norm: 1 }).needs, [{ kind: 'weightNorm', norm: 1 }]);
    assert.throws(() => pruners.create('magnitude', { norm: 3 }), (e) => NasError.is(e, 'E_OPTIONS_INVALID'));
  });
});
