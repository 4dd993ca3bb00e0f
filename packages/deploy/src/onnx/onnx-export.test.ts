import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { NasError, SeededRandom, type Dataset, type NetworkSpec, type WeightMap } from '@mitosis/core';
import { channelStats, loadEmbeddedMnist, normalise, syntheticImages, toy1d } from '@mitosis/data';
import { forward, NetworkModel, tf, useBackend } from '@mitosis/engine';
import { listSearchSpaces, loadSearchSpace, searchSpaceDirectories } from '@mitosis/growth';
import { initWeights, parseNetworkSpec } from '@mitosis/ir';
import { exportOnnx, type OnnxExportOptions } from './onnx-export.js';
import { onnx } from './onnx-graph.js';
import { readOnnxModelInfo, type InputNormalisation } from './onnx-model-info.js';

await useBackend('cpu');

/** The project's initialiser, then random batch-norm statistics and biases so that neither is the identity. */
function realisticWeights(spec: NetworkSpec, seed: number): WeightMap {
  const rng = new SeededRandom(seed + 1000);
  const out: WeightMap = new Map();
  for (const [key, w] of initWeights(spec, seed)) {
    const param = key.slice(key.lastIndexOf('/') + 1);
    const r = (): number => rng.next();
    const make: Record<string, () => number> = {
      gamma: () => 0.5 + r(),
      beta: () => 0.4 * (r() - 0.5),
      movingMean: () => 0.4 * (r() - 0.5),
      movingVariance: () => 0.5 + r(),
      bias: () => 0.2 * (r() - 0.5),
    };
    const f = make[param];
    out.set(key, f === undefined ? w : { shape: w.shape, data: new Float32Array(w.data.length).map(f) });
  }
  return out;
}

/**
 * Sets every batch norm's moving statistics to the statistics of the batch `x` produces there (one training-mode
 * pass with momentum 0), as training would leave them: activations stay O(1) through deep random networks, as in a
 * trained one, instead of growing layer by layer. γ and β stay random.
 */
function calibrateBatchNorm(spec: NetworkSpec, weights: WeightMap, x: Float32Array, shape: readonly number[]): WeightMap {
  const still = { ...spec, nodes: spec.nodes.map((n) => (n.op === 'batchNorm' ? { ...n, momentum: 0 } : n)) };
  const model = new NetworkModel(still, weights);
  try {
    const n = x.length / shape.reduce((a, b) => a * b, 1);
    tf.tidy(() => {
      forward(model, tf.tensor(x, [n, ...shape]), { training: true, updateMovingStats: true });
    });
    return model.toWeightMap();
  } finally {
    model.dispose();
  }
}

function tfjsOutputs(spec: NetworkSpec, weights: WeightMap, x: Float32Array, shape: readonly number[]): Float32Array {
  const model = new NetworkModel(spec, weights);
  try {
    const n = x.length / shape.reduce((a, b) => a * b, 1);
    const y = tf.tidy(() => forward(model, tf.tensor(x, [n, ...shape]), { training: false }));
    const data = y.dataSync() as Float32Array;
    y.dispose();
    return Float32Array.from(data);
  } finally {
    model.dispose();
  }
}

async function ortOutputs(bytes: Uint8Array, x: Float32Array, dims: readonly number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const result = await session.run({ input: new ort.Tensor('float32', x, [...dims]) });
    return Float32Array.from(result['output']?.data as Float32Array);
  } finally {
    await session.release();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length, 'output sizes differ');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

function maxAbs(a: Float32Array): number {
  return a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
}

function opTypes(bytes: Uint8Array): string[] {
  return (onnx.ModelProto.decode(bytes).graph?.node ?? []).map((n) => n.opType ?? '');
}

