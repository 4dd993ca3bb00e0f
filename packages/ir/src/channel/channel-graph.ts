import { NasError, type ActivationKind, type NetworkNode, type NetworkSpec } from '@mitosis/core';
import { followingActivation, readersOf } from '../spec/graph-util.js';
import { nodeInputs, topoSort } from '../spec/parse-network-spec.js';
import { inferShapes } from '../shape/infer-shapes.js';

/**
 * The channel dependency graph: which channels of which tensors move together when a producer (dense or
 * conv2d) gains or loses an output channel. Splitting, pruning, surgery and cost counting all read it.
 *
 * Model. Every producer output starts a *channel space*; so does the input node. Channel-wise ops
 * (batchNorm, activation, dropout, maxPool, avgPool, globalAvgPool, depthwiseConv2d, flatten) carry their
 * input's channel space through; `add` ties the spaces of its inputs together (a residual: the producers
 * meeting there must grow and shrink together); `concat` lays several spaces side by side. A {@link ChannelGroup}
 * is one class of tied spaces.
 *
 * A tensor's last axis is described by a {@link TensorLayout}: a list of parts; inside a part, feature index
 * = `p·part.width + segment.offset + c` for spatial position p < part.spatial (p > 0 only after `flatten`,
 * which turns [h, w, C] into h·w positions of C channels: a dense reading it sees channel c at rows
 * `p·C + c`). Growing a group by one channel appends it at the end of each of its segments.
 */

/** A run of one group's channels inside a part of a tensor's last axis. */
export interface ChannelSegment {
  readonly group: number;
  /** First channel of the segment inside its part. */
  readonly offset: number;
  /** = the group's width. */
  readonly width: number;
}

/** A block of a tensor's last axis: `spatial` positions of `width` channels each (index p·width + channel). */
export interface FeaturePart {
  /** Offset of the part in the tensor's last axis. */
  readonly offset: number;
  readonly spatial: number;
  readonly width: number;
  readonly segments: readonly ChannelSegment[];
}

/** How a node's output last axis is made of group channels. */
export interface TensorLayout {
  readonly node: string;
  /** Rank of the tensor without batch. */
  readonly rank: number;
  /** Length of the last axis (= Σ part.spatial·part.width). */
  readonly size: number;
  readonly parts: readonly FeaturePart[];
}

/** Where one group's channels sit in a consumer's input: channel c is at input rows `rows(c)`. */
export interface ChannelPlacement {
  /** Offset of the part in the consumer's input axis. */
  readonly partOffset: number;
  /** Positions per channel: h·w after flatten, else 1. */
  readonly spatial: number;
  /** Channels per position in the part (the stride between positions). */
  readonly stride: number;
  /** Offset of the group inside the part (concat). */
  readonly offset: number;
}

/**
 * A dense or conv2d node that reads a group's channels through its input (directly, through concat, or
 * through flatten). Adding one channel to the group adds `inputsPerChannel` input features per output
 * channel (×kh·kw kernel taps for conv2d); the kernel gains `inputsPerChannel·kh·kw·out` weights.
 */
export interface ChannelConsumer {
  readonly node: string;
  readonly op: 'dense' | 'conv2d';
  /** The tensor it reads. */
  readonly input: string;
  /** Length of its input's last axis. */
  readonly inputSize: number;
  readonly placements: readonly ChannelPlacement[];
  /** Σ placements' spatial: input features per group channel. */
  readonly inputsPerChannel: number;
}

/** A node with per-channel parameters in a group's channel space (copied, never scaled, on growth). */
export interface PerChannelNode {
  readonly node: string;
  readonly op: 'batchNorm' | 'depthwiseConv2d';
}

/** One class of tied channel spaces. */
export interface ChannelGroup {
  readonly id: number;
  /** Channels. */
  readonly width: number;
  /** Producers whose output channels form the group (several when tied by an `add`), in topological order. */
  readonly producers: readonly string[];
  /** Nodes whose output last axis is exactly this group's channels. */
  readonly tensors: readonly string[];
  /** batchNorm / depthwiseConv2d nodes whose input contains the group (their per-channel params move with it). */
  readonly perChannel: readonly PerChannelNode[];
  /** Linear layers reading the group's channels. */
  readonly consumers: readonly ChannelConsumer[];
  /** Contains the input node's channels, or is tied through an `add` whose inputs are laid out differently. */
  readonly frozen: boolean;
  /** Some of its channels are in the network output. */
  readonly reachesOutput: boolean;
  /** Can grow or shrink: not frozen and not in the output. */
  readonly growable: boolean;
}

