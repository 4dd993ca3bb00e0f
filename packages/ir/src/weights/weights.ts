import { NasError, SeededRandom, type NetworkSpec, type WeightMap, type WeightTensor } from '@mitosis/core';
import { followingActivation, readersOf } from '../spec/graph-util.js';
import { nodeInputs, topoSort } from '../spec/parse-network-spec.js';
import { inferShapes } from '../shape/infer-shapes.js';

/** The weight parameter names, in the order {@link weightShapes} lists them per node. */
export type WeightParam =
  | 'kernel'
  | 'bias'
  | 'depthwiseKernel'
  | 'gamma'
  | 'beta'
  | 'movingMean'
  | 'movingVariance';

/** `<node>/<param>`. */
export function weightKey(node: string, param: WeightParam): string {
  return `${node}/${param}`;
}

/**
 * The shape of every weight tensor, keyed `<node>/<param>`, in topological node order. Layouts (TF.js/Keras):
 * dense `kernel` [in, units], `bias` [units]; conv2d `kernel` [kh, kw, in, filters], `bias` [filters];
 * depthwiseConv2d `depthwiseKernel` [kh, kw, in, 1], `bias` [in]; batchNorm `gamma`, `beta`, `movingMean`,
 * `movingVariance` [channels] (channels = the input's last axis).
 */
export function weightShapes(spec: NetworkSpec): Map<string, number[]> {
  const shapes = inferShapes(spec);
  const out = new Map<string, number[]>();
  for (const node of topoSort(spec)) {
    const name = node.name;
    const inShape = shapes.get(nodeInputs(node)[0] ?? '') ?? [];
    const inC = inShape[inShape.length - 1] ?? 0;
    switch (node.op) {
      case 'dense':
        out.set(weightKey(name, 'kernel'), [inC, node.units]);
        if (node.useBias) out.set(weightKey(name, 'bias'), [node.units]);
        break;
      case 'conv2d':
        out.set(weightKey(name, 'kernel'), [node.kernelSize[0], node.kernelSize[1], inC, node.filters]);
        if (node.useBias) out.set(weightKey(name, 'bias'), [node.filters]);
        break;
      case 'depthwiseConv2d':
        out.set(weightKey(name, 'depthwiseKernel'), [node.kernelSize[0], node.kernelSize[1], inC, 1]);
        if (node.useBias) out.set(weightKey(name, 'bias'), [inC]);
        break;
      case 'batchNorm':
        for (const p of ['gamma', 'beta', 'movingMean', 'movingVariance'] as const) {
          out.set(weightKey(name, p), [inC]);
        }
        break;
      default:
        break;
    }
  }
  return out;
}

/** Number of elements of a shape. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Fresh weights for `spec`, deterministic in `seed`. Kernels are He-uniform (limit √(6/fanIn)) when the
 * layer is followed by relu/relu6 (through batchNorm), Glorot-uniform (limit √(6/(fanIn+fanOut)))
 * otherwise; fanIn = kh·kw·in (dense: in), fanOut = kh·kw·out (depthwise: kh·kw). Biases 0; batchNorm
 * gamma 1, beta 0, moving mean 0, moving variance 1.
 */
export function initWeights(spec: NetworkSpec, seed: number): WeightMap {
  const rng = new SeededRandom(seed);
  const readers = readersOf(spec);
  const weights: WeightMap = new Map();
  for (const [key, shape] of weightShapes(spec)) {
    const slash = key.lastIndexOf('/');
    const node = key.slice(0, slash);
    const param = key.slice(slash + 1) as WeightParam;
    const data = new Float32Array(sizeOf(shape));
    if (param === 'kernel' || param === 'depthwiseKernel') {
      const receptive = shape.length === 4 ? shape[0]! * shape[1]! : 1;
      const fanIn = param === 'depthwiseKernel' ? receptive : receptive * shape[shape.length - 2]!;
      const fanOut = receptive * shape[shape.length - 1]!;
      const act = followingActivation(spec, node, readers)?.activation;
      const he = act === 'relu' || act === 'relu6';
      const limit = he ? Math.sqrt(6 / fanIn) : Math.sqrt(6 / (fanIn + fanOut));
      for (let i = 0; i < data.length; i++) data[i] = (2 * rng.next() - 1) * limit;
    } else if (param === 'gamma' || param === 'movingVariance') {
      data.fill(1);
    }
    weights.set(key, { shape, data });
  }
  return weights;
}

/**
 * Checks that `weights` holds exactly the tensors of {@link weightShapes}, with those shapes and matching
 * data lengths. Throws `E_MODEL_FORMAT` naming the key (`details.{file, key, expected, actual}`).
 */
export function validateWeights(spec: NetworkSpec, weights: WeightMap, source: string): void {
  const expected = weightShapes(spec);
  for (const [key, shape] of expected) {
    const t: WeightTensor | undefined = weights.get(key);
    if (t === undefined) {
      throw new NasError('E_MODEL_FORMAT', `Weights ${source}: missing "${key}" of shape [${shape.join(', ')}]`, {
        file: source,
        key,
        expected: shape,
        actual: null,
      });
    }
    const same = t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i]);
    if (!same || t.data.length !== sizeOf(shape)) {
      throw new NasError(
        'E_MODEL_FORMAT',
        `Weights ${source}: "${key}" has shape [${t.shape.join(', ')}] (${t.data.length} values), the spec needs [${shape.join(', ')}]`,
        { file: source, key, expected: shape, actual: [...t.shape] },
      );
    }
  }
  for (const key of weights.keys()) {
    if (!expected.has(key)) {
      throw new NasError('E_MODEL_FORMAT', `Weights ${source}: unexpected tensor "${key}" (no such weight in the spec)`, {
        file: source,
        key,
        expected: null,
        actual: [...weights.get(key)!.shape],
      });
    }
  }
}