/** `count` samples of `shape` that look like what the space trains on: real digits, CIFAR-like images, toy-1d points. */
function samplesFor(dataset: string, shape: readonly number[], count: number): Dataset {
  const size = shape.reduce((a, b) => a * b, 1);
  let ds: Dataset;
  if ((dataset === 'mnist' || dataset === 'fashion-mnist') && size === 784) ds = loadEmbeddedMnist();
  else if (dataset === 'toy-1d') ds = toy1d();
  else if (shape.length === 3) {
    const [height, width, channels] = shape as [number, number, number];
    ds = syntheticImages({ seed: 3, count, height, width, channels, classes: 10 });
  }
  else {
    const rng = new SeededRandom(9);
    ds = { name: 'random', task: 'classification', inputShape: [...shape], targetSize: 2, count, x: new Float32Array(count * size).map(() => rng.normal()), y: new Float32Array(count) };
  }
  // Spread the samples over the set (MNIST is stored class by class).
  const n = Math.min(count, ds.count);
  const x = new Float32Array(n * size);
  for (let i = 0; i < n; i++) {
    const from = Math.floor((i * ds.count) / n);
    x.set(ds.x.subarray(from * size, (from + 1) * size), i * size);
  }
  return { ...ds, count: n, x, y: ds.y.slice(0, n), inputShape: [...shape] };
}

/**
 * A shipped space's seed network and data: read from its document when it lists the seed (so a schema change
 * elsewhere cannot hide an export bug), compiled by the search-space loader when it is a cell space.
 */
function spaceSeed(id: string): { seed: NetworkSpec; dataset: string; normalised: boolean } {
  const file = searchSpaceDirectories().map((d) => join(d, `${id}.json`)).find((f) => existsSync(f));
  const doc = JSON.parse(readFileSync(file as string, 'utf8')) as { seed?: unknown; data: { dataset: string; normalise?: boolean } };
  if (doc.seed !== undefined) return { seed: parseNetworkSpec(doc.seed, `${id}#/seed`), dataset: doc.data.dataset, normalised: doc.data.normalise === true };
  const { space } = loadSearchSpace(id);
  return { seed: space.seed, dataset: space.data.dataset, normalised: space.data.normalise };
}

const TOLERANCE = 1e-4;
const SAMPLES = 6;

/** Every shipped space's seed: exported with BN kept and folded, normalisation folded where the space normalises. */
describe('exportOnnx on every shipped search space seed (ONNX Runtime vs TF.js)', () => {
  const ids = listSearchSpaces();
  it('ships the spaces the issue names', () => {
    for (const id of ['convnet-mnist', 'mlp-mnist', 'mobilenetv1-cifar', 'mobilenetv2-cifar', 'refnet-32', 'toy-1d']) assert.ok(ids.includes(id), id);
  });
  for (const id of ids) {
    it(`${id}: outputs match to ${TOLERANCE}`, async (t) => {
      const { seed: spec, dataset, normalised } = spaceSeed(id);
      const input = spec.nodes.find((n) => n.op === 'input');
      assert.ok(input?.op === 'input');
      const raw = samplesFor(dataset, input.shape, SAMPLES);
      const stats: InputNormalisation | null = normalised ? channelStats(raw) : null;
      const fed = stats === null ? raw : normalise(raw, stats);
      const weights = calibrateBatchNorm(spec, realisticWeights(spec, 7), fed.x, input.shape);
      const expected = tfjsOutputs(spec, weights, fed.x, input.shape);
      const diffs: string[] = [];
      for (const foldBatchNorm of [false, true]) {
        const options: OnnxExportOptions = { foldBatchNorm, normalisation: stats, task: dataset === 'toy-1d' ? 'regression' : 'classification' };
        const { bytes, info } = exportOnnx(spec, weights, options);
        const actual = await ortOutputs(bytes, raw.x, [raw.count, ...info.onnxInputShape]);
        const diff = maxAbsDiff(actual, expected);
        diffs.push(`BN ${foldBatchNorm ? 'folded' : 'kept'} ${diff.toExponential(2)}`);
        assert.ok(diff <= TOLERANCE, `${id} (BN ${foldBatchNorm ? 'folded' : 'kept'}): max |ORT − TF.js| = ${diff} (outputs up to ${maxAbs(expected)})`);
        const ops = opTypes(bytes);
        const bns = spec.nodes.filter((n) => n.op === 'batchNorm').length;
        if (foldBatchNorm) assert.equal(ops.filter((o) => o === 'BatchNormalization').length, 0, `${id}: every seed batch norm follows a conv or dense`);
        else assert.equal(ops.filter((o) => o === 'BatchNormalization').length, bns);
      }
      t.diagnostic(`${id}: max |ORT − TF.js| ${diffs.join(', ')}; |output| ≤ ${maxAbs(expected).toPrecision(3)}`);
    });
  }
});