/** What the graph knows about one dense or conv2d node. */
export interface ChannelProducer {
  readonly node: string;
  readonly op: 'dense' | 'conv2d';
  /** Output channels. */
  readonly width: number;
  readonly group: number;
  /** Other producers of the same group (residual ties). */
  readonly tiedWith: readonly string[];
  /** The batchNorm right after it (before its activation), if any. */
  readonly batchNorm: string | null;
  /** The first activation after it, through batchNorm only and before any branching; null if none. */
  readonly activation: ActivationKind | null;
  readonly activationNode: string | null;
  /** Nodes reachable from it through channel-wise ops, in topological order. */
  readonly chain: readonly string[];
  /** Has a non-identity activation before any branching, and its group is growable. */
  readonly splittable: boolean;
}

/** The channel dependency graph of a spec. */
export interface ChannelGraph {
  readonly groups: readonly ChannelGroup[];
  readonly producers: ReadonlyMap<string, ChannelProducer>;
  /** Every node's output layout. */
  readonly layouts: ReadonlyMap<string, TensorLayout>;
}

const CHANNEL_WISE = new Set<NetworkNode['op']>([
  'batchNorm',
  'activation',
  'dropout',
  'maxPool',
  'avgPool',
  'globalAvgPool',
  'depthwiseConv2d',
  'flatten',
]);

class UnionFind {
  private readonly parent: number[] = [];
  add(): number {
    this.parent.push(this.parent.length);
    return this.parent.length - 1;
  }
  find(a: number): number {
    while (this.parent[a] !== a) {
      const p = this.parent[a]!;
      this.parent[a] = this.parent[p]!;
      a = p;
    }
    return a;
  }
  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }
}

interface RawPart {
  spatial: number;
  segments: { axis: number; width: number }[];
}

function partWidth(p: RawPart): number {
  return p.segments.reduce((a, s) => a + s.width, 0);
}

function sameStructure(a: readonly RawPart[], b: readonly RawPart[]): boolean {
  return (
    a.length === b.length &&
    a.every(
      (p, i) =>
        p.spatial === b[i]!.spatial &&
        p.segments.length === b[i]!.segments.length &&
        p.segments.every((s, k) => s.width === b[i]!.segments[k]!.width),
    )
  );
}

