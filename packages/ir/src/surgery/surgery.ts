import {
  NasError,
  type GrowthPlan,
  type NetworkSpec,
  type WeightMap,
  type WeightTensor,
} from '@mitosis/core';
import {
  buildChannelGraph,
  producerGroup,
  resizeGroups,
  type ChannelGraph,
  type TensorLayout,
} from '../channel/channel-graph.js';
import { nodeInputs } from '../spec/parse-network-spec.js';
import { getNeuronParams, neuronDim } from '../weights/neuron-params.js';

/**
 * Where a channel of a resized group comes from: old channel `src`; linear consumers multiply the
 * column they read it through by `scale` (the offspring's outgoing weight w_i). `theta`, when set, is the
 * new parameter vector of the channel for `producer` only, in the OLD input space of that producer (it is
 * remapped like the producer's kernel); the group's other producers copy channel `src`.
 */
export interface ChannelSource {
  readonly src: number;
  readonly scale: number;
  readonly producer?: string;
  readonly theta?: Float64Array;
}

/** Feature index map of a tensor's last axis after remapping: new index → old index and consumer scale. */
interface FeatureMap {
  readonly src: Int32Array;
  readonly scale: Float64Array;
}

function featureMap(layout: TensorLayout, maps: ReadonlyMap<number, readonly ChannelSource[]>): FeatureMap {
  const src: number[] = [];
  const scale: number[] = [];
  for (const part of layout.parts) {
    for (let p = 0; p < part.spatial; p++) {
      for (const seg of part.segments) {
        const base = part.offset + p * part.width + seg.offset;
        const m = maps.get(seg.group);
        if (m === undefined) {
          for (let c = 0; c < seg.width; c++) {
            src.push(base + c);
            scale.push(1);
          }
        } else {
          for (const e of m) {
            src.push(base + e.src);
            scale.push(e.scale);
          }
        }
      }
    }
  }
  return { src: Int32Array.from(src), scale: Float64Array.from(scale) };
}

function tensor(weights: WeightMap, key: string): WeightTensor {
  const t = weights.get(key);
  if (t === undefined) throw new NasError('E_MODEL_FORMAT', `Weights lack "${key}"`, { key });
  return t;
}

/**
 * The general channel rewrite behind {@link applyGrowthPlan} and {@link removeChannels}: every group in
 * `maps` gets the listed channels (in order). Producers' output columns and per-channel params (batchNorm,
 * depthwise) are gathered by `src`; linear consumers' input rows are gathered and multiplied by `scale`.
 * Returns new objects; `spec` and `weights` are not modified. Groups must be growable.
 */
