import type { JSONSchemaType } from 'ajv';
import { injectable } from '@mitosis/core/di';
import type { GrowthContext, GrowthPlan, Grower, GrowerContribution, NeuronGrowth } from '@mitosis/core';
import { checkOperatorBlocks, layerStats, randomUnitVector } from '@mitosis/grower-kit';
import { chooseRandomNeurons, countOptionsProperties, type CountOptions } from './random-choice.js';

/** Options of the random-direction split baseline. */
export interface RandomSplitOptions extends CountOptions {
  /** Step size ε along the random unit direction (as S2D: 0.01). */
  readonly epsilon: number;
}

export const randomSplitOptionsSchema: JSONSchemaType<RandomSplitOptions> = {
  type: 'object',
  properties: {
    ...countOptionsProperties,
    epsilon: { type: 'number', exclusiveMinimum: 0, default: 0.01 },
  },
  required: ['selection', 'fraction', 'k', 'epsilon'],
  additionalProperties: false,
};

/**
 * Baseline (algorithms.md §9 C): S2D's symmetric split θ ± εu with weights ½, ½, but along a direction u drawn
 * uniformly on the unit sphere and on neurons drawn uniformly at random, with S2D's count rule and the caps.
 * It needs no eigen solver; it makes no loss prediction.
 */
export class RandomSplitGrower implements Grower {
  readonly id = 'random-split';

  constructor(private readonly options: RandomSplitOptions) {}

  async plan(context: GrowthContext): Promise<GrowthPlan> {
    const dims = checkOperatorBlocks(context);
    const { chosen, requested } = chooseRandomNeurons(context, this.options);
    const entries: NeuronGrowth[] = chosen.map((c) => {
      const u = randomUnitVector(dims[c.layer]!, context.random);
      return {
        node: context.layers[c.layer]!.node,
        neuron: c.neuron,
        offspring: [
          { weight: 0.5, direction: u },
          { weight: 0.5, direction: u.map((x) => -x) },
        ],
        scheme: 'random-direction',
        score: 0,
        predictedDeltaLoss: null,
        cost: context.layers[c.layer]!.marginalCost,
      };
    });
    const costs = entries.map((e) => e.cost);
    return {
      grower: this.id,
      round: context.round,
      epsilon: this.options.epsilon,
      entries,
      predictedDeltaLoss: null,
      stats: {
        requested,
        grown: entries.length,
        addedCost: costs.some((x) => x === null) ? null : costs.reduce<number>((s, x) => s + (x ?? 0), 0),
        costUnit: context.costUnit,
        budget: { available: context.budget, used: null, note: 'random-split grows by count and does not spend a budget' },
        layers: layerStats(context, chosen),
      },
    };
  }
}

/** The contribution: a singleton that makes one fresh grower per run. */
@injectable()
export class RandomSplitGrowerContribution implements GrowerContribution<RandomSplitOptions> {
  readonly id = 'random-split';
  readonly description = 'Baseline: symmetric splits of random neurons along random unit directions';
  readonly optionsSchema = randomSplitOptionsSchema;

  create(options: RandomSplitOptions): Grower {
    return new RandomSplitGrower(options);
  }
}
