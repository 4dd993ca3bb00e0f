import { NasError } from '@mitosis/core';
import type { PricedBlock } from '../ops/blocks.js';
import { opMacs, opParams } from '../ops/op-features.js';
import type { OpDescriptor } from '../ops/op-key.js';

/**
 * OFA's architecture JSON (`net.config`, as in `ofa/specialized_subnets.json`): `MobileNetV3` or
 * `ProxylessNASNets`, made of a first conv, MBConv blocks, an optional final expand conv, a feature-mix conv and
 * a linear classifier. Only the fields pricing needs are typed.
 */
export interface OfaNetConfig {
  readonly name: string;
  readonly first_conv: OfaConvLayer;
  readonly blocks: readonly {
    readonly mobile_inverted_conv: OfaMbConv | null;
    readonly shortcut: unknown;
  }[];
  readonly final_expand_layer?: OfaConvLayer | null;
  readonly feature_mix_layer: OfaConvLayer;
  readonly classifier: { readonly in_features: number; readonly out_features: number; readonly bias?: boolean };
}
interface OfaConvLayer {
  readonly kernel_size: number;
  readonly stride: number;
  readonly in_channels: number;
  readonly out_channels: number;
  readonly use_bn?: boolean;
  readonly act_func?: string | null;
}
interface OfaMbConv {
  readonly in_channels: number;
  readonly out_channels: number;
  readonly kernel_size: number;
  readonly stride: number;
  readonly expand_ratio: number;
  readonly mid_channels: number | null;
  readonly act_func: string;
  readonly use_se: boolean;
}

/** True when `value` looks like an OFA `net_config` (has `first_conv` and `blocks`). */
export function isOfaNetConfig(value: unknown): value is OfaNetConfig {
  return typeof value === 'object' && value !== null && 'first_conv' in value && 'blocks' in value;
}

function bad(why: string, pointer: string): NasError {
  return new NasError('E_MODEL_FORMAT', `OFA net_config ${pointer}: ${why}`, { pointer });
}

function positiveInt(v: unknown, pointer: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw bad('must be a positive integer', pointer);
  return v;
}

function block(node: string, op: OpDescriptor, bnChannels: number): PricedBlock {
  return { node, fused: [node], op, macs: opMacs(op), params: opParams(op) + 2 * bnChannels };
}

/**
 * Converts an OFA `net_config` at input `resolution` into a cost-only block list, one row per OFA layer
 * (`first_conv`, `blocks.<i>`, `final_expand_layer`, `global_avg_pool`, `feature_mix_layer`, `classifier`),
 * with ops in the canonical key vocabulary and spatial sizes as OFA computes them: first conv
 * `(r + 1) // 2`, then `(f − 1) // stride + 1` per block.
 *
 * A cost-only list rather than a network spec: MobileNetV3 blocks use squeeze-excite (a channel-wise
 * multiply) and h-swish, neither of which is in the network-spec node set, and pricing needs none of the
 * graph. MACs: convs and FCs only (SE = two FCs of width `makeDivisible(mid // 4, 8)`); params include conv
 * weights, BN γ/β, SE and classifier biases.
 */
export function blocksFromOfaNetConfig(config: OfaNetConfig, resolution: number): PricedBlock[] {
  positiveInt(resolution, '/resolution');
  const proxyless = config.name === 'ProxylessNASNets';
  if (!proxyless && config.name !== 'MobileNetV3') {
    throw bad(`unsupported network "${String(config.name)}" (MobileNetV3 or ProxylessNASNets)`, '/name');
  }
  const rows: PricedBlock[] = [];
  const fc = config.first_conv;
  const c0 = positiveInt(fc?.out_channels, '/first_conv/out_channels');
  let f = Math.floor((resolution + 1) / 2);
  rows.push(
    block('first_conv', {
      kind: 'conv2d',
      input: [resolution, resolution, positiveInt(fc.in_channels, '/first_conv/in_channels')],
      output: [f, f, c0],
      attrs: { kernel: positiveInt(fc.kernel_size, '/first_conv/kernel_size'), stride: positiveInt(fc.stride, '/first_conv/stride'), groups: 1 },
    }, fc.use_bn === false ? 0 : c0),
  );
  config.blocks.forEach((b, i) => {
    const mb = b.mobile_inverted_conv;
    if (mb === null || mb === undefined) return;
    const at = `/blocks/${i}/mobile_inverted_conv`;
    const cin = positiveInt(mb.in_channels, `${at}/in_channels`);
    const cout = positiveInt(mb.out_channels, `${at}/out_channels`);
    const stride = positiveInt(mb.stride, `${at}/stride`);
    const mid =
      mb.expand_ratio === 1 ? cin : mb.mid_channels ?? Math.round(cin * mb.expand_ratio);
    const out = Math.floor((f - 1) / stride) + 1;
    const op: OpDescriptor = {
      kind: 'mbconv',
      input: [f, f, cin],
      output: [out, out, cout],
      attrs: {
        mid,
        kernel: positiveInt(mb.kernel_size, `${at}/kernel_size`),
        stride,
        groups: 1,
        skip: b.shortcut === null || b.shortcut === undefined ? 0 : 1,
        se: mb.use_se ? 1 : 0,
        hs: mb.act_func === 'h_swish' ? 1 : 0,
      },
    };
    const bn = (mid === cin ? 0 : mid) + mid + cout;
    rows.push(block(`blocks.${i}`, op, bn));
    f = out;
  });
  let c = rows.at(-1)!.op.output[2]!;
  const fe = config.final_expand_layer;
  if (fe) {
    const co = positiveInt(fe.out_channels, '/final_expand_layer/out_channels');
    rows.push(
      block('final_expand_layer', { kind: 'conv2d', input: [f, f, c], output: [f, f, co], attrs: { kernel: 1, stride: 1, groups: 1 } }, fe.use_bn === false ? 0 : co),
    );
    c = co;
  }
  const fm = config.feature_mix_layer;
  const fmOut = positiveInt(fm?.out_channels, '/feature_mix_layer/out_channels');
  const classes = positiveInt(config.classifier?.out_features, '/classifier/out_features');
  const fcParams = (cin: number): number => (config.classifier.bias === false ? 0 : classes) + cin * classes;
  if (proxyless) {
    // ProxylessNAS: feature mix on the f×f map, then global pooling + FC (one `Logits` entry in its table).
    rows.push(
      block('feature_mix_layer', { kind: 'conv2d', input: [f, f, c], output: [f, f, fmOut], attrs: { kernel: 1, stride: 1, groups: 1 } }, fm.use_bn === false ? 0 : fmOut),
    );
    const op: OpDescriptor = { kind: 'classifier', input: [f, f, fmOut], output: [classes], attrs: {} };
    rows.push({ node: 'classifier', fused: ['global_avg_pool', 'classifier'], op, macs: opMacs(op), params: fcParams(fmOut) });
  } else {
    // MobileNetV3: global pooling, then the feature mix as a 1×1 conv on 1×1, then the FC.
    rows.push(block('global_avg_pool', { kind: 'gap', input: [f, f, c], output: [c], attrs: {} }, 0));
    rows.push(
      block('feature_mix_layer', { kind: 'conv2d', input: [1, 1, c], output: [1, 1, fmOut], attrs: { kernel: 1, stride: 1, groups: 1 } }, fm.use_bn === true ? fmOut : 0),
    );
    const op: OpDescriptor = { kind: 'dense', input: [fmOut], output: [classes], attrs: {} };
    rows.push({ node: 'classifier', fused: ['classifier'], op, macs: opMacs(op), params: fcParams(fmOut) });
  }
  return rows;
}
