import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NasError, SeededRandom } from '@mitosis/core';
import { initWeights, parseNetworkSpec, referenceForward, tinyMlpSpec, tinyMobileNetSpec } from '@mitosis/ir';
import { useBackend } from '../backend/use-backend.js';
import { everyOpSpec, randomizeBatchNorm } from '../testing/synthetic-data.js';
import { tf } from '../tf.js';
import { forward } from './forward.js';
import { NetworkModel } from './network-model.js';

await useBackend('cpu');

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

function randomInput(count: number, seed: number): Float32Array {
  const rng = new SeededRandom(seed);
  return new Float32Array(count).map(() => rng.normal());
}

describe('forward', () => {
  for (const [label, make] of [
    ['every op and activation', everyOpSpec],
    ['the tiny MobileNet (residual add, concat, strided depthwise)', tinyMobileNetSpec],
  ] as const) {
    it(`matches the float64 reference in eval mode on ${label}`, () => {
      const spec = parseNetworkSpec(make(), label);
      const weights = randomizeBatchNorm(spec, initWeights(spec, 3), 4);
      const input = spec.nodes.find((n) => n.op === 'input');
      assert.ok(input?.op === 'input');
      const batch = 3;
      const xData = randomInput(batch * input.shape.reduce((a, b) => a * b, 1), 5);
      const model = new NetworkModel(spec, weights);
      const before = tf.memory().numTensors;
      const y = tf.tidy(() => forward(model, tf.tensor(xData, [batch, ...input.shape]), { training: false }));
      const expected = referenceForward(spec, weights, Float64Array.from(xData), batch);
      assert.ok(maxAbsDiff(y.dataSync(), expected) <= 1e-4);
      y.dispose();
      assert.equal(tf.memory().numTensors, before);
      model.dispose();
    });
  }

  it('normalises with batch statistics in training mode and updates the moving statistics with the momentum', () => {
    const spec = parseNetworkSpec(
      {
        format: 'mitosis-network',
        version: 1,
        nodes: [
          { name: 'x', op: 'input', shape: [2, 2, 3] },
          { name: 'bn', op: 'batchNorm', inputs: ['x'], epsilon: 1e-3, momentum: 0.75 },
        ],
        output: 'bn',
      },
      'bn-spec',
    );
    const model = new NetworkModel(spec, initWeights(spec, 0));
    const xData = randomInput(4 * 2 * 2 * 3, 9).map((v, i) => v * 2 + (i % 3));
    const x = tf.tensor(xData, [4, 2, 2, 3]);
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    const batchMean = Array.from(mean.dataSync());
    const batchVar = Array.from(variance.dataSync());
    const y = tf.tidy(() => forward(model, x, { training: true }));
    const yStats = tf.moments(y, [0, 1, 2]);
    assert.ok(maxAbsDiff(yStats.mean.dataSync(), [0, 0, 0]) < 1e-5);
    assert.ok(maxAbsDiff(yStats.variance.dataSync(), batchVar.map((v) => v / (v + 1e-3))) < 1e-4);
    const w = model.toWeightMap();
    assert.ok(maxAbsDiff(w.get('bn/movingMean')!.data, batchMean.map((m) => 0.25 * m)) < 1e-6);
    assert.ok(maxAbsDiff(w.get('bn/movingVariance')!.data, batchVar.map((v) => 0.75 + 0.25 * v)) < 1e-5);
    // updateMovingStats: false leaves them alone; eval mode uses them.
    tf.tidy(() => forward(model, x, { training: true, updateMovingStats: false }));
    assert.ok(maxAbsDiff(model.toWeightMap().get('bn/movingMean')!.data, w.get('bn/movingMean')!.data) === 0);
    const evalY = tf.tidy(() => forward(model, x, { training: false }));
    const mm = w.get('bn/movingMean')!.data;
    const mv = w.get('bn/movingVariance')!.data;
    const expected = Array.from(xData, (v, i) => (v - (mm[i % 3] as number)) / Math.sqrt((mv[i % 3] as number) + 1e-3));
    assert.ok(maxAbsDiff(evalY.dataSync(), expected) < 1e-4);
    tf.dispose([x, mean, variance, y, yStats.mean, yStats.variance, evalY]);
    model.dispose();
  });

  it('lets a hook replace a value and differentiates with respect to tensors the hook closes over', () => {
    const spec = tinyMlpSpec();
    const model = new NetworkModel(spec, initWeights(spec, 1));
    const x = tf.tensor(randomInput(5 * 4, 2), [5, 4]);
    const delta = tf.zeros([1, 8]);
    const [g] = tf.grads((d: tf.Tensor) =>
      tf.sum(forward(model, x, { training: false, hook: (node, value) => (node.name === 'a1' ? tf.add(value, d) : undefined) })),
    )([delta]);
    // out = (a1 + d)·K + b, so ∂Σout/∂d = batch · K·1 (row sums of the output kernel).
    const k = model.weight('out', 'kernel');
    const expected = tf.tidy(() => tf.mul(tf.sum(k, 1), 5));
    assert.ok(maxAbsDiff(g!.dataSync(), expected.dataSync()) < 1e-5);
    // the hook sees every node in order, with the values computed so far
    const seen: string[] = [];
    tf.tidy(() => forward(model, x, { training: false, hook: (node, _v, values) => void seen.push(`${node.name}:${values.size}`) }));
    assert.deepEqual(seen, ['x:1', 'h1:2', 'a1:3', 'out:4']);
    tf.dispose([x, delta, g!, expected]);
    model.dispose();
  });

  for (const activation of ['relu', 'swish'] as const) {
    it(`fuseUnderHook (${activation}): the same probe gradients and batch-norm values as the unfused pass, with fused kernels`, async () => {
      const base = tinyMobileNetSpec();
      const spec = { ...base, nodes: base.nodes.map((n) => (n.op === 'activation' ? { ...n, activation } : n)) };
      const weights = randomizeBatchNorm(spec, initWeights(spec, 3), 4);
      const model = new NetworkModel(spec, weights);
      const input = spec.nodes.find((n) => n.op === 'input')!;
      const x = tf.tensor(randomInput(3 * input.shape.reduce((a, b) => a * b, 1), 9), [3, ...input.shape]);
      const acts = spec.nodes.filter((n) => n.op === 'activation');
      const run = (fuseUnderHook: boolean): { grads: Float32Array[]; pre: Float32Array[] } =>
        tf.tidy(() => {
          const pre: tf.Tensor[] = [];
          const probes = acts.map(() => tf.scalar(0));
          const grads = tf.grads((...es: tf.Tensor[]) =>
            tf.sum(
              tf.square(
                forward(model, x, {
                  training: false,
                  fuseUnderHook,
                  hook: (node, value, values) => {
                    const k = acts.findIndex((a) => a.name === node.name);
                    if (k < 0) return undefined;
                    pre.push(tf.keep(values.get((node as { inputs: readonly string[] }).inputs[0]!)!));
                    // A probe scaled per element, so that its gradient depends on every position.
                    return tf.add(value, tf.mul(es[k]!, tf.onesLike(value)));
                  },
                }),
              ),
            ),
          )(probes);
          const out = { grads: grads.map((g) => g.dataSync() as Float32Array), pre: pre.map((t) => t.dataSync() as Float32Array) };
          tf.dispose(pre);
          return out;
        });
      const [fused, plain] = [run(true), run(false)];
      fused.grads.forEach((g, k) => assert.ok(maxAbsDiff(g, plain.grads[k]!) < 1e-3 * (1 + Math.abs(plain.grads[k]![0]!)), `probe ${k}`));
      fused.pre.forEach((z, k) => assert.ok(maxAbsDiff(z, plain.pre[k]!) < 1e-4, `batch norm value ${k}`));
      if (tf.getBackend() === 'wasm') {
        const kernels = async (fuseUnderHook: boolean): Promise<string[]> =>
          (
            await tf.profile(() =>
              tf.tidy(() => {
                const d = tf.scalar(0);
                void tf.grad((e: tf.Tensor) => tf.sum(forward(model, x, { training: false, fuseUnderHook, hook: (node, value) => (node.op === 'activation' ? tf.add(value, e) : undefined) })))(d);
              }),
            )
          ).kernelNames;
        const [withFusion, without] = [await kernels(true), await kernels(false)];
        assert.ok(withFusion.includes('MitosisBatchNormActInferGrad'), withFusion.join(','));
        assert.ok(withFusion.length < without.length, `${withFusion.length} kernels fused, ${without.length} unfused`);
      }
      x.dispose();
      model.dispose();
    });
  }

  it('batchNormValues: false skips the fused batch norms\' own values: same output, no hook call for them', () => {
    const base = tinyMobileNetSpec();
    const spec = { ...base, nodes: base.nodes.map((n) => (n.op === 'activation' ? { ...n, activation: 'swish' as const } : n)) };
    const model = new NetworkModel(spec, randomizeBatchNorm(spec, initWeights(spec, 5), 6));
    const input = spec.nodes.find((n) => n.op === 'input')!;
    const x = tf.tensor(randomInput(2 * input.shape.reduce((a, b) => a * b, 1), 4), [2, ...input.shape]);
    const fusedBns = spec.nodes.filter((n) => n.op === 'batchNorm' && spec.nodes.filter((m) => m.op !== 'input' && m.inputs.includes(n.name)).every((m) => m.op === 'activation'));
    assert.ok(fusedBns.length > 0);
    const run = (batchNormValues: boolean): { out: Float32Array; hooked: string[] } =>
      tf.tidy(() => {
        const hooked: string[] = [];
        const out = forward(model, x, { training: false, fuseUnderHook: true, batchNormValues, hook: (node) => void hooked.push(node.name) });
        return { out: out.dataSync() as Float32Array, hooked };
      });
    const [skip, keep] = [run(false), run(true)];
    assert.deepEqual(Array.from(skip.out), Array.from(keep.out));
    for (const bn of fusedBns) {
      assert.ok(keep.hooked.includes(bn.name), `${bn.name} hooked by default`);
      assert.ok(!skip.hooked.includes(bn.name), `${bn.name} not hooked without its value`);
    }
    assert.deepEqual(keep.hooked.filter((n) => !fusedBns.some((b) => b.name === n)), skip.hooked);
    x.dispose();
    model.dispose();
  });

  it('applies dropout only in training, with masks reproducible from the seed', () => {
    const spec = parseNetworkSpec(
      {
        format: 'mitosis-network',
        version: 1,
        nodes: [
          { name: 'x', op: 'input', shape: [50] },
          { name: 'drop', op: 'dropout', inputs: ['x'], rate: 0.5 },
        ],
        output: 'drop',
      },
      'dropout-spec',
    );
    const model = new NetworkModel(spec, new Map());
    const x = tf.ones([2, 50]);
    const run = (training: boolean, seed: number): Float32Array =>
      tf.tidy(() => forward(model, x, { training, rng: new SeededRandom(seed) }).dataSync() as Float32Array);
    assert.deepEqual(Array.from(run(false, 1)), new Array(100).fill(1));
    const a = run(true, 1);
    assert.deepEqual(a, run(true, 1));
    assert.notDeepEqual(a, run(true, 2));
    assert.ok(a.every((v) => v === 0 || Math.abs(v - 2) < 1e-6));
    assert.ok(a.some((v) => v === 0));
    x.dispose();
    model.dispose();
  });

  it('rejects an input of the wrong shape with E_SHAPE_MISMATCH naming the input node', () => {
    const spec = tinyMlpSpec();
    const model = new NetworkModel(spec, initWeights(spec, 1));
    const x = tf.zeros([2, 5]);
    assert.throws(() => tf.tidy(() => forward(model, x, { training: false })), (e: unknown) => {
      assert.ok(NasError.is(e, 'E_SHAPE_MISMATCH'));
      assert.equal(e.details['node'], 'x');
      return true;
    });
    x.dispose();
    model.dispose();
  });

  it('round-trips weights through variables and frees them on dispose', () => {
    const spec = tinyMobileNetSpec();
    const weights = initWeights(spec, 7);
    const before = tf.memory().numTensors;
    const model = new NetworkModel(spec, weights);
    const back = model.toWeightMap();
    assert.deepEqual([...back.keys()], [...weights.keys()]);
    for (const [k, w] of weights) assert.deepEqual(back.get(k)!.data, w.data);
    model.dispose();
    assert.equal(tf.memory().numTensors, before);
  });
});
