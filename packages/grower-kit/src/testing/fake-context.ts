import {
  NasError,
  SeededRandom,
  type CostUnit,
  type EigenResult,
  type MethodContext,
  type MethodScores,
  type NetworkNode,
  type NetworkSpec,
  unsplittableEigenResult,
} from '@mitosis/core';

/**
 * Hand-written fakes for grower tests (`@mitosis/grower-kit/testing`): a method context whose splitting scores
 * are fixed eigenpairs, over a small dense network whose θ lengths match them. No TF.js, no training.
 */

/** One fake layer and the eigenpairs its neurons report. */
export interface FakeLayer {
  readonly node: string;
  /** λ_min per neuron (the layer's width is its length). */
  readonly lambdaMin: readonly number[];
  /** λ_max per neuron; default |λ_min| + 1. */
  readonly lambdaMax?: readonly number[];
  /** Length of θ; default 2. */
  readonly dim?: number;
  /** v_min rows; default e_0. */
  readonly vMin?: readonly (readonly number[])[];
  /** v_max rows; default e_{dim−1}. */
  readonly vMax?: readonly (readonly number[])[];
  readonly cap?: number | null;
  readonly group?: string;
  readonly marginalCost?: number | null;
  /** Default `true`; a layer that is not splittable gets the loop's placeholder scores (λ_min = +∞, dim 0). */
  readonly splittable?: boolean;
}

function rows(n: number, dim: number, given: readonly (readonly number[])[] | undefined, axis: number): Float64Array {
  const out = new Float64Array(n * dim);
  for (let j = 0; j < n; j++) {
    const row = given?.[j];
    if (row === undefined) out[j * dim + axis] = 1;
    else out.set(row, j * dim);
  }
  return out;
}

function dimOf(layer: FakeLayer): number {
  const dim = layer.dim ?? 2;
  if (!Number.isInteger(dim) || dim < 1) {
    throw new NasError('E_OPTIONS_INVALID', `Fake layer "${layer.node}": dim must be an integer ≥ 1, got ${dim}`, {
      node: layer.node,
      dim,
    });
  }
  return dim;
}

/**
 * The splitting scores the loop would pass for `layers`, parallel to them: the given eigenpairs for a
 * splittable layer; for one with `splittable: false` the placeholder (neurons = width, dim 0, λ_min = +∞,
 * λ_max = −∞, empty vectors).
 */
export function fakeEigenResults(layers: readonly FakeLayer[]): EigenResult[] {
  return layers.map((layer) => {
    const n = layer.lambdaMin.length;
    if (layer.splittable === false) return unsplittableEigenResult(layer.node, n);
    const dim = dimOf(layer);
    return {
      block: layer.node,
      neurons: n,
      dim,
      lambdaMin: Float64Array.from(layer.lambdaMin),
      lambdaMax: Float64Array.from(layer.lambdaMax ?? layer.lambdaMin.map((x) => Math.abs(x) + 1)),
      vMin: rows(n, dim, layer.vMin, 0),
      vMax: rows(n, dim, layer.vMax, dim - 1),
      residualMin: new Float64Array(n),
      residualMax: new Float64Array(n),
    };
  });
}

/**
 * A valid chain of dense layers in which every fake layer has its width (`lambdaMin.length` units) and its θ
 * length (`dim`: the input size plus a bias; `dim` 1 is one input without bias). Where the previous layer's
 * width does not give that input size, an adapter dense node `<node>__in` is inserted. A splittable layer is
 * followed by a tanh activation `<node>__act`, one that is not splittable by none. The input node is
 * `__input`; the output is the last node.
 */
export function fakeNetworkSpec(layers: readonly FakeLayer[]): NetworkSpec {
  const nodes: NetworkNode[] = [];
  let last = '__input';
  let width: number | null = null;
  for (const layer of layers) {
    const dim = layer.splittable === false ? (layer.dim ?? 2) : dimOf(layer);
    const useBias = dim > 1;
    const fanIn = useBias ? dim - 1 : 1;
    if (width === null) {
      nodes.push({ name: '__input', op: 'input', shape: [fanIn] });
    } else if (width !== fanIn) {
      nodes.push({ name: `${layer.node}__in`, op: 'dense', inputs: [last], units: fanIn, useBias: false });
      last = `${layer.node}__in`;
    }
    nodes.push({ name: layer.node, op: 'dense', inputs: [last], units: layer.lambdaMin.length, useBias });
    last = layer.node;
    if (layer.splittable !== false) {
      nodes.push({ name: `${layer.node}__act`, op: 'activation', inputs: [last], activation: 'tanh' });
      last = `${layer.node}__act`;
    }
    width = layer.lambdaMin.length;
  }
  if (width === null) nodes.push({ name: '__input', op: 'input', shape: [1] });
  return { format: 'mitosis-network', version: 1, name: 'fake', nodes, output: last };
}

/** Fields of the context a test may override. */
export interface FakeContextOverrides {
  readonly round?: number;
  readonly costUnit?: CostUnit;
  /** Unit the fake cost model reports (default: `costUnit`). */
  readonly costModelUnit?: CostUnit;
  readonly budget?: number | null;
  readonly cost?: number | null;
  readonly target?: number | null;
  readonly random?: () => number;
  /** Replaces the scores (default: `{ splitting: fakeEigenResults(layers) }`). */
  readonly scores?: MethodScores;
  /** Replaces the network (default: {@link fakeNetworkSpec}). */
  readonly spec?: NetworkSpec;
}

/**
 * A method context over `layers`: widths from `lambdaMin`, caps/groups/marginal costs from the layer (defaults
 * `null`, `all`, `1`), producers `[node]`, channel group = the layer's index, min 1, prune cost `null`,
 * splittable unless the layer says otherwise. `scores.splitting` is {@link fakeEigenResults}, `spec` is
 * {@link fakeNetworkSpec}; the cost model refuses to estimate, `cost` and `target` are `null`, and `random`
 * is seeded (seed 1) unless given.
 */
export function fakeContext(layers: readonly FakeLayer[], overrides: FakeContextOverrides = {}): MethodContext {
  const seeded = new SeededRandom(1);
  const costUnit = overrides.costUnit ?? 'macs';
  const refuse = (what: string) => (): never => {
    throw new NasError('E_RUN_FAILED', `The fake method context does not implement ${what}`);
  };
  return {
    round: overrides.round ?? 1,
    spec: overrides.spec ?? fakeNetworkSpec(layers),
    layers: layers.map((layer, index) => ({
      node: layer.node,
      producers: [layer.node],
      channelGroup: index,
      width: layer.lambdaMin.length,
      cap: layer.cap ?? null,
      min: 1,
      group: layer.group ?? 'all',
      marginalCost: layer.marginalCost === undefined ? 1 : layer.marginalCost,
      pruneCost: null,
      splittable: layer.splittable ?? true,
    })),
    scores: overrides.scores ?? { splitting: fakeEigenResults(layers) },
    costModel: { id: 'fake-cost', unit: overrides.costModelUnit ?? costUnit, estimate: refuse('CostModel.estimate') },
    costUnit,
    cost: overrides.cost === undefined ? null : overrides.cost,
    target: overrides.target === undefined ? null : overrides.target,
    budget: overrides.budget === undefined ? null : overrides.budget,
    random: overrides.random ?? (() => seeded.next()),
  };
}
