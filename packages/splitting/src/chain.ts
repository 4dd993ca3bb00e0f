import { NasError, type ActivationKind, type NetworkNode, type NetworkSpec } from '@mitosis/core';
import type { ChannelGraph, TensorLayout } from '@mitosis/ir';
import { tf } from './tf.js';

/**
 * The nonlinear chain of a splittable producer after its first activation (algorithms.md §1, generalised).
 *
 * The surgery copies everything that sits in a split channel's path up to its first linear consumers
 * (batch norms, depthwise filters, later activations) to each offspring, and the offspring are averaged only at
 * the input of those consumers. The splitting matrix is therefore the curvature of the whole path:
 * S = Σ_k E[Σ_r G_{k,r} σ_k''(a_{k,r}) J_{k,r} J_{k,r}ᵀ] over every nonlinearity k between the producer and its
 * linear consumers, with G_{k,r} = ∂L/∂σ_k(a_{k,r}) and J_{k,r} = ∂a_{k,r}/∂θ. The first activation is the term
 * the operator always had; the chain adds the others. In the direction v of one neuron, J·v is the tangent of
 * the pre-activations when the producer's output moves by its tangent; the operator propagates it through the
 * linearised chain (BN scales, depthwise filters, activation slopes σ', pools, adds) and differentiates
 * ½ Σ_k ⟨coef_k, (J_k v)²⟩ back to the producer's output (coef_k = G_k σ_k''), which gives S·v.
 *
 * A tangent tensor holds one column per vector: `[n, P, m]` where P is the node's positions (h·w for an NHWC
 * tensor, the flattened positions after `flatten`) and column c belongs to neuron `rows[c] % neurons`.
 */

/** Where one channel group sits in a node's output: reshape to `[n, q, size]`, then part and segment. */
export interface GroupView {
  /** Positions before the last axis (h·w for rank 3, 1 for rank 1). */
  readonly q: number;
  /** Length of the last axis. */
  readonly size: number;
  readonly partOffset: number;
  readonly partSpatial: number;
  readonly partWidth: number;
  readonly segOffset: number;
  /** The group's channels. */
  readonly width: number;
  /** Positions of the view: q·partSpatial. */
  readonly positions: number;
}

/** One node of the chain, in topological order; `inputs` index earlier steps (−1: the first activation's output). */
export type ChainStep =
  | {
      readonly kind: 'batchNorm';
      readonly node: string;
      readonly epsilon: number;
      readonly inputs: readonly number[];
      readonly view: GroupView;
      /**
       * Its only reader in the chain is a curved activation: its scale c is folded into that activation's
       * coefficient (×c²) and slope (×c) per minibatch, and the step itself passes the tangent through.
       */
      readonly folded: boolean;
    }
  | {
      readonly kind: 'activation';
      readonly node: string;
      /** The node whose output is the pre-activation. */
      readonly preNode: string;
      readonly activation: ActivationKind;
      /** σ'' is not identically 0 (the step adds a curvature term). */
      readonly curved: boolean;
      /** Later steps read its output (its slope is needed). */
      readonly carries: boolean;
      readonly inputs: readonly number[];
      readonly view: GroupView;
    }
  | { readonly kind: 'same'; readonly node: string; readonly inputs: readonly number[]; readonly view: GroupView }
  | {
      readonly kind: 'depthwise';
      readonly node: string;
      readonly inputs: readonly number[];
      readonly view: GroupView;
      /** View of the input (channels of the filter). */
      readonly inView: GroupView;
      readonly inHw: readonly [number, number];
      readonly outHw: readonly [number, number];
      readonly kernelSize: readonly [number, number];
      readonly strides: readonly [number, number];
      readonly padding: 'same' | 'valid';
    }
  | {
      readonly kind: 'avgPool';
      readonly node: string;
      readonly inputs: readonly number[];
      readonly view: GroupView;
      readonly inHw: readonly [number, number];
      readonly outHw: readonly [number, number];
      readonly poolSize: readonly [number, number];
      readonly strides: readonly [number, number];
      readonly padding: 'same' | 'valid';
    }
  | { readonly kind: 'globalAvgPool'; readonly node: string; readonly inputs: readonly number[]; readonly view: GroupView }
  | { readonly kind: 'add'; readonly node: string; readonly inputs: readonly number[]; readonly view: GroupView };

/** The chain of one producer; `null` from {@link planChain} when no later nonlinearity has curvature. */
export interface ChainPlan {
  readonly steps: readonly ChainStep[];
  /** Positions of the producer's output (= the root tangent's P). */
  readonly rootPositions: number;
}

const CARRIERS = new Set<NetworkNode['op']>([
  'batchNorm',
  'activation',
  'dropout',
  'maxPool',
  'avgPool',
  'globalAvgPool',
  'depthwiseConv2d',
  'flatten',
  'add',
  'concat',
]);

