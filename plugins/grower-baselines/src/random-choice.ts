import { NasError, type GrowthPlan, type MethodContext, type NeuronGrowth, type Offspring } from '@mitosis/core';
import { layerRoom, layerStats, type Candidate } from '@mitosis/grower-kit';
import { neuronCount, neuronDim } from '@mitosis/ir';

/** The count rule of the baselines, the same numbers as S2D's: a global fraction or a fixed k. */
export interface CountOptions {
  /** `quantile`: floor(fraction·N) neurons over all N neurons of the splittable layers; `top-k`: k neurons. */
  readonly selection: 'quantile' | 'top-k';
  /** Fraction of all growable neurons grown per round (S2D reference 0.3). */
  readonly fraction: number;
  /** Neurons grown per round under `top-k`. */
  readonly k: number;
}

/** Shared schema properties of {@link CountOptions}. */
export const countOptionsProperties = {
  selection: { type: 'string', enum: ['quantile', 'top-k'], default: 'quantile' },
  fraction: { type: 'number', minimum: 0, maximum: 1, default: 0.3 },
  k: { type: 'integer', minimum: 1, default: 1 },
} as const;

/** What {@link chooseRandomNeurons} drew. */
export interface RandomChoice {
  /** Neurons to grow, ordered by layer, then neuron. */
  readonly chosen: Candidate[];
  /** How many the count rule asked for (before caps). */
  readonly requested: number;
}

/**
 * Draws `requested` distinct neurons uniformly at random (a Fisher–Yates shuffle driven by `context.random`
 * only) among the neurons of splittable layers that still have room under their cap; each adds one neuron.
 * When the caps leave fewer than requested, every neuron with room is taken. Layers that are not splittable
 * are neither counted nor drawn from (the splitting growers cannot grow them either, so the baselines compare
 * on the same layers).
 */
export function chooseRandomNeurons(context: MethodContext, options: CountOptions): RandomChoice {
  const room = layerRoom(context);
  const total = context.layers.reduce((s, l) => s + (l.splittable ? l.width : 0), 0);
  const requested = options.selection === 'quantile' ? Math.floor(options.fraction * total) : options.k;
  const pool: { layer: number; neuron: number }[] = [];
  context.layers.forEach((layer, l) => {
    if (!layer.splittable) return;
    for (let neuron = 0; neuron < layer.width; neuron++) pool.push({ layer: l, neuron });
  });
  const left = [...room];
  const chosen: Candidate[] = [];
  // Partial Fisher–Yates: position i receives a uniform draw from the unshuffled tail.
  for (let i = 0; i < pool.length && chosen.length < requested; i++) {
    const j = i + Math.min(pool.length - i - 1, Math.floor(context.random() * (pool.length - i)));
    const pick = pool[j]!;
    pool[j] = pool[i]!;
    pool[i] = pick;
    if (left[pick.layer]! < 1) continue;
    left[pick.layer] = left[pick.layer]! - 1;
    chosen.push({ layer: pick.layer, neuron: pick.neuron, score: 0, added: 1 });
  }
  chosen.sort((a, b) => a.layer - b.layer || a.neuron - b.neuron);
  return { chosen, requested };
}

/**
 * Length of θ of every splittable layer, from the network spec (`neuronDim` of `@mitosis/ir`); `null` for a
 * layer that is not splittable. A layer whose width differs from its node's output channels in the spec is an
 * `E_SHAPE_MISMATCH` naming the node.
 */
export function thetaLengths(context: MethodContext, grower: string): (number | null)[] {
  return context.layers.map((layer) => {
    if (!layer.splittable) return null;
    const channels = neuronCount(context.spec, layer.node);
    if (channels !== layer.width) {
      throw new NasError(
        'E_SHAPE_MISMATCH',
        `${grower}: layer "${layer.node}" has width ${layer.width} in the method context but ${channels} output ` +
          `channels in the network spec`,
        { grower, node: layer.node, width: layer.width, channels },
      );
    }
    return neuronDim(context.spec, layer.node);
  });
}

/**
 * The plan of a random baseline: draws the neurons ({@link chooseRandomNeurons}), then asks `grow` for each one's
 * offspring, given the length of its θ (in the order of the chosen neurons, so every draw comes from
 * `context.random` in a fixed order), and adds the method-specific details both baselines report. Baselines
 * make no loss prediction and grow by count.
 */
export function randomBaselinePlan(
  context: MethodContext,
  grower: string,
  options: CountOptions,
  epsilon: number,
  grow: (dim: number) => { readonly offspring: readonly Offspring[]; readonly scheme: string },
  extraDetails: Readonly<Record<string, unknown>> = {},
): GrowthPlan {
  const dims = thetaLengths(context, grower);
  const { chosen, requested } = chooseRandomNeurons(context, options);
  const entries: NeuronGrowth[] = chosen.map((c) => ({
    node: context.layers[c.layer]!.node,
    neuron: c.neuron,
    ...grow(dims[c.layer]!),
    score: 0,
    predictedDeltaLoss: null,
    cost: context.layers[c.layer]!.marginalCost,
  }));
  return {
    action: 'grow',
    method: grower,
    round: context.round,
    epsilon,
    entries,
    predictedDeltaLoss: null,
    details: {
      requested,
      ...extraDetails,
      layers: layerStats(context, chosen),
    },
  };
}
