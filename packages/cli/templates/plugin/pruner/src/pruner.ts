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

/** Options of the pruner; the schema below gives their defaults. */
export interface L2NormOptions {
  /**
   * Divide each channel's norm by the mean norm of its layer, so that layers whose weights have different scales
   * are compared on their own scale (false: compare raw norms across the network).
   */
  readonly perLayer: boolean;
}

const optionsSchema: JSONSchemaType<L2NormOptions> = {
  type: 'object',
  properties: {
    perLayer: { type: 'boolean', default: true },
  },
  required: ['perLayer'],
  additionalProperties: false,
};

/**
 * Ranks every channel by the L2 norm (root mean square) of its incoming weights, smallest first. The loop's plan
 * policy removes the shortest prefix of the ranking that meets the round's cost target, never taking a layer
 * below its minimum width.
 */
class L2NormPruner implements Pruner {
  readonly id = '{{id}}';
  /** The scores the loop computes for this pruner each round. */
  readonly needs: readonly ScoreRequest[] = [{ kind: 'weightNorm', norm: 2 }];

  constructor(private readonly options: L2NormOptions) {}

  async plan(context: MethodContext): Promise<PrunePlan> {
    const norms = context.scores.weightNorm;
    if (norms === undefined) {
      throw new NasError('E_RUN_FAILED', `Pruner "${this.id}" needs weight norms, but the loop computed none`);
    }
    const entries: ChannelRemoval[] = [];
    context.layers.forEach((layer, i) => {
      const layerNorms = norms[i];
      if (layerNorms === undefined || layerNorms.length === 0) return;
      const mean = layerNorms.reduce((sum, x) => sum + x, 0) / layerNorms.length;
      const scale = this.options.perLayer && mean > 0 ? 1 / mean : 1;
      layerNorms.forEach((norm, channel) => entries.push({ node: layer.node, channel, score: norm * scale }));
    });
    // Least important first; the sort is stable, so ties stay in layer order, then channel order.
    entries.sort((a, b) => a.score - b.score);
    return { action: 'prune', method: this.id, round: context.round, entries, details: { perLayer: this.options.perLayer } };
  }
}

/** The contribution: a singleton that makes one fresh pruner per run, with options validated against the schema. */
@injectable()
export class L2NormPrunerContribution implements PrunerContribution<L2NormOptions> {
  readonly id = '{{id}}';
  readonly description = 'Prune the channels of smallest incoming L2 weight norm';
  readonly optionsSchema = optionsSchema;

  create(options: L2NormOptions): Pruner {
    return new L2NormPruner(options);
  }
}