function viewIn(layout: TensorLayout, shape: readonly number[], group: number, node: string, producer: string): GroupView {
  const hits = layout.parts.flatMap((part) => part.segments.filter((s) => s.group === group).map((seg) => ({ part, seg })));
  if (hits.length !== 1) {
    throw new NasError(
      'E_SPEC_INVALID',
      `The splitting matrix of "${producer}" needs its channels once in "${node}", which holds them ${hits.length} times ` +
        '(a concat of the same channels before a later activation is not supported)',
      { node, producer },
    );
  }
  const { part, seg } = hits[0]!;
  const q = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  return {
    q,
    size: layout.size,
    partOffset: part.offset,
    partSpatial: part.spatial,
    partWidth: part.width,
    segOffset: seg.offset,
    width: seg.width,
    positions: q * part.spatial,
  };
}

/**
 * The chain after `root` (the producer's first activation): every node reachable through channel-wise ops,
 * adds and concats before a linear consumer from which an activation with curvature can be reached. Null when
 * there is none (the first activation is the only nonlinearity: the original splitting matrix is exact).
 * Throws `E_SPEC_INVALID` for a max pool inside such a chain (its linearisation is not implemented).
 */
export function planChain(
  spec: NetworkSpec,
  graph: ChannelGraph,
  shapes: ReadonlyMap<string, number[]>,
  readers: ReadonlyMap<string, NetworkNode[]>,
  producer: string,
  root: string,
): ChainPlan | null {
  const group = graph.producers.get(producer)!.group;
  const order = new Map(spec.nodes.map((n, i) => [n.name, i]));
  const reached = new Map<string, NetworkNode>();
  const queue = [root];
  while (queue.length > 0) {
    const at = queue.shift()!;
    for (const r of readers.get(at) ?? []) {
      if (CARRIERS.has(r.op) && !reached.has(r.name)) {
        reached.set(r.name, r);
        queue.push(r.name);
      }
    }
  }
  const nodes = [...reached.values()].sort((a, b) => order.get(a.name)! - order.get(b.name)!);
  const needed = new Set<string>();
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]!;
    const curved = n.op === 'activation' && n.activation !== 'identity';
    if (curved || (readers.get(n.name) ?? []).some((r) => needed.has(r.name))) needed.add(n.name);
  }
  if (needed.size === 0) return null;
  const index = new Map<string, number>([[root, -1]]);
  const steps: ChainStep[] = [];
  const view = (name: string): GroupView => viewIn(graph.layouts.get(name)!, shapes.get(name)!, group, name, producer);
  for (const n of nodes) {
    if (!needed.has(n.name)) continue;
    const ins = (n.inputs ?? []).filter((i) => index.has(i));
    const inputs = ins.map((i) => index.get(i)!);
    const v = view(n.name);
    const hw = (name: string): [number, number] => {
      const s = shapes.get(name)!;
      return [s[0]!, s[1]!];
    };
    let step: ChainStep;
    switch (n.op) {
      case 'batchNorm': {
        const chainReaders = (readers.get(n.name) ?? []).filter((r) => needed.has(r.name));
        const only = chainReaders.length === 1 && (readers.get(n.name) ?? []).length === 1 ? chainReaders[0]! : null;
        const folded = only !== null && only.op === 'activation' && only.activation !== 'identity';
        step = { kind: 'batchNorm', node: n.name, epsilon: n.epsilon, inputs, view: v, folded };
        break;
      }
      case 'activation':
        step = {
          kind: 'activation',
          node: n.name,
          preNode: n.inputs[0]!,
          activation: n.activation,
          curved: n.activation !== 'identity',
          carries: (readers.get(n.name) ?? []).some((r) => needed.has(r.name)),
          inputs,
          view: v,
        };
        break;
      case 'depthwiseConv2d':
        step = {
          kind: 'depthwise',
          node: n.name,
          inputs,
          view: v,
          inView: view(ins[0]!),
          inHw: hw(ins[0]!),
          outHw: hw(n.name),
          kernelSize: n.kernelSize,
          strides: n.strides,
          padding: n.padding,
        };
        break;
      case 'avgPool':
        step = { kind: 'avgPool', node: n.name, inputs, view: v, inHw: hw(ins[0]!), outHw: hw(n.name), poolSize: n.poolSize, strides: n.strides, padding: n.padding };
        break;
      case 'globalAvgPool':
        step = { kind: 'globalAvgPool', node: n.name, inputs, view: v };
        break;
      case 'add':
        step = { kind: 'add', node: n.name, inputs, view: v };
        break;
      case 'maxPool':
        throw new NasError(
          'E_SPEC_INVALID',
          `The splitting matrix of "${producer}" would need the curvature of activations after the max pool "${n.name}", which is not supported`,
          { node: n.name, producer },
        );
      default:
        // dropout (eval: identity), flatten (the view keeps positions), concat (one input holds the group).
        step = { kind: 'same', node: n.name, inputs, view: v };
    }
    index.set(n.name, steps.length);
    steps.push(step);
  }
  const out = shapes.get(producer)!;
  return { steps, rootPositions: out.slice(0, -1).reduce((a, b) => a * b, 1) };
}

