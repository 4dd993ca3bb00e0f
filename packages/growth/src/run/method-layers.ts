import { NasError, type CostModel, type MethodLayer, type NetworkSpec } from '@mitosis/core';
import { marginalCosts } from '@mitosis/hardware';
import { buildChannelGraph, resizeGroups, type ChannelGraph } from '@mitosis/ir';
import type { SearchSpace } from '../space/search-space.js';

/** Output widths of every dense/conv producer. */
export function layerWidths(spec: NetworkSpec): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of spec.nodes) {
    if (n.op === 'dense') out[n.name] = n.units;
    else if (n.op === 'conv2d') out[n.name] = n.filters;
  }
  return out;
}

/**
 * Checks that every layer the space lists is a producer of a growable channel group of `spec`
 * (`E_CONFIG_INVALID` with the pointer `/layers/<node>` otherwise).
 */
export function checkSpaceLayers(space: SearchSpace, spec: NetworkSpec, source = space.id, graph = buildChannelGraph(spec)): void {
  for (const node of Object.keys(space.layers ?? {})) {
    const p = graph.producers.get(node);
    if (p === undefined || !graph.groups[p.group]!.growable) {
      const known = [...graph.producers.values()].filter((q) => graph.groups[q.group]!.growable).map((q) => q.node);
      throw new NasError('E_CONFIG_INVALID', `Search space ${source}: /layers/${node} is not a resizable layer of the network (resizable: ${known.join(', ')})`, {
        file: source,
        node,
        problems: [{ pointer: `/layers/${node}`, message: 'is not a dense or conv2d layer whose width can change' }],
      });
    }
  }
}

/**
 * The units of choice of a round: one {@link MethodLayer} per growable channel group of `spec` that the space
 * lets change (every such group when the space lists no layers; else the groups of the listed producers), in
 * topological order of their first producer, with caps, minimum widths, budget groups, and the exact cost of
 * one channel more (`marginalCost`) and one channel less (`pruneCost`) under `costModel`.
 */
export function methodLayers(space: SearchSpace, spec: NetworkSpec, costModel: CostModel, source = space.id): MethodLayer[] {
  const graph = buildChannelGraph(spec);
  checkSpaceLayers(space, spec, source, graph);
  const rules = space.layers;
  const out: MethodLayer[] = [];
  const base = costModel.estimate(spec).total;
  for (const group of graph.groups) {
    if (!group.growable || group.producers.length === 0) continue;
    const listed = rules === undefined ? [...group.producers] : group.producers.filter((p) => rules[p] !== undefined);
    if (listed.length === 0) continue;
    const splittable = listed.filter((p) => graph.producers.get(p)!.splittable);
    const node = splittable[0] ?? listed[0]!;
    const caps = listed.map((p) => rules?.[p]?.cap).filter((c): c is number => c !== undefined);
    const mins = listed.map((p) => rules?.[p]?.min).filter((c): c is number => c !== undefined);
    const min = Math.max(1, ...mins);
    const [marginal] = marginalCosts(costModel, spec, { nodes: [node] });
    out.push({
      node,
      producers: [node, ...group.producers.filter((p) => p !== node)],
      channelGroup: group.id,
      width: group.width,
      cap: caps.length === 0 ? null : Math.min(...caps),
      min,
      group: rules?.[node]?.group ?? listed.map((p) => rules?.[p]?.group).find((g) => g !== undefined) ?? 'all',
      marginalCost: marginal?.delta ?? null,
      pruneCost: group.width > min ? savedByRemoving(costModel, spec, graph, group.id, group.width, base) : null,
      splittable: splittable.length > 0,
    });
  }
  return out;
}

function savedByRemoving(model: CostModel, spec: NetworkSpec, graph: ChannelGraph, group: number, width: number, base: number | null): number | null {
  if (base === null) return null;
  const narrow = model.estimate(resizeGroups(spec, graph, new Map([[group, width - 1]]))).total;
  return narrow === null ? null : base - narrow;
}

/**
 * Prices `spec` with its layers' widths replaced (by producer node; tied producers follow their group).
 * Returns `null` when the model cannot price the network.
 */
export function priceWidths(model: CostModel, spec: NetworkSpec, widths: Readonly<Record<string, number>>, graph = buildChannelGraph(spec)): number | null {
  return model.estimate(resizeSpec(spec, widths, graph)).total;
}

/** `spec` with the output widths of the named producers (and their tied groups) replaced. */
export function resizeSpec(spec: NetworkSpec, widths: Readonly<Record<string, number>>, graph = buildChannelGraph(spec)): NetworkSpec {
  const byGroup = new Map<number, number>();
  for (const [node, width] of Object.entries(widths)) {
    const p = graph.producers.get(node);
    if (p === undefined) throw new NasError('E_PLAN_INVALID', `"${node}" is not a dense or conv2d layer of the network`, { node });
    if (!Number.isInteger(width) || width < 1) throw new NasError('E_PLAN_INVALID', `Width ${width} of "${node}" must be an integer ≥ 1`, { node, width });
    byGroup.set(p.group, width);
  }
  return byGroup.size === 0 ? spec : resizeGroups(spec, graph, byGroup);
}
