import {
  NasError,
  type ActivationKind,
  type Conv2dNode,
  type Dataset,
  type DenseNode,
  type NetworkNode,
  type SplittingBlock,
  type SplittingOperator,
} from '@mitosis/core';
import { buildChannelGraph, followingActivation, inferShapes, readersOf, topoSort } from '@mitosis/ir';
import { computeLoss, forward, type NetworkModel } from '@mitosis/engine';
import { activationCurvatureTf, hasZeroCurvature, type CurvatureOptions } from './activation-curvature.js';
import { conv2dFilterGradient, extractPatches, sumToChannels } from './patches.js';
import { tf } from './tf.js';

/**
 * The splitting operator over a TF.js network (algorithms.md §2.1, §2.3, §3.1).
 *
 * Loss convention: the engine's losses. `mse` is the mean over every element (samples × outputs) of ½(f−y)²;
 * `ce` is the mean over samples of the softmax cross-entropy. S_j = E[g σ''(z) c² x̃ x̃ᵀ] is the average over the
 * scoring samples (conv positions summed), where g = ∂L/∂h is the derivative of that batch-mean loss.
 */

/** Options of {@link createSplittingOperator}. */
export interface SplittingOperatorOptions extends CurvatureOptions {
  /** `mse`: mean over elements of ½(f−y)²; `ce`: mean softmax cross-entropy over samples (class-index targets). */
  readonly loss: 'mse' | 'ce';
  /** Samples per minibatch (default 64). */
  readonly batchSize?: number;
  /** Use only the first `maxSamples` samples of `data` (default: all). */
  readonly maxSamples?: number;
  /**
   * Bound on the float32 elements of one patch × neuron product in {@link SplittingOperator.matrices}
   * (default 2²²); larger is faster and uses more memory.
   */
  readonly chunkElements?: number;
  /**
   * Also expose producers followed by an `identity` activation as blocks. Their σ'' ≡ 0, so their matrices and
   * products are exactly zero (no curvature is invented). Default false: such neurons are not splittable.
   */
  readonly includeLinear?: boolean;
}

type Producer = DenseNode | Conv2dNode;

/** Everything the operator needs about one splittable layer. */
interface BlockPlan {
  readonly block: SplittingBlock;
  readonly node: Producer;
  /** The producer's input node. */
  readonly input: string;
  /** The activation node after the producer (through eval-mode batch norms). */
  readonly activationNode: string;
  /** The node whose value is z, the activation's input (the producer or its last batch norm). */
  readonly zNode: string;
  readonly activation: ActivationKind;
  /** Folded eval-mode BN scale per channel, c = Π γ/√(var+ε) (1 without BN). */
  readonly scale: Float32Array;
  readonly fanIn: number;
  readonly hasBias: boolean;
  /** Kernel shape ([in, units] or [kh, kw, in, filters]). */
  readonly kernelShape: number[];
  /** Shape of the activation's output without the batch axis. */
  readonly outShape: number[];
}

function readArray(model: NetworkModel, node: string, param: string): Float32Array {
  return model.weight(node, param).dataSync() as Float32Array;
}

/**
 * The splittable producers of the channel graph (dense/conv2d with a non-identity activation before any
 * branching, in a growable channel group), plus those with an identity activation when `includeLinear`,
 * with their folded BN scales, in topological order.
 */
