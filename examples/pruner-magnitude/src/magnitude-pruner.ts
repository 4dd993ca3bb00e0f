import { injectable } from '@mitosis/core/di';
import {
  NasError,
  type ChannelRemoval,
  type JSONSchemaType,
  type MethodContext,
  type PrunePlan,
  type Pruner,
  type PrunerContribution,
  type ScoreRequest,
} from '@mitosis/core';

/** Options of the magnitude pruner; the schema below gives their defaults. */
export interface MagnitudeOptions {
  /** 1: mean |w| of each channel's incoming weights; 2: their root mean square. */
  readonly norm: 1 | 2;
}

const optionsSchema: JSONSchemaType<MagnitudeOptions> = {
  type: 'object',
  properties: {
    norm: { type: 'integer', enum: [1, 2], default: 2 },
  },
  required: ['norm'],
  additionalProperties: false,
};

/** Ranks every channel of every layer by the norm of its incoming weights, smallest first. */
class MagnitudePruner implements Pruner {
  readonly id = 'magnitude';
  readonly needs: readonly ScoreRequest[];

  constructor(options: MagnitudeOptions) {
    this.needs = [{ kind: 'weightNorm', norm: options.norm }];
  }

  async plan(context: MethodContext): Promise<PrunePlan> {
    const norms = context.scores.weightNorm;
    if (norms === undefined) {
      throw new NasError('E_RUN_FAILED', `Pruner "${this.id}" needs weight norms, but the loop computed none`);
    }
    const entries: ChannelRemoval[] = [];
    context.layers.forEach((layer, i) => {
      norms[i]?.forEach((score, channel) => entries.push({ node: layer.node, channel, score }));
    });
    // Least important first. The sort is stable: ties stay in layer order, then channel order.
    entries.sort((a, b) => a.score - b.score);
    return { action: 'prune', method: this.id, round: context.round, entries };
  }
}

/** The contribution: a singleton that makes one fresh pruner per run. */
@injectable()
export class MagnitudePrunerContribution implements PrunerContribution<MagnitudeOptions> {
  readonly id = 'magnitude';
  readonly description = 'Prune the channels of smallest incoming weight norm (example plugin)';
  readonly optionsSchema = optionsSchema;

  create(options: MagnitudeOptions): Pruner {
    return new MagnitudePruner(options);
  }
}
