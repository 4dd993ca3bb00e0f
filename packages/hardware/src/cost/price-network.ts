import { NasError, type CostSource, type NetworkSpec } from '@mitosis/core';
import { parseNetworkSpec } from '@mitosis/ir';
import { blocksFromOfaNetConfig, isOfaNetConfig, type OfaNetConfig } from '../importers/ofa-net-config.js';
import type { PricedBlock } from '../ops/blocks.js';
import { canonicalKey } from '../ops/op-key.js';
import type { HardwareProfile } from '../profile/hardware-profile.js';
import { resolveProfile, type ResolvedProfile } from '../profile/load-profile.js';
import { groupedBlocksFromSpec, priceBlocksOnDevice, specResolution, totalOf } from './price-blocks.js';

export interface PriceNetworkOptions {
  /** A network spec (object, validated here) or an OFA `net_config` (priced as a cost-only block list). */
  readonly model: NetworkSpec | OfaNetConfig | unknown;
  /** Profile id, path or object; without one, latency and energy are `null`. */
  readonly profile?: string | HardwareProfile | ResolvedProfile;
  /**
   * Input resolution (pixels, square). Required for an OFA net_config; for a spec it replaces the input node's
   * height and width.
   */
  readonly resolution?: number;
}

/** One row of a priced network. */
export interface PricedLayer {
  readonly node: string;
  readonly fused: readonly string[];
  /** Canonical op key. */
  readonly key: string;
  readonly macs: number;
  readonly params: number;
  readonly latencyMs: number | null;
  readonly latencySource: CostSource | null;
  readonly energyMj: number | null;
  readonly energySource: CostSource | null;
}

export interface PricedNetwork {
  /** Multiply-accumulates (conv/depthwise/dense; OFA's "FLOPs"). */
  readonly macs: number;
  readonly params: number;
  /** Sum of the rows; `null` when a row cannot be priced (never invented) or there is no profile. */
  readonly latencyMs: number | null;
  readonly energyMj: number | null;
  readonly device: string | null;
  readonly resolution: number | null;
  readonly layers: readonly PricedLayer[];
}

/** The spec with its image input resized to `resolution`×`resolution` (channels kept). */
export function withInputResolution(spec: NetworkSpec, resolution: number): NetworkSpec {
  return {
    ...spec,
    nodes: spec.nodes.map((n) =>
      n.op === 'input' && n.shape.length === 3 ? { ...n, shape: [resolution, resolution, n.shape[2]!] } : n,
    ),
  };
}

/**
 * Prices a network without tensors: MACs and params (counted), and, given a profile, latency (ms) and energy
 * (mJ) per row with their sources. Rows follow the profile's granularity (published blocks for OFA/ProxylessNAS
 * tables, layers for a profiled device).
 */
export function priceNetwork(options: PriceNetworkOptions): PricedNetwork {
  let blocks: PricedBlock[];
  let resolution: number | undefined;
  if (isOfaNetConfig(options.model)) {
    if (options.resolution === undefined) {
      throw new NasError('E_USAGE', 'priceNetwork: an OFA net_config needs `resolution` (its run.config image_size)', {});
    }
    resolution = options.resolution;
    blocks = blocksFromOfaNetConfig(options.model, resolution);
  } else {
    let spec = parseNetworkSpec(options.model, 'priceNetwork model');
    if (options.resolution !== undefined) spec = withInputResolution(spec, options.resolution);
    resolution = specResolution(spec);
    blocks = groupedBlocksFromSpec(spec);
  }
  const profile = options.profile === undefined ? null : resolveProfile(options.profile);
  const layers: PricedLayer[] =
    profile === null
      ? blocks.map((b) => ({
          node: b.node,
          fused: b.fused,
          key: canonicalKey(b.op),
          macs: b.macs,
          params: b.params,
          latencyMs: null,
          latencySource: null,
          energyMj: null,
          energySource: null,
        }))
      : priceBlocksOnDevice(blocks, profile, resolution).map((r) => ({
          node: r.block.node,
          fused: r.block.fused,
          key: r.key,
          macs: r.block.macs,
          params: r.block.params,
          latencyMs: r.latencyMs,
          latencySource: r.latencySource,
          energyMj: r.energyMj,
          energySource: r.energySource,
        }));
  return {
    macs: blocks.reduce((s, b) => s + b.macs, 0),
    params: blocks.reduce((s, b) => s + b.params, 0),
    latencyMs: profile === null ? null : totalOf(layers.map((l) => l.latencyMs)),
    energyMj: profile === null ? null : totalOf(layers.map((l) => l.energyMj)),
    device: profile?.id ?? null,
    resolution: resolution ?? null,
    layers,
  };
}
