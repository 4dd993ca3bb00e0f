import { injectable } from '@mitosis/core/di';
import {
  NasError,
  type GrowthPlan,
  type Grower,
  type GrowerContribution,
  type JSONSchemaType,
  type MethodContext,
  type NeuronGrowth,
  type ScoreRequest,
} from '@mitosis/core';

/** Options of the top-k grower; the schema below gives their defaults. */
export interface TopKOptions {
  /** Neurons split per round. */
  readonly k: number;
  /** Step size ε along the unit eigenvector. */
  readonly epsilon: number;
  /** Which installed eigen solver the loop runs to compute λ_min (see `mitosis plugins`). */
  readonly solver: string;
}

const optionsSchema: JSONSchemaType<TopKOptions> = {
  type: 'object',
  properties: {
    k: { type: 'integer', minimum: 1, default: 2 },
    epsilon: { type: 'number', exclusiveMinimum: 0, default: 0.01 },
    solver: { type: 'string', default: 'dense' },
  },
  required: ['k', 'epsilon', 'solver'],
  additionalProperties: false,
};

/** Splits the k neurons with the most negative λ_min into θ ± εv with halved outgoing weights (S2D's split). */
class TopKGrower implements Grower {
  readonly id = 'top-k';
  /** The scores the loop computes for this grower each round, with the eigen solver the user picked. */
  readonly needs: readonly ScoreRequest[];

  constructor(private readonly options: TopKOptions) {
    this.needs = [{ kind: 'splitting', solver: options.solver }];
  }

  async plan(context: MethodContext): Promise<GrowthPlan> {
    const results = context.scores.splitting;
    if (results === undefined) {
      throw new NasError('E_RUN_FAILED', `Grower "${this.id}" needs splitting scores, but the context has none`);
    }
    const candidates: NeuronGrowth[] = [];
    results.forEach((block, b) => {
      const layer = context.layers[b];
      if (layer === undefined || !layer.splittable) return; // no splitting matrix: placeholder scores
      for (let j = 0; j < block.neurons; j++) {
        const lambda = block.lambdaMin[j] ?? 0;
        if (!(lambda < 0)) continue; // only splits that lower the loss to second order
        const v = Array.from(block.vMin.subarray(j * block.dim, (j + 1) * block.dim));
        candidates.push({
          node: layer.node,
          neuron: j,
          offspring: [
            { weight: 0.5, direction: v },
            { weight: 0.5, direction: v.map((x) => -x) },
          ],
          scheme: 's2d',
          score: lambda,
          predictedDeltaLoss: ((this.options.epsilon ** 2) / 2) * lambda,
          cost: layer.marginalCost,
        });
      }
    });
    const entries = candidates.sort((a, b) => a.score - b.score).slice(0, this.options.k);
    return {
      action: 'grow',
      method: this.id,
      round: context.round,
      epsilon: this.options.epsilon,
      entries,
      predictedDeltaLoss: entries.reduce((sum, e) => sum + (e.predictedDeltaLoss ?? 0), 0),
      details: { solver: this.options.solver, negative: candidates.length },
    };
  }
}

/** The contribution: a singleton that makes one fresh grower per run. */
@injectable()
export class TopKGrowerContribution implements GrowerContribution<TopKOptions> {
  readonly id = 'top-k';
  readonly description = 'Split the k neurons with the most negative λ_min (example plugin)';
  readonly optionsSchema = optionsSchema;

  create(options: TopKOptions): Grower {
    return new TopKGrower(options);
  }
}
