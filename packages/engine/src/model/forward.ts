import { NasError, type NetworkNode, type SeededRandom } from '@mitosis/core';
import { topoSort } from '@mitosis/ir';
import { batchNormActInfer, batchNormActTrain, batchNormInfer, batchNormTrain, exclusiveHeapSpan, globalAvgPool, heapSpan, type BatchNormActivation } from '@mitosis/kernels';
import { tf } from '../tf.js';
import { applyActivation } from './activations.js';
import type { NetworkModel } from './network-model.js';

/**
 * Called after each node's value is computed, in topological order. `values` holds every value computed so far
 * (including this node's original value). Returning a tensor replaces the value that downstream nodes see, which
 * lets a caller inject extra differentiable terms (e.g. the σ''(z)(yᵀx)(vᵀx) term of a splitting matrix built
 * from tensors it closes over) and differentiate with `tf.grads` with respect to those tensors.
 */
export type NodeHook = (
  node: NetworkNode,
  value: tf.Tensor,
  values: ReadonlyMap<string, tf.Tensor>,
) => tf.Tensor | void;

/** Options of {@link forward}. */
export interface ForwardOptions {
  /** Training mode: batch-statistics batch norm and active dropout. Eval mode uses the moving statistics. */
  readonly training: boolean;
  readonly hook?: NodeHook;
  /**
   * In training mode, update each batch norm's moving mean/variance with its momentum
   * (new = m·old + (1−m)·batch, outside the gradient). Default: `training`.
   */
  readonly updateMovingStats?: boolean;
  /** Seeds dropout masks; default the model's own stream. */
  readonly rng?: SeededRandom;
  /**
   * Eval mode with a hook that only reads batch-norm outputs (it may replace other nodes' values, e.g. add a
   * probe to an activation's output): keep each batch norm fused with its activation (one kernel forward, one
   * backward) and compute the batch norm's own value z separately for the hook to read. Replacing a fused batch
   * norm's value then has no effect on its activation. Ignored in training mode. Default false.
   */
  readonly fuseUnderHook?: boolean;
  /**
   * With {@link fuseUnderHook}: whether each fused batch norm's own value z is computed for the hook (default
   * true). false: it is not (one kernel per fused layer instead of two), the hook is not called for those
   * batch-norm nodes and `values` has no entry for them; a hook that needs z computes it from the batch norm's
   * input (in `values`) and its frozen statistics (`batchNormInferAffine` of `@mitosis/kernels`).
   */
  readonly batchNormValues?: boolean;
}

function shapeError(node: NetworkNode, message: string, shape: readonly number[]): NasError {
  return new NasError('E_SHAPE_MISMATCH', `Node "${node.name}" (${node.op}): ${message}`, {
    node: node.name,
    op: node.op,
    shape: [...shape],
  });
}

function batchNorm(
  model: NetworkModel,
  node: Extract<NetworkNode, { op: 'batchNorm' }>,
  x: tf.Tensor,
  training: boolean,
  updateStats: boolean,
  activation?: BatchNormActivation,
): tf.Tensor {
  const gamma = model.weight(node.name, 'gamma');
  const beta = model.weight(node.name, 'beta');
  const movingMean = model.weight(node.name, 'movingMean');
  const movingVariance = model.weight(node.name, 'movingVariance');
  if (!training) {
    return activation === undefined
      ? batchNormInfer(x, movingMean as tf.Tensor1D, movingVariance as tf.Tensor1D, gamma as tf.Tensor1D, beta as tf.Tensor1D, node.epsilon)
      : batchNormActInfer(x, movingMean as tf.Tensor1D, movingVariance as tf.Tensor1D, gamma as tf.Tensor1D, beta as tf.Tensor1D, node.epsilon, activation);
  }
  const { y, mean, variance } =
    activation === undefined
      ? batchNormTrain(x, gamma as tf.Tensor1D, beta as tf.Tensor1D, node.epsilon)
      : batchNormActTrain(x, gamma as tf.Tensor1D, beta as tf.Tensor1D, node.epsilon, activation);
  if (updateStats) {
    const m = node.momentum;
    if (!updateInPlace([movingMean, movingVariance], [mean, variance], m)) {
      tf.tidy(() => {
        movingMean.assign(tf.add(tf.mul(movingMean, m), tf.mul(mean, 1 - m)));
        movingVariance.assign(tf.add(tf.mul(movingVariance, m), tf.mul(variance, 1 - m)));
      });
    }
  }
  tf.dispose([mean, variance]);
  return y;
}