/** Every op and activation of the IR, TF `same` padding with odd sizes and strides, and unfoldable batch norms. */
function everyOpSpec(): NetworkSpec {
  return parseNetworkSpec(
    {
      format: 'mitosis-network',
      version: 1,
      name: 'every-op',
      nodes: [
        { name: 'input', op: 'input', shape: [9, 7, 3] },
        { name: 'bn_in', op: 'batchNorm', inputs: ['input'], epsilon: 1e-3, momentum: 0.9 },
        { name: 'c1', op: 'conv2d', inputs: ['bn_in'], filters: 5, kernelSize: [3, 2], strides: [2, 2], padding: 'same', useBias: true },
        { name: 'bn1', op: 'batchNorm', inputs: ['c1'], epsilon: 1e-3, momentum: 0.9 },
        { name: 'a1', op: 'activation', inputs: ['bn1'], activation: 'relu' },
        { name: 'dw', op: 'depthwiseConv2d', inputs: ['a1'], kernelSize: [3, 3], strides: [2, 1], padding: 'same', useBias: false },
        { name: 'bn_dw', op: 'batchNorm', inputs: ['dw'], epsilon: 1e-5, momentum: 0.9 },
        { name: 'a2', op: 'activation', inputs: ['bn_dw'], activation: 'relu6' },
        { name: 'c2', op: 'conv2d', inputs: ['a1'], filters: 5, kernelSize: [1, 1], strides: [2, 1], padding: 'valid', useBias: true },
        { name: 'a3', op: 'activation', inputs: ['c2'], activation: 'gaussian' },
        { name: 'c3', op: 'conv2d', inputs: ['a1'], filters: 5, kernelSize: [2, 2], strides: [2, 1], padding: 'same', useBias: false },
        { name: 'a4', op: 'activation', inputs: ['c3'], activation: 'swish' },
        { name: 'sum', op: 'add', inputs: ['a2', 'a3', 'a4'] },
        { name: 'bn_sum', op: 'batchNorm', inputs: ['sum'], epsilon: 1e-3, momentum: 0.9 },
        { name: 'mp', op: 'maxPool', inputs: ['bn_sum'], poolSize: [3, 3], strides: [2, 2], padding: 'same' },
        { name: 'ap', op: 'avgPool', inputs: ['bn_sum'], poolSize: [2, 3], strides: [2, 2], padding: 'same' },
        { name: 'a5', op: 'activation', inputs: ['ap'], activation: 'sigmoid' },
        { name: 'cat', op: 'concat', inputs: ['mp', 'a5'] },
        { name: 'ap2', op: 'avgPool', inputs: ['bn_sum'], poolSize: [2, 2], strides: [1, 1], padding: 'valid' },
        { name: 'gap', op: 'globalAvgPool', inputs: ['ap2'] },
        { name: 'flat', op: 'flatten', inputs: ['cat'] },
        { name: 'drop', op: 'dropout', inputs: ['flat'], rate: 0.3 },
        { name: 'd1', op: 'dense', inputs: ['drop'], units: 7, useBias: true },
        { name: 'bn_d1', op: 'batchNorm', inputs: ['d1'], epsilon: 1e-3, momentum: 0.9 },
        { name: 'a6', op: 'activation', inputs: ['bn_d1'], activation: 'softplus' },
        { name: 'd2', op: 'dense', inputs: ['gap'], units: 7, useBias: false },
        { name: 'a7', op: 'activation', inputs: ['d2'], activation: 'tanh' },
        { name: 'both', op: 'concat', inputs: ['a6', 'a7'] },
        { name: 'output', op: 'dense', inputs: ['both'], units: 4, useBias: true },
        { name: 'a8', op: 'activation', inputs: ['output'], activation: 'identity' },
      ],
      output: 'a8',
    },
    'every-op',
  );
}

