import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  NasError,
  SeededRandom,
  type ActivationKind,
  type GrowthPlan,
  type NetworkNode,
  type NetworkSpec,
  type NeuronGrowth,
  type Offspring,
  type WeightMap,
} from '@mitosis/core';
import { applyGrowthPlan, pruneChannels, removeChannels } from './surgery.js';
import { buildChannelGraph, consumerRows, producerGroup } from '../channel/channel-graph.js';
import { referenceForward } from '../reference/reference-forward.js';
import { inferShapes } from '../shape/infer-shapes.js';
import { parseNetworkSpec } from '../spec/parse-network-spec.js';
import { tinyMlpSpec, tinyMobileNetSpec } from '../testing/example-networks.js';
import { getNeuronParams, neuronDim } from '../weights/neuron-params.js';
import { initWeights, validateWeights } from '../weights/weights.js';

const ACTS: ActivationKind[] = ['relu', 'tanh', 'swish', 'gaussian', 'sigmoid', 'softplus', 'relu6'];

/**
 * A random conv net covering conv2d, batchNorm, depthwise, residual add, concat, pools, flatten or
 * globalAvgPool, and a dense head with an optional rank-1 residual.
 */
function randomConvNet(rng: SeededRandom): NetworkSpec {
  const nodes: NetworkNode[] = [];
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)]!;
  const act = () => pick(ACTS);
  const size = 5 + rng.int(3);
  nodes.push({ name: 'x', op: 'input', shape: [size, size, 2] });
  const c = 2 + rng.int(4);
  const convBnAct = (name: string, input: string, filters: number, k: number, stride: number): string => {
    nodes.push({ name, op: 'conv2d', inputs: [input], filters, kernelSize: [k, k], strides: [stride, stride], padding: pick(['same', 'valid'] as const), useBias: rng.next() < 0.5 });
    nodes.push({ name: `${name}_bn`, op: 'batchNorm', inputs: [name], epsilon: 1e-3, momentum: 0.9 });
    nodes.push({ name: `${name}_act`, op: 'activation', inputs: [`${name}_bn`], activation: act() });
    return `${name}_act`;
  };
  let h = convBnAct('c1', 'x', c, 3, 1);
  // depthwise → bn → act → pointwise, residual with c1.
  nodes.push({ name: 'dw', op: 'depthwiseConv2d', inputs: [h], kernelSize: [3, 3], strides: [1, 1], padding: 'same', useBias: rng.next() < 0.5 });
  nodes.push({ name: 'dw_bn', op: 'batchNorm', inputs: ['dw'], epsilon: 1e-3, momentum: 0.9 });
  nodes.push({ name: 'dw_act', op: 'activation', inputs: ['dw_bn'], activation: act() });
  const pw = convBnAct('pw', 'dw_act', c, 1, 1);
  nodes.push({ name: 'res', op: 'add', inputs: [h, pw] });
  h = 'res';
  // Two branches concatenated: a strided conv and a pool of the residual.
  const b1 = convBnAct('b1', h, 2 + rng.int(3), pick([1, 3]), 2);
  nodes.push({ name: 'pool', op: pick(['maxPool', 'avgPool'] as const), inputs: [h], poolSize: [2, 2], strides: [2, 2], padding: 'same' });
  const s = inferShapes({ format: 'mitosis-network', version: 1, nodes, output: b1 });
  const pooled = Math.ceil(s.get(h)![0]! / 2);
  let catIn = ['pool', b1];
  if (s.get(b1)![0] !== pooled) {
    // valid padding shrank the conv branch: pool the conv branch input instead so spatial sizes agree.
    nodes.push({ name: 'pool2', op: 'maxPool', inputs: [h], poolSize: [1, 1], strides: [2, 2], padding: 'same' });
    const b2 = convBnAct('b2', 'pool2', 2 + rng.int(3), 1, 1);
    catIn = [b2, 'pool'];
  }
  nodes.push({ name: 'cat', op: 'concat', inputs: rng.next() < 0.5 ? catIn : [...catIn].reverse() });
  const tail = convBnAct('c3', 'cat', 3 + rng.int(3), 1, 1);
  if (rng.next() < 0.5) nodes.push({ name: 'flat', op: 'flatten', inputs: [tail] });
  else nodes.push({ name: 'flat', op: 'globalAvgPool', inputs: [tail] });
  const u = 3 + rng.int(4);
  nodes.push({ name: 'fc1', op: 'dense', inputs: ['flat'], units: u, useBias: true });
  nodes.push({ name: 'fc1_act', op: 'activation', inputs: ['fc1'], activation: act() });
  nodes.push({ name: 'fc2', op: 'dense', inputs: ['fc1_act'], units: u, useBias: rng.next() < 0.5 });
  nodes.push({ name: 'fc2_bn', op: 'batchNorm', inputs: ['fc2'], epsilon: 1e-3, momentum: 0.9 });
  nodes.push({ name: 'fc2_act', op: 'activation', inputs: ['fc2_bn'], activation: act() });
  nodes.push({ name: 'fcres', op: 'add', inputs: ['fc1_act', 'fc2_act'] });
  nodes.push({ name: 'drop', op: 'dropout', inputs: ['fcres'], rate: 0.2 });
  nodes.push({ name: 'out', op: 'dense', inputs: ['drop'], units: 3, useBias: true });
  return parseNetworkSpec({ format: 'mitosis-network', version: 1, nodes, output: 'out' }, 'random');
}

