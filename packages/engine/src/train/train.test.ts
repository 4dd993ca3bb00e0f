import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NasError, SeededRandom, type Dataset, type NetworkSpec } from '@mitosis/core';
import { initWeights, parseNetworkSpec, tinyMlpSpec } from '@mitosis/ir';
import { useBackend } from '../backend/use-backend.js';
import { NetworkModel } from '../model/network-model.js';
import { randomClassification, separableImages } from '../testing/synthetic-data.js';
import { tf } from '../tf.js';
import { evaluate } from './evaluate.js';
import { train } from './train.js';

await useBackend('wasm');

/** conv 3×3 (4) → BN → relu → maxPool 2 → flatten → dropout → dense 2, on 8×8×1 images. */
function smallConvNet(): NetworkSpec {
  return parseNetworkSpec(
    {
      format: 'mitosis-network',
      version: 1,
      name: 'small-convnet',
      nodes: [
        { name: 'x', op: 'input', shape: [8, 8, 1] },
        { name: 'conv', op: 'conv2d', inputs: ['x'], filters: 4, kernelSize: [3, 3], strides: [1, 1], padding: 'same', useBias: false },
        { name: 'bn', op: 'batchNorm', inputs: ['conv'], epsilon: 1e-3, momentum: 0.9 },
        { name: 'relu', op: 'activation', inputs: ['bn'], activation: 'relu' },
        { name: 'pool', op: 'maxPool', inputs: ['relu'], poolSize: [2, 2], strides: [2, 2], padding: 'valid' },
        { name: 'flat', op: 'flatten', inputs: ['pool'] },
        { name: 'drop', op: 'dropout', inputs: ['flat'], rate: 0.1 },
        { name: 'fc', op: 'dense', inputs: ['drop'], units: 2, useBias: true },
      ],
      output: 'fc',
    },
    'small-convnet',
  );
}

describe('train', () => {
  it('trains a small convnet to high accuracy on separable images', async () => {
    const spec = smallConvNet();
    const model = new NetworkModel(spec, initWeights(spec, 1), { rng: new SeededRandom(1) });
    const result = await train(
      model,
      { train: separableImages(128, 1), val: separableImages(64, 2) },
      { epochs: 3, batchSize: 16, learningRate: 0.05, optimizer: { kind: 'sgd', momentum: 0.9 }, seed: 3, progress: false },
    );
    const last = result.history[result.history.length - 1]!;
    assert.ok(last.valAccuracy! >= 0.95, `val accuracy ${last.valAccuracy}`);
    assert.ok(last.loss < result.history[0]!.loss);
    assert.ok(last.imagesPerSecond > 0);
    const test = evaluate(model, separableImages(64, 9), 32);
    assert.ok(test.accuracy! >= 0.95, `test accuracy ${test.accuracy}`);
    result.optimizer.dispose();
    model.dispose();
  });

  it('leaks no tensors across 3 epochs', async () => {
    const spec = smallConvNet();
    const model = new NetworkModel(spec, initWeights(spec, 2));
    const counts: number[] = [];
    const result = await train(
      model,
      { train: separableImages(40, 4), val: separableImages(10, 5) },
      { epochs: 3, batchSize: 16, learningRate: 0.01, optimizer: { kind: 'adam' }, progress: false },
      { onEpochEnd: () => void counts.push(tf.memory().numTensors) },
    );
    assert.equal(counts.length, 3);
    assert.equal(counts[1], counts[0]);
    assert.equal(counts[2], counts[0]);
    const variables = model.variables.size;
    result.optimizer.dispose();
    model.dispose();
    assert.ok(counts[0]! >= variables);
    assert.equal(tf.memory().numTensors, 0);
  });

  it('is deterministic for a seed', async () => {
    const runOnce = async (seed: number): Promise<number[]> => {
      const spec = tinyMlpSpec();
      const model = new NetworkModel(spec, initWeights(spec, 0));
      const r = await train(model, { train: randomClassification(30, [4], 3, 7) }, { epochs: 2, batchSize: 8, learningRate: 0.1, seed, progress: false });
      r.optimizer.dispose();
      model.dispose();
      return r.history.map((h) => h.loss);
    };
    const a = await runOnce(11);
    assert.deepEqual(a, await runOnce(11));
    assert.notDeepEqual(a, await runOnce(12));
  });

  it('fits a regression target with the ½-MSE loss', async () => {
    const spec = tinyMlpSpec();
    const rng = new SeededRandom(3);
    const count = 64;
    const x = new Float32Array(count * 4).map(() => rng.normal());
    // three targets, each a fixed linear map of the inputs
    const y = new Float32Array(count * 3).map((_, i) => 0.5 * (x[Math.floor(i / 3) * 4 + (i % 3)] ?? 0));
    const data: Dataset = { name: 'linear', task: 'regression', inputShape: [4], targetSize: 3, count, x, y };
    const model = new NetworkModel(spec, initWeights(spec, 0));
    const before = evaluate(model, data, 16).loss;
    const r = await train(model, { train: data }, { epochs: 30, batchSize: 16, learningRate: 0.05, progress: false });
    const after = evaluate(model, data, 16);
    assert.equal(after.accuracy, undefined);
    assert.ok(after.loss < before / 10, `${before} → ${after.loss}`);
    r.optimizer.dispose();
    model.dispose();
  });

  it('stops with E_DIVERGED when the loss becomes non-finite', async () => {
    const spec = tinyMlpSpec();
    const model = new NetworkModel(spec, initWeights(spec, 0));
    const data = randomClassification(32, [4], 3, 1);
    await assert.rejects(
      train(model, { train: data }, { epochs: 5, batchSize: 8, learningRate: 1e38, optimizer: { kind: 'sgd' }, progress: false }),
      (e: unknown) => NasError.is(e, 'E_DIVERGED') && typeof e.details['epoch'] === 'number',
    );
    model.dispose();
  });

  it('rejects data of the wrong sample shape with E_SHAPE_MISMATCH', async () => {
    const spec = tinyMlpSpec();
    const model = new NetworkModel(spec, initWeights(spec, 0));
    await assert.rejects(
      train(model, { train: randomClassification(8, [5], 3, 1) }, { epochs: 1, batchSize: 4, learningRate: 0.1, progress: false }),
      (e: unknown) => NasError.is(e, 'E_SHAPE_MISMATCH') && e.details['dataset'] === 'random-1',
    );
    model.dispose();
  });
});