/** The group's channels of a full node value, `[n, positions, width]`. */
export function viewOf(t: tf.Tensor, v: GroupView): tf.Tensor3D {
  return tf.tidy(() => {
    const n = t.shape[0]!;
    let r: tf.Tensor = tf.reshape(t, [n, v.q, v.size]);
    const partSize = v.partSpatial * v.partWidth;
    if (v.partOffset !== 0 || partSize !== v.size) r = tf.slice(r, [0, 0, v.partOffset], [n, v.q, partSize]);
    r = tf.reshape(r, [n, v.positions, v.partWidth]);
    if (v.segOffset !== 0 || v.width !== v.partWidth) r = tf.slice(r, [0, 0, v.segOffset], [n, v.positions, v.width]);
    return r as tf.Tensor3D;
  });
}

/** Per-feature parameters (length `size`) of the group, `[partSpatial, width]` row-major. */
export function viewParams(values: Float32Array, v: GroupView): Float32Array {
  const out = new Float32Array(v.partSpatial * v.width);
  for (let p = 0; p < v.partSpatial; p++) {
    for (let c = 0; c < v.width; c++) out[p * v.width + c] = values[v.partOffset + p * v.partWidth + v.segOffset + c]!;
  }
  return out;
}

/** What one minibatch holds for one chain step (every tensor has the neurons on its last axis). */
export type ChainStepData =
  | { readonly kind: 'scale'; readonly scale: tf.Tensor }
  | { readonly kind: 'activation'; readonly slope: tf.Tensor | null; readonly coef: tf.Tensor | null }
  | { readonly kind: 'filter'; readonly filter: tf.Tensor2D }
  | { readonly kind: 'none' };

/** Columns of a per-neuron tensor for the stacked vectors (`[..., neurons]` → multiplies `[..., m]`). */
export interface ColumnMap {
  /** `t ⊙ c` where `c` has the neurons on its last axis and broadcasts over `t`'s leading axes. */
  mul(t: tf.Tensor, c: tf.Tensor): tf.Tensor;
  /** `[rows, neurons]` → `[rows, m]`. */
  columns(c: tf.Tensor2D): tf.Tensor2D;
  /**
   * `c` (a per-neuron tensor with `t`'s leading axes) as a tensor of `t`'s size whose elements line up with `t`'s
   * — itself, or its cached copy with repeated columns — when one exists without computing anything; else null
   * (then `mul` broadcasts or picks columns). Lets callers use same-shape fused kernels.
   */
  aligned?(t: tf.Tensor, c: tf.Tensor): tf.Tensor | null;
}