/** Weights with non-trivial BN statistics and biases. */
function randomWeights(spec: NetworkSpec, seed: number): WeightMap {
  const w = initWeights(spec, seed);
  const rng = new SeededRandom(seed + 1);
  for (const [key, t] of w) {
    if (key.endsWith('/movingVariance')) t.data.forEach((_, i) => (t.data[i] = 0.5 + rng.next()));
    else if (key.endsWith('/gamma')) t.data.forEach((_, i) => (t.data[i] = 0.5 + rng.next()));
    else if (key.endsWith('/beta') || key.endsWith('/movingMean') || key.endsWith('/bias')) {
      t.data.forEach((_, i) => (t.data[i] = 0.3 * rng.normal()));
    }
  }
  return w;
}

function randomInput(spec: NetworkSpec, batch: number, seed: number): Float64Array {
  const rng = new SeededRandom(seed);
  const n = inferShapes(spec).get(spec.nodes.find((x) => x.op === 'input')!.name)!.reduce((a, b) => a * b, 1);
  return Float64Array.from({ length: n * batch }, () => rng.normal());
}

function maxAbsDiff(a: Float64Array, b: Float64Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Offspring weights summing to 1 (some negative), random directions, sometimes a fresh neuron with weight 0. */
function randomPlan(spec: NetworkSpec, rng: SeededRandom, epsilon: number): GrowthPlan {
  const graph = buildChannelGraph(spec);
  const entries: NeuronGrowth[] = [];
  const used = new Set<string>();
  const candidates = [...graph.producers.values()].filter((p) => graph.groups[p.group]!.growable);
  for (let k = 0; k < 6; k++) {
    const p = candidates[rng.int(candidates.length)]!;
    const j = rng.int(p.width);
    if (used.has(`${p.group}:${j}`)) continue;
    used.add(`${p.group}:${j}`);
    const dim = neuronDim(spec, p.node);
    const m = 1 + rng.int(3);
    const ws = Array.from({ length: m - 1 }, () => 2 * rng.normal());
    ws.push(1 - ws.reduce((a, b) => a + b, 0));
    const offspring: Offspring[] = ws.map((weight) => ({ weight, direction: Array.from({ length: dim }, () => rng.normal()) }));
    if (rng.next() < 0.3) offspring.push({ weight: 0, replace: Array.from({ length: dim }, () => rng.normal()) });
    entries.push({ node: p.node, neuron: j, offspring, scheme: 'test', score: 0, predictedDeltaLoss: null, cost: null });
  }
  return { action: 'grow', method: 'test', round: 0, epsilon, entries, predictedDeltaLoss: null };
}

describe('applyGrowthPlan', () => {
  it('preserves the function at ε = 0 on random networks (dense, conv, depthwise, BN, add, concat)', () => {
    let checked = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const rng = new SeededRandom(seed * 7919);
      const spec = seed === 1 ? tinyMobileNetSpec() : seed === 2 ? tinyMlpSpec() : randomConvNet(rng);
      const weights = randomWeights(spec, seed);
      const snapshot = new Map([...weights].map(([k, t]) => [k, t.data.slice()]));
      const plan = randomPlan(spec, rng, 0);
      const grown = applyGrowthPlan(spec, weights, plan);
      validateWeights(grown.spec, grown.weights, `grown-${seed}`);
      const x = randomInput(spec, 3, seed);
      const diff = maxAbsDiff(referenceForward(spec, weights, x, 3), referenceForward(grown.spec, grown.weights, x, 3));
      assert.ok(diff <= 1e-6, `seed ${seed}: max |Δ| = ${diff}`);
      // Inputs untouched.
      for (const [k, t] of weights) assert.deepEqual(t.data, snapshot.get(k));
      const added = plan.entries.reduce((a, e) => a + e.offspring.length - 1, 0);
      if (added > 0) checked++;
    }
    assert.ok(checked >= 8);
  });

  it('changes the function at ε > 0 and places offspring 0 in the slot, the others at the end', () => {
    const spec = tinyMobileNetSpec();
    const weights = randomWeights(spec, 5);
    const dim = neuronDim(spec, 'pw1');
    const dir = Array.from({ length: dim }, (_, i) => (i % 3) - 1);
    const plan: GrowthPlan = {
      action: 'grow', method: 't',
      round: 1,
      epsilon: 0.1,
      predictedDeltaLoss: null,
      entries: [
        { node: 'pw1', neuron: 2, scheme: 's2d', score: -1, predictedDeltaLoss: null, cost: null, offspring: [{ weight: 0.5, direction: dir }, { weight: 0.5, direction: dir.map((v) => -v) }] },
        { node: 'pw2', neuron: 0, scheme: 's2d', score: -1, predictedDeltaLoss: null, cost: null, offspring: [{ weight: -0.5 }, { weight: 1.5 }, { weight: 0 }] },
      ],
    };
    const grown = applyGrowthPlan(spec, weights, plan);
    const theta = getNeuronParams(spec, weights, 'pw1', 2);
    const slot = getNeuronParams(grown.spec, grown.weights, 'pw1', 2);
    const last = getNeuronParams(grown.spec, grown.weights, 'pw1', 8);
    // pw1 reads its own (residual-tied) group through dw1, so its input grows too: input channel 2 is
    // scaled by w = 0.5 and its copy appended as input 8.
    assert.equal(slot.length, dim + 1);
    const expected = (sign: number, i: number): number => {
      const src = i === 8 ? 2 : i;
      return (theta[src]! + sign * 0.1 * dir[src]!) * (src === 2 ? 0.5 : 1);
    };
    for (let i = 0; i < 9; i++) {
      assert.ok(Math.abs(slot[i]! - expected(1, i)) < 1e-6, `slot ${i}`);
      assert.ok(Math.abs(last[i]! - expected(-1, i)) < 1e-6, `last ${i}`);
    }
    // The tied producer conv1 duplicates channel 2 unchanged.
    assert.deepEqual(getNeuronParams(grown.spec, grown.weights, 'conv1', 8), getNeuronParams(spec, weights, 'conv1', 2));
    assert.equal(grown.weights.get('bn1/movingVariance')!.data[8], weights.get('bn1/movingVariance')!.data[2]);
    assert.deepEqual(inferShapes(grown.spec).get('cat'), [4, 4, 17]);
    const x = randomInput(spec, 2, 9);
    assert.ok(maxAbsDiff(referenceForward(spec, weights, x, 2), referenceForward(grown.spec, grown.weights, x, 2)) > 1e-4);
  });

  it('remaps a same-round consumer split like its weights (equal to splitting the consumer first)', () => {
    const mlp = tinyMlpSpec();
    const deeper = parseNetworkSpec(
      {
        ...mlp,
        nodes: [
          ...mlp.nodes.slice(0, 3),
          { name: 'h2', op: 'dense', inputs: ['a1'], units: 5, useBias: false },
          { name: 'a2', op: 'activation', inputs: ['h2'], activation: 'swish' },
          { name: 'out', op: 'dense', inputs: ['a2'], units: 3, useBias: true },
        ],
      },
      'deeper-mlp',
    );
    for (const spec of [deeper, tinyMobileNetSpec()]) {
      const weights = randomWeights(spec, 11);
      const rng = new SeededRandom(3);
      const [producer, consumer] = spec.name === 'tiny-mlp' ? ['h1', 'h2'] : ['conv1', 'fc'];
      const dim = neuronDim(spec, consumer);
      const dir = Array.from({ length: dim }, () => rng.normal());
      const rep = Array.from({ length: dim }, () => rng.normal());
      const consumerEntry: NeuronGrowth = {
        node: consumer, neuron: 1, scheme: 't', score: 0, predictedDeltaLoss: null, cost: null,
        offspring: [{ weight: 0.7, direction: dir }, { weight: 0.3, direction: dir.map((v) => -2 * v) }, { weight: 0, replace: rep }],
      };
      const producerEntry: NeuronGrowth = {
        node: producer, neuron: 3, scheme: 't', score: 0, predictedDeltaLoss: null, cost: null,
        offspring: [{ weight: -0.25 }, { weight: 1.25 }],
      };
      const plan = (entries: NeuronGrowth[], epsilon: number): GrowthPlan => ({ action: 'grow', method: 't', round: 0, epsilon, entries, predictedDeltaLoss: null });
      const together = applyGrowthPlan(spec, weights, plan([producerEntry, consumerEntry], 0.05));
      const first = applyGrowthPlan(spec, weights, plan([consumerEntry], 0.05));
      const second = applyGrowthPlan(first.spec, first.weights, plan([producerEntry], 0));
      assert.deepEqual(together.spec, second.spec);
      for (const [k, t] of together.weights) {
        const o = second.weights.get(k)!;
        assert.deepEqual(t.shape, o.shape, k);
        for (let i = 0; i < t.data.length; i++) assert.ok(Math.abs(t.data[i]! - o.data[i]!) < 1e-6, `${k}[${i}]`);
      }
    }
  });

  it('rejects invalid entries with E_PLAN_INVALID naming the entry', () => {
    const spec = tinyMobileNetSpec();
    const weights = initWeights(spec, 1);
    const entry = (node: string, neuron: number, offspring: Offspring[] = [{ weight: 0.5 }, { weight: 0.5 }]): NeuronGrowth => ({
      node, neuron, offspring, scheme: 't', score: 0, predictedDeltaLoss: null, cost: null,
    });
    const cases: [NeuronGrowth[], RegExp][] = [
      [[entry('out', 0)], /network output/],
      [[entry('bn1', 0)], /not a dense or conv2d/],
      [[entry('pw1', 8)], /out of range/],
      [[entry('pw1', 1), entry('conv1', 1)], /already grown by plan entry 0 \(tied producers: conv1, pw1\)/],
      [[entry('pw2', 0, [{ weight: 1, direction: [1, 2] }])], /direction of length 2, θ has 9/],
      [[entry('pw2', 0, [])], /no offspring/],
    ];
    for (const [entries, text] of cases) {
      assert.throws(
        () => applyGrowthPlan(spec, weights, { action: 'grow', method: 't', round: 0, epsilon: 0, entries, predictedDeltaLoss: null }),
        (e: unknown) => NasError.is(e, 'E_PLAN_INVALID') && text.test(e.message) && typeof e.details['entry'] === 'number',
      );
    }
  });
});