function planBlocks(model: NetworkModel, includeLinear: boolean): BlockPlan[] {
  const spec = model.spec;
  const graph = buildChannelGraph(spec);
  const readers = readersOf(spec);
  const shapes = inferShapes(spec);
  const byName = new Map(spec.nodes.map((n) => [n.name, n]));
  const plans: BlockPlan[] = [];
  for (const node of topoSort(spec)) {
    if (node.op !== 'dense' && node.op !== 'conv2d') continue;
    const producer = graph.producers.get(node.name);
    if (producer === undefined) continue;
    const linear = producer.activation === 'identity' && graph.groups[producer.group]?.growable === true;
    if (!producer.splittable && !(includeLinear && linear)) continue;
    const chain = followingActivation(spec, node.name, readers);
    if (chain === null) continue;
    const kernelShape = [...model.weight(node.name, 'kernel').shape];
    const neurons = kernelShape[kernelShape.length - 1]!;
    const fanIn = kernelShape.reduce((a, b) => a * b, 1) / neurons;
    const scale = new Float32Array(neurons).fill(1);
    for (const name of chain.path) {
      const bn = byName.get(name);
      if (bn?.op !== 'batchNorm') continue;
      const gamma = readArray(model, name, 'gamma');
      const variance = readArray(model, name, 'movingVariance');
      for (let j = 0; j < neurons; j++) scale[j] = scale[j]! * (gamma[j]! / Math.sqrt(variance[j]! + bn.epsilon));
    }
    const zNode = chain.path.length > 1 ? chain.path[chain.path.length - 2]! : node.name;
    plans.push({
      block: { name: node.name, neurons, dim: fanIn + (node.useBias ? 1 : 0) },
      node,
      input: node.inputs[0]!,
      activationNode: chain.node,
      zNode,
      activation: chain.activation,
      scale,
      fanIn,
      hasBias: node.useBias,
      kernelShape,
      outShape: shapes.get(chain.node)!,
    });
  }
  return plans;
}

/** vᵀx̃ (or yᵀx̃) for every position: the producer applied to `x` with kernel `w` and bias `b`. */
function applyProducer(plan: BlockPlan, x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | null): tf.Tensor {
  let out: tf.Tensor;
  if (plan.node.op === 'conv2d') {
    out = tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, [...plan.node.strides], plan.node.padding);
  } else {
    const x2 = x.rank === 2 ? x : tf.reshape(x, [-1, plan.fanIn]);
    out = tf.matMul(x2 as tf.Tensor2D, w as tf.Tensor2D);
    if (x.rank !== 2) out = tf.reshape(out, [...x.shape.slice(0, -1), plan.block.neurons]);
  }
  return b === null ? out : tf.add(out, b);
}

/** Σ over samples and positions of x̃ ⊗ w: the gradient of Σ w·(yᵀx̃) with respect to the kernel y. */
function producerFilterGradient(plan: BlockPlan, x: tf.Tensor, w: tf.Tensor): tf.Tensor {
  if (plan.node.op === 'conv2d') {
    return conv2dFilterGradient(x as tf.Tensor4D, w as tf.Tensor4D, plan.kernelShape, plan.node);
  }
  const x2 = tf.reshape(x, [-1, plan.fanIn]);
  const w2 = tf.reshape(w, [-1, plan.block.neurons]);
  // An explicit transpose then matMul is faster on wasm than transposeA (engine-notes.md).
  return tf.matMul(tf.transpose(x2), w2);
}

/** Row-major neurons × dim vectors → kernel-shaped and bias tensors. */
function vectorsToKernel(plan: BlockPlan, v: Float64Array): { w: tf.Tensor; b: tf.Tensor | null } {
  const { neurons, dim } = plan.block;
  const m = tf.tensor2d(Float32Array.from(v), [neurons, dim]);
  const w = tf.reshape(tf.transpose(tf.slice(m, [0, 0], [neurons, plan.fanIn])), plan.kernelShape);
  const b = plan.hasBias ? tf.reshape(tf.slice(m, [0, plan.fanIn], [neurons, 1]), [neurons]) : null;
  return { w, b };
}

/** Kernel-shaped and bias gradients → neurons × dim tensor (row-major θ layout). */
function kernelToVectors(plan: BlockPlan, gw: tf.Tensor, gb: tf.Tensor | null): tf.Tensor2D {
  const rows = tf.transpose(tf.reshape(gw, [plan.fanIn, plan.block.neurons]));
  if (gb === null) return rows as tf.Tensor2D;
  return tf.concat([rows, tf.reshape(gb, [plan.block.neurons, 1])], 1) as tf.Tensor2D;
}

interface Batch {
  readonly start: number;
  readonly end: number;
}

/**
 * Implementation of {@link SplittingOperator} over an engine {@link NetworkModel} in eval mode (BN frozen at its
 * running statistics). The operator reads the model's current weights at every call; it holds no tensors.
 */
export class NetworkSplittingOperator implements SplittingOperator {
  readonly blocks: readonly SplittingBlock[];
  readonly batchCount: number;
  /** Samples scored (≤ the data set's count). */
  readonly sampleCount: number;
  private readonly plans: readonly BlockPlan[];
  private readonly batches: readonly Batch[];
  private readonly curvature: CurvatureOptions;
  private readonly chunkElements: number;

