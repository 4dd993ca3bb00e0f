import type { JSONSchemaType } from 'ajv';
import { injectable } from '@mitosis/core/di';
import type { GrowthPlan, Grower, GrowerContribution, MethodContext, ScoreRequest } from '@mitosis/core';
import { randomUnitVector, symmetricOffspring } from '@mitosis/grower-kit';
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
 * It needs no scores (`needs: []`) and makes no loss prediction; θ's length comes from the network spec.
 */
export class RandomSplitGrower implements Grower {
  readonly id = 'random-split';
  /** No scores: the neurons and directions are random. */
  readonly needs: readonly ScoreRequest[] = [];

  constructor(private readonly options: RandomSplitOptions) {}

  async plan(context: MethodContext): Promise<GrowthPlan> {
    return randomBaselinePlan(context, this.id, this.options, this.options.epsilon, (dim) => ({
      offspring: symmetricOffspring(randomUnitVector(dim, context.random)),
      scheme: 'random-direction',
    }));
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
