import { injectable } from '@mitosis/core/di';
import type {
  GrowthPlan,
  Grower,
  GrowerContribution,
  JSONSchemaType,
  MethodContext,
  NeuronGrowth,
  ScoreRequest,
} from '@mitosis/core';
import { layerRoom, splittingScores, symmetricSplit, unitRow } from '@mitosis/grower-kit';

/** Options of the grower; the schema below gives their defaults. */
export interface BudgetSplitOptions {
  /** Most neurons split in one round; the round's budget and the layers' caps may stop it earlier. */
  readonly maxSplits: number;
  /** Step size ε along the unit eigenvector v_min. */
  readonly epsilon: number;
  /** The eigen solver the loop runs to compute λ_min and v_min (see `mitosis plugins`). */
  readonly solver: string;
}

const optionsSchema: JSONSchemaType<BudgetSplitOptions> = {
  type: 'object',
  properties: {
    maxSplits: { type: 'integer', minimum: 1, default: 4 },
    epsilon: { type: 'number', exclusiveMinimum: 0, default: 0.01 },
    solver: { type: 'string', default: 'dense' },
  },
  required: ['maxSplits', 'epsilon', 'solver'],
  additionalProperties: false,
};

/** A neuron that may split: its layer (index into `context.layers`), its index and its λ_min. */
interface Candidate {
  readonly layer: number;
  readonly neuron: number;
  readonly lambda: number;
}

/**
 * Splits the neurons with the most negative λ_min first, each into θ ± ε·v_min with halved outgoing weights,
 * while the round's budget (`context.budget`, in the cost model's unit; each split costs its layer's marginal
 * cost) and the layers' caps allow, up to `maxSplits`. A neuron whose λ_min is not negative is never split: the
 * split would not lower the loss to second order.
 */
class BudgetSplitGrower implements Grower {
  readonly id = '{{id}}';
  /** The scores the loop computes for this grower each round, with the eigen solver the user picked. */
  readonly needs: readonly ScoreRequest[];

  constructor(private readonly options: BudgetSplitOptions) {
    this.needs = [{ kind: 'splitting', solver: options.solver }];
  }

  async plan(context: MethodContext): Promise<GrowthPlan> {
    const results = splittingScores(context, this.id); // checked against the layers
    const room = layerRoom(context); // neurons each layer may still add: 0 when not splittable or at its cap
    const candidates: Candidate[] = [];
    results.forEach((block, layer) => {
      if ((room[layer] ?? 0) <= 0) return;
      for (let neuron = 0; neuron < block.neurons; neuron++) {
        const lambda = block.lambdaMin[neuron] ?? 0;
        if (lambda < 0) candidates.push({ layer, neuron, lambda });
      }
    });
    candidates.sort((a, b) => a.lambda - b.lambda || a.layer - b.layer || a.neuron - b.neuron);

    const entries: NeuronGrowth[] = [];
    let spent = 0;
    let overBudget = 0;
    for (const c of candidates) {
      if (entries.length >= this.options.maxSplits) break;
      const layer = context.layers[c.layer];
      const block = results[c.layer];
      if (layer === undefined || block === undefined || (room[c.layer] ?? 0) <= 0) continue;
      const cost = layer.marginalCost;
      if (context.budget !== null && cost !== null && spent + cost > context.budget) {
        overBudget++; // a cheaper neuron of another layer may still fit
        continue;
      }
      const v = unitRow(block.vMin, c.neuron, block.dim);
      entries.push(symmetricSplit(layer.node, c.neuron, v, this.options.epsilon, c.lambda, cost));
      spent += cost ?? 0;
      room[c.layer] = (room[c.layer] ?? 0) - 1;
    }
    return {
      action: 'grow',
      method: this.id,
      round: context.round,
      epsilon: this.options.epsilon,
      entries,
      predictedDeltaLoss: entries.reduce((sum, e) => sum + (e.predictedDeltaLoss ?? 0), 0),
      details: { solver: this.options.solver, negative: candidates.length, overBudget, cost: spent, budget: context.budget },
    };
  }
}

/** The contribution: a singleton that makes one fresh grower per run, with options validated against the schema. */
@injectable()
export class BudgetSplitGrowerContribution implements GrowerContribution<BudgetSplitOptions> {
  readonly id = '{{id}}';
  readonly description = 'Split the neurons with the most negative λ_min within the round budget';
  readonly optionsSchema = optionsSchema;

  create(options: BudgetSplitOptions): Grower {
    return new BudgetSplitGrower(options);
  }
}
