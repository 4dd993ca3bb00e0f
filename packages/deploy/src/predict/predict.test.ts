import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NasError, type Dataset, type NetworkSpec, type WeightMap } from '@mitosis/core';
import { channelStats, normalise, syntheticImages, toy1d } from '@mitosis/data';
import { useBackend } from '@mitosis/engine';
import { initWeights, parseNetworkSpec } from '@mitosis/ir';
import { exportOnnx } from '../onnx/onnx-export.js';
import { predictOnnx, predictTfjs } from './predict.js';

await useBackend('cpu');

/** logits = x: a dense layer with the identity kernel. */
function identityNet(): { spec: NetworkSpec; weights: WeightMap } {
  const spec = parseNetworkSpec(
    { format: 'mitosis-network', version: 1, nodes: [{ name: 'x', op: 'input', shape: [3] }, { name: 'd', op: 'dense', inputs: ['x'], units: 3, useBias: false }], output: 'd' },
    'identity',
  );
  return { spec, weights: new Map([['d/kernel', { shape: [3, 3], data: Float32Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1) }]]) };
}

const rows = [
  [2, 0, 0],
  [0, 1, -1],
  [0, 0.5, 3],
  [0, 1, 0.5],
];
const labels = [0, 1, 2, 0];
const handData: Dataset = { name: 'hand', task: 'classification', inputShape: [3], targetSize: 3, count: 4, x: Float32Array.from(rows.flat()), y: Float32Array.from(labels) };
/** Mean softmax cross-entropy of the rows as logits. */
const handLoss = rows.reduce((s, r, i) => s + Math.log(r.reduce((z, v) => z + Math.exp(v), 0)) - (r[labels[i] as number] as number), 0) / rows.length;

function imageNet(): NetworkSpec {
  return parseNetworkSpec(
    {
      format: 'mitosis-network',
      version: 1,
      nodes: [
        { name: 'x', op: 'input', shape: [8, 8, 3] },
        { name: 'c', op: 'conv2d', inputs: ['x'], filters: 4, kernelSize: [3, 3], strides: [2, 2], padding: 'same', useBias: true },
        { name: 'bn', op: 'batchNorm', inputs: ['c'], epsilon: 1e-3, momentum: 0.9 },
        { name: 'r', op: 'activation', inputs: ['bn'], activation: 'relu' },
        { name: 'f', op: 'flatten', inputs: ['r'] },
        { name: 'out', op: 'dense', inputs: ['f'], units: 5, useBias: true },
      ],
      output: 'out',
    },
    'image',
  );
}

