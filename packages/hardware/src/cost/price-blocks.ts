import type { CostSource, LayerCost, NetworkSpec } from '@mitosis/core';
import { blocksFromSpec, groupBlocks, type PricedBlock } from '../ops/blocks.js';
import { opFeatures } from '../ops/op-features.js';
import { canonicalKey } from '../ops/op-key.js';
import type { ResolvedProfile } from '../profile/load-profile.js';

/** One row of a device price: the block, its key, and latency (ms) / energy (mJ) with their sources. */
export interface DeviceRow {
  readonly block: PricedBlock;
  readonly key: string;
  readonly latencyMs: number | null;
  readonly latencySource: CostSource;
  readonly energyMj: number | null;
  readonly energySource: CostSource;
}

/** The network's input height (its resolution) from a spec's input node, when it is an image. */
export function specResolution(spec: NetworkSpec): number | undefined {
  const input = spec.nodes.find((n) => n.op === 'input');
  return input && input.op === 'input' && input.shape.length === 3 ? input.shape[0] : undefined;
}

/**
 * Prices rows on a profile: a table hit is `lut`; a composite (`mbconv`, `classifier`) the table lacks is
 * priced from its parts on a layer-granularity profile and by the fallback on a block-granularity profile; any
 * other miss goes to the fallback (`predicted`, or `estimated` in an estimated profile). A row nothing can
 * price is `null` with source `estimated`; nothing throws on a miss.
 * @param resolution network input height, selecting the profile's per-resolution overrides.
 */
export function priceBlocksOnDevice(
  blocks: readonly PricedBlock[],
  profile: ResolvedProfile,
  resolution: number | undefined,
): DeviceRow[] {
  const rows: DeviceRow[] = [];
  const visit = (block: PricedBlock): void => {
    const key = canonicalKey(block.op);
    const features = opFeatures(block.op, profile.bytesPerElement);
    let latency = profile.lookupLatency(key, resolution);
    if (latency === undefined && block.parts && profile.profile.granularity === 'layer') {
      block.parts.forEach(visit);
      return;
    }
    latency ??= profile.predictLatency(block.op, features);
    const latencyMs = latency?.value ?? null;
    const energy = profile.energy(key, features, latencyMs);
    rows.push({
      block,
      key,
      latencyMs,
      latencySource: latency?.source ?? 'estimated',
      energyMj: energy?.value ?? null,
      energySource: energy?.source ?? 'estimated',
    });
  };
  blocks.forEach(visit);
  return rows;
}

/** Layer rows of a spec, grouped into published blocks where the pattern matches. */
export function groupedBlocksFromSpec(spec: NetworkSpec): PricedBlock[] {
  return groupBlocks(spec, blocksFromSpec(spec));
}

/** Sums values; `null` as soon as one is `null`. */
export function totalOf(values: readonly (number | null)[]): number | null {
  let sum = 0;
  for (const v of values) {
    if (v === null) return null;
    sum += v;
  }
  return sum;
}

/** A device row as a core `LayerCost` for latency or energy. */
export function layerCostOf(row: DeviceRow, metric: 'latency' | 'energy'): LayerCost {
  return {
    node: row.block.node,
    value: metric === 'latency' ? row.latencyMs : row.energyMj,
    source: metric === 'latency' ? row.latencySource : row.energySource,
    key: row.key,
    fused: row.block.fused,
  };
}
