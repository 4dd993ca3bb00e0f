import type { JSONSchemaType } from 'ajv';
import { injectable } from '@mitosis/core/di';
import {
  ConfigValidationError,
  NasError,
  type ResizeContext,
  type ResizePlan,
  type Resizer,
  type ResizerContribution,
} from '@mitosis/core';
import { familyAlphas, widthsAt } from './width-scaling.js';

/** Options of `width-multiplier`; {@link widthMultiplierOptionsSchema} gives the defaults. */
export interface WidthMultiplierOptions {
  /**
   * A fixed α (MobileNet's 0.25, 0.5, 0.75, 1, …); `null` (the default the registry fills in) searches α to meet
   * the run's cost target. Optional in the type only because ajv's schema types require that of a nullable field.
   */
  readonly alpha?: number | null;
  /** Smallest α the search considers (default 0.05). */
  readonly alphaMin: number;
  /** Largest α the search considers (default 8). */
  readonly alphaMax: number;
  /** 1 (default): width = round(α·width); > 1: MobileNet's make-divisible rounding to multiples of it (8 there). */
  readonly divisor: number;
}

/** JSON Schema of {@link WidthMultiplierOptions}; its defaults are the reference set-up. */
export const widthMultiplierOptionsSchema: JSONSchemaType<WidthMultiplierOptions> = {
  type: 'object',
  properties: {
    alpha: { type: 'number', nullable: true, exclusiveMinimum: 0, default: null },
    alphaMin: { type: 'number', exclusiveMinimum: 0, default: 0.05 },
    alphaMax: { type: 'number', exclusiveMinimum: 0, default: 8 },
    divisor: { type: 'integer', minimum: 1, default: 1 },
  },
  required: ['alphaMin', 'alphaMax', 'divisor'],
  additionalProperties: false,
};

/** One priced member of the family. */
interface Priced {
  readonly alpha: number;
  readonly widths: Record<string, number>;
  readonly cost: number | null;
}

/**
 * A MobileNet-style width multiplier (Howard et al. 2017): one α for every layer, width_l = max(min_l,
 * round(α·width_l)) (at most the layer's cap, when it has one), or make-divisible rounding with `divisor` > 1.
 *
 * Without a fixed `alpha` the resizer finds the member of this single-α family whose cost is the largest not
 * above the run's target: it enumerates one α per step of the family on [alphaMin, alphaMax] (widths are
 * integers, so the family has finitely many members) and bisects over them with `price`, which is exact for
 * any cost that does not decrease when a width grows (MACs, parameters; a latency table is assumed to be
 * monotone too). The plan's details name the next member up and its cost, which is above the target.
 *
 * A target that even α = alphaMin exceeds is `E_BUDGET_INFEASIBLE` (`details.reason` `budget-infeasible`); a
 * run without a target and without a fixed α is `E_CONFIG_INVALID` too.
 */
export class WidthMultiplierResizer implements Resizer {
  readonly id = 'width-multiplier';

  constructor(private readonly options: WidthMultiplierOptions) {}

  async plan(context: ResizeContext): Promise<ResizePlan> {
    const { alphaMin, alphaMax, divisor } = this.options;
    const alpha = this.options.alpha ?? null;
    let calls = 0;
    const at = (a: number): Priced => {
      const widths = widthsAt(context.layers, a, divisor);
      calls += 1;
      return { alpha: a, widths, cost: context.price(widths) };
    };
    if (alpha !== null) {
      const fixed = at(alpha);
      const within = context.target === null || fixed.cost === null ? null : fixed.cost <= context.target;
      return this.result(context, fixed, calls, { search: 'fixed', withinTarget: within, next: null });
    }
    const target = context.target;
    if (target === null) {
      throw new NasError(
        'E_CONFIG_INVALID',
        `Resizer "${this.id}" needs a cost target to fit α to, or a fixed "alpha" option; this run has neither`,
        { resizer: this.id, reason: 'no-target' },
      );
    }
    const alphas = familyAlphas(context.layers, divisor, alphaMin, alphaMax);
    const priced = (i: number): Priced & { cost: number } => {
      const p = at(alphas[i] as number);
      if (p.cost === null) {
        throw new NasError(
          'E_CONFIG_INVALID',
          `Resizer "${this.id}": cost model "${context.costModel.id}" cannot price the network at α = ${p.alpha}; ` +
            'choose a cost model (or hardware profile) that covers these widths',
          { resizer: this.id, reason: 'unpriced', alpha: p.alpha, widths: p.widths, costModel: context.costModel.id },
        );
      }
      return p as Priced & { cost: number };
    };
    let low = priced(0);
    if (low.cost > target) {
      throw new NasError(
        'E_BUDGET_INFEASIBLE',
        `Resizer "${this.id}": the cost target ${target} ${context.costUnit} is out of reach; even α = ${alphaMin} ` +
          `costs ${low.cost} ${context.costUnit}. Raise the target or lower alphaMin`,
        { resizer: this.id, reason: 'budget-infeasible', target, cost: low.cost, costUnit: context.costUnit, alphaMin, widths: low.widths },
      );
    }
    let lowIndex = 0;
    let highIndex = alphas.length - 1;
    let high = priced(highIndex);
    if (high.cost <= target) return this.result(context, high, calls, { search: 'bisection', steps: alphas.length, next: null });
    // Invariant: cost(alphas[lowIndex]) ≤ target < cost(alphas[highIndex]).
    while (highIndex - lowIndex > 1) {
      const mid = (lowIndex + highIndex) >>> 1;
      const p = priced(mid);
      if (p.cost <= target) [low, lowIndex] = [p, mid];
      else [high, highIndex] = [p, mid];
    }
    return this.result(context, low, calls, {
      search: 'bisection',
      steps: alphas.length,
      next: { alpha: high.alpha, cost: high.cost },
    });
  }

  private result(context: ResizeContext, chosen: Priced, iterations: number, extra: Record<string, unknown>): ResizePlan {
    return {
      action: 'resize',
      method: this.id,
      round: 1,
      widths: chosen.widths,
      details: {
        alpha: chosen.alpha,
        cost: chosen.cost,
        target: context.target,
        costUnit: context.costUnit,
        iterations,
        range: [this.options.alphaMin, this.options.alphaMax],
        divisor: this.options.divisor,
        ...extra,
      },
    };
  }
}

/** The contribution: a singleton that makes one fresh `width-multiplier` resizer per run. */
@injectable()
export class WidthMultiplierContribution implements ResizerContribution<WidthMultiplierOptions> {
  readonly id = 'width-multiplier';
  readonly description = 'Width multiplier (MobileNet): scale every layer by one α, fitted to the cost target';
  readonly optionsSchema = widthMultiplierOptionsSchema;

  /** Checks what the schema cannot: alphaMin < alphaMax (`E_OPTIONS_INVALID`, pointer `/alphaMax`). */
  create(options: WidthMultiplierOptions): Resizer {
    if (!(options.alphaMin < options.alphaMax)) {
      throw new ConfigValidationError(
        `resizer "${this.id}"`,
        [{ pointer: '/alphaMax', message: `must be greater than alphaMin (${options.alphaMin})` }],
        'options for',
        'E_OPTIONS_INVALID',
      );
    }
    return new WidthMultiplierResizer(options);
  }
}