describe('predictOnnx and predictTfjs', () => {
  it('count, accuracy and cross-entropy of a hand-checked model, in both runtimes', async () => {
    const { spec, weights } = identityNet();
    const onnxReport = await predictOnnx(exportOnnx(spec, weights).bytes, handData, 'identity.onnx', { batchSize: 3, threads: 1 });
    const tfjsReport = predictTfjs(spec, weights, handData, null, { batchSize: 3 });
    for (const r of [onnxReport, tfjsReport]) {
      assert.equal(r.count, 4);
      assert.equal(r.accuracy, 0.75);
      assert.ok(Math.abs(r.loss - handLoss) < 1e-6, `${r.format}: loss ${r.loss} vs ${handLoss}`);
      assert.equal(r.outputKind, 'logits');
    }
    assert.equal(onnxReport.format, 'onnx');
    assert.equal(tfjsReport.format, 'tfjs');
    // A softmax export scores the same: its loss is −log p of the label.
    const soft = await predictOnnx(exportOnnx(spec, weights, { softmax: true }).bytes, handData, 'soft.onnx', { threads: 1 });
    assert.equal(soft.outputKind, 'probabilities');
    assert.equal(soft.accuracy, 0.75);
    assert.ok(Math.abs(soft.loss - handLoss) < 1e-5);
  });

  it('feeds an NCHW model transposed samples and normalises for a model that left the normalisation to its caller', async () => {
    const spec = imageNet();
    const weights = initWeights(spec, 4);
    const data = syntheticImages({ seed: 1, count: 40, height: 8, width: 8, channels: 3, classes: 5 });
    const stats = channelStats(data);
    const want = predictTfjs(spec, weights, data, stats, { keepOutputs: true });
    assert.deepEqual(want.outputs?.length, 40 * 5);
    for (const options of [{ inputLayout: 'nchw' as const, foldNormalisation: false }, { inputLayout: 'nhwc' as const }, { inputLayout: 'nchw' as const, foldBatchNorm: true }]) {
      const { bytes } = exportOnnx(spec, weights, { normalisation: stats, ...options });
      const got = await predictOnnx(bytes, data, 'image.onnx', { batchSize: 16, keepOutputs: true, threads: 1 });
      assert.equal(got.count, 40);
      assert.equal(got.accuracy, want.accuracy, JSON.stringify(options));
      assert.ok(Math.abs(got.loss - want.loss) < 1e-5);
      let diff = 0;
      for (let i = 0; i < 200; i++) diff = Math.max(diff, Math.abs((got.outputs?.[i] as number) - (want.outputs?.[i] as number)));
      assert.ok(diff < 1e-4, `${JSON.stringify(options)}: ${diff}`);
    }
    // Without the statistics the TF.js model sees other inputs: the scores change.
    const unnormalised = predictTfjs(spec, weights, data, null);
    assert.notEqual(unnormalised.loss.toFixed(6), want.loss.toFixed(6));
    // Normalising first and exporting without statistics is the same model again.
    const plain = await predictOnnx(exportOnnx(spec, weights).bytes, normalise(data, stats), 'plain.onnx', { threads: 1 });
    assert.ok(Math.abs(plain.loss - want.loss) < 1e-5);
  });

  it('reports ½·MSE and no accuracy for regression', async () => {
    const spec = parseNetworkSpec(
      {
        format: 'mitosis-network',
        version: 1,
        nodes: [
          { name: 'x', op: 'input', shape: [1] },
          { name: 'h', op: 'dense', inputs: ['x'], units: 4, useBias: true },
          { name: 't', op: 'activation', inputs: ['h'], activation: 'tanh' },
          { name: 'y', op: 'dense', inputs: ['t'], units: 1, useBias: true },
        ],
        output: 'y',
      },
      'toy',
    );
    const weights = initWeights(spec, 2);
    const data = toy1d();
    const onnxReport = await predictOnnx(exportOnnx(spec, weights, { task: 'regression' }).bytes, data, 'toy.onnx', { threads: 1 });
    const tfjsReport = predictTfjs(spec, weights, data, null);
    assert.equal(onnxReport.accuracy, null);
    assert.equal(onnxReport.outputKind, 'values');
    assert.equal(onnxReport.count, data.count);
    assert.ok(Math.abs(onnxReport.loss - tfjsReport.loss) < 1e-6);
    assert.ok(tfjsReport.loss > 0 && Number.isFinite(tfjsReport.loss));
  });

  it('refuses data of another shape, another number of classes, and bytes that are not ONNX', async () => {
    const { spec, weights } = identityNet();
    const bytes = exportOnnx(spec, weights).bytes;
    const wide: Dataset = { ...handData, inputShape: [4], x: new Float32Array(16) };
    await assert.rejects(predictOnnx(bytes, wide, 'identity.onnx'), (e: unknown) => NasError.is(e, 'E_SHAPE_MISMATCH') && /\[4\].*\[3\]/.test(e.message));
    assert.throws(() => predictTfjs(spec, weights, wide, null), (e: unknown) => NasError.is(e, 'E_SHAPE_MISMATCH'));
    const fiveClasses: Dataset = { ...handData, targetSize: 5 };
    await assert.rejects(predictOnnx(bytes, fiveClasses, 'identity.onnx'), (e: unknown) => NasError.is(e, 'E_SHAPE_MISMATCH') && /3 values per sample.*5 classes/.test(e.message));
    await assert.rejects(predictOnnx(new Uint8Array([1, 2, 3, 4]), handData, 'junk.onnx'), (e: unknown) => NasError.is(e, 'E_MODEL_FORMAT') && /junk\.onnx/.test(e.message));
  });
});