/** A fully convolutional network whose output is an image (checks the NHWC output transpose). */
function featureMapSpec(): NetworkSpec {
  return parseNetworkSpec(
    {
      format: 'mitosis-network',
      version: 1,
      nodes: [
        { name: 'x', op: 'input', shape: [6, 5, 2] },
        { name: 'c', op: 'conv2d', inputs: ['x'], filters: 3, kernelSize: [3, 3], strides: [1, 1], padding: 'same', useBias: true },
        { name: 'bn', op: 'batchNorm', inputs: ['c'], epsilon: 1e-3, momentum: 0.9 },
      ],
      output: 'bn',
    },
    'feature-map',
  );
}

function randomInputs(shape: readonly number[], count: number, seed: number): Float32Array {
  const rng = new SeededRandom(seed);
  return new Float32Array(count * shape.reduce((a, b) => a * b, 1)).map(() => rng.normal());
}

describe('exportOnnx on every op of the IR', () => {
  const spec = everyOpSpec();
  const weights = realisticWeights(spec, 11);
  const x = randomInputs([9, 7, 3], 5, 4);
  const expected = tfjsOutputs(spec, weights, x, [9, 7, 3]);

  it('matches TF.js with batch norms kept, folded (where foldable) and with an NCHW input', async () => {
    const kept = exportOnnx(spec, weights);
    assert.ok(maxAbsDiff(await ortOutputs(kept.bytes, x, [5, 9, 7, 3]), expected) <= TOLERANCE);
    assert.equal(kept.info.batchNorm, 'kept');
    const folded = exportOnnx(spec, weights, { foldBatchNorm: true });
    assert.ok(maxAbsDiff(await ortOutputs(folded.bytes, x, [5, 9, 7, 3]), expected) <= TOLERANCE);
    // bn1, bn_dw and bn_d1 fold; bn_in (on the input) and bn_sum (after an add) cannot.
    assert.equal(opTypes(folded.bytes).filter((o) => o === 'BatchNormalization').length, 2);
    assert.equal(folded.info.batchNorm, 'partly-folded');
    const nchw = exportOnnx(spec, weights, { inputLayout: 'nchw' });
    assert.deepEqual(nchw.info.onnxInputShape, [3, 9, 7]);
    const xT = new Float32Array(x.length);
    for (let b = 0; b < 5; b++) for (let h = 0; h < 9; h++) for (let w = 0; w < 7; w++) for (let c = 0; c < 3; c++) xT[((b * 3 + c) * 9 + h) * 7 + w] = x[((b * 9 + h) * 7 + w) * 3 + c] as number;
    assert.ok(maxAbsDiff(await ortOutputs(nchw.bytes, xT, [5, 3, 9, 7]), expected) <= TOLERANCE);
    assert.ok(!opTypes(nchw.bytes).slice(0, 2).includes('Transpose'), 'an NCHW input needs no transpose');
  });

  it('keeps the graph to standard ops of the default domain and names the mitosis nodes', () => {
    const { bytes } = exportOnnx(spec, weights);
    const model = onnx.ModelProto.decode(bytes);
    assert.equal(Number(model.irVersion), 8);
    assert.deepEqual(model.opsetImport.map((o) => [o.domain, Number(o.version)]), [['', 17]]);
    assert.equal(model.producerName, 'mitosis');
    const names = new Set(model.graph?.node?.map((n) => n.name));
    for (const n of ['c1', 'dw', 'sum', 'mp', 'cat', 'flat', 'd1']) assert.ok(names.has(n), n);
    // The node called "output" must not clash with the graph output.
    assert.ok(names.has('output_1'));
    assert.deepEqual(new Set(opTypes(bytes)), new Set(['BatchNormalization', 'Transpose', 'Conv', 'Relu', 'Clip', 'Mul', 'Exp', 'Sigmoid', 'Sum', 'MaxPool', 'AveragePool', 'Concat', 'GlobalAveragePool', 'Flatten', 'Gemm', 'Softplus', 'Tanh', 'Identity']));
  });

  it('returns an image output in NHWC, as TF.js does', async () => {
    const fm = featureMapSpec();
    const w = realisticWeights(fm, 2);
    const xi = randomInputs([6, 5, 2], 2, 8);
    const want = tfjsOutputs(fm, w, xi, [6, 5, 2]);
    for (const foldBatchNorm of [false, true]) {
      const { bytes, info } = exportOnnx(fm, w, { foldBatchNorm });
      assert.deepEqual(info.outputShape, [6, 5, 3]);
      assert.ok(maxAbsDiff(await ortOutputs(bytes, xi, [2, 6, 5, 2]), want) <= TOLERANCE);
    }
    // The output node itself cannot absorb its batch norm's producer: here the BN is the output and folds.
    assert.equal(exportOnnx(fm, w, { foldBatchNorm: true }).info.batchNorm, 'folded');
  });

  it('handles a sequence input ([steps, features]): batch norm on the last axis, concat, flatten', async () => {
    const seq = parseNetworkSpec(
      {
        format: 'mitosis-network',
        version: 1,
        nodes: [
          { name: 's', op: 'input', shape: [5, 4] },
          { name: 'bn', op: 'batchNorm', inputs: ['s'], epsilon: 1e-3, momentum: 0.9 },
          { name: 'a', op: 'activation', inputs: ['bn'], activation: 'swish' },
          { name: 'cat', op: 'concat', inputs: ['a', 's'] },
          { name: 'f', op: 'flatten', inputs: ['cat'] },
          { name: 'd', op: 'dense', inputs: ['f'], units: 3, useBias: true },
        ],
        output: 'd',
      },
      'sequence',
    );
    const w = realisticWeights(seq, 3);
    const xs = randomInputs([5, 4], 3, 12);
    const want = tfjsOutputs(seq, w, xs, [5, 4]);
    for (const foldBatchNorm of [false, true]) {
      // Raw inputs whose per-feature mean the folded normalisation removes again.
      const { bytes, info } = exportOnnx(seq, w, { foldBatchNorm, normalisation: { mean: [0, 1, 2, 3], std: [1, 1, 1, 1] } });
      assert.equal(info.inputLayout, 'NC');
      assert.ok(maxAbsDiff(await ortOutputs(bytes, xs.map((v, i) => v + (i % 4)), [3, 5, 4]), want) <= TOLERANCE);
    }
  });

  it('appends a softmax on request and records it', async () => {
    const { bytes, info } = exportOnnx(spec, weights, { softmax: true, labels: ['a', 'b', 'c', 'd'] });
    assert.equal(info.outputKind, 'probabilities');
    const probs = await ortOutputs(bytes, x, [5, 9, 7, 3]);
    for (let b = 0; b < 5; b++) {
      const logits = expected.subarray(4 * b, 4 * b + 4);
      const m = Math.max(...logits);
      const z = logits.reduce((s, v) => s + Math.exp(v - m), 0);
      for (let k = 0; k < 4; k++) assert.ok(Math.abs((probs[4 * b + k] as number) - Math.exp((logits[k] as number) - m) / z) <= 1e-6);
    }
    const read = readOnnxModelInfo(bytes, 'softmax.onnx');
    assert.equal(read.outputKind, 'probabilities');
    assert.deepEqual(read.labels, ['a', 'b', 'c', 'd']);
    assert.throws(() => exportOnnx(spec, weights, { softmax: true, task: 'regression' }), (e: unknown) => NasError.is(e, 'E_USAGE'));
  });

  it('folds the input normalisation into the graph, or records it for the caller', async () => {
    const stats = { mean: [0.5, -0.25, 2], std: [2, 0.5, 1e-9] };
    const normalised = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const c = i % 3;
      const s = stats.std[c] as number;
      normalised[i] = ((x[i] as number) - (stats.mean[c] as number)) / (s < 1e-8 ? 1 : s);
    }
    const want = tfjsOutputs(spec, weights, normalised, [9, 7, 3]);
    for (const inputLayout of ['nhwc', 'nchw'] as const) {
      const folded = exportOnnx(spec, weights, { normalisation: stats, inputLayout });
      let fed = x;
      if (inputLayout === 'nchw') {
        fed = new Float32Array(x.length);
        for (let b = 0; b < 5; b++) for (let h = 0; h < 9; h++) for (let w = 0; w < 7; w++) for (let c = 0; c < 3; c++) fed[((b * 3 + c) * 9 + h) * 7 + w] = x[((b * 9 + h) * 7 + w) * 3 + c] as number;
      }
      const dims = inputLayout === 'nchw' ? [5, 3, 9, 7] : [5, 9, 7, 3];
      assert.ok(maxAbsDiff(await ortOutputs(folded.bytes, fed, dims), want) <= TOLERANCE, inputLayout);
    }
    const recorded = exportOnnx(spec, weights, { normalisation: stats, foldNormalisation: false });
    assert.ok(maxAbsDiff(await ortOutputs(recorded.bytes, normalised, [5, 9, 7, 3]), want) <= TOLERANCE);
    const info = readOnnxModelInfo(recorded.bytes, 'recorded.onnx');
    assert.deepEqual(info.normalisation, { ...stats, folded: false });
    assert.equal(readOnnxModelInfo(exportOnnx(spec, weights, { normalisation: stats }).bytes, 'f.onnx').normalisation?.folded, true);
    assert.throws(
      () => exportOnnx(spec, weights, { normalisation: { mean: [0], std: [1] } }),
      (e: unknown) => NasError.is(e, 'E_SHAPE_MISMATCH') && /3 channels/.test(e.message),
    );
  });

  it('reads back what it wrote: layout, shapes, output kind, batch norm', () => {
    const { bytes, info } = exportOnnx(spec, weights, { foldBatchNorm: true, metadata: { 'mitosis.run': 'runs/x' } });
    const read = readOnnxModelInfo(bytes, 'every-op.onnx');
    assert.deepEqual(read, info);
    assert.equal(read.inputLayout, 'NHWC');
    assert.deepEqual(read.sampleShape, [9, 7, 3]);
    const meta = new Map(onnx.ModelProto.decode(bytes).metadataProps.map((p) => [p.key, p.value]));
    assert.equal(meta.get('mitosis.run'), 'runs/x');
    assert.match(onnx.ModelProto.decode(bytes).docString ?? '', /Input "input" \[batch, 9, 7, 3\] \(NHWC/);
  });

  it('refuses weights that do not fit the spec and bytes that are not ONNX', () => {
    const broken: WeightMap = new Map(weights);
    broken.delete('c1/kernel');
    assert.throws(() => exportOnnx(spec, broken), (e: unknown) => NasError.is(e, 'E_MODEL_FORMAT') && /c1\/kernel/.test(e.message));
    assert.throws(() => readOnnxModelInfo(new TextEncoder().encode('{"modelTopology": {}}'), 'model.json'), (e: unknown) => NasError.is(e, 'E_MODEL_FORMAT') && /model\.json/.test(e.message));
  });
});