/** Builds the {@link ChannelGraph} of a valid spec (shapes are inferred; shape errors propagate). */
export function buildChannelGraph(spec: NetworkSpec): ChannelGraph {
  const shapes = inferShapes(spec);
  const order = topoSort(spec);
  const uf = new UnionFind();
  const frozenAxes = new Set<number>();
  const axisProducer = new Map<number, string>();
  const raw = new Map<string, RawPart[]>();

  for (const node of order) {
    const shape = shapes.get(node.name)!;
    const last = shape[shape.length - 1]!;
    const ins = nodeInputs(node).map((n) => raw.get(n)!);
    const x = ins[0] ?? [];
    let parts: RawPart[];
    switch (node.op) {
      case 'input': {
        const axis = uf.add();
        frozenAxes.add(axis);
        parts = [{ spatial: 1, segments: [{ axis, width: last }] }];
        break;
      }
      case 'dense':
      case 'conv2d': {
        const axis = uf.add();
        axisProducer.set(axis, node.name);
        parts = [{ spatial: 1, segments: [{ axis, width: last }] }];
        break;
      }
      case 'flatten': {
        const inShape = shapes.get(nodeInputs(node)[0]!)!;
        const positions = inShape.slice(0, -1).reduce((a, b) => a * b, 1);
        parts = positions === 1 ? x : x.map((p) => ({ spatial: p.spatial * positions, segments: p.segments }));
        break;
      }
      case 'add': {
        if (ins.every((l) => sameStructure(l, x))) {
          for (const l of ins) {
            l.forEach((p, i) => p.segments.forEach((s, k) => uf.union(s.axis, x[i]!.segments[k]!.axis)));
          }
        } else {
          for (const l of ins) for (const p of l) for (const s of p.segments) frozenAxes.add(s.axis);
        }
        parts = x;
        break;
      }
      case 'concat': {
        const all = ins.flat();
        if (shape.length > 1) {
          parts = [{ spatial: 1, segments: all.flatMap((p) => p.segments) }];
        } else {
          parts = [];
          for (const p of all) {
            const prev = parts[parts.length - 1];
            if (prev !== undefined && prev.spatial === 1 && p.spatial === 1) {
              parts[parts.length - 1] = { spatial: 1, segments: [...prev.segments, ...p.segments] };
            } else {
              parts.push(p);
            }
          }
        }
        break;
      }
      default:
        parts = x;
    }
    raw.set(node.name, parts);
  }

  // Canonical group ids: roots numbered in order of first appearance.
  const groupOfRoot = new Map<number, number>();
  const groupId = (axis: number): number => {
    const root = uf.find(axis);
    let g = groupOfRoot.get(root);
    if (g === undefined) {
      g = groupOfRoot.size;
      groupOfRoot.set(root, g);
    }
    return g;
  };
  const layouts = new Map<string, TensorLayout>();
  for (const node of order) {
    let offset = 0;
    const parts: FeaturePart[] = raw.get(node.name)!.map((p) => {
      let segOffset = 0;
      const segments = p.segments.map((s) => {
        const seg = { group: groupId(s.axis), offset: segOffset, width: s.width };
        segOffset += s.width;
        return seg;
      });
      const part = { offset, spatial: p.spatial, width: partWidth(p), segments };
      offset += p.spatial * part.width;
      return part;
    });
    layouts.set(node.name, { node: node.name, rank: shapes.get(node.name)!.length, size: offset, parts });
  }

  const groupCount = groupOfRoot.size;
  const frozen = new Array<boolean>(groupCount).fill(false);
  for (const a of frozenAxes) frozen[groupId(a)] = true;
  const reaches = new Array<boolean>(groupCount).fill(false);
  for (const p of layouts.get(spec.output)!.parts) for (const s of p.segments) reaches[s.group] = true;
  const width = new Array<number>(groupCount).fill(0);
  const producers: string[][] = Array.from({ length: groupCount }, () => []);
  const tensors: string[][] = Array.from({ length: groupCount }, () => []);
  const perChannel: PerChannelNode[][] = Array.from({ length: groupCount }, () => []);
  const consumers: ChannelConsumer[][] = Array.from({ length: groupCount }, () => []);
  for (const [axis, name] of axisProducer) producers[groupId(axis)]!.push(name);
  const rank = new Map(order.map((n, i) => [n.name, i]));
  for (const list of producers) list.sort((a, b) => rank.get(a)! - rank.get(b)!);

  for (const node of order) {
    const layout = layouts.get(node.name)!;
    for (const p of layout.parts) for (const s of p.segments) width[s.group] = s.width;
    const only = layout.parts.length === 1 ? layout.parts[0]! : null;
    if (only !== null && only.spatial === 1 && only.segments.length === 1) tensors[only.segments[0]!.group]!.push(node.name);
    const inName = nodeInputs(node)[0];
    if (inName === undefined) continue;
    const inLayout = layouts.get(inName)!;
    const groupsIn = new Set(inLayout.parts.flatMap((p) => p.segments.map((s) => s.group)));
    if (node.op === 'batchNorm' || node.op === 'depthwiseConv2d') {
      for (const g of groupsIn) perChannel[g]!.push({ node: node.name, op: node.op });
    } else if (node.op === 'dense' || node.op === 'conv2d') {
      for (const g of groupsIn) {
        const placements: ChannelPlacement[] = [];
        for (const p of inLayout.parts) {
          for (const s of p.segments) {
            if (s.group === g) {
              placements.push({ partOffset: p.offset, spatial: p.spatial, stride: p.width, offset: s.offset });
            }
          }
        }
        consumers[g]!.push({
          node: node.name,
          op: node.op,
          input: inName,
          inputSize: inLayout.size,
          placements,
          inputsPerChannel: placements.reduce((a, p) => a + p.spatial, 0),
        });
      }
    }
  }

  const groups: ChannelGroup[] = width.map((w, id) => ({
    id,
    width: w,
    producers: producers[id]!,
    tensors: tensors[id]!,
    perChannel: perChannel[id]!,
    consumers: consumers[id]!,
    frozen: frozen[id]!,
    reachesOutput: reaches[id]!,
    growable: !frozen[id]! && !reaches[id]! && producers[id]!.length > 0,
  }));

  const readers = readersOf(spec);
  const producerInfo = new Map<string, ChannelProducer>();
  for (const node of order) {
    if (node.op !== 'dense' && node.op !== 'conv2d') continue;
    const g = groupId([...axisProducer].find(([, n]) => n === node.name)![0]);
    const act = followingActivation(spec, node.name, readers);
    const chain: string[] = [];
    const seen = new Set<string>();
    const queue = [node.name];
    while (queue.length > 0) {
      const at = queue.shift()!;
      for (const r of readers.get(at) ?? []) {
        if (CHANNEL_WISE.has(r.op) && !seen.has(r.name)) {
          seen.add(r.name);
          chain.push(r.name);
          queue.push(r.name);
        }
      }
    }
    chain.sort((a, b) => rank.get(a)! - rank.get(b)!);
    const firstReader = readers.get(node.name) ?? [];
    const bn =
      act !== null && act.path.length > 1
        ? act.path[act.path.length - 2]!
        : firstReader.length === 1 && firstReader[0]!.op === 'batchNorm'
          ? firstReader[0]!.name
          : null;
    producerInfo.set(node.name, {
      node: node.name,
      op: node.op,
      width: groups[g]!.width,
      group: g,
      tiedWith: groups[g]!.producers.filter((p) => p !== node.name),
      batchNorm: bn,
      activation: act?.activation ?? null,
      activationNode: act?.node ?? null,
      chain,
      splittable: act !== null && act.activation !== 'identity' && groups[g]!.growable,
    });
  }
  return { groups, producers: producerInfo, layouts };
}

