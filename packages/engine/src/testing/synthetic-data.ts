import { SeededRandom, type Dataset, type NetworkSpec, type WeightMap } from '@mitosis/core';

/**
 * A separable image set for tests: `size`×`size`×1 images of N(0, 0.3²) noise where class 0 adds +1 to the
 * left half and class 1 to the right half. Balanced, deterministic in `seed`.
 */
export function separableImages(count: number, seed: number, size = 8): Dataset {
  const rng = new SeededRandom(seed);
  const x = new Float32Array(count * size * size);
  const y = new Float32Array(count);
  for (let n = 0; n < count; n++) {
    const label = n % 2;
    y[n] = label;
    for (let i = 0; i < size; i++) {
      for (let j = 0; j < size; j++) {
        const bright = (j < size / 2) === (label === 0) ? 1 : 0;
        x[(n * size + i) * size + j] = bright + 0.3 * rng.normal();
      }
    }
  }
  return { name: `separable-${seed}`, task: 'classification', inputShape: [size, size, 1], targetSize: 2, count, x, y };
}

/** Random N(0, 1) samples of `shape` with uniform labels among `classes`. */
export function randomClassification(count: number, shape: readonly number[], classes: number, seed: number): Dataset {
  const rng = new SeededRandom(seed);
  const sample = shape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(count * sample).map(() => rng.normal());
  const y = new Float32Array(count).map(() => rng.int(classes));
  return { name: `random-${seed}`, task: 'classification', inputShape: [...shape], targetSize: classes, count, x, y };
}

/** A copy of `weights` whose batch-norm parameters and statistics are random (so eval BN is not the identity). */
export function randomizeBatchNorm(spec: NetworkSpec, weights: WeightMap, seed: number): WeightMap {
  const rng = new SeededRandom(seed);
  const out: WeightMap = new Map(weights);
  for (const node of spec.nodes) {
    if (node.op !== 'batchNorm') continue;
    for (const param of ['gamma', 'beta', 'movingMean', 'movingVariance'] as const) {
      const key = `${node.name}/${param}`;
      const w = weights.get(key);
      if (w === undefined) continue;
      const data = new Float32Array(w.data.length).map(() =>
        param === 'movingVariance' ? 0.5 + rng.next() : param === 'gamma' ? 0.5 + rng.next() : rng.normal() * 0.5,
      );
      out.set(key, { shape: w.shape, data });
    }
  }
  return out;
}

/** Every op and activation: conv, depthwise, BN, pools, global pool, flatten, add, concat, dropout, dense. */
export function everyOpSpec(): NetworkSpec {
  const acts = ['relu', 'relu6', 'tanh', 'sigmoid', 'softplus', 'swish', 'gaussian', 'identity'] as const;
  return {
    format: 'mitosis-network',
    version: 1,
    name: 'every-op',
    nodes: [
      { name: 'x', op: 'input', shape: [7, 7, 3] },
      { name: 'c1', op: 'conv2d', inputs: ['x'], filters: 4, kernelSize: [3, 3], strides: [2, 2], padding: 'same', useBias: true },
      { name: 'bn1', op: 'batchNorm', inputs: ['c1'], epsilon: 1e-3, momentum: 0.9 },
      { name: 'a_relu', op: 'activation', inputs: ['bn1'], activation: acts[0] },
      { name: 'dw', op: 'depthwiseConv2d', inputs: ['a_relu'], kernelSize: [3, 3], strides: [1, 1], padding: 'same', useBias: true },
      { name: 'a_relu6', op: 'activation', inputs: ['dw'], activation: acts[1] },
      { name: 'c2', op: 'conv2d', inputs: ['a_relu'], filters: 4, kernelSize: [2, 2], strides: [1, 1], padding: 'same', useBias: false },
      { name: 'a_tanh', op: 'activation', inputs: ['c2'], activation: acts[2] },
      { name: 'sum', op: 'add', inputs: ['a_relu6', 'a_tanh'] },
      { name: 'mp', op: 'maxPool', inputs: ['sum'], poolSize: [2, 2], strides: [1, 1], padding: 'valid' },
      { name: 'ap', op: 'avgPool', inputs: ['sum'], poolSize: [2, 2], strides: [1, 1], padding: 'valid' },
      { name: 'a_sig', op: 'activation', inputs: ['ap'], activation: acts[3] },
      { name: 'cat', op: 'concat', inputs: ['mp', 'a_sig'] },
      { name: 'gap', op: 'globalAvgPool', inputs: ['cat'] },
      { name: 'flat', op: 'flatten', inputs: ['cat'] },
      { name: 'd1', op: 'dense', inputs: ['flat'], units: 6, useBias: true },
      { name: 'a_softplus', op: 'activation', inputs: ['d1'], activation: acts[4] },
      { name: 'drop', op: 'dropout', inputs: ['a_softplus'], rate: 0.5 },
      { name: 'd2', op: 'dense', inputs: ['gap'], units: 6, useBias: false },
      { name: 'bn2', op: 'batchNorm', inputs: ['d2'], epsilon: 1e-3, momentum: 0.9 },
      { name: 'a_swish', op: 'activation', inputs: ['bn2'], activation: acts[5] },
      { name: 'a_gauss', op: 'activation', inputs: ['drop'], activation: acts[6] },
      { name: 'both', op: 'concat', inputs: ['a_swish', 'a_gauss'] },
      { name: 'out', op: 'dense', inputs: ['both'], units: 3, useBias: true },
      { name: 'a_id', op: 'activation', inputs: ['out'], activation: acts[7] },
    ],
    output: 'a_id',
  };
}
