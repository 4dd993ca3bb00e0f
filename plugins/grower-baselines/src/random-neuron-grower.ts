import type { JSONSchemaType } from 'ajv';
import { injectable } from '@mitosis/core/di';
import type { GrowthPlan, Grower, GrowerContribution, MethodContext, ScoreRequest } from '@mitosis/core';
import { normalFrom } from '@mitosis/grower-kit';
import { countOptionsProperties, randomBaselinePlan, type CountOptions } from './random-choice.js';

/** Options of the fresh-random-neuron baseline. */
export interface RandomNeuronOptions extends CountOptions {
  /** Standard deviation of each incoming weight (and the bias) of a fresh neuron. */
  readonly initScale: number;
  /** |w| of the fresh neuron's outgoing weights, as a multiple of the host neuron's; its sign is random. */
  readonly outgoingScale: number;
}

export const randomNeuronOptionsSchema: JSONSchemaType<RandomNeuronOptions> = {
  type: 'object',
  properties: {
    ...countOptionsProperties,
    initScale: { type: 'number', exclusiveMinimum: 0, default: 0.01 },
    outgoingScale: { type: 'number', minimum: 0, default: 0.01 },
  },
  required: ['selection', 'fraction', 'k', 'initScale', 'outgoingScale'],
  additionalProperties: false,
};

/**
 * Baseline (algorithms.md §9 C, "adding a fresh small random neuron"): the layer gains a new neuron with
 * incoming weights θ' ~ N(0, initScale²) per entry, unrelated to any existing neuron. A growth plan can only
 * give a new neuron a multiple of an existing neuron's outgoing weights, so each fresh neuron is attached to a
 * host drawn at random: the host keeps θ and weight 1, the fresh neuron gets `replace: θ'` and weight
 * ±outgoingScale (random sign). The function changes by ±outgoingScale·σ(θ'ᵀx)·(host's outgoing weights),
 * which is O(outgoingScale·initScale) for σ(0) = 0 (tanh, relu) but ≈ outgoingScale·σ(0) for sigmoid.
 */
export class RandomNeuronGrower implements Grower {
  readonly id = 'random-neuron';
  /** No scores: hosts and fresh weights are random. */
  readonly needs: readonly ScoreRequest[] = [];

  constructor(private readonly options: RandomNeuronOptions) {}

  async plan(context: MethodContext): Promise<GrowthPlan> {
    const { initScale, outgoingScale } = this.options;
    return randomBaselinePlan(
      context,
      this.id,
      this.options,
      0,
      (dim) => {
        const fresh = Array.from({ length: dim }, () => initScale * normalFrom(context.random));
        const sign = context.random() < 0.5 ? -1 : 1;
        return { offspring: [{ weight: 1 }, { weight: sign * outgoingScale, replace: fresh }], scheme: 'random-neuron' };
      },
      { initScale, outgoingScale },
    );
  }
}

/** The contribution: a singleton that makes one fresh grower per run. */
@injectable()
export class RandomNeuronGrowerContribution implements GrowerContribution<RandomNeuronOptions> {
  readonly id = 'random-neuron';
  readonly description = 'Baseline: add fresh neurons with small random incoming and outgoing weights';
  readonly optionsSchema = randomNeuronOptionsSchema;

  create(options: RandomNeuronOptions): Grower {
    return new RandomNeuronGrower(options);
  }
}