/**
 * `moving ← m·moving + (1 − m)·batch` for each pair, in the wasm heap, every operation rounded to float32 as the
 * tensor ops round it; false (nothing done) unless every `moving` is a float32 variable holding its buffer alone
 * on wasm.
 */
function updateInPlace(moving: readonly tf.Variable[], batch: readonly tf.Tensor[], m: number): boolean {
  const targets = moving.map((v) => exclusiveHeapSpan(v));
  const sources = batch.map((t) => heapSpan(t));
  if (targets.some((t, i) => t === undefined || t.size !== sources[i]?.size)) return false;
  const f = Math.fround;
  const [mf, rest] = [f(m), f(1 - m)];
  targets.forEach((target, k) => {
    const source = sources[k];
    if (target === undefined || source === undefined) return;
    const heap = target.heap;
    for (let i = 0; i < target.size; i++) {
      heap[target.index + i] = f(f((heap[target.index + i] as number) * mf) + f((heap[source.index + i] as number) * rest));
    }
  });
  return true;
}

function evalNode(
  model: NetworkModel,
  node: NetworkNode,
  ins: readonly tf.Tensor[],
  options: ForwardOptions,
): tf.Tensor {
  const x = ins[0] as tf.Tensor;
  switch (node.op) {
    case 'input':
      throw new Error('input nodes are bound before evaluation');
    case 'dense': {
      const kernel = model.weight(node.name, 'kernel');
      const inUnits = kernel.shape[0] ?? 0;
      if (x.shape[x.rank - 1] !== inUnits) throw shapeError(node, `expects ${inUnits} input features`, x.shape);
      // Keras semantics: a dense layer acts on the last axis.
      const x2 = x.rank === 2 ? x : tf.reshape(x, [-1, inUnits]);
      let y: tf.Tensor = tf.matMul(x2 as tf.Tensor2D, kernel as tf.Tensor2D);
      if (node.useBias) y = tf.add(y, model.weight(node.name, 'bias'));
      return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), node.units]);
    }
    case 'conv2d': {
      if (x.rank !== 4) throw shapeError(node, 'expects an NHWC input', x.shape);
      const kernel = model.weight(node.name, 'kernel') as tf.Tensor4D;
      let y: tf.Tensor = tf.conv2d(x as tf.Tensor4D, kernel, [...node.strides], node.padding);
      if (node.useBias) y = tf.add(y, model.weight(node.name, 'bias'));
      return y;
    }
    case 'depthwiseConv2d': {
      if (x.rank !== 4) throw shapeError(node, 'expects an NHWC input', x.shape);
      const kernel = model.weight(node.name, 'depthwiseKernel') as tf.Tensor4D;
      let y: tf.Tensor = tf.depthwiseConv2d(x as tf.Tensor4D, kernel, [...node.strides], node.padding);
      if (node.useBias) y = tf.add(y, model.weight(node.name, 'bias'));
      return y;
    }
    case 'batchNorm':
      return batchNorm(model, node, x, options.training, options.updateMovingStats ?? options.training);
    case 'activation':
      return applyActivation(node.activation, x);
    case 'maxPool':
    case 'avgPool': {
      if (x.rank !== 4) throw shapeError(node, 'expects an NHWC input', x.shape);
      const pool = node.op === 'maxPool' ? tf.maxPool : tf.avgPool;
      return pool(x as tf.Tensor4D, [...node.poolSize], [...node.strides], node.padding);
    }
    case 'globalAvgPool':
      if (x.rank !== 4) throw shapeError(node, 'expects an NHWC input', x.shape);
      return globalAvgPool(x as tf.Tensor4D);
    case 'flatten':
      return tf.reshape(x, [x.shape[0] ?? -1, -1]);
    case 'add':
      return ins.length === 1 ? x : tf.addN([...ins]);
    case 'concat':
      return ins.length === 1 ? x : tf.concat([...ins], -1);
    case 'dropout': {
      if (!options.training || node.rate === 0) return x;
      const rng = options.rng ?? model.rng;
      return tf.dropout(x, node.rate, undefined, rng.int(2147483647));
    }
  }
}

/**
 * Batch-norm nodes that {@link forward} evaluates as one fused layer of `@mitosis/kernels` (training mode:
 * `batchNormActTrain`, one kernel forward, one backward on wasm; eval mode: `batchNormActInfer`, one pass while no
 * gradient is recorded), mapped to the activation fused into them:
 * a ReLU, ReLU6 or swish activation node that is the batch norm's only consumer is evaluated inside the layer and
 * passes the value through unchanged (`fusedInto`, with `activationOf` naming it per batch norm); any other batch
 * norm is fused with `linear`. Empty unless `fuse` (false with a hook, which may read or replace the
 * pre-activation value, unless {@link ForwardOptions.fuseUnderHook}).
 */
