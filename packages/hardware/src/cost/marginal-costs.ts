import { NasError, type CostModel, type CostSource, type CostUnit, type NetworkSpec } from '@mitosis/core';
import { buildChannelGraph, inferShapes, readersOf, topoSort, widenSpec } from '@mitosis/ir';

/** Compressive transform of a marginal cost, as in the fast-splitting reference code (sqrt on CIFAR, log on ImageNet). */
export type MarginalTransform = 'none' | 'sqrt' | 'log';

export interface MarginalCostOptions {
  /** Producers to price (dense/conv2d names); default every growable one. */
  readonly nodes?: readonly string[];
  readonly transform?: MarginalTransform;
  /**
   * `exact` (default): re-price the network widened by one channel (`widenSpec`) and subtract. `reference`:
   * the fast-splitting code's MobileNetV1 `flops_inc` formula (MACs only; algorithms.md §3.3).
   */
  readonly formula?: 'exact' | 'reference';
}

/** Marginal cost of one more output channel of one producer. */
export interface MarginalCost {
  readonly node: string;
  /** Δ cost in the model's unit; `null` when the model cannot price one of the two networks. */
  readonly delta: number | null;
  /** `delta` after the transform; `null` when undefined (log of a non-positive delta). */
  readonly cost: number | null;
  readonly unit: CostUnit;
  /** The least certain source among the rows that changed (`counted` for the reference formula). */
  readonly source: CostSource;
}

const SOURCE_RANK: Readonly<Record<CostSource, number>> = { counted: 0, measured: 1, lut: 2, predicted: 3, estimated: 4 };

function transformed(delta: number | null, transform: MarginalTransform): number | null {
  if (delta === null) return null;
  if (transform === 'sqrt') return delta >= 0 ? Math.sqrt(delta) : null;
  if (transform === 'log') return delta > 0 ? Math.log(delta) : null;
  return delta;
}

/**
 * Reference `flops_inc(l)` for a MobileNetV1-style chain of producers l = 0…L−1 (the first conv, then each
 * pointwise conv): `k_l²·C_{l−1}·H_l·W_l + [l > 0] k_dw²·H_l·W_l + next`, where `next` is `H_{l+1}·W_{l+1}` when
 * a depthwise conv reads layer l's output, `C_{l+1}·H_{l+1}·W_{l+1}` otherwise, and the classifier width
 * (`units` of the final dense) for the last conv. This is the fast-splitting code's approximation, not an exact
 * Δ: it omits the next pointwise conv's `C_{l+1}` factor behind a depthwise.
 */
function referenceIncrements(spec: NetworkSpec): Map<string, number> {
  const shapes = inferShapes(spec);
  const readers = readersOf(spec);
  const order = topoSort(spec);
  const convs = order.filter((n) => n.op === 'conv2d');
  const dense = order.filter((n) => n.op === 'dense');
  // The depthwise conv (if any) between a producer and the next producer along single-reader chains.
  const dwAfter = (name: string): string | undefined => {
    let at = name;
    for (let i = 0; i < 8; i++) {
      const next = readers.get(at) ?? [];
      if (next.length !== 1) return undefined;
      const r = next[0]!;
      if (r.op === 'depthwiseConv2d') return r.name;
      if (r.op === 'conv2d' || r.op === 'dense') return undefined;
      at = r.name;
    }
    return undefined;
  };
  const result = new Map<string, number>();
  convs.forEach((node, l) => {
    if (node.op !== 'conv2d') return;
    const inShape = shapes.get(node.inputs[0]!)!;
    const out = shapes.get(node.name)!;
    const hw = out[0]! * out[1]!;
    const [kh, kw] = node.kernelSize;
    let inc = kh * kw * inShape[2]! * hw;
    if (l > 0) {
      // The depthwise conv that feeds this producer (k_dw² per output pixel of this layer).
      const prevDw = order.find((n) => n.op === 'depthwiseConv2d' && readersChainReaches(n.name, node.name, readers));
      const kd = prevDw && prevDw.op === 'depthwiseConv2d' ? prevDw.kernelSize[0] * prevDw.kernelSize[1] : 0;
      inc += kd * hw;
    }
    const nextConv = convs[l + 1];
    if (nextConv === undefined) {
      const fc = dense.at(-1);
      inc += fc && fc.op === 'dense' ? fc.units : 0;
    } else {
      const nextOut = shapes.get(nextConv.name)!;
      const nextHw = nextOut[0]! * nextOut[1]!;
      inc += dwAfter(node.name) !== undefined ? nextHw : (nextOut[2] ?? 0) * nextHw;
    }
    result.set(node.name, inc);
  });
  return result;
}

/** True when `to` is reached from `from` through single-reader, non-producer nodes. */
function readersChainReaches(from: string, to: string, readers: ReturnType<typeof readersOf>): boolean {
  let at = from;
  for (let i = 0; i < 8; i++) {
    const next = readers.get(at) ?? [];
    if (next.length !== 1) return false;
    const r = next[0]!;
    if (r.name === to) return true;
    if (r.op === 'conv2d' || r.op === 'dense' || r.op === 'depthwiseConv2d') return false;
    at = r.name;
  }
  return false;
}

/**
 * Δcost of one more output channel in each growable producer (dense/conv2d whose channel group is growable),
 * exact by re-pricing the widened network (`widenSpec`, which also widens residual-tied producers) with
 * `model`. Producers that cannot grow are skipped unless named in `nodes` (then `E_SPEC_INVALID`).
 */
export function marginalCosts(model: CostModel, spec: NetworkSpec, options: MarginalCostOptions = {}): MarginalCost[] {
  const transform = options.transform ?? 'none';
  const graph = buildChannelGraph(spec);
  const names =
    options.nodes ?? [...graph.producers.values()].filter((p) => graph.groups[p.group]!.growable).map((p) => p.node);
  if (options.formula === 'reference') {
    if (model.unit !== 'macs') {
      throw new NasError('E_UNIT_MISMATCH', `The reference flops_inc formula prices MACs, not ${model.unit} (model "${model.id}")`, {
        model: model.id,
        unit: model.unit,
      });
    }
    const inc = referenceIncrements(spec);
    return names.map((node) => {
      const delta = inc.get(node) ?? null;
      return { node, delta, cost: transformed(delta, transform), unit: model.unit, source: 'counted' as const };
    });
  }
  const base = model.estimate(spec);
  const baseByNode = new Map(base.layers.map((l) => [l.node, l]));
  return names.map((node) => {
    const wide = model.estimate(widenSpec(spec, node, 1, graph));
    const delta = base.total === null || wide.total === null ? null : wide.total - base.total;
    let source: CostSource = 'counted';
    for (const layer of wide.layers) {
      const before = baseByNode.get(layer.node);
      if (before !== undefined && before.value === layer.value && before.key === layer.key) continue;
      if (SOURCE_RANK[layer.source] > SOURCE_RANK[source]) source = layer.source;
    }
    return { node, delta, cost: transformed(delta, transform), unit: model.unit, source };
  });
}