describe('removeChannels', () => {
  it('keeps shapes consistent and removes tied channels, per-channel params and consumer rows', () => {
    const spec = tinyMobileNetSpec();
    const weights = randomWeights(spec, 2);
    const pruned = removeChannels(spec, weights, 'pw1', [0, 5]);
    validateWeights(pruned.spec, pruned.weights, 'pruned');
    const s = inferShapes(pruned.spec);
    assert.deepEqual(s.get('conv1'), [8, 8, 6]);
    assert.deepEqual(s.get('cat'), [4, 4, 12]);
    assert.deepEqual(pruned.weights.get('dw1/depthwiseKernel')!.shape, [3, 3, 6, 1]);
    assert.deepEqual(getNeuronParams(pruned.spec, pruned.weights, 'conv1', 0), getNeuronParams(spec, weights, 'conv1', 1));
    assert.equal(pruned.weights.get('bnp1/gamma')!.data[4], weights.get('bnp1/gamma')!.data[6]);
  });

  it('preserves the function when the removed channels are unused downstream', () => {
    for (let seed = 20; seed < 26; seed++) {
      const rng = new SeededRandom(seed);
      const spec = randomConvNet(rng);
      const weights = randomWeights(spec, seed);
      const graph = buildChannelGraph(spec);
      const candidates = [...graph.producers.values()].filter((p) => graph.groups[p.group]!.growable && p.width > 1);
      const p = candidates[rng.int(candidates.length)]!;
      const drop = [rng.int(p.width)];
      // Zero every consumer's input rows for the dropped channel.
      for (const consumer of producerGroup(graph, p.node).consumers) {
        const k = weights.get(`${consumer.node}/kernel`)!;
        const out = k.shape[k.shape.length - 1]!;
        const taps = k.data.length / (consumer.inputSize * out);
        for (const row of consumerRows(consumer, drop[0]!)) {
          for (let r = 0; r < taps; r++) for (let o = 0; o < out; o++) k.data[(r * consumer.inputSize + row) * out + o] = 0;
        }
      }
      const pruned = removeChannels(spec, weights, p.node, drop);
      validateWeights(pruned.spec, pruned.weights, 'pruned');
      const x = randomInput(spec, 2, seed);
      const diff = maxAbsDiff(referenceForward(spec, weights, x, 2), referenceForward(pruned.spec, pruned.weights, x, 2));
      assert.ok(diff <= 1e-6, `seed ${seed} ${p.node}: ${diff}`);
    }
  });

  it('rejects removing every channel, duplicates and the output layer', () => {
    const spec = tinyMlpSpec();
    const w = initWeights(spec, 1);
    assert.throws(() => removeChannels(spec, w, 'h1', [0, 1, 2, 3, 4, 5, 6, 7]), (e: unknown) => NasError.is(e, 'E_PLAN_INVALID'));
    assert.throws(() => removeChannels(spec, w, 'h1', [1, 1]), (e: unknown) => NasError.is(e, 'E_PLAN_INVALID'));
    assert.throws(() => removeChannels(spec, w, 'out', [0]), (e: unknown) => NasError.is(e, 'E_PLAN_INVALID'));
  });
});

