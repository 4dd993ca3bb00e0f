import { injectable, multiInject, optional } from '../di/shared-inversify.js';
import type { NetworkSpec } from '../network/network-spec.js';
import { ContributionRegistry, type Contribution } from './contribution.js';
import type { CostModel, CostUnit } from './cost-model.js';
import type { SplittingOperator } from './eigen-solver.js';
import type { GrowthPlan } from './growth-plan.js';

/** A layer that may grow this round. */
export interface GrowableLayer {
  readonly node: string;
  /** Current output channels. */
  readonly width: number;
  /** Most channels allowed, `null` for no cap. */
  readonly cap: number | null;
  /** Layer group sharing a budget (energy-aware splitting's `split_groups`). */
  readonly group: string;
  /** Δcost of one more output channel here, in `costUnit` (exact re-pricing of the widened network). */
  readonly marginalCost: number | null;
}

/** Everything a grower may look at when it plans one round. It must not mutate any of it. */
export interface GrowthContext {
  readonly round: number;
  readonly spec: NetworkSpec;
  /** In the same order as `operator.blocks`. */
  readonly layers: readonly GrowableLayer[];
  /** Splitting matrices of the current network on the scoring data. */
  readonly operator: SplittingOperator;
  /** The cost model that budgets are expressed in. */
  readonly costModel: CostModel;
  readonly costUnit: CostUnit;
  /** This round's budget in `costUnit`, `null` when the grower's own rule decides how much to grow. */
  readonly budget: number | null;
  /** Seeded uniform [0, 1) generator; the only randomness a grower may use. */
  readonly random: () => number;
  readonly onProgress?: (done: number, total: number, label: string) => void;
}

/**
 * A growth strategy for one run, never reused across runs. `plan` scores and selects; it returns data and never
 * edits the network itself. A plan must depend only on the context and the grower's options (all randomness
 * through `context.random`): a resumed run creates a fresh grower, and must reproduce the uninterrupted run.
 */
export interface Grower {
  readonly id: string;
  plan(context: GrowthContext): Promise<GrowthPlan>;
}

/** DI token of {@link GrowerContribution}; plugins bind their growers under it. */
export const GrowerContribution = Symbol.for('mitosis.GrowerContribution');
/** A plugin's grower: validated options in, a fresh {@link Grower} out. */
export interface GrowerContribution<O = never> extends Contribution {
  /** A fresh grower per run; options were validated against `optionsSchema` by the registry. */
  create(options: O): Grower;
}

/** All installed growers; the class is its own token. */
@injectable()
export class GrowerRegistry extends ContributionRegistry<GrowerContribution<unknown>> {
  constructor(@multiInject(GrowerContribution) @optional() contributions: readonly GrowerContribution<unknown>[] = []) {
    super('growers', 'grower', contributions);
  }

  create(id: string, options: unknown = {}): Grower {
    return this.get(id).create(this.options(id, options));
  }
}
