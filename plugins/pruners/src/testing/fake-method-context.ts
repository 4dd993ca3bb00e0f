import { NasError, SeededRandom, type CostUnit, type MethodContext, type MethodScores } from '@mitosis/core';

/**
 * Hand-written fakes for pruner tests: a method context built from per-layer score arrays, with no network and
 * no TF.js. Its cost model refuses to estimate (a pruner ranks and never prices).
 */

/** One fake prunable layer and the scores the loop would have computed for it. */
export interface FakePruneLayer {
  readonly node: string;
  /** Output channels; default: the length of the first score array given. */
  readonly width?: number;
  /** Fewest channels allowed; default 1. */
  readonly min?: number;
  readonly weightNorm?: readonly number[];
  /** |γ| per channel; `null` (or omitted while another layer has one) for a layer without batch norm. */
  readonly bnScale?: readonly number[] | null;
  readonly taylor?: readonly number[];
  readonly gradientNorm?: readonly number[];
}

/** Fields of the context a test may override. */
export interface FakeMethodContextOverrides {
  readonly round?: number;
  readonly costUnit?: CostUnit;
  readonly cost?: number | null;
  readonly target?: number | null;
  readonly budget?: number | null;
}

const PER_CHANNEL = ['weightNorm', 'taylor', 'gradientNorm'] as const;

/**
 * A method context over `layers`. A score kind is present when any layer gives it; `weightNorm`, `taylor` and
 * `gradientNorm` must then be given for every layer, `bnScale` defaults to `null` per layer. Layers get
 * `producers: [node]`, channel groups 0, 1, …, no cap, group `all`, marginal and prune costs 1.
 */
export function fakeMethodContext(layers: readonly FakePruneLayer[], overrides: FakeMethodContextOverrides = {}): MethodContext {
  const scores: { -readonly [K in keyof MethodScores]: MethodScores[K] } = {};
  for (const kind of PER_CHANNEL) {
    if (layers.some((l) => l[kind] !== undefined)) {
      scores[kind] = layers.map((l) => {
        const values = l[kind];
        if (values === undefined) throw new Error(`fakeMethodContext: layer ${l.node} has no ${kind} while others do`);
        return Float64Array.from(values);
      });
    }
  }
  if (layers.some((l) => l.bnScale !== undefined)) {
    scores.bnScale = layers.map((l) => (l.bnScale === undefined || l.bnScale === null ? null : Float64Array.from(l.bnScale)));
  }
  const seeded = new SeededRandom(1);
  const costUnit = overrides.costUnit ?? 'macs';
  return {
    round: overrides.round ?? 1,
    spec: { format: 'mitosis-network', version: 1, nodes: [], output: 'logits' },
    layers: layers.map((l, i) => ({
      node: l.node,
      producers: [l.node],
      channelGroup: i,
      width: l.width ?? (l.weightNorm ?? l.bnScale ?? l.taylor ?? l.gradientNorm ?? []).length,
      cap: null,
      min: l.min ?? 1,
      group: 'all',
      marginalCost: 1,
      pruneCost: 1,
      splittable: true,
    })),
    scores,
    costModel: {
      id: 'fake-cost',
      unit: costUnit,
      estimate: () => {
        throw new NasError('E_RUN_FAILED', 'The fake method context does not implement CostModel.estimate');
      },
    },
    costUnit,
    cost: overrides.cost === undefined ? null : overrides.cost,
    target: overrides.target === undefined ? null : overrides.target,
    budget: overrides.budget === undefined ? null : overrides.budget,
    random: () => seeded.next(),
  };
}
