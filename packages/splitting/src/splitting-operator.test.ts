import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { NasError, type Dataset, type NetworkNode, type NetworkSpec, type WeightMap } from '@mitosis/core';
import { NetworkModel, tf } from '@mitosis/engine';
import { initWeights, tinyMobileNetSpec } from '@mitosis/ir';
import { symmetricExtremeEigen } from '@mitosis/linalg';
import { createSplittingOperator } from './splitting-operator.js';
import { useCpuBackend } from './test-backend.js';
import { branching, chainSetup, checkDNet, oneNeuronNet, regression } from './test-networks.js';

before(useCpuBackend);

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]} (tol ${tol})`);
  }
}

async function withModel<T>(spec: NetworkSpec, weights: WeightMap, f: (m: NetworkModel) => Promise<T>): Promise<T> {
  const model = new NetworkModel(spec, weights);
  try {
    return await f(model);
  } finally {
    model.dispose();
  }
}

test('check A: tanh neuron, one point: rank-1 S, λ = (−0.97438, 0), v_min = (1,1)/√2', async () => {
  const { spec, weights } = oneNeuronNet('tanh', 1, [1], 0);
  await withModel(spec, weights, async (model) => {
    const op = createSplittingOperator(model, regression('a', [1], [1], [0]), { loss: 'mse' });
    assert.deepEqual(op.blocks, [{ name: 'h', neurons: 1, dim: 2 }]);
    const s = await op.matrices(0);
    const k = -0.487191787999783;
    close(s, [k, k, k, k], 1e-6, 'S');
    const eig = symmetricExtremeEigen(s, 2);
    close(eig.values, [-0.974383575999566, 0], 2e-6, 'λ');
    assert.ok(Math.abs(Math.abs(eig.vMin[0]! + eig.vMin[1]!) / Math.SQRT2 - 1) < 1e-6);
  });
});

test('check B: sigmoid neuron, three points: full-rank S and its eigenpairs', async () => {
  const { spec, weights } = oneNeuronNet('sigmoid', 1.5, [2], -1);
  await withModel(spec, weights, async (model) => {
    const data = regression('b', [1], [-1, 0.5, 2], [0.2, 0.9, 0.1]);
    const op = createSplittingOperator(model, data, { loss: 'mse', batchSize: 2 });
    assert.equal(op.batchCount, 2);
    const s = await op.matrices(0);
    close(s, [-0.111313121639607, -0.051704558083801, -0.051704558083801, -0.029804281777903], 1e-6, 'S');
    const eig = symmetricExtremeEigen(s, 2);
    close(eig.values, [-0.136393981540631, -0.00472342187688], 1e-6, 'λ');
    const sign = Math.sign(eig.vMin[0]!);
    close([sign * eig.vMin[0]!, sign * eig.vMin[1]!], [0.899732231521836, 0.436442334748518], 1e-5, 'v_min');
    // S·v from the augmented backward equals the explicit S times v (whole set and per batch).
    const v = Float64Array.from([0.6, -0.8]);
    const [sv] = await op.multiply([v]);
    close(sv!, [s[0]! * 0.6 - s[1]! * 0.8, s[2]! * 0.6 - s[3]! * 0.8], 1e-6, 'S·v');
    const [b0] = await op.multiply([v], 0);
    const [b1] = await op.multiply([v], 1);
    close(sv!, [(2 * b0![0]! + b1![0]!) / 3, (2 * b0![1]! + b1![1]!) / 3], 1e-6, 'batch-weighted mean');
  });
});

test('check C: the 1-neuron fit of the staircase has S = diag(0.018042, −0.0084441); the split escapes', async () => {
  const xs: number[] = [];
  for (let i = 0; i <= 12; i++) xs.push(-3 + 0.5 * i);
  const ys = xs.map((x) => Math.tanh(3 * x + 1.5) + Math.tanh(3 * x - 1.5));
  const a = 2.0458627172145643;
  const wStar = 1.2559094689961452;
  const { spec, weights } = oneNeuronNet('tanh', a, [wStar], 0);
  await withModel(spec, weights, async (model) => {
    const op = createSplittingOperator(model, regression('c', [1], xs, ys), { loss: 'mse', batchSize: 5 });
    const s = await op.matrices(0);
    close(s, [0.0180423012867146, 0, 0, -0.00844410516864753], 2e-7, 'S');
    // Exact float64 loss change of the split θ ± ε e_b (halved outgoing weights) against ε²/2·λ_min.
    const loss = (f: (x: number) => number): number => xs.reduce((acc, x, i) => acc + 0.5 * (f(x) - ys[i]!) ** 2, 0) / xs.length;
    const eps = 1e-3;
    const l0 = loss((x) => a * Math.tanh(wStar * x));
    const l1 = loss((x) => 0.5 * a * (Math.tanh(wStar * x + eps) + Math.tanh(wStar * x - eps)));
    const ratio = (l1 - l0) / ((eps * eps) / 2 * s[3]!);
    assert.ok(Math.abs(ratio - 0.99998223) < 1e-4, `ΔL/pred = ${ratio}`);
  });
});

test('check D: conv + eval BN: explicit S, eigenvalues, and the dummy-variable identity S·v', async () => {
  const { spec, weights, data } = checkDNet();
  await withModel(spec, weights, async (model) => {
    const op = createSplittingOperator(model, data, { loss: 'mse', batchSize: 1 });
    const s = await op.matrices(0);
    close(s, [-1.181039352303413, 0.634548698178585, 0.634548698178585, 0.173189424462984], 3e-6, 'S');
    close(symmetricExtremeEigen(s, 2).values, [-1.431899072026518, 0.424049144186089], 3e-6, 'λ');
    const [sv] = await op.multiply([Float64Array.from([0.3, -1.2])]);
    close(sv!, [-1.115770243420577, -0.017462699897219], 2e-6, 'S·v');
  });
});

/** Random data for a network's input node (seeded LCG, values in [−1, 1]). */
function randomData(spec: NetworkSpec, count: number, classes: number, seed: number): Dataset {
  const input = spec.nodes.find((n) => n.op === 'input')!;
  const shape = input.op === 'input' ? [...input.shape] : [];
  const size = shape.reduce((a, b) => a * b, 1);
  let state = seed;
  const next = (): number => ((state = (state * 1664525 + 1013904223) % 4294967296) / 4294967296) * 2 - 1;
  const x = Float32Array.from({ length: count * size }, next);
  const y = Float32Array.from({ length: count }, () => Math.floor((next() + 1) * 0.5 * classes) % classes);
  return { name: 'random', task: 'classification', inputShape: shape, targetSize: classes, count, x, y };
}

/** Perturbs BN statistics away from the identity so that the folded scale matters. */
function perturbBatchNorms(weights: WeightMap): void {
  for (const [key, t] of weights) {
    if (key.endsWith('/movingVariance')) t.data.forEach((_, i) => (t.data[i] = 0.5 + 0.1 * (i % 5)));
    if (key.endsWith('/gamma')) t.data.forEach((_, i) => (t.data[i] = 0.8 + 0.07 * (i % 4)));
    if (key.endsWith('/movingMean')) t.data.forEach((_, i) => (t.data[i] = 0.05 * ((i % 3) - 1)));
  }
}

test('conv (stride 2, same/valid, bias), BN, residual, concat, flatten: S·v = explicit S·v for every block, no leaks', async () => {
  const spec = tinyMobileNetSpec();
  const weights = initWeights(spec, 3);
  perturbBatchNorms(weights);
  const data = randomData(spec, 10, 3, 11);
  await withModel(spec, weights, async (model) => {
    const startTensors = tf.memory().numTensors;
    const op = createSplittingOperator(model, data, { loss: 'ce', batchSize: 4, chunkElements: 5000 });
    assert.ok(op.blocks.length >= 2, `blocks: ${op.blocks.map((b) => b.name).join(', ')}`);
    const vectors = op.blocks.map((b, k) => Float64Array.from({ length: b.neurons * b.dim }, (_, i) => Math.sin(1.3 * i + k)));
    const products = await op.multiply(vectors);
    for (let k = 0; k < op.blocks.length; k++) {
      const { neurons, dim, name } = op.blocks[k]!;
      const s = await op.matrices(k);
      const expected = new Float64Array(neurons * dim);
      let scale = 0;
      for (let j = 0; j < neurons; j++) {
        for (let r = 0; r < dim; r++) {
          let acc = 0;
          for (let c = 0; c < dim; c++) acc += s[j * dim * dim + r * dim + c]! * vectors[k]![j * dim + c]!;
          expected[j * dim + r] = acc;
          scale = Math.max(scale, Math.abs(acc));
        }
      }
      assert.ok(scale > 0, `${name}: S·v is not identically zero`);
      close(products[k]!, expected, 1e-4 * scale, `${name} S·v`);
    }
    assert.ok(op.cacheSize > 0, 'the minibatch data is cached');
    op.dispose();
    assert.equal(op.cacheSize, 0);
    assert.equal(tf.memory().numTensors, startTensors, 'no tensor leaks');
  });
});

test('multiplyMany = one multiply per set; the cache (full, coefficients only, none) does not change S·v', async () => {
  const spec = tinyMobileNetSpec();
  const weights = initWeights(spec, 5);
  perturbBatchNorms(weights);
  const data = randomData(spec, 9, 3, 17);
  await withModel(spec, weights, async (model) => {
    const startTensors = tf.memory().numTensors;
    const reference = createSplittingOperator(model, data, { loss: 'ce', batchSize: 4, cacheBytes: 0 });
    const sets = [0, 1, 2].map((s) => reference.blocks.map((b, k) => Float64Array.from({ length: b.neurons * b.dim }, (_, i) => Math.cos(0.7 * i + k + 3 * s))));
    const expected = await Promise.all(sets.map((set) => reference.multiply(set)));
    const expectedBatch = await Promise.all(sets.map((set) => reference.multiply(set, 2)));
    assert.equal(reference.cacheSize, 0, 'cacheBytes 0 caches nothing');
    const scale = Math.max(...expected.flat().map((a) => Math.max(...a.map(Math.abs))));
    assert.ok(scale > 0);
    // Full cache (im2col rows) and a budget that holds only coefficients and inputs of some minibatches.
    const full = createSplittingOperator(model, data, { loss: 'ce', batchSize: 4 });
    const partial = createSplittingOperator(model, data, { loss: 'ce', batchSize: 4, cacheBytes: 30000 });
    for (const op of [full, partial]) {
      for (let round = 0; round < 2; round++) {
        const many = await op.multiplyMany(sets);
        const manyBatch = await op.multiplyMany(sets, 2);
        sets.forEach((_, s) => {
          op.blocks.forEach((b, k) => {
            close(many[s]![k]!, expected[s]![k]!, 1e-4 * scale, `set ${s} ${b.name} (round ${round})`);
            close(manyBatch[s]![k]!, expectedBatch[s]![k]!, 1e-4 * scale, `set ${s} ${b.name} batch 2`);
          });
        });
      }
    }
    assert.ok(full.cacheSize > partial.cacheSize && partial.cacheSize > 0, `${full.cacheSize} > ${partial.cacheSize} > 0`);
    // Without a cache every full pass recomputes each of the 3 minibatches; with one, the full passes share one
    // merged network pass over all 9 samples and the minibatch products one pass for minibatch 2.
    assert.equal(reference.networkPasses, 3 * 3 + 3);
    assert.equal(full.networkPasses, 2);
    // Zero vectors (retired neurons) are skipped: their products are zero, the others unchanged.
    const holed = sets[0]!.map((v, k) => {
      const c = v.slice();
      c.fill(0, 0, full.blocks[k]!.dim);
      return c;
    });
    const [withHoles] = await full.multiplyMany([holed, sets[1]!.map((v) => new Float64Array(v.length))]);
    full.blocks.forEach((b, k) => {
      const want = expected[0]![k]!.slice();
      want.fill(0, 0, b.dim);
      close(withHoles![k]!, want, 1e-4 * scale, `${b.name} with a zero vector`);
    });
    // The explicit matrices agree across cache states too.
    const m0 = await reference.matrices(0);
    const m1 = await partial.matrices(0);
    close(m1, m0, 1e-5 * Math.max(...m0.map(Math.abs)), 'matrices');
    await assert.rejects(() => full.multiplyMany([]), (e: unknown) => e instanceof NasError && e.code === 'E_OPTIONS_INVALID');
    await assert.rejects(() => full.multiplyMany(sets, 3), (e: unknown) => e instanceof NasError && e.code === 'E_OPTIONS_INVALID');
    assert.throws(() => createSplittingOperator(model, data, { loss: 'ce', cacheBytes: -1 }), (e: unknown) => e instanceof NasError);
    for (const op of [reference, full, partial]) op.dispose();
    assert.equal(tf.memory().numTensors, startTensors, 'no tensor leaks');
  });
});

test('multiplyMany over whole sets keeps repeated coefficient copies in the cache, within the budget', async () => {
  const spec = tinyMobileNetSpec();
  const weights = initWeights(spec, 6);
  perturbBatchNorms(weights);
  const data = randomData(spec, 8, 3, 19);
  await withModel(spec, weights, async (model) => {
    const startTensors = tf.memory().numTensors;
    const cached = createSplittingOperator(model, data, { loss: 'ce', batchSize: 4 });
    const sets = [0, 1].map((s) => cached.blocks.map((b, k) => Float64Array.from({ length: b.neurons * b.dim }, (_, i) => Math.sin(0.9 * i - k + 2 * s))));
    const single = await Promise.all(sets.map((set) => cached.multiply(set)));
    const before = cached.cacheSize;
    const first = await cached.multiplyMany(sets);
    const grown = cached.cacheSize;
    assert.ok(grown > before, `the repeated copies are cached (${before} → ${grown} bytes)`);
    const second = await cached.multiplyMany(sets);
    assert.equal(cached.cacheSize, grown, 'a second call reuses them');
    const scale = Math.max(...single.flat().map((a) => Math.max(...a.map(Math.abs))));
    assert.ok(scale > 0);
    for (const got of [first, second]) {
      got.forEach((set, s) => set.forEach((v, k) => close(v, single[s]![k]!, 1e-5 * scale, `set ${s} block ${k}`)));
    }
    // A budget with no room for the copies: the cache never exceeds it, and the products are the same.
    const tight = createSplittingOperator(model, data, { loss: 'ce', batchSize: 4, cacheBytes: before });
    const third = await tight.multiplyMany(sets);
    assert.ok(tight.cacheSize > 0 && tight.cacheSize <= before, `0 < ${tight.cacheSize} ≤ ${before}`);
    third.forEach((set, s) => set.forEach((v, k) => close(v, single[s]![k]!, 1e-5 * scale, `tight: set ${s} block ${k}`)));
    for (const op of [cached, tight]) op.dispose();
    assert.equal(tf.memory().numTensors, startTensors, 'no tensor leaks');
  });
});

test('the cache is dropped when the model weights are reassigned', async () => {
  const spec = tinyMobileNetSpec();
  const data = randomData(spec, 6, 3, 23);
  await withModel(spec, initWeights(spec, 7), async (model) => {
    const op = createSplittingOperator(model, data, { loss: 'ce', batchSize: 3 });
    const vectors = op.blocks.map((b, k) => Float64Array.from({ length: b.neurons * b.dim }, (_, i) => Math.sin(0.3 * i - k)));
    const before = await op.multiply(vectors);
    const other = initWeights(spec, 8);
    perturbBatchNorms(other);
    model.assign(other);
    const after = await op.multiply(vectors);
    const fresh = createSplittingOperator(model, data, { loss: 'ce', batchSize: 3, cacheBytes: 0 });
    const expected = await fresh.multiply(vectors);
    const scale = Math.max(...expected.map((a) => Math.max(...a.map(Math.abs))));
    op.blocks.forEach((b, k) => close(after[k]!, expected[k]!, 1e-4 * scale, `${b.name} after assign`));
    assert.ok(before.some((a, k) => a.some((x, i) => Math.abs(x - expected[k]![i]!) > 1e-3 * scale)), 'the weights did change S·v');
    op.dispose();
  });
});

test('degenerate inputs: empty data, NaN inputs, bad labels, overflow, identity layers, bad options', async () => {
  const { spec, weights } = oneNeuronNet('tanh', 1, [1], 0);
  await withModel(spec, weights, async (model) => {
    const empty = regression('empty', [1], [], []);
    assert.throws(() => createSplittingOperator(model, empty, { loss: 'mse' }), (e) => NasError.is(e, 'E_DATA_INVALID') && /empty/.test((e as Error).message));
    const nan = regression('nan', [1], [1, Number.NaN], [0, 0]);
    assert.throws(() => createSplittingOperator(model, nan, { loss: 'mse' }), (e) => NasError.is(e, 'E_DATA_INVALID') && /sample 1/.test((e as Error).message));
    assert.throws(() => createSplittingOperator(model, regression('r', [1], [1], [0]), { loss: 'ce' }), (e) => NasError.is(e, 'E_OPTIONS_INVALID'));
    assert.throws(() => createSplittingOperator(model, regression('r', [1], [1], [0]), { loss: 'mse', batchSize: 0 }), (e) => NasError.is(e, 'E_OPTIONS_INVALID'));
    const op = createSplittingOperator(model, regression('r', [1], [1], [0]), { loss: 'mse' });
    await assert.rejects(op.multiply([new Float64Array(3)]), (e) => NasError.is(e, 'E_SHAPE_MISMATCH'));
    await assert.rejects(op.matrices(4), (e) => NasError.is(e, 'E_OPTIONS_INVALID'));
    await assert.rejects(op.multiply([new Float64Array(2)], 7), (e) => NasError.is(e, 'E_OPTIONS_INVALID'));
  });
  // Overflowing weights: the products become NaN and the error names the layer.
  const big = oneNeuronNet('softplus', 1e30, [1e30], 0);
  await withModel(big.spec, big.weights, async (model) => {
    const op = createSplittingOperator(model, regression('r', [1], [1, -1], [0, 1]), { loss: 'mse' });
    await assert.rejects(op.multiply([Float64Array.from([1, 1])]), (e) => NasError.is(e, 'E_NUMERICAL') && /"h"/.test((e as Error).message));
    await assert.rejects(op.matrices(0), (e) => NasError.is(e, 'E_NUMERICAL') && /"h"/.test((e as Error).message));
  });
  // Identity activation: not splittable by default; with includeLinear, exactly zero matrices and products.
  const lin = oneNeuronNet('identity', 0.7, [0.4, -0.2], 0.1);
  await withModel(lin.spec, lin.weights, async (model) => {
    const data = regression('r', [2], [1, 2, -1, 0.5], [0.3, -0.1]);
    assert.equal(createSplittingOperator(model, data, { loss: 'mse' }).blocks.length, 0);
    const op = createSplittingOperator(model, data, { loss: 'mse', includeLinear: true });
    assert.deepEqual(op.blocks, [{ name: 'h', neurons: 1, dim: 3 }]);
    assert.ok((await op.matrices(0)).every((x) => x === 0));
    assert.ok((await op.multiply([Float64Array.from([1, 2, 3])]))[0]!.every((x) => x === 0));
  });
});

test('reluBeta scales the ReLU surrogate curvature; maxSamples limits the data', async () => {
  const { spec, weights } = oneNeuronNet('relu', 1, [1], 0);
  await withModel(spec, weights, async (model) => {
    const data = regression('r', [1], [0, 5], [1, 0]);
    // Only the first sample (z = 0, σ''(0) = β/4, residual −1): S = −β/4 · x̃x̃ᵀ with x̃ = (0, 1).
    for (const beta of [3, 8]) {
      const op = createSplittingOperator(model, data, { loss: 'mse', reluBeta: beta, maxSamples: 1 });
      close(await op.matrices(0), [0, 0, 0, -beta / 4], 1e-6, `β=${beta}`);
    }
  });
});

/** S·v for every block of `spec` (weights and data shared), with the operator's blocks. */
async function productsOf(spec: NetworkSpec, weights: WeightMap, data: Dataset): Promise<{ blocks: unknown; out: Float64Array[] }> {
  return withModel(spec, weights, async (model) => {
    const op = createSplittingOperator(model, data, { loss: 'mse', batchSize: 4 });
    const vectors = op.blocks.map((b, i) => Float64Array.from({ length: b.neurons * b.dim }, (_, k) => Math.sin(1 + k + 7 * i)));
    try {
      return { blocks: op.blocks, out: await op.multiply(vectors) };
    } finally {
      op.dispose();
    }
  });
}

function sameProducts(a: { blocks: unknown; out: Float64Array[] }, b: { blocks: unknown; out: Float64Array[] }): void {
  assert.deepEqual(b.blocks, a.blocks);
  a.out.forEach((v, i) => close(b.out[i]!, v, 1e-6 * Math.max(1, ...Array.from(v, Math.abs)), `block ${i}`));
}

test('a pass-through node beside another reader of the same value, and fused layers listed apart from their activations, leave S·v unchanged', async () => {
  // The pass frees each gradient once the backward is past the node that received it. Two orders that broke an
  // earlier rule (free the previous mark's gradient): a dropout (eval: its input passed through) after another
  // reader of the same value, and batch norms whose fused kernels are recorded away from their activations.
  const conv = (name: string, input: string, filters: number, k: number): NetworkNode => ({ name, op: 'conv2d', inputs: [input], filters, kernelSize: [k, k], strides: [1, 1], padding: 'same', useBias: false });
  const bn = (name: string, input: string): NetworkNode => ({ name, op: 'batchNorm', inputs: [input], epsilon: 1e-3, momentum: 0.9 });
  const act = (name: string, input: string, activation: 'tanh' | 'relu'): NetworkNode => ({ name, op: 'activation', inputs: [input], activation });
  const plain = branching();
  const tail = (nodes: NetworkNode[]): NetworkSpec => ({
    ...plain,
    nodes: [...plain.nodes.filter((n) => !['pool', 'flat', 'flat_bn', 'flat_act', 'out'].includes(n.name)), ...nodes],
  });
  const head = [
    { name: 'merge', op: 'add', inputs: ['j', 'q'] },
    { name: 'gap', op: 'globalAvgPool', inputs: ['merge'] },
    { name: 'out', op: 'dense', inputs: ['gap'], units: 2, useBias: true },
  ] as NetworkNode[];
  const direct = tail([act('j', 'sum_act', 'tanh'), act('q', 'sum_act', 'tanh'), ...head]);
  const dropped = tail([act('j', 'sum_act', 'tanh'), { name: 'drop', op: 'dropout', inputs: ['sum_act'], rate: 0.5 }, act('q', 'drop', 'tanh'), ...head]);
  const setup = chainSetup(direct, 3);
  const before = tf.memory().numTensors;
  sameProducts(await productsOf(direct, setup.weights, setup.data), await productsOf(dropped, setup.weights, setup.data));

  const trunk = [{ name: 'x', op: 'input', shape: [6, 6, 2] }, conv('c0', 'x', 4, 3), bn('c0_bn', 'c0'), act('c0_act', 'c0_bn', 'tanh'), conv('pA', 'c0_act', 4, 1), conv('pB', 'c0_act', 4, 1)] as NetworkNode[];
  const sums = [{ name: 's', op: 'add', inputs: ['pA', 'pB'] }, { name: 't', op: 'add', inputs: ['pB', 'pA'] }] as NetworkNode[];
  const end = [{ name: 'cat', op: 'concat', inputs: ['actA', 'actB'] }, { name: 'gap', op: 'globalAvgPool', inputs: ['cat'] }, { name: 'out', op: 'dense', inputs: ['gap'], units: 2, useBias: true }] as NetworkNode[];
  const spec = (middle: NetworkNode[]): NetworkSpec => ({ format: 'mitosis-network', version: 1, name: 'apart', nodes: [...trunk, ...sums, ...middle, ...end], output: 'out' });
  const together = spec([bn('bA', 's'), act('actA', 'bA', 'relu'), bn('bB', 't'), act('actB', 'bB', 'relu')]);
  const apart = spec([bn('bA', 's'), bn('bB', 't'), act('actA', 'bA', 'relu'), act('actB', 'bB', 'relu')]);
  const fused = chainSetup(together, 4);
  sameProducts(await productsOf(together, fused.weights, fused.data), await productsOf(apart, fused.weights, fused.data));
  assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
});

test('nodes that pass their input through (eval-mode dropout, a one-input add) leave S·v unchanged', async () => {
  // The pass frees each node's incoming gradient once the backward is past that node; a node whose output is its
  // input tensor hands the same gradient on, which must not be freed while it is still arriving.
  const plain = branching();
  const through: NetworkSpec = {
    ...plain,
    nodes: plain.nodes.flatMap((n): NetworkNode[] => {
      // sum_act → drop → pool → one → flat
      if (n.name === 'pool') return [{ name: 'drop', op: 'dropout', inputs: ['sum_act'], rate: 0.5 }, { ...n, inputs: ['drop'] } as NetworkNode, { name: 'one', op: 'add', inputs: ['pool'] }];
      if (n.name === 'flat') return [{ ...n, inputs: ['one'] } as NetworkNode];
      return [n];
    }),
  };
  const { weights, data } = chainSetup(plain, 5);
  const before = tf.memory().numTensors;
  sameProducts(await productsOf(plain, weights, data), await productsOf(through, weights, data));
  assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
});