describe('pruneChannels', () => {
  it('removes channels of several producers at once and keeps the function of the kept channels', () => {
    const spec = parseNetworkSpec(
      {
        format: 'mitosis-network',
        version: 1,
        name: 'prune-two',
        nodes: [
          { name: 'x', op: 'input', shape: [5] },
          { name: 'a', op: 'dense', inputs: ['x'], units: 4, useBias: true },
          { name: 'a_act', op: 'activation', inputs: ['a'], activation: 'tanh' },
          { name: 'b', op: 'dense', inputs: ['a_act'], units: 3, useBias: true },
          { name: 'b_act', op: 'activation', inputs: ['b'], activation: 'tanh' },
          { name: 'out', op: 'dense', inputs: ['b_act'], units: 2, useBias: true },
        ],
        output: 'out',
      },
      'prune-two',
    );
    const weights = initWeights(spec, 3);
    const pruned = pruneChannels(spec, weights, new Map([['a', [1, 3]], ['b', [0]]]));
    const widths = Object.fromEntries(pruned.spec.nodes.filter((n) => n.op === 'dense').map((n) => [n.name, (n as { units: number }).units]));
    assert.deepEqual(widths, { a: 2, b: 2, out: 2 });
    // Channel 1 of b (kept as its new channel 0) reads only a's kept channels 0 and 2.
    const bOld = weights.get('b/kernel')!;
    const bNew = pruned.weights.get('b/kernel')!;
    assert.deepEqual(bNew.shape, [2, 2]);
    assert.equal(bNew.data[0 * 2 + 0], bOld.data[0 * 3 + 1]);
    assert.equal(bNew.data[1 * 2 + 0], bOld.data[2 * 3 + 1]);
    assert.throws(() => pruneChannels(spec, weights, new Map([['a', [0, 1, 2, 3]]])), (e: unknown) => NasError.is(e, 'E_PLAN_INVALID'));
    assert.throws(() => pruneChannels(spec, weights, new Map([['out', [0]]])), (e: unknown) => NasError.is(e, 'E_PLAN_INVALID'));
  });
});
