import {
  EigenSolverRegistry,
  NasError,
  type CostUnit,
  type EigenResult,
  type EigenSolverContribution,
  type GrowthContext,
  type NetworkSpec,
  SeededRandom,
} from '@mitosis/core';

/**
 * Hand-written fakes for grower tests (`@mitosis/grower-kit/testing`): a growth context whose
 * operator only describes its blocks, and an eigen solver registry whose solver returns fixed eigenpairs.
 * No TF.js, no network.
 */

/** One fake growable layer and the eigenpairs its neurons will report. */
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

/** The eigen results the fake solver returns for `layers`. */
export function fakeEigenResults(layers: readonly FakeLayer[]): EigenResult[] {
  return layers.map((layer) => {
    const n = layer.lambdaMin.length;
    const dim = layer.dim ?? 2;
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

/** What the fake solver was asked to do. */
export interface FakeSolverCalls {
  readonly created: { id: string; options: unknown }[];
  solves: number;
}

/**
 * A registry with fake solvers `ids` (default `dense`, `rayleigh`) that return {@link fakeEigenResults}; each
 * accepts any options object and records what it was created with.
 */
export function fakeEigenRegistry(
  layers: readonly FakeLayer[],
  ids: readonly string[] = ['dense', 'rayleigh'],
): { registry: EigenSolverRegistry; calls: FakeSolverCalls } {
  const calls: FakeSolverCalls = { created: [], solves: 0 };
  const contributions: EigenSolverContribution<unknown>[] = ids.map((id) => ({
    id,
    description: `fixed eigenpairs (${id}) for tests`,
    optionsSchema: { type: 'object' },
    create: (options: unknown) => {
      calls.created.push({ id, options });
      return {
        id,
        solve: async (): Promise<EigenResult[]> => {
          calls.solves++;
          return fakeEigenResults(layers);
        },
      };
    },
  }));
  return { registry: new EigenSolverRegistry(contributions), calls };
}

/** Fields of the context a test may override. */
export interface FakeContextOverrides {
  readonly round?: number;
  readonly costUnit?: CostUnit;
  /** Unit the fake cost model reports (default: `costUnit`). */
  readonly costModelUnit?: CostUnit;
  readonly budget?: number | null;
  readonly random?: () => number;
}

/**
 * A growth context over `layers`: widths from `lambdaMin`, caps/groups/marginal costs from the layer (defaults
 * `null`, `all`, `1`). Its operator refuses S·v and explicit matrices (a grower under test must go through the
 * solver), its cost model refuses to estimate, its spec is empty, and `random` is seeded (seed 1) unless given.
 */
export function fakeContext(layers: readonly FakeLayer[], overrides: FakeContextOverrides = {}): GrowthContext {
  const seeded = new SeededRandom(1);
  const costUnit = overrides.costUnit ?? 'macs';
  const refuse = (what: string) => (): never => {
    throw new NasError('E_RUN_FAILED', `The fake growth context does not implement ${what}`);
  };
  return {
    round: overrides.round ?? 1,
    spec: { nodes: [] } as unknown as NetworkSpec,
    layers: layers.map((layer) => ({
      node: layer.node,
      width: layer.lambdaMin.length,
      cap: layer.cap ?? null,
      group: layer.group ?? 'all',
      marginalCost: layer.marginalCost === undefined ? 1 : layer.marginalCost,
    })),
    operator: {
      blocks: layers.map((layer) => ({ name: layer.node, neurons: layer.lambdaMin.length, dim: layer.dim ?? 2 })),
      batchCount: 1,
      multiply: refuse('SplittingOperator.multiply'),
      matrices: refuse('SplittingOperator.matrices'),
    },
    costModel: { id: 'fake-cost', unit: overrides.costModelUnit ?? costUnit, estimate: refuse('CostModel.estimate') },
    costUnit,
    budget: overrides.budget === undefined ? null : overrides.budget,
    random: overrides.random ?? (() => seeded.next()),
  };
}
