import type { CostEstimate, CostModel, CostUnit, NetworkSpec } from '@mitosis/core';
import { blocksFromSpec } from '../ops/blocks.js';
import { canonicalKey } from '../ops/op-key.js';
import { resolveProfile, type ResolvedProfile } from '../profile/load-profile.js';
import type { HardwareProfile } from '../profile/hardware-profile.js';
import { groupedBlocksFromSpec, layerCostOf, priceBlocksOnDevice, specResolution, totalOf } from './price-blocks.js';

/** Counts multiply-accumulates per row (conv, depthwise, dense only); every row `counted`. */
export class MacsCostModel implements CostModel {
  readonly id = 'macs';
  readonly unit: CostUnit = 'macs';

  estimate(spec: NetworkSpec): CostEstimate {
    const layers = blocksFromSpec(spec).map((b) => ({
      node: b.node,
      value: b.macs,
      source: 'counted' as const,
      key: canonicalKey(b.op),
      fused: b.fused,
    }));
    return { model: this.id, unit: this.unit, total: layers.reduce((s, l) => s + l.value, 0), layers };
  }
}

/** Counts trainable parameters per row (weights, biases, batch-norm γ/β); every row `counted`. */
export class ParamsCostModel implements CostModel {
  readonly id = 'params';
  readonly unit: CostUnit = 'params';

  estimate(spec: NetworkSpec): CostEstimate {
    const layers = blocksFromSpec(spec).map((b) => ({
      node: b.node,
      value: b.params,
      source: 'counted' as const,
      key: canonicalKey(b.op),
      fused: b.fused,
    }));
    return { model: this.id, unit: this.unit, total: layers.reduce((s, l) => s + l.value, 0), layers };
  }
}

/** Options of the device cost models. */
export interface DeviceCostOptions {
  /** A shipped profile id (`note10-cpu`), a path to a profile `.json`, or a profile object. */
  readonly profile: string | HardwareProfile | ResolvedProfile;
}

abstract class DeviceCostModel implements CostModel {
  abstract readonly id: string;
  abstract readonly unit: CostUnit;
  protected readonly profile: ResolvedProfile;

  /** Loads and validates the profile once (`E_PROFILE_INVALID` with pointers on a bad one). */
  constructor(options: DeviceCostOptions) {
    this.profile = resolveProfile(options.profile);
  }

  protected price(spec: NetworkSpec, metric: 'latency' | 'energy'): CostEstimate {
    const rows = priceBlocksOnDevice(groupedBlocksFromSpec(spec), this.profile, specResolution(spec));
    const layers = rows.map((r) => layerCostOf(r, metric));
    return { model: this.id, unit: this.unit, total: totalOf(layers.map((l) => l.value)), layers, device: this.profile.id };
  }

  abstract estimate(spec: NetworkSpec): CostEstimate;
}

/**
 * Latency in ms on a hardware profile: table entries (`lut`), fallback predictions (`predicted`/`estimated`)
 * for ops the table lacks, `null` only where the profile has no fallback.
 */
export class LatencyCostModel extends DeviceCostModel {
  readonly id = 'latency';
  readonly unit: CostUnit = 'ms';

  estimate(spec: NetworkSpec): CostEstimate {
    return this.price(spec, 'latency');
  }
}

/** Energy in mJ on a hardware profile (energy table or energy model); `null` rows where it has neither. */
export class EnergyCostModel extends DeviceCostModel {
  readonly id = 'energy';
  readonly unit: CostUnit = 'mJ';

  estimate(spec: NetworkSpec): CostEstimate {
    return this.price(spec, 'energy');
  }
}
