import type { JSONSchemaType } from 'ajv';
import { injectable } from '@mitosis/core/di';
import {
  NasError,
  type CellEdge,
  type CostUnit,
  type ShrinkCandidate,
  type ShrinkChoice,
  type ShrinkContext,
  type ShrinkProxy,
  type Shrinker,
  type ShrinkerContribution,
} from '@mitosis/core';

/**
 * Options of `autoshrink`; {@link autoshrinkOptionsSchema} gives the reference defaults (algorithms.md §6.1).
 * The nullable ones are optional in the type only because ajv's schema types require that of a nullable field;
 * the registry always fills them in.
 */
export interface AutoShrinkOptions {
  /** Edges drawn (distinct, at random) and tried per iteration (`max_steps_to_action`, 10). */
  readonly k: number;
  /** Proxy training epochs per candidate, from scratch (20). */
  readonly proxyEpochs: number;
  /** Training samples of the proxy set (`null`: the whole training split). */
  readonly proxySamples?: number | null;
  /** Score lost per decade of cost (0.1). */
  readonly costWeight: number;
  /** The cost unit of the score (`macs`). */
  readonly costUnit: CostUnit;
  /** The cost at which the cost term is zero (`null`: 10⁶ for macs and params, 1 for ms and mJ). */
  readonly costReference?: number | null;
  /** Stop once the cell keeps at most this fraction of its initial live edges (`keep_fraction`, 0.01). */
  readonly keepFraction: number;
  /** Stop after this many removals (`null`: no limit). */
  readonly maxIterations?: number | null;
  /** Which logged cell becomes the final network without a budget: the best-scoring (AutoShrink) or the last. */
  readonly final: 'best' | 'last';
}

/** JSON Schema of {@link AutoShrinkOptions}; its defaults are the reference set-up. */
export const autoshrinkOptionsSchema: JSONSchemaType<AutoShrinkOptions> = {
  type: 'object',
  properties: {
    k: { type: 'integer', minimum: 1, default: 10 },
    proxyEpochs: { type: 'integer', minimum: 1, default: 20 },
    proxySamples: { type: 'integer', minimum: 1, nullable: true, default: null },
    costWeight: { type: 'number', minimum: 0, default: 0.1 },
    costUnit: { type: 'string', enum: ['macs', 'params', 'ms', 'mJ'], default: 'macs' },
    costReference: { type: 'number', exclusiveMinimum: 0, nullable: true, default: null },
    keepFraction: { type: 'number', minimum: 0, maximum: 1, default: 0.01 },
    maxIterations: { type: 'integer', minimum: 1, nullable: true, default: null },
    final: { type: 'string', enum: ['best', 'last'], default: 'best' },
  },
  required: ['k', 'proxyEpochs', 'costWeight', 'costUnit', 'keepFraction', 'final'],
  additionalProperties: false,
};

/** The cost at which the cost term vanishes, by unit: 1M for counts (the reference form), 1 for ms and mJ. */
export function defaultCostReference(unit: CostUnit): number {
  return unit === 'macs' || unit === 'params' ? 1e6 : 1;
}

/**
 * AutoShrink's efficiency-aware metric, generalised: `accuracy − costWeight·log10(cost / reference)`. With
 * macs and the defaults this is the reference `acc − 0.1·(log10 MACs − 6)` (−0.1 per decade above 1M MACs).
 */
export function autoshrinkMetric(accuracy: number, cost: number, costWeight = 0.1, reference = 1e6): number {
  return accuracy - costWeight * Math.log10(cost / reference);
}

/**
 * AutoShrink (Zhang, Cheng, Li, Yan, Huang, Li, Chen, AAAI 2020; algorithms.md §6.1). Each iteration draws
 * `k` distinct removable edges uniformly at random (fewer when fewer are left), the loop proxy-trains the
 * one-edge-removed cells, and the candidate with the highest metric is kept (ties: the first drawn). A
 * regression loss has no accuracy; its score uses −loss in its place.
 */
export class AutoShrink implements Shrinker {
  readonly id = 'autoshrink';
  readonly proxy: ShrinkProxy;
  readonly costUnit: CostUnit;
  readonly keepFraction: number;
  readonly maxIterations: number | null;
  readonly final: 'best' | 'last';
  private readonly reference: number;

  constructor(private readonly options: AutoShrinkOptions) {
    this.proxy = { epochs: options.proxyEpochs, samples: options.proxySamples ?? null };
    this.costUnit = options.costUnit;
    this.keepFraction = options.keepFraction;
    this.maxIterations = options.maxIterations ?? null;
    this.final = options.final;
    this.reference = options.costReference ?? defaultCostReference(options.costUnit);
  }

  async propose(context: ShrinkContext): Promise<readonly CellEdge[]> {
    const pool = [...context.removable];
    const take = Math.min(this.options.k, pool.length);
    // A partial Fisher–Yates shuffle: the first `take` entries are a uniform draw without replacement.
    for (let i = 0; i < take; i++) {
      const j = i + Math.floor(context.random() * (pool.length - i));
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    }
    return pool.slice(0, take);
  }

  async choose(_context: ShrinkContext, candidates: readonly ShrinkCandidate[]): Promise<ShrinkChoice> {
    const scores = candidates.map((c) => {
      const cost = c.cost[this.costUnit];
      if (cost === null || cost === undefined || !(cost > 0)) {
        throw new NasError('E_UNIT_MISMATCH', `autoshrink cannot score the candidate without edge ${c.edge.from}-${c.edge.to}: its cost in ${this.costUnit} is ${String(cost)}`, {
          method: this.id,
          unit: this.costUnit,
        });
      }
      return autoshrinkMetric(c.accuracy ?? -c.loss, cost, this.options.costWeight, this.reference);
    });
    let chosen = 0;
    scores.forEach((s, i) => {
      if (s > scores[chosen]!) chosen = i;
    });
    return {
      scores,
      chosen,
      details: { metric: `accuracy − ${this.options.costWeight}·log10(${this.costUnit} / ${this.reference})` },
    };
  }
}

/** The contribution: a singleton that makes one fresh `autoshrink` shrinker per run. */
@injectable()
export class AutoShrinkContribution implements ShrinkerContribution<AutoShrinkOptions> {
  readonly id = 'autoshrink';
  readonly description = 'AutoShrink (Zhang et al. 2019): remove one cell edge per iteration, keeping the best of k proxy-trained candidates by accuracy − 0.1·log10(MACs/1M)';
  readonly optionsSchema = autoshrinkOptionsSchema;

  create(options: AutoShrinkOptions): Shrinker {
    return new AutoShrink(options);
  }
}
