import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { NasError, SeededRandom } from '@mitosis/core';
import { initWeights, parseNetworkSpec, tinyMobileNetSpec } from '@mitosis/ir';
import * as tfl from '@tensorflow/tfjs-layers';
import { useBackend } from '../backend/use-backend.js';
import { forward } from '../model/forward.js';
import { NetworkModel } from '../model/network-model.js';
import { everyOpSpec, randomClassification, randomizeBatchNorm } from '../testing/synthetic-data.js';
import { tf } from '../tf.js';
import { train } from '../train/train.js';
import { exportLayersModel } from './export-layers-model.js';
import { importLayersModel } from './import-layers-model.js';
import { fileSystemHandler } from './model-artifacts-io.js';

await useBackend('wasm');
const root = await mkdtemp(join(tmpdir(), 'mitosis-engine-lm-'));
after(() => rm(root, { recursive: true, force: true }));

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

function randomTensor(shape: number[], seed: number): tf.Tensor {
  const rng = new SeededRandom(seed);
  return tf.tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)).map(() => rng.normal()), shape);
}

/** The exporting test's network: every op except gaussian (which Keras lacks). */
function exportableSpec(): ReturnType<typeof everyOpSpec> {
  const spec = everyOpSpec();
  return { ...spec, nodes: spec.nodes.map((n) => (n.op === 'activation' && n.activation === 'gaussian' ? { ...n, activation: 'sigmoid' as const } : n)) };
}

describe('exportLayersModel', () => {
  for (const [label, make] of [
    ['every op', exportableSpec],
    ['the tiny MobileNet', tinyMobileNetSpec],
  ] as const) {
    it(`writes a model that tf.loadLayersModel loads and that predicts the same (${label})`, async () => {
      const spec = parseNetworkSpec(make(), label);
      const weights = randomizeBatchNorm(spec, initWeights(spec, 2), 3);
      const dir = join(root, `export-${label.replace(/ /g, '-')}`);
      await exportLayersModel(dir, spec, weights);
      const loaded = await tfl.loadLayersModel(fileSystemHandler(dir));
      const input = spec.nodes.find((n) => n.op === 'input');
      assert.ok(input?.op === 'input');
      const x = randomTensor([3, ...input.shape], 4);
      const model = new NetworkModel(spec, weights);
      const ours = tf.tidy(() => forward(model, x, { training: false }));
      const theirs = loaded.predict(x) as tf.Tensor;
      assert.deepEqual(theirs.shape, ours.shape);
      assert.ok(maxAbsDiff(ours.dataSync(), theirs.dataSync()) <= 1e-5);
      // and mitosis reads back the same network
      const back = await importLayersModel(dir);
      assert.deepEqual(back.spec.nodes.map((n) => n.name), spec.nodes.map((n) => n.name).filter((n) => back.spec.nodes.some((m) => m.name === n)));
      assert.equal(back.spec.nodes.length, spec.nodes.length);
      for (const [k, w] of weights) assert.deepEqual(back.weights.get(k)?.data, w.data, k);
      tf.dispose([x, ours, theirs]);
      loaded.dispose();
      model.dispose();
    });
  }

  it('refuses the gaussian activation with E_MODEL_FORMAT naming the node', async () => {
    const spec = everyOpSpec();
    await assert.rejects(exportLayersModel(join(root, 'gauss'), spec, initWeights(spec, 1)), (e: unknown) => {
      assert.ok(NasError.is(e, 'E_MODEL_FORMAT'));
      assert.equal(e.details['node'], 'a_gauss');
      return true;
    });
  });
});

