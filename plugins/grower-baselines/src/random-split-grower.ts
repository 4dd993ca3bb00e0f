import type { JSONSchemaType } from 'ajv';
import { injectable } from '@mitosis/core/di';
import type { GrowthContext, GrowthPlan, Grower, GrowerContribution } from '@mitosis/core';
import { randomUnitVector } from '@mitosis/grower-kit';
import { countOptionsProperties, randomBaselinePlan, type CountOptions } from './random-choice.js';

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
    return randomBaselinePlan(context, this.id, this.options, this.options.epsilon, (dim) => {
      const u = randomUnitVector(dim, context.random);
      return {
        offspring: [
          { weight: 0.5, direction: u },
          { weight: 0.5, direction: u.map((x) => -x) },
        ],
        scheme: 'random-direction',
      };
    });
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
