import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { NasError } from '@mitosis/core';
import { parseNetworkSpec } from '@mitosis/ir';
import { importLayersModel } from '../interchange/import-layers-model.js';
import { separableImages } from '../testing/synthetic-data.js';
import { benchmarkTraining } from './benchmark-training.js';
import { refnet32Spec } from './refnet.js';
import { runTraining } from './run-training.js';

const root = await mkdtemp(join(tmpdir(), 'mitosis-engine-run-'));
after(() => rm(root, { recursive: true, force: true }));

const specJson = {
  format: 'mitosis-network',
  version: 1,
  name: 'sep-net',
  nodes: [
    { name: 'x', op: 'input', shape: [8, 8, 1] },
    { name: 'conv', op: 'conv2d', inputs: ['x'], filters: 2, kernelSize: [3, 3], strides: [2, 2], padding: 'same', useBias: true },
    { name: 'relu', op: 'activation', inputs: ['conv'], activation: 'relu' },
    { name: 'flat', op: 'flatten', inputs: ['relu'] },
    { name: 'fc', op: 'dense', inputs: ['flat'], units: 2, useBias: true },
  ],
  output: 'fc',
};

describe('runTraining', () => {
  it('trains a spec file, reports per-epoch progress and test accuracy, and exports the model', async () => {
    const specFile = join(root, 'spec.json');
    await writeFile(specFile, JSON.stringify(specJson));
    const epochs: number[] = [];
    const out = join(root, 'out');
    const result = await runTraining(
      {
        model: specFile,
        data: { train: separableImages(96, 1), val: separableImages(32, 2), test: separableImages(32, 3) },
        epochs: 2,
        out,
        backend: 'wasm',
        batchSize: 16,
        learningRate: 0.05,
        json: true,
      },
      { onProgress: (m) => void epochs.push(m.epoch) },
    );
    assert.deepEqual(epochs, [0, 1]);
    assert.equal(result.backend, 'wasm');
    assert.ok(result.testAccuracy! >= 0.9, `test accuracy ${result.testAccuracy}`);
    assert.equal(result.modelDir, join(out, 'model'));
    assert.ok((await stat(join(out, 'model', 'weights.bin'))).size > 0);
    // the exported model trains again from its LayersModel directory
    const again = await runTraining({ model: result.modelDir!, data: { train: separableImages(16, 4) }, epochs: 1, backend: 'wasm', json: true });
    assert.equal(again.testAccuracy, undefined);
    assert.equal((await importLayersModel(result.modelDir!)).spec.nodes.length, specJson.nodes.length);
  });

  it('rejects a file that is neither a LayersModel nor a spec with E_MODEL_FORMAT naming it', async () => {
    const file = join(root, 'other.json');
    await writeFile(file, '{"hello": 1}');
    await assert.rejects(
      runTraining({ model: file, data: { train: separableImages(4, 1) }, epochs: 1, backend: 'cpu', json: true }),
      (e: unknown) => NasError.is(e, 'E_MODEL_FORMAT') && e.details['file'] === file,
    );
  });
});

describe('benchmarkTraining', () => {
  it('builds a valid refnet-32 spec', () => {
    const spec = parseNetworkSpec(refnet32Spec(), 'refnet-32');
    assert.equal(spec.nodes.filter((n) => n.op === 'batchNorm').length, 9);
  });

  it('trains refnet-32 on synthetic data and reports throughput (smoke run, batch 2)', async () => {
    const r = await benchmarkTraining({ network: 'refnet-32', backend: 'wasm', steps: 1, warmup: 0, batchSize: 2 });
    assert.equal(r.network, 'refnet-32');
    assert.equal(r.backend, 'wasm');
    assert.ok(r.imagesPerSecond > 0 && r.stepMs > 0 && r.peakRssMb > 0);
  });

  it('rejects an unknown network', async () => {
    await assert.rejects(
      benchmarkTraining({ network: 'resnet-50' as 'refnet-32', backend: 'cpu', steps: 1, warmup: 0 }),
      (e: unknown) => NasError.is(e, 'E_OPTIONS_INVALID'),
    );
  });
});