describe('importLayersModel', () => {
  it('imports a Keras-style functional model with fused activations and a residual add, trains it and exports it', async () => {
    const inp = tfl.input({ shape: [6, 6, 2], name: 'image' });
    const c1 = tfl.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c1' }).apply(inp) as tfl.SymbolicTensor;
    const c2 = tfl.layers.conv2d({ filters: 3, kernelSize: 1, useBias: false, name: 'c2' }).apply(c1) as tfl.SymbolicTensor;
    const bn = tfl.layers.batchNormalization({ name: 'bn' }).apply(c2) as tfl.SymbolicTensor;
    const sum = tfl.layers.add({ name: 'res' }).apply([c1, bn]) as tfl.SymbolicTensor;
    const cat = tfl.layers.concatenate({ name: 'cat' }).apply([sum, c1]) as tfl.SymbolicTensor;
    const gap = tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(cat) as tfl.SymbolicTensor;
    const out = tfl.layers.dense({ units: 3, activation: 'softmax', name: 'probs' }).apply(gap) as tfl.SymbolicTensor;
    const keras = tfl.model({ inputs: inp, outputs: out });
    const dir = join(root, 'keras-functional');
    await keras.save(fileSystemHandler(dir));

    const { spec, weights } = await importLayersModel(dir);
    const byName = new Map(spec.nodes.map((n) => [n.name, n]));
    assert.deepEqual(byName.get('c1_relu'), { name: 'c1_relu', op: 'activation', inputs: ['c1'], activation: 'relu' });
    assert.deepEqual(byName.get('res')?.inputs, ['c1_relu', 'bn']);
    assert.deepEqual(byName.get('cat')?.inputs, ['res', 'c1_relu']);
    assert.equal(spec.output, 'probs'); // the output softmax is dropped: mitosis outputs logits
    const c2Node = byName.get('c2');
    assert.ok(c2Node?.op === 'conv2d' && !c2Node.useBias);

    const x = randomTensor([2, 6, 6, 2], 5);
    const model = new NetworkModel(spec, weights);
    const ours = tf.tidy(() => tf.softmax(forward(model, x, { training: false })));
    const theirs = keras.predict(x) as tf.Tensor;
    assert.ok(maxAbsDiff(ours.dataSync(), theirs.dataSync()) <= 1e-5);
    tf.dispose([x, ours, theirs]);

    const result = await train(model, { train: randomClassification(16, [6, 6, 2], 3, 6) }, { epochs: 1, batchSize: 8, learningRate: 0.01, progress: false });
    assert.ok(Number.isFinite(result.history[0]!.loss));
    result.optimizer.dispose();
    const outDir = join(root, 'keras-functional-trained');
    await exportLayersModel(outDir, spec, model.toWeightMap());
    const reloaded = await tfl.loadLayersModel(fileSystemHandler(outDir));
    assert.equal(reloaded.layers.length, spec.nodes.length);
    reloaded.dispose();
    model.dispose();
    keras.dispose();
  });

  it('imports a Sequential model without an explicit input layer', async () => {
    const seq = tfl.sequential({
      layers: [
        tfl.layers.dense({ inputShape: [4], units: 5, activation: 'tanh', name: 'h' }),
        tfl.layers.dropout({ rate: 0.2, name: 'd' }),
        tfl.layers.dense({ units: 2, name: 'o' }),
      ],
    });
    const dir = join(root, 'keras-sequential');
    await seq.save(fileSystemHandler(dir));
    const { spec, weights } = await importLayersModel(dir);
    assert.deepEqual(
      spec.nodes.map((n) => `${n.name}:${n.op}`),
      ['input:input', 'h:dense', 'h_tanh:activation', 'd:dropout', 'o:dense'],
    );
    const x = randomTensor([3, 4], 8);
    const model = new NetworkModel(spec, weights);
    const ours = tf.tidy(() => forward(model, x, { training: false }));
    const theirs = seq.predict(x) as tf.Tensor;
    assert.ok(maxAbsDiff(ours.dataSync(), theirs.dataSync()) <= 1e-5);
    tf.dispose([x, ours, theirs]);
    model.dispose();
    seq.dispose();
  });

  it('rejects an unsupported layer with E_MODEL_FORMAT naming the file and the layer', async () => {
    const seq = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [3], units: 2, name: 'fc' })] });
    const dir = join(root, 'unsupported');
    await seq.save(fileSystemHandler(dir));
    seq.dispose();
    const file = join(dir, 'model.json');
    const json = JSON.parse(await readFile(file, 'utf8'));
    json.modelTopology.config.layers.push({ class_name: 'LSTM', config: { name: 'lstm', units: 4 } });
    await writeFile(file, JSON.stringify(json));
    await assert.rejects(importLayersModel(dir), (e: unknown) => {
      assert.ok(NasError.is(e, 'E_MODEL_FORMAT'));
      assert.deepEqual([e.details['file'], e.details['layer']], [file, 'lstm']);
      return true;
    });
  });

  it('reports missing, malformed and truncated model files with E_MODEL_FORMAT naming the file', async () => {
    const missing = join(root, 'nothing-here');
    await assert.rejects(importLayersModel(missing), (e: unknown) => NasError.is(e, 'E_MODEL_FORMAT') && e.details['file'] === join(missing, 'model.json'));

    const spec = tinyMobileNetSpec();
    const dir = join(root, 'to-break');
    await exportLayersModel(dir, spec, initWeights(spec, 1));
    const bin = join(dir, 'weights.bin');
    const bytes = await readFile(bin);
    await writeFile(bin, bytes.subarray(0, bytes.length - 8));
    await assert.rejects(importLayersModel(dir), (e: unknown) => NasError.is(e, 'E_MODEL_FORMAT') && e.details['file'] === bin);

    await writeFile(join(dir, 'model.json'), '{ "modelTopology": ');
    await assert.rejects(importLayersModel(dir), (e: unknown) => NasError.is(e, 'E_MODEL_FORMAT') && e.details['file'] === join(dir, 'model.json'));

    await writeFile(join(dir, 'model.json'), JSON.stringify({ format: 'mitosis-network' }));
    await assert.rejects(importLayersModel(dir), (e: unknown) => NasError.is(e, 'E_MODEL_FORMAT') && e.details['pointer'] === '/modelTopology');
  });
});