/** dy → dx of a depthwise conv (`dy` `[n, h', w', m]`, `filter` `[kh, kw, m, 1]`) on the active backend. */
function depthwiseInputGradient(dy: tf.Tensor4D, filter: tf.Tensor4D, inputShape: [number, number, number, number], strides: readonly [number, number], pad: 'same' | 'valid'): tf.Tensor4D {
  return tf.engine().runKernel(tf.DepthwiseConv2dNativeBackpropInput, { dy, filter }, {
    strides: [...strides],
    pad,
    dilations: [1, 1],
    inputShape,
  } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

/** dy → dx of an average pool (`input` gives the shape) on the active backend. */
function avgPoolInputGradient(dy: tf.Tensor4D, input: tf.Tensor4D, step: Extract<ChainStep, { kind: 'avgPool' }>): tf.Tensor4D {
  return tf.engine().runKernel(tf.AvgPoolGrad, { dy, input }, {
    filterSize: [...step.poolSize],
    strides: [...step.strides],
    pad: step.padding,
  } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

/**
 * The chain's share of S·v at the first activation's output: for the root tangent `u` (`[n, P, m]`, c·σ₁'·y),
 * Σ_k J_kᵀ(coef_k ⊙ J_k u) over the curved activations k, where J_k u is the tangent of k's pre-activation.
 * One forward sweep carries the tangents through the linearised chain (BN scales, depthwise filters, σ', pools,
 * adds); one reverse sweep carries the cotangents back (transposed depthwise conv, pool gradients). Folded batch
 * norms ({@link ChainStep}) cost nothing: their scale is in the activation's coefficient and slope.
 */
export function chainAdjoint(plan: ChainPlan, data: readonly ChainStepData[], u: tf.Tensor, cols: ColumnMap): tf.Tensor {
  const n = u.shape[0]!;
  const m = u.shape[u.rank - 1]!;
  const steps = plan.steps;
  const tangents: tf.Tensor[] = [];
  const at = (i: number): tf.Tensor => (i < 0 ? u : tangents[i]!);
  // Each step's input tangent (the sum where several meet) and depthwise filter, computed once in the forward
  // sweep and read again by the reverse sweep.
  const inputs: tf.Tensor[] = [];
  const filters: tf.Tensor4D[] = [];
  const inputOf = (i: number): tf.Tensor => {
    let x = inputs[i];
    if (x === undefined) {
      const ins = steps[i]!.inputs;
      x = ins.length === 1 ? at(ins[0]!) : tf.addN(ins.map(at));
      inputs[i] = x;
    }
    return x;
  };
  // Forward: the tangent of every step's output (activations that carry nothing later need none).
  steps.forEach((step, s) => {
    const d = data[s]!;
    let out: tf.Tensor;
    switch (step.kind) {
      case 'batchNorm':
        out = step.folded ? inputOf(s) : cols.mul(inputOf(s), (d as { scale: tf.Tensor }).scale);
        break;
      case 'activation': {
        const slope = (d as Extract<ChainStepData, { kind: 'activation' }>).slope;
        out = !step.carries ? inputOf(s) : slope === null ? inputOf(s) : cols.mul(inputOf(s), slope);
        break;
      }
      case 'depthwise': {
        const [h, w] = step.inHw;
        const [kh, kw] = step.kernelSize;
        const f = tf.reshape(cols.columns((d as { filter: tf.Tensor2D }).filter), [kh, kw, m, 1]) as tf.Tensor4D;
        filters[s] = f;
        const y = tf.depthwiseConv2d(tf.reshape(inputOf(s), [n, h, w, m]) as tf.Tensor4D, f, [...step.strides], step.padding);
        out = tf.reshape(y, [n, step.view.positions, m]);
        break;
      }
      case 'avgPool': {
        const [h, w] = step.inHw;
        const y = tf.avgPool(tf.reshape(inputOf(s), [n, h, w, m]) as tf.Tensor4D, [...step.poolSize], [...step.strides], step.padding);
        out = tf.reshape(y, [n, step.view.positions, m]);
        break;
      }
      case 'globalAvgPool':
        out = tf.mean(inputOf(s), 1, true);
        break;
      default:
        out = inputOf(s);
    }
    tangents.push(out);
  });
  // Reverse: cotangents of the step outputs, then of the root.
  const cot: (tf.Tensor | null)[] = steps.map(() => null);
  let root: tf.Tensor | null = null;
  const give = (i: number, g: tf.Tensor): void => {
    if (i < 0) root = root === null ? g : tf.add(root, g);
    else cot[i] = cot[i] === null ? g : tf.add(cot[i]!, g);
  };
  for (let s = steps.length - 1; s >= 0; s--) {
    const step = steps[s]!;
    const d = data[s]!;
    const g = cot[s] ?? null;
    let back: tf.Tensor | null = null;
    switch (step.kind) {
      case 'batchNorm':
        back = g === null ? null : step.folded ? g : cols.mul(g, (d as { scale: tf.Tensor }).scale);
        break;
      case 'activation': {
        const a = d as Extract<ChainStepData, { kind: 'activation' }>;
        const through = g === null ? null : a.slope === null ? g : cols.mul(g, a.slope);
        const own = a.coef === null ? null : cols.mul(inputOf(s), a.coef);
        back = through === null ? own : own === null ? through : tf.add(through, own);
        break;
      }
      case 'depthwise': {
        if (g === null) break;
        const [h, w] = step.inHw;
        const f = filters[s]!;
        const dy = tf.reshape(g, [n, ...step.outHw, m]) as tf.Tensor4D;
        back = tf.reshape(depthwiseInputGradient(dy, f, [n, h, w, m], step.strides, step.padding), [n, h * w, m]);
        break;
      }
      case 'avgPool': {
        if (g === null) break;
        const [h, w] = step.inHw;
        const input = tf.reshape(inputOf(s), [n, h, w, m]) as tf.Tensor4D;
        const dy = tf.reshape(g, [n, ...step.outHw, m]) as tf.Tensor4D;
        back = tf.reshape(avgPoolInputGradient(dy, input, step), [n, h * w, m]);
        break;
      }
      case 'globalAvgPool': {
        if (g === null) break;
        const positions = at(step.inputs[0]!).shape[1]!;
        back = tf.mul(tf.broadcastTo(g, [n, positions, m]), 1 / positions);
        break;
      }
      default:
        back = g;
    }
    if (back !== null) for (const i of step.inputs) give(i, back);
  }
  return root ?? tf.zerosLike(u);
}