export function remapChannels(
  spec: NetworkSpec,
  weights: WeightMap,
  maps: ReadonlyMap<number, readonly ChannelSource[]>,
  graph: ChannelGraph = buildChannelGraph(spec),
): { spec: NetworkSpec; weights: WeightMap } {
  const newSpec = resizeGroups(spec, graph, new Map([...maps].map(([g, m]) => [g, m.length])));
  const out: WeightMap = new Map();
  for (const [key, t] of weights) out.set(key, { shape: [...t.shape], data: t.data.slice() });
  const fmCache = new Map<string, FeatureMap>();
  const fm = (name: string): FeatureMap => {
    let f = fmCache.get(name);
    if (f === undefined) {
      f = featureMap(graph.layouts.get(name)!, maps);
      fmCache.set(name, f);
    }
    return f;
  };
  const touched = (name: string): boolean =>
    graph.layouts.get(name)!.parts.some((p) => p.segments.some((s) => maps.has(s.group)));

  for (const node of spec.nodes) {
    const input = nodeInputs(node)[0];
    if (input === undefined) continue;
    const inChanged = touched(input);
    if (node.op === 'dense' || node.op === 'conv2d') {
      const group = graph.producers.get(node.name)!.group;
      const om = maps.get(group);
      if (!inChanged && om === undefined) continue;
      const kOld = tensor(weights, `${node.name}/kernel`);
      const outOld = kOld.shape[kOld.shape.length - 1]!;
      const inOld = kOld.shape[kOld.shape.length - 2]!;
      const taps = kOld.data.length / (inOld * outOld);
      const f = fm(input);
      const inNew = f.src.length;
      const outs: readonly ChannelSource[] =
        om ?? Array.from({ length: outOld }, (_, c) => ({ src: c, scale: 1 }));
      const outNew = outs.length;
      const k = new Float32Array(taps * inNew * outNew);
      const bOld = node.useBias ? tensor(weights, `${node.name}/bias`) : null;
      const b = new Float32Array(outNew);
      outs.forEach((o, oc) => {
        const theta = o.theta !== undefined && o.producer === node.name ? o.theta : null;
        for (let r = 0; r < taps; r++) {
          for (let i = 0; i < inNew; i++) {
            const si = f.src[i]!;
            const v = theta !== null ? theta[r * inOld + si]! : kOld.data[(r * inOld + si) * outOld + o.src]!;
            k[(r * inNew + i) * outNew + oc] = v * f.scale[i]!;
          }
        }
        if (bOld !== null) b[oc] = theta !== null ? theta[taps * inOld]! : bOld.data[o.src]!;
      });
      const shape = [...kOld.shape];
      shape[shape.length - 2] = inNew;
      shape[shape.length - 1] = outNew;
      out.set(`${node.name}/kernel`, { shape, data: k });
      if (bOld !== null) out.set(`${node.name}/bias`, { shape: [outNew], data: b });
    } else if (inChanged && (node.op === 'depthwiseConv2d' || node.op === 'batchNorm')) {
      const f = fm(input);
      const cNew = f.src.length;
      const gather = (key: string, taps: number): void => {
        const old = tensor(weights, key);
        const cOld = old.data.length / taps;
        const data = new Float32Array(taps * cNew);
        for (let r = 0; r < taps; r++) for (let c = 0; c < cNew; c++) data[r * cNew + c] = old.data[r * cOld + f.src[c]!]!;
        const shape = [...old.shape];
        shape[node.op === 'depthwiseConv2d' && shape.length === 4 ? 2 : 0] = cNew;
        out.set(key, { shape, data });
      };
      if (node.op === 'depthwiseConv2d') {
        gather(`${node.name}/depthwiseKernel`, node.kernelSize[0] * node.kernelSize[1]);
        if (node.useBias) gather(`${node.name}/bias`, 1);
      } else {
        for (const p of ['gamma', 'beta', 'movingMean', 'movingVariance']) gather(`${node.name}/${p}`, 1);
      }
    }
  }
  return { spec: newSpec, weights: out };
}

function planError(message: string, details: Record<string, unknown>): NasError {
  return new NasError('E_PLAN_INVALID', message, details);
}

/**
 * Applies a growth plan (algorithms.md §2.6, generalised to m offspring with real weights w_i):
 * - offspring i of neuron j of producer P gets θ_i = `replace` if given, else θ_j + ε·`direction` (θ_j if
 *   neither); offspring 0 keeps slot j, the others are appended at the end of the layer in plan order;
 * - the batchNorm after P and every depthwise/batchNorm in the channel's path copy channel j's params and
 *   running statistics to each offspring;
 * - every linear consumer (dense rows, through flatten at rows p·C + c; conv2d input axis; through concat
 *   at its offset) multiplies its input column for offspring i by w_i (Σ w_i = 1 preserves the function
 *   at ε = 0, negative w_i included);
 * - producers tied to P through an `add` duplicate channel j unchanged; the consumer scaling carries their
 *   share;
 * - a consumer split in the same plan has its `direction`/`replace` (given in its OLD input space) remapped
 *   like its kernel: the component for input channel j is multiplied by w_i per offspring, copies appended
 *   (§2.6 item 4).
 * Returns new objects; the inputs are not modified. Throws `E_PLAN_INVALID` naming the entry.
 */