/** The group a producer's output channels belong to; `E_SPEC_INVALID` if `node` is not a dense/conv2d. */
export function producerGroup(graph: ChannelGraph, node: string): ChannelGroup {
  const p = graph.producers.get(node);
  if (p === undefined) {
    throw new NasError(
      'E_SPEC_INVALID',
      `"${node}" is not a channel producer (dense or conv2d); producers: ${[...graph.producers.keys()].join(', ')}`,
      { node },
    );
  }
  return graph.groups[p.group]!;
}

/** Input rows of `consumer`'s kernel (dense: [in]; conv2d: the `in` axis) that carry group channel `c`. */
export function consumerRows(consumer: ChannelConsumer, c: number): number[] {
  const rows: number[] = [];
  for (const p of consumer.placements) {
    for (let q = 0; q < p.spatial; q++) rows.push(p.partOffset + q * p.stride + p.offset + c);
  }
  return rows;
}

/**
 * The spec with `extra` more output channels on `node` and on every producer tied to it (spec only; for
 * marginal-cost computations). `extra` may be negative as long as widths stay ≥ 1. Throws
 * `E_SPEC_INVALID` if the group is not growable (input-tied or in the network output).
 */
export function widenSpec(spec: NetworkSpec, node: string, extra: number, graph = buildChannelGraph(spec)): NetworkSpec {
  const group = producerGroup(graph, node);
  if (!group.growable) {
    throw new NasError(
      'E_SPEC_INVALID',
      `Cannot change the width of "${node}": its channels ${group.frozen ? 'are tied to the network input' : 'are part of the network output'}`,
      { node, group: group.id },
    );
  }
  if (!Number.isInteger(extra) || group.width + extra < 1) {
    throw new NasError('E_SPEC_INVALID', `Cannot widen "${node}" (width ${group.width}) by ${extra}`, { node, extra });
  }
  return resizeGroups(spec, graph, new Map([[group.id, group.width + extra]]));
}

/** The spec with the producers of the given groups set to new widths. */
export function resizeGroups(spec: NetworkSpec, graph: ChannelGraph, widths: ReadonlyMap<number, number>): NetworkSpec {
  const nodes = spec.nodes.map((n) => {
    const p = graph.producers.get(n.name);
    const w = p === undefined ? undefined : widths.get(p.group);
    if (w === undefined) return n;
    if (n.op === 'dense') return { ...n, units: w };
    if (n.op === 'conv2d') return { ...n, filters: w };
    return n;
  });
  return { ...spec, nodes };
}
