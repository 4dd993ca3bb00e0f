import { injectable, multiInject, optional } from '../di/shared-inversify.js';
import type { NetworkSpec } from '../network/network-spec.js';
import { ContributionRegistry, type Contribution } from './contribution.js';

/** Units are explicit everywhere: multiply-accumulates, parameter count, milliseconds, millijoules. */
export type CostUnit = 'macs' | 'params' | 'ms' | 'mJ';
export const COST_UNITS: readonly CostUnit[] = ['macs', 'params', 'ms', 'mJ'];

/**
 * Where a number came from: `counted` (exact arithmetic on the spec), `measured` (timed on the device),
 * `lut` (a lookup-table entry), `predicted` (a fitted predictor), `estimated` (a documented guess, e.g. a
 * profile built without per-op data).
 */
export type CostSource = 'counted' | 'measured' | 'lut' | 'predicted' | 'estimated';

/** One row of an estimate: a layer (or fused block) and its cost in the estimate's unit. */
export interface LayerCost {
  /** The node (or the first node of a fused block) this row prices. */
  readonly node: string;
  /** `null` when the model cannot price this layer; never invented. */
  readonly value: number | null;
  readonly source: CostSource;
  /** The lookup key used, where there is one. */
  readonly key?: string;
  /** Nodes folded into this row (a conv with its batch norm and activation). */
  readonly fused?: readonly string[];
}

/** A priced network: the total, the unit, and a per-layer breakdown with sources. */
export interface CostEstimate {
  readonly model: string;
  readonly unit: CostUnit;
  /** Sum of the layers; `null` when any layer is unpriced. */
  readonly total: number | null;
  readonly layers: readonly LayerCost[];
  /** The hardware profile priced against, for device models. */
  readonly device?: string;
}

/**
 * Prices a network spec without tensors. Set-up work (loading a profile, fitting a fallback predictor) is
 * done in the contribution's `create`; `estimate` is pure and cheap, since growers call it per candidate.
 */
export interface CostModel {
  readonly id: string;
  readonly unit: CostUnit;
  estimate(spec: NetworkSpec): CostEstimate;
}

/** DI token of {@link CostModelContribution}. */
export const CostModelContribution = Symbol.for('mitosis.CostModelContribution');
/** A plugin's cost model: its unit, whether it needs a hardware profile, and a factory. */
export interface CostModelContribution<O = never> extends Contribution {
  readonly unit: CostUnit;
  /** True when the options must name a hardware profile (`profile`). */
  readonly requiresProfile: boolean;
  create(options: O): CostModel;
}

/** All installed cost models; the class is its own token. */
@injectable()
export class CostModelRegistry extends ContributionRegistry<CostModelContribution<unknown>> {
  constructor(
    @multiInject(CostModelContribution) @optional() contributions: readonly CostModelContribution<unknown>[] = [],
  ) {
    super('costModels', 'cost model', contributions);
  }

  create(id: string, options: unknown = {}): CostModel {
    return this.get(id).create(this.options(id, options));
  }
}

/**
 * How a marginal cost is compressed before selection weighs gain against it (algorithms.md §3.3): `linear`
 * (the cost itself), `sqrt` (the fast-splitting reference on CIFAR), `log` = ln(1 + Δ) (its ImageNet setting,
 * shifted by one so that a channel cheaper than one unit is not weighed as a negative cost). The one definition
 * every method and the loop use.
 */
export type CostTransform = 'linear' | 'sqrt' | 'log';
export const COST_TRANSFORMS: readonly CostTransform[] = ['linear', 'sqrt', 'log'];

/** {@link CostTransform} of a marginal cost; a negative Δ (a non-monotonic latency table) counts as 0. */
export function transformCost(delta: number, transform: CostTransform): number {
  const d = Math.max(0, delta);
  switch (transform) {
    case 'linear':
      return d;
    case 'sqrt':
      return Math.sqrt(d);
    case 'log':
      return Math.log1p(d);
  }
}