export function applyGrowthPlan(
  spec: NetworkSpec,
  weights: WeightMap,
  plan: GrowthPlan,
): { spec: NetworkSpec; weights: WeightMap } {
  const graph = buildChannelGraph(spec);
  const maps = new Map<number, ChannelSource[]>();
  const claimed = new Map<string, number>();
  plan.entries.forEach((entry, e) => {
    const where = `plan entry ${e} (${entry.node}[${entry.neuron}])`;
    const producer = graph.producers.get(entry.node);
    if (producer === undefined) {
      throw planError(`${where}: "${entry.node}" is not a dense or conv2d node`, { entry: e, node: entry.node });
    }
    const group = producerGroup(graph, entry.node);
    if (!group.growable) {
      throw planError(
        `${where}: "${entry.node}" cannot grow, its channels ${group.frozen ? 'are tied to the network input' : 'are part of the network output'}`,
        { entry: e, node: entry.node },
      );
    }
    if (!Number.isInteger(entry.neuron) || entry.neuron < 0 || entry.neuron >= group.width) {
      throw planError(`${where}: neuron out of range [0, ${group.width})`, { entry: e, node: entry.node, neuron: entry.neuron });
    }
    const key = `${group.id}:${entry.neuron}`;
    const previous = claimed.get(key);
    if (previous !== undefined) {
      throw planError(`${where}: the same channel is already grown by plan entry ${previous}${group.producers.length > 1 ? ` (tied producers: ${group.producers.join(', ')})` : ''}`, {
        entry: e,
        node: entry.node,
        neuron: entry.neuron,
        other: previous,
      });
    }
    claimed.set(key, e);
    if (entry.offspring.length === 0) throw planError(`${where}: no offspring`, { entry: e, node: entry.node });
    const dim = neuronDim(spec, entry.node);
    const theta = getNeuronParams(spec, weights, entry.node, entry.neuron);
    let m = maps.get(group.id);
    if (m === undefined) {
      m = Array.from({ length: group.width }, (_, c) => ({ src: c, scale: 1 }));
      maps.set(group.id, m);
    }
    entry.offspring.forEach((o, i) => {
      const vec = o.replace ?? o.direction;
      if (vec !== undefined && vec.length !== dim) {
        throw planError(`${where}: offspring ${i} has a ${o.replace !== undefined ? 'replace' : 'direction'} of length ${vec.length}, θ has ${dim}`, {
          entry: e,
          node: entry.node,
          offspring: i,
        });
      }
      if (!Number.isFinite(o.weight)) throw planError(`${where}: offspring ${i} weight is not finite`, { entry: e, offspring: i });
      let t: Float64Array;
      if (o.replace !== undefined) t = Float64Array.from(o.replace);
      else if (o.direction !== undefined) t = theta.map((v, k) => v + plan.epsilon * o.direction![k]!);
      else t = theta;
      const source: ChannelSource = { src: entry.neuron, scale: o.weight, producer: entry.node, theta: t };
      if (i === 0) m[entry.neuron] = source;
      else m.push(source);
    });
  });
  return remapChannels(spec, weights, maps, graph);
}

/**
 * Removes output channels (pruning), with everything tied to them: the same channels of tied producers, the
 * per-channel params on their path, and the consumers' input columns. `removals` maps a producer to channel
 * indices in the current network; several producers of one tied group may be named (their channels are
 * removed from the group once). The remaining channels keep their order. Throws `E_PLAN_INVALID` for an
 * out-of-range index, removing every channel of a group, or a group that cannot change width.
 */
export function pruneChannels(
  spec: NetworkSpec,
  weights: WeightMap,
  removals: ReadonlyMap<string, readonly number[]>,
): { spec: NetworkSpec; weights: WeightMap } {
  const graph = buildChannelGraph(spec);
  const drops = new Map<number, { width: number; drop: Set<number>; node: string }>();
  for (const [node, channels] of removals) {
    const group = producerGroup(graph, node);
    if (!group.growable) {
      throw planError(`Cannot remove channels of "${node}": its channels ${group.frozen ? 'are tied to the network input' : 'are part of the network output'}`, { node });
    }
    let d = drops.get(group.id);
    if (d === undefined) {
      d = { width: group.width, drop: new Set(), node };
      drops.set(group.id, d);
    }
    for (const c of channels) {
      if (!Number.isInteger(c) || c < 0 || c >= group.width) {
        throw planError(`Cannot remove channel ${c} of "${node}" (width ${group.width})`, { node, channel: c });
      }
      d.drop.add(c);
    }
  }
  const maps = new Map<number, ChannelSource[]>();
  for (const [id, d] of drops) {
    if (d.drop.size >= d.width) throw planError(`Cannot remove all ${d.width} channels of "${d.node}"`, { node: d.node });
    const kept: ChannelSource[] = [];
    for (let c = 0; c < d.width; c++) if (!d.drop.has(c)) kept.push({ src: c, scale: 1 });
    maps.set(id, kept);
  }
  return remapChannels(spec, weights, maps, graph);
}

/**
 * Removes output channels of one producer (see {@link pruneChannels}); duplicate indices are an error here.
 */
export function removeChannels(
  spec: NetworkSpec,
  weights: WeightMap,
  node: string,
  channels: readonly number[],
): { spec: NetworkSpec; weights: WeightMap } {
  if (new Set(channels).size !== channels.length) {
    throw planError(`Cannot remove channels of "${node}": duplicate indices in [${channels.join(', ')}]`, { node });
  }
  return pruneChannels(spec, weights, new Map([[node, channels]]));
}
