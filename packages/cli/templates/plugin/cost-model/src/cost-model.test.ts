import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { CostModelRegistry, NasError, loadPlugins, type CostModel, type NetworkSpec } from '@mitosis/core';

/** The plugin's folder: tests load it exactly as mitosis does, from its package.json. */
const pluginDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

async function model(options: object = {}): Promise<CostModel> {
  const { container } = await loadPlugins([pluginDir]);
  return container.get(CostModelRegistry).create('{{id}}', options);
}

const mlp: NetworkSpec = {
  format: 'mitosis-network',
  version: 1,
  nodes: [
    { name: 'x', op: 'input', shape: [3] },
    { name: 'fc1', op: 'dense', inputs: ['x'], units: 4, useBias: true },
    { name: 'act', op: 'activation', inputs: ['fc1'], activation: 'tanh' },
    { name: 'fc2', op: 'dense', inputs: ['act'], units: 2, useBias: true },
  ],
  output: 'fc2',
};

const convnet: NetworkSpec = {
  format: 'mitosis-network',
  version: 1,
  nodes: [
    { name: 'x', op: 'input', shape: [8, 8, 3] },
    { name: 'conv', op: 'conv2d', inputs: ['x'], filters: 4, kernelSize: [3, 3], strides: [2, 2], padding: 'same', useBias: true },
    { name: 'dw', op: 'depthwiseConv2d', inputs: ['conv'], kernelSize: [3, 3], strides: [1, 1], padding: 'valid', useBias: false },
    { name: 'gap', op: 'globalAvgPool', inputs: ['dw'] },
    { name: 'fc', op: 'dense', inputs: ['gap'], units: 10, useBias: true },
  ],
  output: 'fc',
};

describe('{{id}} cost model', () => {
  it('loads through the plugin loader as a latency model that needs no profile', async () => {
    const { container, plugins } = await loadPlugins([pluginDir]);
    assert.deepEqual(plugins.map((p) => p.manifest.id), ['{{id}}']);
    const contribution = container.get(CostModelRegistry).get('{{id}}');
    assert.equal(contribution.unit, 'ms');
    assert.equal(contribution.requiresProfile, false);
  });

  it('prices each dense layer as overhead + MACs / throughput', async () => {
    const estimate = (await model({ macsPerMs: 10, overheadMs: 1 })).estimate(mlp);
    // fc1: 3·4 = 12 MACs, fc2: 4·2 = 8 MACs.
    assert.deepEqual(estimate.layers.map((l) => [l.node, l.value, l.source]), [['fc1', 2.2, 'estimated'], ['fc2', 1.8, 'estimated']]);
    assert.ok(Math.abs((estimate.total ?? 0) - 4) < 1e-12);
    assert.equal(estimate.unit, 'ms');
  });

  it('follows shapes through strided and valid convolutions', async () => {
    const estimate = (await model({ macsPerMs: 1, overheadMs: 0 })).estimate(convnet);
    // conv: 4×4 outputs (same, stride 2) · 3·3·3·4 = 1728; dw: 2×2 outputs (valid) · 3·3·4 = 144; fc: 4·10 = 40.
    assert.deepEqual(estimate.layers.map((l) => l.value), [1728, 144, 40]);
  });

  it('refuses a network whose nodes refer to a missing node', async () => {
    const broken: NetworkSpec = { ...mlp, nodes: mlp.nodes.filter((n) => n.name !== 'act') };
    await assert.rejects(model().then((m) => m.estimate(broken)), (e) => NasError.is(e, 'E_SPEC_INVALID') && /"act"/.test(e.message));
  });
});