  constructor(
    readonly model: NetworkModel,
    readonly data: Dataset,
    readonly options: SplittingOperatorOptions,
  ) {
    const batchSize = options.batchSize ?? 64;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new NasError('E_OPTIONS_INVALID', `batchSize must be a positive integer, got ${batchSize}`, { batchSize });
    }
    if (options.loss !== 'mse' && options.loss !== 'ce') {
      throw new NasError('E_OPTIONS_INVALID', `loss must be "mse" or "ce", got ${String(options.loss)}`, {
        loss: options.loss,
      });
    }
    if (options.loss === 'ce' && data.task !== 'classification') {
      throw new NasError('E_OPTIONS_INVALID', `Loss "ce" needs class labels; data set "${data.name}" is ${data.task}`, {
        dataset: data.name,
      });
    }
    if (data.count < 1) {
      throw new NasError('E_DATA_INVALID', `Data set "${data.name}" is empty: the splitting matrices need samples`, {
        dataset: data.name,
      });
    }
    const max = options.maxSamples ?? data.count;
    if (!Number.isInteger(max) || max < 1) {
      throw new NasError('E_OPTIONS_INVALID', `maxSamples must be a positive integer, got ${max}`, { maxSamples: max });
    }
    this.sampleCount = Math.min(max, data.count);
    checkInputShape(model, data);
    checkFinite(data, this.sampleCount);
    this.curvature = options.reluBeta === undefined ? {} : { reluBeta: options.reluBeta };
    if (options.reluBeta !== undefined && !(options.reluBeta > 0)) {
      throw new NasError('E_OPTIONS_INVALID', `reluBeta must be > 0, got ${options.reluBeta}`, { reluBeta: options.reluBeta });
    }
    this.chunkElements = options.chunkElements ?? 1 << 22;
    this.plans = planBlocks(model, options.includeLinear ?? false);
    this.blocks = this.plans.map((p) => p.block);
    const batches: Batch[] = [];
    for (let start = 0; start < this.sampleCount; start += batchSize) {
      batches.push({ start, end: Math.min(this.sampleCount, start + batchSize) });
    }
    this.batches = batches;
    this.batchCount = batches.length;
  }

  /** The activation feeding each block's neurons (`identity` blocks have S ≡ 0). */
  activationOf(block: number): ActivationKind {
    return this.plan(block).activation;
  }

  private plan(block: number): BlockPlan {
    const p = this.plans[block];
    if (p === undefined) {
      throw new NasError('E_OPTIONS_INVALID', `Block ${block} does not exist (${this.plans.length} blocks)`, { block });
    }
    return p;
  }

  private batchTensors(b: Batch): { x: tf.Tensor; y: tf.Tensor } {
    const d = this.data;
    const n = b.end - b.start;
    const sample = d.inputShape.reduce((a, c) => a * c, 1);
    const x = tf.tensor(d.x.subarray(b.start * sample, b.end * sample), [n, ...d.inputShape], 'float32');
    if (d.task === 'classification') {
      const labels = tf.tensor1d(d.y.subarray(b.start, b.end), 'float32');
      if (this.options.loss === 'ce') return { x, y: labels };
      const oneHot = tf.tidy(() => tf.cast(tf.oneHot(tf.cast(labels, 'int32') as tf.Tensor1D, d.targetSize), 'float32'));
      labels.dispose();
      return { x, y: oneHot };
    }
    const t = d.targetSize;
    return { x, y: tf.tensor2d(d.y.subarray(b.start * t, b.end * t), [n, t], 'float32') };
  }

  private loss(out: tf.Tensor, y: tf.Tensor): tf.Scalar {
    return computeLoss(this.options.loss === 'ce' ? 'softmaxCrossEntropy' : 'mse', out, y);
  }

  /**
   * S·v of one minibatch for every block: one eval-mode forward with the augmented activations
   * h = σ(z) + σ''(z)(c yᵀx̃)(c vᵀx̃) (realised as a custom gradient, so the forward costs nothing extra) and
   * one backward to all y at once. Returns neurons × dim tensors (batch-mean loss).
   */
  private batchProducts(b: Batch, vectors: readonly Float64Array[]): tf.Tensor2D[] {
    const { x, y } = this.batchTensors(b);
    try {
      return tf.tidy(() => {
        const vs = this.plans.map((p, i) => vectorsToKernel(p, vectors[i]!));
        const ys: tf.Tensor[] = [];
        const slot: ({ w: number; b: number | null } | null)[] = [];
        for (const p of this.plans) {
          if (hasZeroCurvature(p.activation)) {
            slot.push(null);
            continue;
          }
          const w = ys.push(tf.zeros(p.kernelShape)) - 1;
          const bias = p.hasBias ? ys.push(tf.zeros([p.block.neurons])) - 1 : null;
          slot.push({ w, b: bias });
        }
        const byActivation = new Map(this.plans.map((p, i) => [p.activationNode, i]));
        const loss = (...yTensors: tf.Tensor[]): tf.Scalar => {
          const hook = (node: NetworkNode, value: tf.Tensor, values: ReadonlyMap<string, tf.Tensor>): tf.Tensor | void => {
            const i = byActivation.get(node.name);
            if (i === undefined) return;
            const p = this.plans[i]!;
            const s = slot[i];
            if (s === null || s === undefined) return;
            const yw = yTensors[s.w]!;
            const yb = s.b === null ? null : yTensors[s.b]!;
            return this.augment(p, value, values.get(p.input)!, values.get(p.zNode)!, vs[i]!, yw, yb);
          };
          return this.loss(forward(this.model, x, { training: false, hook }), y);
        };
        const grads = ys.length > 0 ? tf.grads(loss)(ys) : [];
        return this.plans.map((p, i) => {
          const s = slot[i]!;
          if (s === null) return tf.zeros([p.block.neurons, p.block.dim]) as tf.Tensor2D;
          return kernelToVectors(p, grads[s.w]!, s.b === null ? null : grads[s.b]!);
        });
      });
    } finally {
      x.dispose();
      y.dispose();
    }
  }

  /**
   * The augmented activation value: forward = h; backward passes dh through unchanged and gives
   * ∂/∂y = Σ (dh·σ''(z)·c²·vᵀx̃) ⊗ x̃ (the S·v contribution of this minibatch).
   */
  private augment(
    p: BlockPlan,
    h: tf.Tensor,
    x: tf.Tensor,
    z: tf.Tensor,
    v: { w: tf.Tensor; b: tf.Tensor | null },
    yw: tf.Tensor,
    yb: tf.Tensor | null,
  ): tf.Tensor {
    // The forward value is h itself (y = 0 adds nothing); only the backward is augmented. x and z must be
    // saved: the engine disposes forward intermediates before the backward pass.
    const f = tf.customGrad(((hIn: tf.Tensor, ...rest: unknown[]) => {
      const save = rest[rest.length - 1] as tf.GradSaveFunc;
      save([x, z]);
      return {
        value: hIn.clone(),
        gradFunc: (dh: tf.Tensor, saved: tf.Tensor[]) => {
          const [xs, zs] = saved as [tf.Tensor, tf.Tensor];
          const curvature = activationCurvatureTf(p.activation, zs, this.curvature);
          const wt = tf.mul(tf.mul(dh, curvature), tf.mul(applyProducer(p, xs, v.w, v.b), this.scaleSquared(p)));
          const grads = [dh, producerFilterGradient(p, xs, wt)];
          if (yb !== null) grads.push(sumToChannels(wt));
          return grads;
        },
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0]);
    return yb === null ? f(h, yw) : f(h, yw, yb);
  }

  private scaleSquared(p: BlockPlan): tf.Tensor1D {
    return tf.tensor1d(p.scale.map((c) => c * c));
  }

  private checkVectors(vectors: readonly Float64Array[]): void {
    if (vectors.length !== this.plans.length) {
      throw new NasError('E_SHAPE_MISMATCH', `multiply needs ${this.plans.length} vector blocks, got ${vectors.length}`, {
        expected: this.plans.length,
        actual: vectors.length,
      });
    }
    this.plans.forEach((p, i) => {
      const n = p.block.neurons * p.block.dim;
      if (vectors[i]!.length !== n) {
        throw new NasError(
          'E_SHAPE_MISMATCH',
          `Vectors of block "${p.block.name}" need ${n} values (${p.block.neurons} × ${p.block.dim}), got ${vectors[i]!.length}`,
          { block: p.block.name, expected: n, actual: vectors[i]!.length },
        );
      }
    });
  }

  /** @inheritdoc */
  async multiply(vectors: readonly Float64Array[], batch?: number): Promise<Float64Array[]> {
    this.checkVectors(vectors);
    const out = this.plans.map((p) => new Float64Array(p.block.neurons * p.block.dim));
    let chosen = this.batches;
    if (batch !== undefined) {
      const b = this.batches[batch];
      if (b === undefined || !Number.isInteger(batch)) {
        throw new NasError('E_OPTIONS_INVALID', `Batch ${batch} does not exist (${this.batchCount} batches)`, { batch });
      }
      chosen = [b];
    }
    const total = chosen.reduce((a, b) => a + (b.end - b.start), 0);
    for (const b of chosen) {
      const products = this.batchProducts(b, vectors);
      const weight = (b.end - b.start) / total;
      products.forEach((t, i) => {
        const data = t.dataSync();
        t.dispose();
        const acc = out[i]!;
        for (let k = 0; k < acc.length; k++) acc[k] = acc[k]! + weight * data[k]!;
      });
      this.checkResult(out, b);
      await Promise.resolve();
    }
    return out;
  }

  private checkResult(out: readonly Float64Array[], b: Batch): void {
    out.forEach((acc, i) => {
      for (let k = 0; k < acc.length; k++) {
        if (!Number.isFinite(acc[k]!)) {
          const name = this.plans[i]!.block.name;
          throw new NasError(
            'E_NUMERICAL',
            `Splitting products of layer "${name}" became non-finite on samples ${b.start}–${b.end - 1} ` +
              `(overflow in the network; check the weights and the input scaling)`,
            { layer: name, samples: [b.start, b.end - 1] },
          );
        }
      }
    });
  }

  /** @inheritdoc */
  async matrices(block: number): Promise<Float64Array> {
    const p = this.plan(block);
    const { neurons, dim } = p.block;
    const result = new Float64Array(neurons * dim * dim);
    if (hasZeroCurvature(p.activation)) return result;
    let acc: tf.Tensor | null = null;
    try {
      for (const b of this.batches) {
        const part = this.batchMatrices(p, b);
        if (acc === null) acc = part;
        else {
          const next: tf.Tensor = tf.add(acc, part);
          acc.dispose();
          part.dispose();
          acc = next;
        }
        await Promise.resolve();
      }
      const data = acc!.dataSync();
      // Symmetrise in float64: ½(S + Sᵀ) per neuron.
      for (let j = 0; j < neurons; j++) {
        const o = j * dim * dim;
        for (let r = 0; r < dim; r++) {
          for (let c = r; c < dim; c++) {
            const s = 0.5 * (data[o + r * dim + c]! + data[o + c * dim + r]!);
            result[o + r * dim + c] = s;
            result[o + c * dim + r] = s;
          }
        }
      }
    } finally {
      acc?.dispose();
    }
    for (let k = 0; k < result.length; k++) {
      if (!Number.isFinite(result[k]!)) {
        throw new NasError('E_NUMERICAL', `Splitting matrices of layer "${p.block.name}" are not finite`, {
          layer: p.block.name,
        });
      }
    }
    return result;
  }

  /**
   * Σ_{n,p} w_{n,p,j} x̃ x̃ᵀ of one minibatch for every neuron j of block p, with
   * w = c² g σ''(z)·(n_b/N), stacked `[neurons·dim, dim]`. g comes from one backward to a zero probe added to
   * the activation output.
   */
  private batchMatrices(p: BlockPlan, b: Batch): tf.Tensor {
    const { x, y } = this.batchTensors(b);
    const captured: { x?: tf.Tensor; z?: tf.Tensor } = {};
    try {
      return tf.tidy(() => {
        const n = b.end - b.start;
        const probe = tf.zeros([n, ...p.outShape]);
        const loss = (e: tf.Tensor): tf.Scalar => {
          const hook = (node: NetworkNode, value: tf.Tensor, values: ReadonlyMap<string, tf.Tensor>): tf.Tensor | void => {
            if (node.name !== p.activationNode) return;
            captured.x = tf.keep(values.get(p.input)!);
            captured.z = tf.keep(values.get(p.zNode)!);
            return tf.add(value, e);
          };
          return this.loss(forward(this.model, x, { training: false, hook }), y);
        };
        const g = tf.grad(loss)(probe);
        const { neurons, dim } = p.block;
        const scale = (b.end - b.start) / this.sampleCount;
        const w = tf.reshape(
          tf.mul(tf.mul(g, activationCurvatureTf(p.activation, captured.z!, this.curvature)), tf.mul(this.scaleSquared(p), scale)),
          [-1, neurons],
        );
        const patches = p.node.op === 'conv2d' ? extractPatches(captured.x! as tf.Tensor4D, p.kernelShape, p.node) : tf.reshape(captured.x!, [-1, p.fanIn]);
        const full = p.hasBias ? tf.concat([patches, tf.ones([patches.shape[0]!, 1])], 1) : patches;
        const rows = full.shape[0]!;
        const chunk = Math.max(1, Math.floor(this.chunkElements / (neurons * dim)));
        let acc: tf.Tensor | null = null;
        for (let r0 = 0; r0 < rows; r0 += chunk) {
          const r = Math.min(chunk, rows - r0);
          const pc = tf.slice(full, [r0, 0], [r, dim]);
          const wc = tf.slice(w, [r0, 0], [r, neurons]);
          // [r, neurons, dim] = w_{r,j}·x̃_r, then (neurons·dim × r)·(r × dim).
          const weighted = tf.reshape(tf.mul(tf.expandDims(pc, 1), tf.expandDims(wc, 2)), [r, neurons * dim]);
          const part = tf.matMul(tf.transpose(weighted), pc);
          acc = acc === null ? part : tf.add(acc, part);
        }
        return acc!;
      });
    } finally {
      captured.x?.dispose();
      captured.z?.dispose();
      x.dispose();
      y.dispose();
    }
  }
}

function checkInputShape(model: NetworkModel, data: Dataset): void {
  const input = model.spec.nodes.find((n) => n.op === 'input');
  const shape = input?.op === 'input' ? input.shape : [];
  if (shape.length !== data.inputShape.length || shape.some((d, i) => d !== data.inputShape[i])) {
    throw new NasError(
      'E_SHAPE_MISMATCH',
      `Data set "${data.name}" has samples of shape [${data.inputShape.join(', ')}] but the network expects ` +
        `[${shape.join(', ')}]`,
      { dataset: data.name, inputShape: [...data.inputShape], expected: [...shape] },
    );
  }
}

function checkFinite(data: Dataset, count: number): void {
  const sample = data.inputShape.reduce((a, b) => a * b, 1);
  for (let k = 0; k < count * sample; k++) {
    if (!Number.isFinite(data.x[k]!)) {
      throw new NasError(
        'E_DATA_INVALID',
        `Data set "${data.name}": input of sample ${Math.floor(k / sample)} holds ${data.x[k]} (non-finite inputs ` +
          `make every splitting matrix NaN)`,
        { dataset: data.name, sample: Math.floor(k / sample) },
      );
    }
  }
  const perTarget = data.task === 'classification' ? 1 : data.targetSize;
  for (let k = 0; k < count * perTarget; k++) {
    const t = data.y[k]!;
    const bad = !Number.isFinite(t) || (data.task === 'classification' && (t < 0 || t >= data.targetSize || t !== Math.floor(t)));
    if (bad) {
      throw new NasError('E_DATA_INVALID', `Data set "${data.name}": target of sample ${Math.floor(k / perTarget)} is ${t}`, {
        dataset: data.name,
        sample: Math.floor(k / perTarget),
      });
    }
  }
}

/**
 * Creates the splitting operator of `model` on `data` (see {@link NetworkSplittingOperator}): one block per
 * dense/conv2d producer followed (through eval-mode batch norms) by an activation, in topological order.
 * Depthwise convolutions follow their input channel passively and are not blocks.
 */
export function createSplittingOperator(
  model: NetworkModel,
  data: Dataset,
  options: SplittingOperatorOptions,
): NetworkSplittingOperator {
  return new NetworkSplittingOperator(model, data, options);
}