function fusedBatchNorms(
  model: NetworkModel,
  fuse: boolean,
): { activation: Map<string, BatchNormActivation>; fusedInto: Set<string>; activationOf: Map<string, string> } {
  const activation = new Map<string, BatchNormActivation>();
  const fusedInto = new Set<string>();
  const activationOf = new Map<string, string>();
  if (!fuse) return { activation, fusedInto, activationOf };
  const consumers = new Map<string, NetworkNode[]>();
  for (const node of model.spec.nodes) {
    if (node.op === 'input') continue;
    for (const name of node.inputs) consumers.set(name, [...(consumers.get(name) ?? []), node]);
  }
  for (const node of model.spec.nodes) {
    if (node.op !== 'batchNorm') continue;
    const users = consumers.get(node.name) ?? [];
    const only = users[0];
    if (
      node.name !== model.spec.output &&
      users.length === 1 &&
      only?.op === 'activation' &&
      (only.activation === 'relu' || only.activation === 'relu6' || only.activation === 'swish') &&
      only.inputs.length === 1
    ) {
      activation.set(node.name, only.activation);
      fusedInto.add(only.name);
      activationOf.set(node.name, only.name);
    } else activation.set(node.name, 'linear');
  }
  return { activation, fusedInto, activationOf };
}

/**
 * Evaluates the network functionally over its topologically sorted nodes and returns the output node's value
 * (`[batch, ...outputShape]`, logits for classification). `x` is `[batch, ...inputShape]` (NHWC for images).
 * Differentiable end to end with respect to the model's variables and to tensors a {@link NodeHook} closes over.
 * Intermediate tensors are not disposed: call it inside `tf.tidy` (or a gradient function).
 */
export function forward(model: NetworkModel, x: tf.Tensor, options: ForwardOptions): tf.Tensor {
  const values = new Map<string, tf.Tensor>();
  const underHook = options.hook !== undefined && options.fuseUnderHook === true && !options.training;
  const { activation: fused, fusedInto: passThrough, activationOf } = fusedBatchNorms(model, options.hook === undefined || underHook);
  /** Under a hook: the fused layers' activation outputs, by activation node. */
  const activated = new Map<string, tf.Tensor>();
  for (const node of topoSort(model.spec)) {
    let value: tf.Tensor;
    if (node.op === 'input') {
      const expected = [x.shape[0] ?? -1, ...node.shape];
      if (x.rank !== expected.length || node.shape.some((d, i) => x.shape[i + 1] !== d)) {
        throw shapeError(node, `expects input [batch, ${node.shape.join(', ')}]`, x.shape);
      }
      value = x;
    } else if (passThrough.has(node.name) && activated.has(node.name)) {
      value = activated.get(node.name)!;
    } else {
      const ins = node.inputs.map((name) => {
        const v = values.get(name);
        if (v === undefined) throw new NasError('E_SPEC_INVALID', `Node "${node.name}" reads unknown "${name}"`, { node: node.name });
        return v;
      });
      if (passThrough.has(node.name)) value = ins[0] as tf.Tensor;
      else if (node.op === 'batchNorm' && fused.has(node.name)) {
        const act = fused.get(node.name)!;
        const update = options.updateMovingStats ?? options.training;
        if (underHook && act !== 'linear') {
          // The activation's output from the fused layer; z for the hook (both from the batch norm's input).
          activated.set(activationOf.get(node.name)!, batchNorm(model, node, ins[0] as tf.Tensor, false, update, act));
          if (options.batchNormValues === false) continue;
          value = batchNorm(model, node, ins[0] as tf.Tensor, false, update, 'linear');
        } else value = batchNorm(model, node, ins[0] as tf.Tensor, options.training, update, act);
      } else value = evalNode(model, node, ins, options);
    }
    values.set(node.name, value);
    if (options.hook !== undefined) {
      const replaced = options.hook(node, value, values);
      if (replaced !== undefined) values.set(node.name, replaced);
    }
  }
  const out = values.get(model.spec.output);
  if (out === undefined) {
    throw new NasError('E_SPEC_INVALID', `Output node "${model.spec.output}" is not in the network`, {
      output: model.spec.output,
    });
  }
  return out;
}
