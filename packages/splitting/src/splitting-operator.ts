import {
  NasError,
  type ActivationKind,
  type BatchNormNode,
  type Conv2dNode,
  type Dataset,
  type DenseNode,
  type NetworkNode,
  type SplittingBlock,
  type SplittingOperator,
} from '@mitosis/core';
import { buildChannelGraph, followingActivation, inferShapes, nodesByName, readersOf, topoSort } from '@mitosis/ir';
import { computeLoss, forward, type NetworkModel } from '@mitosis/engine';
import {
  batchNormActInfer,
  batchNormInferAffine,
  mulAdd,
  mulPair,
  reserveWasmHeap,
  rowMatMulAvailable,
  rowMatMulSimd,
  transposedProductAvailable,
  transposedProductSimd,
} from '@mitosis/kernels';
import { activationTermsTf, hasZeroCurvature, type BatchNormInput, type CurvatureOptions } from './activation-curvature.js';
import { chainAdjoint, planChain, viewOf, viewParams, type ChainPlan, type ChainStepData, type ColumnMap, type GroupView } from './chain.js';
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
   * Bound on the float32 elements of one coefficient-weighted patch block (`dim × rows`) in
   * {@link SplittingOperator.matrices} (default 2²²); larger uses fewer, bigger matMuls and more memory.
   */
  readonly chunkElements?: number;
  /**
   * Bytes of JS memory for caching each minibatch's curvature coefficients and layer inputs (and im2col rows)
   * between calls (default {@link DEFAULT_CACHE_BYTES}; 0 recomputes the network pass at every call). With the
   * cache, a call costs two convolution-sized products per block and no network pass.
   */
  readonly cacheBytes?: number;
  /**
   * Also expose producers followed by an `identity` activation as blocks. Their σ'' ≡ 0, so their matrices and
   * products are exactly zero (no curvature is invented). Default false: such neurons are not splittable.
   */
  readonly includeLinear?: boolean;
  /**
   * Only the curvature of the activation right after the producer (the matrix before issue 12), ignoring the
   * later nonlinearities of a depthwise chain that the surgery copies with each offspring. For comparisons
   * only: it is not the split Hessian wherever such a chain sits before the first linear consumer. Default false.
   */
  readonly firstActivationOnly?: boolean;
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
  /** The eval-mode batch norms between the producer and the activation. */
  readonly batchNorms: readonly BatchNormNode[];
  /** Folded eval-mode BN scale per channel, c = Π γ/√(var+ε) (1 without BN); refreshed when the weights change. */
  readonly scale: Float32Array;
  readonly fanIn: number;
  readonly hasBias: boolean;
  /** Kernel shape ([in, units] or [kh, kw, in, filters]). */
  readonly kernelShape: number[];
  /** Shape of the activation's output without the batch axis. */
  readonly outShape: number[];
  /** Shape of the producer's input without the batch axis. */
  readonly inputShape: number[];
  /** The nonlinearities after the first activation, up to the linear consumers (null: none with curvature). */
  readonly chain: ChainPlan | null;
  /** S ≡ 0: an identity first activation and no curved chain. */
  readonly zero: boolean;
}

function readArray(model: NetworkModel, node: string, param: string): Float32Array {
  return model.weight(node, param).dataSync() as Float32Array;
}

/** γ/√(var+ε) per feature of an eval-mode batch norm. */
function bnScale(model: NetworkModel, node: string, epsilon: number): Float32Array {
  const gamma = readArray(model, node, 'gamma');
  const variance = readArray(model, node, 'movingVariance');
  return gamma.map((g, i) => g / Math.sqrt(variance[i]! + epsilon));
}

/** c = Π γ/√(var+ε) over `batchNorms`, per channel, written into `scale`. */
function foldScale(model: NetworkModel, batchNorms: readonly BatchNormNode[], scale: Float32Array): void {
  scale.fill(1);
  for (const bn of batchNorms) {
    const gamma = readArray(model, bn.name, 'gamma');
    const variance = readArray(model, bn.name, 'movingVariance');
    for (let j = 0; j < scale.length; j++) scale[j] = scale[j]! * (gamma[j]! / Math.sqrt(variance[j]! + bn.epsilon));
  }
}

/**
 * The splittable producers of the channel graph (dense/conv2d with a non-identity activation before any
 * branching, in a growable channel group), plus those with an identity activation when `includeLinear`,
 * with their folded BN scales, in topological order.
 */
function planBlocks(model: NetworkModel, includeLinear: boolean, withChains: boolean): BlockPlan[] {
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
    const batchNorms = chain.path.flatMap((name) => {
      const bn = byName.get(name);
      return bn?.op === 'batchNorm' ? [bn] : [];
    });
    const scale = new Float32Array(neurons);
    foldScale(model, batchNorms, scale);
    const zNode = chain.path.length > 1 ? chain.path[chain.path.length - 2]! : node.name;
    const tail = withChains ? planChain(spec, graph, shapes, readers, node.name, chain.node) : null;
    plans.push({
      block: { name: node.name, neurons, dim: fanIn + (node.useBias ? 1 : 0) },
      node,
      input: node.inputs[0]!,
      activationNode: chain.node,
      zNode,
      activation: chain.activation,
      batchNorms,
      scale,
      fanIn,
      hasBias: node.useBias,
      kernelShape,
      outShape: shapes.get(chain.node)!,
      inputShape: shapes.get(node.inputs[0]!)!,
      chain: tail,
      zero: hasZeroCurvature(chain.activation) && tail === null,
    });
  }
  return plans;
}

interface Batch {
  readonly start: number;
  readonly end: number;
}

/**
 * Per-minibatch quantities of one block that do not depend on the vectors: the curvature coefficients and the
 * producer's input, or its rows (always for dense blocks; for 1×1 convolutions budget permitting, see
 * `rowsWorthCaching`).
 */
interface BlockBatchData {
  /** c²·g·σ''(z) per row (sample × output position) and neuron, `[rows, neurons]`, g from the minibatch-mean loss. */
  readonly coef: tf.Tensor2D;
  /** The producer's input (conv2d blocks without `patches`). */
  readonly input: tf.Tensor4D | null;
  /**
   * The rows x̃ (im2col for conv2d, bias column of ones included), `[rows, dim]`, or `[rows, dimP]` with zero
   * columns up to a multiple of 4 where the wasm product kernels take them (see `patchRows`).
   */
  readonly patches: tf.Tensor2D | null;
  /** Blocks with a chain: c·σ₁'(z) per row and neuron, `[rows, neurons]` (the first activation's slope). */
  readonly slope: tf.Tensor2D | null;
  /** Blocks with a chain: each step's tensors (see {@link chainEnergy}). */
  readonly chain: readonly ChainStepData[] | null;
  /**
   * Cached entries only: per-neuron tensors of this entry with their columns repeated for products over several
   * whole vector sets (`multiplyMany`), by repeat count and tensor, filled on first use within the cache budget.
   * On wasm a same-shape multiply is ≈ 4× faster than the broadcasting one over `[rows, k, neurons]`.
   */
  repeated?: Map<number, Map<tf.Tensor, tf.Tensor>>;
}

function chainTensors(steps: readonly ChainStepData[] | null): tf.Tensor[] {
  if (steps === null) return [];
  return steps.flatMap((s) => {
    switch (s.kind) {
      case 'scale':
        return [s.scale];
      case 'filter':
        return [s.filter];
      case 'activation':
        return [...(s.slope === null ? [] : [s.slope]), ...(s.coef === null ? [] : [s.coef])];
      default:
        return [];
    }
  });
}

/** One minibatch's data per block (`null` for blocks whose σ'' ≡ 0). */
type BatchData = readonly (BlockBatchData | null)[];

function batchTensorsOf(data: BatchData): tf.Tensor[] {
  return data.flatMap((d) =>
    d === null
      ? []
      : [
          d.coef,
          ...(d.input === null ? [] : [d.input]),
          ...(d.patches === null ? [] : [d.patches]),
          ...(d.slope === null ? [] : [d.slope]),
          ...chainTensors(d.chain),
          ...[...(d.repeated?.values() ?? [])].flatMap((byTensor) => [...byTensor.values()]),
        ],
  );
}

function bytesOf(data: BatchData): number {
  return batchTensorsOf(data).reduce((a, t) => a + 4 * t.size, 0);
}

/**
 * Whether a block's im2col rows are worth caching beside its input: for dense layers and 1×1 convolutions they
 * are the input itself (reshaped), and the products are two plain matrix products. A k×k convolution's rows
 * copy the input k² times: on wasm its products cost the same through the convolution and its filter gradient
 * on the cached input (mobilenetv1-cifar seed, lanczos: the passes after the first 313 ms with the rows of the
 * 3×3 RGB convolution cached, 318 ms without), while building and holding the rows (29 MB there, on a fresh heap)
 * made the first pass 380 ms instead of 304.
 */
function rowsWorthCaching(p: BlockPlan): boolean {
  return p.node.op !== 'conv2d' || (p.kernelShape[0] === 1 && p.kernelShape[1] === 1);
}

/** c² per element, rounded to float32 (as a float32 multiply of c by itself rounds it). */
function squares(c: Float32Array): Float32Array {
  return c.map((v) => v * v);
}

/** Cache key of the entry holding every scored sample (see `fullData`). */
const FULL = -1;

/** Disposes cached tensors of operators that were dropped without {@link NetworkSplittingOperator.dispose}. */
const orphans = new FinalizationRegistry<Map<number, BatchData>>((cache) => {
  for (const data of cache.values()) tf.dispose(batchTensorsOf(data));
});

/**
 * The vectors of one block over several sets, stacked as rows `[m, dim]` (float32); `rows[r]` is
 * `k·neurons + j` for set k, neuron j. All-zero vectors are left out (their products are zero), so solvers
 * that retire converged neurons by passing zeros pay only for the others — unless at least an eighth of the
 * vectors are non-zero: then every vector is kept, zeros included, because picking columns out of every
 * per-neuron tensor of the block (a one-hot matMul per tensor and call, see {@link StackedVectors}) costs more
 * than the zero columns (mobilenetv1-cifar seed, lanczos: the passes after the first took 490 ms picking at
 * half, 400–440 ms never picking, 415–423 ms picking below an eighth).
 */
function stackVectors(sets: readonly (readonly Float64Array[])[], block: number, neurons: number, dim: number): { values: Float32Array; rows: Int32Array } {
  let rows: number[] = [];
  sets.forEach((set, k) => {
    const v = set[block]!;
    for (let j = 0; j < neurons; j++) {
      for (let i = j * dim; i < (j + 1) * dim; i++) {
        if (v[i] !== 0) {
          rows.push(k * neurons + j);
          break;
        }
      }
    }
  });
  if (rows.length > 0 && 8 * rows.length >= sets.length * neurons) rows = Array.from({ length: sets.length * neurons }, (_, r) => r);
  const values = new Float32Array(rows.length * dim);
  rows.forEach((r, m) => {
    const k = Math.floor(r / neurons);
    const j = r - k * neurons;
    values.set(sets[k]![block]!.subarray(j * dim, (j + 1) * dim), m * dim);
  });
  return { values, rows: Int32Array.from(rows) };
}

/**
 * Vectors of one block for one call: `vt` `[dim, m]` and how the coefficient columns `[rows, neurons]` map to
 * its columns: `repeat` whole sets in neuron order (`selector` null), or, when some vectors were left out, a
 * one-hot `selector` `[neurons, m]` (column c picks neuron `rows[c] % neurons`). TF.js wasm's gather is slow
 * here (≈60 ms for a [6272, 64] → [6272, 128] column gather), a one-hot matMul or a concat is not.
 */
interface StackedVectors {
  readonly vt: tf.Tensor2D;
  readonly repeat: number;
  readonly selector: tf.Tensor2D | null;
  readonly rows: Int32Array;
}

/**
 * How per-neuron tensors meet the stacked vectors' columns (see {@link ColumnMap}). `repeated`, for whole sets
 * (`repeat` > 1), gives a tensor's columns already repeated `repeat` times (or null: broadcast instead).
 */
function columnMap(stacked: StackedVectors, neurons: number, repeated?: (c: tf.Tensor) => tf.Tensor | null): ColumnMap {
  const { selector, repeat } = stacked;
  if (selector !== null) {
    const pick = (c: tf.Tensor): tf.Tensor => {
      const lead = c.shape.slice(0, -1);
      return tf.reshape(tf.matMul(tf.reshape(c, [-1, neurons]), selector), [...lead, selector.shape[1]]);
    };
    return { mul: (t, c) => tf.mul(t, pick(c)), columns: (c) => pick(c) as tf.Tensor2D };
  }
  if (repeat === 1) return { mul: (t, c) => tf.mul(t, c), columns: (c) => c, aligned: (t, c) => (c.size === t.size ? c : null) };
  return {
    aligned: (t, c) => (repeated !== undefined && c.size * repeat === t.size ? repeated(c) : null),
    // [..., k·neurons] as [..., k, neurons] against [..., 1, neurons]: no copies of the coefficients, unless a
    // cached copy with repeated columns exists (same products, same values).
    mul: (t, c) => {
      // Only where c has t's shape (per row and neuron); per-channel scales keep broadcasting.
      const r = repeated !== undefined && c.size * repeat === t.size ? repeated(c) : null;
      if (r !== null) return tf.mul(t, tf.reshape(r, t.shape));
      const lead = t.shape.slice(0, -1);
      const product = tf.mul(tf.reshape(t, [...lead, repeat, neurons]), tf.reshape(c, [...c.shape.slice(0, -1), 1, neurons]));
      return tf.reshape(product, t.shape);
    },
    columns: (c) => tf.concat(Array.from({ length: repeat }, () => c), 1),
  };
}


/**
 * Implementation of {@link SplittingOperator} over an engine {@link NetworkModel} in eval mode (BN frozen at its
 * running statistics).
 *
 * How S·v is computed (algorithms.md §2.3, "equivalent without autodiff tricks"): one eval-mode forward and one
 * backward per minibatch give, for every block at once, g = ∂L_b/∂h at the activation output (through zero
 * probes added to it), z and the producer's input x. Then for every neuron j,
 * S_j v_j = Σ_rows coef_{r,j}·(x̃_r·v_j)·x̃_r with coef = c²·g·σ''(z): two convolution-sized products
 * (`X·V` and `Wᵀ·X`, or a conv2d and its filter gradient) for all neurons of a block — the same work as the
 * augmented backward of §3.1, which needs an extra network forward/backward per call.
 *
 * The coefficients and inputs do not depend on v, so the operator caches them per minibatch as tensors (up to
 * `cacheBytes`), together with the im2col rows when they fit too; later calls then skip the network entirely.
 * The cache is dropped when any model variable is reassigned (the weights are checked at every call); do not
 * modify a variable's values in place while the operator is in use. Call {@link dispose} when done (a
 * finalizer frees the cache of an operator that is garbage-collected without it).
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
  private readonly cacheBytes: number;
  private readonly cache = new Map<number, BatchData>();
  private cachedBytes = 0;
  private weightIds: unknown[] = [];
  private passes = 0;

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
    const cacheBytes = options.cacheBytes ?? DEFAULT_CACHE_BYTES;
    if (!(cacheBytes >= 0)) {
      throw new NasError('E_OPTIONS_INVALID', `cacheBytes must be ≥ 0, got ${cacheBytes}`, { cacheBytes });
    }
    this.cacheBytes = cacheBytes;
    this.sampleCount = Math.min(max, data.count);
    checkInputShape(model, data);
    checkFinite(data, this.sampleCount);
    this.curvature = options.reluBeta === undefined ? {} : { reluBeta: options.reluBeta };
    if (options.reluBeta !== undefined && !(options.reluBeta > 0)) {
      throw new NasError('E_OPTIONS_INVALID', `reluBeta must be > 0, got ${options.reluBeta}`, { reluBeta: options.reluBeta });
    }
    this.chunkElements = options.chunkElements ?? 1 << 22;
    this.plans = planBlocks(model, options.includeLinear ?? false, options.firstActivationOnly !== true);
    this.weightIds = this.variableIds();
    this.blocks = this.plans.map((p) => p.block);
    const batches: Batch[] = [];
    for (let start = 0; start < this.sampleCount; start += batchSize) {
      batches.push({ start, end: Math.min(this.sampleCount, start + batchSize) });
    }
    this.batches = batches;
    this.batchCount = batches.length;
    orphans.register(this, this.cache, this);
  }

  /** Frees the cached minibatch tensors (the operator stays usable and refills its cache on demand). */
  dispose(): void {
    this.clearCache();
  }

  private clearCache(): void {
    for (const data of this.cache.values()) tf.dispose(batchTensorsOf(data));
    this.cache.clear();
    this.cachedBytes = 0;
  }

  /** The activation feeding each block's neurons (`identity` blocks have S ≡ 0). */
  activationOf(block: number): ActivationKind {
    return this.plan(block).activation;
  }

  /**
   * Network passes (one eval-mode forward and backward over a minibatch, or over every sample at once for the
   * merged entry) computed so far: with the cache, later calls need none.
   */
  get networkPasses(): number {
    return this.passes;
  }

  /** Bytes of minibatch data currently cached (see {@link SplittingOperatorOptions.cacheBytes}). */
  get cacheSize(): number {
    return this.cachedBytes;
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

  private variableIds(): unknown[] {
    return [...this.model.variables.values()].map((v) => v.dataId as unknown);
  }

  /** Drops the cache (and refolds the BN scales) when any model variable was reassigned since it was filled. */
  private checkWeights(): void {
    const ids = this.variableIds();
    if (ids.length === this.weightIds.length && ids.every((id, i) => id === this.weightIds[i])) return;
    this.clearCache();
    for (const p of this.plans) foldScale(this.model, p.batchNorms, p.scale);
    this.weightIds = ids;
  }

  /**
   * The minibatch's coefficients and inputs for every block, from the cache or from one eval-mode forward and
   * one backward (cached when the budget allows). `needPatches` (a block index) asks for that block's im2col
   * rows even when they are not cached. `owned`: the caller must dispose the tensors of `data`.
   */
  private batchData(index: number, needPatches = -1): { data: BatchData; owned: boolean } {
    const hit = this.cache.get(index);
    if (hit !== undefined) {
      const d = hit[needPatches];
      if (needPatches < 0 || d === null || d === undefined || d.patches !== null) return { data: hit, owned: false };
      const patches = tf.tidy(() => this.patchRows(this.plans[needPatches]!, d.input!));
      const data = hit.map((e, i) => (i === needPatches ? { coef: tf.clone(d.coef), input: null, patches, slope: null, chain: null } : null));
      return { data, owned: true };
    }
    const b = this.batches[index]!;
    // Decide what to keep before computing: coefficients + inputs first, then im2col rows.
    const { base, extra } = this.entryBytes(b.end - b.start);
    const keep = this.cachedBytes + base <= this.cacheBytes;
    const keepPatches = keep && this.cachedBytes + base + extra <= this.cacheBytes;
    const data = this.computeBatch(b, (i) => (keepPatches && rowsWorthCaching(this.plans[i]!)) || i === needPatches);
    if (!keep) return { data, owned: true };
    this.cache.set(index, data);
    this.cachedBytes += bytesOf(data);
    return { data, owned: false };
  }

  /**
   * The data of every scored sample as one cached entry (key {@link FULL}), for products over the whole scoring
   * set: one network pass for all samples and then one set of kernels per block and call instead of one per
   * minibatch (on small networks the per-kernel cost dominates). The loss is the mean over all samples, so
   * the product equals the sample-weighted sum over minibatches up to float32 rounding. Null when it would not
   * fit the cache budget beside what is cached (the caller then goes minibatch by minibatch) or when there is
   * a single minibatch anyway.
   */
  private fullData(): BatchData | null {
    if (this.batches.length < 2) return null;
    const hit = this.cache.get(FULL);
    if (hit !== undefined) return hit;
    const { base, extra } = this.entryBytes(this.sampleCount);
    if (this.cachedBytes + base > this.cacheBytes) return null;
    const keepPatches = this.cachedBytes + base + extra <= this.cacheBytes;
    // Room for the entry and about as much again for the network pass, grown at once (see reserveWasmHeap): on
    // mobilenetv1-cifar's seed the pass then took 201–233 ms instead of 303–355 in a fresh process.
    reserveWasmHeap(2 * (base + (keepPatches ? extra : 0)));
    const data = this.computeBatch({ start: 0, end: this.sampleCount }, (i) => keepPatches && rowsWorthCaching(this.plans[i]!));
    this.cache.set(FULL, data);
    this.cachedBytes += bytesOf(data);
    return data;
  }

  /** Bytes of a cache entry for `n` samples: coefficients and inputs (`base`), and the im2col rows (`extra`). */
  private entryBytes(n: number): { base: number; extra: number } {
    let base = 0;
    let extra = 0;
    for (const p of this.plans) {
      if (p.zero) continue;
      const rows = n * p.outShape.slice(0, -1).reduce((a, c) => a * c, 1);
      base += 4 * rows * p.block.neurons;
      if (p.chain !== null) {
        base += 4 * rows * p.block.neurons;
        for (const s of p.chain.steps) if (s.kind === 'activation' && s.curved) base += 8 * n * s.view.positions * s.view.width;
      }
      if (p.node.op === 'conv2d') {
        base += 4 * n * p.inputShape.reduce((a, c) => a * c, 1);
        if (rowsWorthCaching(p)) extra += 4 * rows * p.block.dim;
      } else {
        base += 4 * rows * p.block.dim;
      }
    }
    return { base, extra };
  }

  /**
   * x̃ rows `[rows, dim]` of a block's input (im2col for conv2d; a ones column for the bias). On wasm, with zero
   * columns up to a multiple of 4 when dim is not one: the generated product kernels (`blockProduct`) then take
   * every block (a 3×3 RGB convolution has dim 27).
   */
  private patchRows(p: BlockPlan, x: tf.Tensor): tf.Tensor2D {
    return tf.tidy(() => {
      let rows: tf.Tensor2D = p.node.op === 'conv2d' ? extractPatches(x as tf.Tensor4D, p.kernelShape, p.node) : (tf.reshape(x, [-1, p.fanIn]) as tf.Tensor2D);
      if (p.hasBias) rows = tf.concat([rows, tf.ones([rows.shape[0], 1])], 1);
      const dim = rows.shape[1];
      const width = Math.ceil(dim / 4) * 4;
      if (width !== dim && transposedProductAvailable(width, 8)) rows = tf.pad(rows, [[0, 0], [0, width - dim]]);
      return rows;
    });
  }

  /**
   * One eval-mode forward (batch norms fused with their activations) that taps the output of every activation
   * with curvature that a block needs (its first activation and the curved activations of its chain), and one
   * backward that records the loss gradient at each tap; then each block's coefficients from those.
   */
  private computeBatch(b: Batch, patchesFor: (block: number) => boolean): BatchData {
    this.passes++;
    const { x, y } = this.batchTensors(b);
    const active = this.plans.map((p, i) => (p.zero ? -1 : i)).filter((i) => i >= 0);
    // Tapped activation nodes: every active block's first activation and its chain's curved activations.
    const probed = new Set<string>();
    for (const i of active) {
      const p = this.plans[i]!;
      probed.add(p.activationNode);
      for (const s of p.chain?.steps ?? []) if (s.kind === 'activation' && s.curved) probed.add(s.node);
    }
    const inputOf = new Map(active.map((i) => [this.plans[i]!.node.name, this.plans[i]!.input]));
    const captured = new Map<string, tf.Tensor>();
    // Pre-activation values the pass did not compute (batch norms fused with their activation): the batch
    // norm's input is captured under the batch norm's name, and z is formed from it where it is read.
    const batchNormOf = new Map<string, BatchNormNode>();
    const byName = nodesByName(this.model.spec);
    const gradsOf = new Map<string, tf.Tensor>();
    const inputName = this.model.spec.nodes.find((node) => node.op === 'input')!.name;
    try {
      const wantRows = active.map((i) => this.plans[i]!.node.op !== 'conv2d' || patchesFor(i));
      const out: BlockBatchData[] = [];
      tf.tidy(() => {
        // The network pass in its own scope: only the probe gradients (and the captured values) outlive it, so
        // the forward activations and backward temporaries are freed before the per-block tensors are made
        // (a smaller peak: on a fresh heap every new megabyte costs a page fault).
        tf.tidy(() => {
          // ∂L/∂h at every probed activation output, from one backward pass: every node's output goes through a
          // mark (an identity whose gradient function sees the gradient arriving there), which keeps the gradient
          // at the probed activations, and the pass differentiates with respect to a scalar attached to the output
          // of every node that reads the network input (every other node depends on one of them). No per-node zero
          // probes, no gradient with respect to the input itself.
          //
          // TF.js keeps every intermediate gradient until the whole backward pass ends; the marks free them
          // earlier. A node's incoming gradient is dead once the backward has run that node's own kernels, which
          // the tape records after the marks of the node's inputs: so when the mark of node I runs, the gradients
          // that arrived at the marks of I's readers are disposed (unless one is the very tensor arriving now: a
          // reader that passes I's value through hands the same tensor on; what is kept of a probed gradient is a
          // clone, which shares its buffer). A batch norm fused with its activation has no mark of its own (the pass
          // skips its value): its activation counts as a reader of the batch norm's input. On mobilenetv1-cifar's
          // 256 scoring samples the backward's fresh memory falls from 81 to 52 MB; on a fresh heap every
          // megabyte costs a page fault.
          const arrived = new Map<string, tf.Tensor>();
          const markedReaders = new Map<string, string[]>();
          const mark = (node: NetworkNode, value: tf.Tensor, reads: readonly string[], keepAs: string | null): tf.Tensor => {
            for (const i of reads) markedReaders.set(i, [...(markedReaders.get(i) ?? []), node.name]);
            return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
              value: tf.clone(args[0] as tf.Tensor),
              gradFunc: (dy: tf.Tensor) => {
                for (const reader of markedReaders.get(node.name) ?? []) {
                  const done = arrived.get(reader);
                  if (done !== undefined && done !== dy) done.dispose();
                  arrived.delete(reader);
                }
                arrived.set(node.name, dy);
                if (keepAs !== null && !gradsOf.has(keepAs)) gradsOf.set(keepAs, tf.keep(tf.clone(dy)));
                return [dy];
              },
            }))(value);
          };
          // The scalar the pass differentiates with respect to enters every node that reads the network input as
          // an identity on that node's value whose gradient for the scalar is a constant zero: the backward then
          // runs down to the first tap, with no add over the node's output forward and no sum over its gradient
          // backward (the scalar's own gradient is never read).
          const attach = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
            value: tf.clone(args[0] as tf.Tensor),
            gradFunc: (dy: tf.Tensor) => [dy, tf.zerosLike(args[1] as tf.Tensor)],
          }));
          const loss = (e: tf.Tensor): tf.Scalar => {
            const hook = (node: NetworkNode, value: tf.Tensor, values: ReadonlyMap<string, tf.Tensor>): tf.Tensor | void => {
              if (node.op === 'input') return;
              // The nodes whose values this one reads, through a fused batch norm the pass skipped (no value).
              const reads = node.inputs.flatMap((i) => (values.has(i) ? [i] : (byName.get(i) as { inputs: readonly string[] }).inputs));
              if (reads.includes(inputName)) value = attach(value, e);
              if (!probed.has(node.name)) return mark(node, value, reads, null);
              const pre = (node as { inputs: readonly string[] }).inputs[0]!;
              if (!captured.has(pre)) {
                const z = values.get(pre);
                if (z !== undefined) captured.set(pre, tf.keep(z));
                else {
                  const bn = byName.get(pre) as BatchNormNode;
                  batchNormOf.set(pre, bn);
                  captured.set(pre, tf.keep(values.get(bn.inputs[0]!)!));
                }
              }
              return mark(node, value, reads, node.name);
            };
            // The producers' inputs (x of S·v), read when each producer runs.
            const keepInputs = (node: NetworkNode, value: tf.Tensor, values: ReadonlyMap<string, tf.Tensor>): tf.Tensor | void => {
              const input = inputOf.get(node.name);
              if (input !== undefined && !captured.has(input)) captured.set(input, tf.keep(values.get(input)!));
              return hook(node, value, values);
            };
            return this.loss(forward(this.model, x, { training: false, hook: keepInputs, fuseUnderHook: true, batchNormValues: false }), y);
          };
          if (probed.size > 0) tf.grads(loss)([tf.scalar(0)]);
        });
        const gradOf = (name: string): tf.Tensor => gradsOf.get(name)!;
        // The pre-activation value captured under `name` (z, or a fused batch norm's input with its coefficients),
        // seen through `view` (null: the whole tensor).
        const affines = new Map<string, { scale: Float32Array; shift: Float32Array }>();
        const preValue = (name: string, view: GroupView | null): tf.Tensor | BatchNormInput => {
          const t = captured.get(name)!;
          const bn = batchNormOf.get(name);
          if (bn === undefined) return view === null ? t : viewOf(t, view);
          const zOf = (): tf.Tensor => {
            const w = (k: string): tf.Tensor1D => this.model.weight(bn.name, k) as tf.Tensor1D;
            const z = batchNormActInfer(t, w('movingMean'), w('movingVariance'), w('gamma'), w('beta'), bn.epsilon, 'linear');
            return view === null ? z : viewOf(z, view);
          };
          if (view !== null && view.partSpatial !== 1) return zOf();
          let affine = affines.get(name);
          if (affine === undefined) {
            const read = (k: string): Float32Array => readArray(this.model, bn.name, k);
            affine = batchNormInferAffine(read('gamma'), read('beta'), read('movingMean'), read('movingVariance'), bn.epsilon);
            affines.set(name, affine);
          }
          if (view === null) return { x: t, ...affine, z: zOf };
          return { x: viewOf(t, view), scale: viewParams(affine.scale, view), shift: viewParams(affine.shift, view), z: zOf };
        };
        const blockData = (i: number, k: number): BlockBatchData => {
          const p = this.plans[i]!;
          // coef = c²·g·σ''(z) and (with a chain) slope = c·σ'(z), one fused pass where the kernels allow.
          const terms = activationTermsTf(p.activation, preValue(p.zNode, null), gradOf(p.activationNode), squares(p.scale), p.scale, p.chain !== null, this.curvature);
          const coef = tf.reshape(terms.coef, [-1, p.block.neurons]) as tf.Tensor2D;
          const xIn = captured.get(p.input)!;
          const rows = wantRows[k] ? this.patchRows(p, xIn) : null;
          const input = wantRows[k] ? null : (tf.clone(xIn) as tf.Tensor4D);
          if (p.chain === null) return { coef, patches: rows, input, slope: null, chain: null };
          const slope = tf.reshape(terms.slope!, [-1, p.block.neurons]) as tf.Tensor2D;
          const steps = p.chain.steps;
          const scaleOf = (s: Extract<(typeof steps)[number], { kind: 'batchNorm' }>): tf.Tensor =>
            tf.tensor3d(viewParams(bnScale(this.model, s.node, s.epsilon), s.view), [1, s.view.partSpatial, s.view.width]);
          const chain: ChainStepData[] = steps.map((s) => {
            switch (s.kind) {
              case 'batchNorm':
                return s.folded ? { kind: 'none' } : { kind: 'scale', scale: scaleOf(s) };
              case 'activation': {
                if (!s.curved) return { kind: 'activation', slope: null, coef: null };
                const a = preValue(s.preNode, s.view);
                const g = viewOf(gradOf(s.node), s.view);
                // A folded batch norm right before: its c goes into the slope (×c) and the coefficient (×c²).
                const before = s.inputs.length === 1 && s.inputs[0]! >= 0 ? steps[s.inputs[0]!]! : null;
                const folded = before !== null && before.kind === 'batchNorm' && before.folded ? before : null;
                if (folded === null || s.view.partSpatial === 1) {
                  // Per-channel factors (or none): one pass.
                  const c = folded === null ? null : viewParams(bnScale(this.model, folded.node, folded.epsilon), folded.view);
                  const terms = activationTermsTf(s.activation, a, g, c === null ? null : squares(c), c, s.carries, this.curvature);
                  return { kind: 'activation', slope: terms.slope, coef: terms.coef };
                }
                // Factors per position and channel (a flattened view): the terms, then the factors.
                const c = scaleOf(folded);
                const terms = activationTermsTf(s.activation, a, g, null, null, s.carries, this.curvature);
                return {
                  kind: 'activation',
                  slope: terms.slope === null ? null : tf.mul(terms.slope, c),
                  coef: tf.mul(terms.coef, tf.square(c)),
                };
              }
              case 'depthwise': {
                const kernel = this.model.weight(s.node, 'depthwiseKernel');
                const [kh, kw, channels, multiplier] = kernel.shape as [number, number, number, number];
                if (multiplier !== 1) {
                  throw new NasError('E_SPEC_INVALID', `Depthwise "${s.node}" has a channel multiplier of ${multiplier}; the splitting chain needs 1`, { node: s.node });
                }
                const values = kernel.dataSync() as Float32Array;
                const taps = kh * kw;
                const filter = new Float32Array(taps * s.inView.width);
                for (let t = 0; t < taps; t++) filter.set(viewParams(values.subarray(t * channels, (t + 1) * channels), s.inView), t * s.inView.width);
                return { kind: 'filter', filter: tf.tensor2d(filter, [taps, s.inView.width]) };
              }
              default:
                return { kind: 'none' };
            }
          });
          return { coef, patches: rows, input, slope, chain };
        };
        // Each block's tensors in a scope of its own: its temporaries are freed before the next block's, and the
        // captured values and gradients it was the last to read are freed after it (their memory then holds the
        // next block's tensors: a smaller peak, fewer fresh pages).
        const readers = new Map<tf.Tensor, number>();
        const readBy = active.map((i) => {
          const p = this.plans[i]!;
          const read = [captured.get(p.zNode)!, gradOf(p.activationNode), captured.get(p.input)!];
          for (const s of p.chain?.steps ?? []) if (s.kind === 'activation' && s.curved) read.push(captured.get(s.preNode)!, gradOf(s.node));
          for (const t of read) readers.set(t, (readers.get(t) ?? 0) + 1);
          return read;
        });
        const made = active.map((i, k) => {
          const d = tf.tidy(() => blockData(i, k) as unknown as tf.TensorContainer) as unknown as BlockBatchData;
          for (const t of readBy[k]!) {
            const left = readers.get(t)! - 1;
            readers.set(t, left);
            if (left === 0) t.dispose();
          }
          return d;
        });
        for (const d of made) {
          for (const t of batchTensorsOf([d])) tf.keep(t);
          out.push(d);
        }
      });
      const result: (BlockBatchData | null)[] = this.plans.map(() => null);
      active.forEach((i, k) => (result[i] = out[k]!));
      return result;
    } finally {
      tf.dispose([...captured.values(), ...gradsOf.values()]);
      x.dispose();
      y.dispose();
    }
  }

  /**
   * Σ_rows coef·(x̃·v)·x̃ of one minibatch for the stacked vectors of block `p` (`vt` `[dim, m]`, column c
   * belonging to neuron `rows[c] % neurons`); returns `[m, dim]`.
   */
  private blockProduct(p: BlockPlan, d: BlockBatchData, stacked: StackedVectors, cached: boolean): tf.Tensor2D {
    return tf.tidy(() => {
      const { vt } = stacked;
      const nk = vt.shape[1];
      if (d.patches !== null) {
        const x = d.patches;
        const [rows, width] = x.shape;
        const dim = vt.shape[0];
        // Zero rows of V for the zero columns of x̃ (see patchRows).
        const v = width === dim ? vt : (tf.pad(vt, [[0, width - dim], [0, 0]]) as tf.Tensor2D);
        // Temporaries are freed as soon as they are dead (nested scopes): on a fresh heap every megabyte of the
        // largest block's peak costs a page fault.
        const w = tf.tidy(() => {
          const xv = rowMatMulAvailable(rows, width, nk) ? rowMatMulSimd(x, v) : tf.matMul(x, v);
          return tf.reshape(this.adjoint(p, d, stacked, xv, cached), [rows, nk]) as tf.Tensor2D;
        });
        // Wᵀ·x̃ as (x̃ᵀ·W)ᵀ in one streaming kernel where it applies; else an explicit transpose then matMul,
        // which is faster on wasm than transposeA (engine-notes.md).
        const product = transposedProductAvailable(width, nk) ? tf.transpose(transposedProductSimd(x, w)) : tf.matMul(tf.transpose(w), x);
        return (width === dim ? product : tf.slice(product, [0, 0], [nk, dim])) as tf.Tensor2D;
      }
      const node = p.node as Conv2dNode;
      const x = d.input!;
      const [kh, kw, cin] = p.kernelShape as [number, number, number, number];
      const filterShape: [number, number, number, number] = [kh, kw, cin, nk];
      const kernel = tf.reshape(tf.slice(vt, [0, 0], [p.fanIn, nk]), filterShape) as tf.Tensor4D;
      const w = tf.tidy(() => {
        let out: tf.Tensor = tf.conv2d(x, kernel, [...node.strides], node.padding);
        if (p.hasBias) out = tf.add(out, tf.reshape(tf.slice(vt, [p.fanIn, 0], [1, nk]), [nk]));
        return this.adjoint(p, d, stacked, out, cached);
      });
      const gw = conv2dFilterGradient(x, w as tf.Tensor4D, filterShape, node);
      const rows = tf.transpose(tf.reshape(gw, [p.fanIn, nk]));
      return (p.hasBias ? tf.concat([rows, tf.reshape(sumToChannels(w), [nk, 1])], 1) : rows) as tf.Tensor2D;
    });
  }

  /**
   * The cotangent at the producer's output for its tangent `y` (`[rows, m]` or `[n, h, w, m]`, one column per
   * stacked vector): coef ⊙ y for the first activation, plus, with a chain, the chain's share
   * c·σ₁' ⊙ Σ_k J_kᵀ(coef_k ⊙ J_k u) at u = c·σ₁' ⊙ y ({@link chainAdjoint}).
   */
  private adjoint(p: BlockPlan, d: BlockBatchData, stacked: StackedVectors, y: tf.Tensor, cached: boolean): tf.Tensor {
    const m = y.shape[y.rank - 1]!;
    const cols = columnMap(stacked, p.block.neurons, cached && stacked.repeat > 1 ? (c) => this.repeatedColumns(d, c, stacked.repeat) : undefined);
    const y2 = tf.reshape(y, [-1, m]);
    if (p.chain === null || d.chain === null || d.slope === null) return tf.reshape(cols.mul(y2, d.coef), y.shape);
    const chain = p.chain;
    const steps = d.chain;
    // Same-shape coefficient and slope columns (cached): one pass for both products and one for the final
    // multiply-add (the large tensors of early layers pay per pass over memory).
    const coef = cols.aligned?.(y2, d.coef) ?? null;
    const slope = cols.aligned?.(y2, d.slope) ?? null;
    const [first, tangent] = coef !== null && slope !== null ? mulPair(y2, tf.reshape(coef, y2.shape), tf.reshape(slope, y2.shape)) : [cols.mul(y2, d.coef), cols.mul(y2, d.slope)];
    const ubar = tf.tidy(() => tf.reshape(chainAdjoint(chain, steps, tf.reshape(tangent, [-1, chain.rootPositions, m]), cols), [-1, m]));
    tangent.dispose();
    return tf.reshape(slope !== null ? mulAdd(first, ubar, tf.reshape(slope, y2.shape)) : tf.add(first, cols.mul(ubar, d.slope)), y.shape);
  }

  /**
   * `c` (`[..., neurons]`, a tensor of the cached entry `d`) with its columns repeated `times` times
   * (`[..., times·neurons]`), kept in the cache beside `c`; null when it would not fit the cache budget.
   */
  private repeatedColumns(d: BlockBatchData, c: tf.Tensor, times: number): tf.Tensor | null {
    const byTensor = d.repeated?.get(times);
    const hit = byTensor?.get(c);
    if (hit !== undefined) return hit;
    const bytes = 4 * c.size * times;
    if (this.cachedBytes + bytes > this.cacheBytes) return null;
    const lead = c.shape.slice(0, -1);
    const neurons = c.shape[c.rank - 1]!;
    // c·1 is exact: the products are the broadcasting multiply's, bit for bit.
    const r = tf.keep(tf.tidy(() => tf.reshape(tf.mul(tf.reshape(c, [...lead, 1, neurons]), tf.ones([times, 1])), [...lead, times * neurons])));
    d.repeated ??= new Map();
    if (byTensor === undefined) d.repeated.set(times, new Map([[c, r]]));
    else byTensor.set(c, r);
    this.cachedBytes += bytes;
    return r;
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
    const [out] = await this.multiplyMany([vectors], batch);
    return out!;
  }

  /**
   * S_j·v_j for several vector sets at once (`sets[k]` is one `multiply` argument), sharing each minibatch's
   * network pass and batching the products (one wider matMul per block). Returns one result per set, equal to
   * `multiply(sets[k], batch)`. Stochastic solvers that track v_min and v_max use it for both at the cost of
   * one pass.
   */
  async multiplyMany(sets: readonly (readonly Float64Array[])[], batch?: number): Promise<Float64Array[][]> {
    if (sets.length < 1) {
      throw new NasError('E_OPTIONS_INVALID', 'multiplyMany needs at least one vector set', { sets: 0 });
    }
    for (const set of sets) this.checkVectors(set);
    let chosen = this.batches.map((_, i) => i);
    if (batch !== undefined) {
      if (!Number.isInteger(batch) || this.batches[batch] === undefined) {
        throw new NasError('E_OPTIONS_INVALID', `Batch ${batch} does not exist (${this.batchCount} batches)`, { batch });
      }
      chosen = [batch];
    }
    this.checkWeights();
    const count = sets.length;
    const total = chosen.reduce((a, i) => a + (this.batches[i]!.end - this.batches[i]!.start), 0);
    const vts: StackedVectors[] = this.plans.map((p, i) => {
      const { neurons, dim } = p.block;
      const { values, rows } = stackVectors(sets, i, neurons, dim);
      const all = rows.length === count * neurons && rows.every((r, m) => r === m);
      // No kernel for a block whose vectors are all zero (skipped below).
      const vt = rows.length === 0 ? tf.tensor2d(values, [dim, 0]) : tf.tidy(() => tf.transpose(tf.tensor2d(values, [rows.length, dim])) as tf.Tensor2D);
      if (all) return { vt, repeat: count, selector: null, rows };
      const oneHot = new Float32Array(neurons * rows.length);
      rows.forEach((r, c) => (oneHot[(r % neurons) * rows.length + c] = 1));
      return { vt, repeat: 1, selector: tf.tensor2d(oneHot, [neurons, rows.length]), rows };
    });
    const acc: (tf.Tensor | null)[] = this.plans.map(() => null);
    // A pass over every sample uses the merged entry when it fits the cache (one set of kernels per block).
    const full = batch === undefined ? this.fullData() : null;
    const parts = full === null ? chosen : [FULL];
    try {
      for (const index of parts) {
        const b = index === FULL ? { start: 0, end: this.sampleCount } : this.batches[index]!;
        const { data, owned } = index === FULL ? { data: full!, owned: false } : this.batchData(index);
        const weight = (b.end - b.start) / total;
        try {
          this.plans.forEach((p, i) => {
            const d = data[i];
            if (d === null || d === undefined || vts[i]!.rows.length === 0) return;
            const part = this.blockProduct(p, d, vts[i]!, !owned);
            const prev = acc[i];
            acc[i] = weight === 1 ? part : tf.tidy(() => (prev === null || prev === undefined ? tf.mul(part, weight) : tf.add(prev, tf.mul(part, weight))));
            if (weight !== 1) part.dispose();
            prev?.dispose();
          });
        } finally {
          if (owned) tf.dispose(batchTensorsOf(data));
        }
        await Promise.resolve();
      }
      const out: Float64Array[][] = sets.map(() => []);
      this.plans.forEach((p, i) => {
        const { neurons, dim } = p.block;
        const results = sets.map(() => new Float64Array(neurons * dim));
        const t = acc[i];
        if (t !== null && t !== undefined) {
          const values = t.dataSync();
          vts[i]!.rows.forEach((r, m) => {
            const k = Math.floor(r / neurons);
            const j = r - k * neurons;
            const res = results[k]!;
            for (let c = 0; c < dim; c++) res[j * dim + c] = values[m * dim + c]!;
          });
        }
        results.forEach((res, k) => {
          checkFiniteResult(res, p.block.name, chosen.map((c) => this.batches[c]!));
          out[k]!.push(res);
        });
      });
      return out;
    } finally {
      tf.dispose(vts.flatMap((v) => (v.selector === null ? [v.vt] : [v.vt, v.selector])));
      tf.dispose(acc.filter((t): t is tf.Tensor => t !== null));
    }
  }

  /** @inheritdoc */
  async matrices(block: number): Promise<Float64Array> {
    const p = this.plan(block);
    const { neurons, dim } = p.block;
    const result = new Float64Array(neurons * dim * dim);
    if (p.zero) return result;
    if (p.chain !== null) return this.matricesFromProducts(block);
    this.checkWeights();
    const sum = new Float64Array(neurons * dim * dim);
    for (let index = 0; index < this.batches.length; index++) {
      const b = this.batches[index]!;
      const { data, owned } = this.batchData(index, block);
      try {
        this.accumulateMatrices(p, data[block]!, (b.end - b.start) / this.sampleCount, sum);
      } finally {
        if (owned) tf.dispose(batchTensorsOf(data));
      }
      await Promise.resolve();
    }
    // Symmetrise in float64: ½(S + Sᵀ) per neuron.
    for (let j = 0; j < neurons; j++) {
      const o = j * dim * dim;
      for (let r = 0; r < dim; r++) {
        for (let c = r; c < dim; c++) {
          const s = 0.5 * (sum[o + r * dim + c]! + sum[o + c * dim + r]!);
          result[o + r * dim + c] = s;
          result[o + c * dim + r] = s;
        }
      }
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
   * The explicit matrices of a block with a chain, column by column: S_j e_i for every neuron j at once, for
   * several i per pass (`multiplyMany` over basis vectors), then ½(S + Sᵀ) in float64. Cost: dim/k passes
   * over the cached minibatches, k·neurons vectors each.
   */
  private async matricesFromProducts(block: number): Promise<Float64Array> {
    const { neurons, dim } = this.plan(block).block;
    const result = new Float64Array(neurons * dim * dim);
    const perPass = Math.max(1, Math.min(dim, Math.floor(512 / neurons)));
    for (let i0 = 0; i0 < dim; i0 += perPass) {
      const count = Math.min(perPass, dim - i0);
      const sets = Array.from({ length: count }, (_, k) =>
        this.plans.map((q, b) => {
          const v = new Float64Array(q.block.neurons * q.block.dim);
          if (b === block) for (let j = 0; j < neurons; j++) v[j * dim + i0 + k] = 1;
          return v;
        }),
      );
      const products = await this.multiplyMany(sets);
      products.forEach((set, k) => {
        const column = set[block]!;
        for (let j = 0; j < neurons; j++) {
          for (let r = 0; r < dim; r++) result[j * dim * dim + r * dim + i0 + k] = column[j * dim + r]!;
        }
      });
    }
    for (let j = 0; j < neurons; j++) {
      const o = j * dim * dim;
      for (let r = 0; r < dim; r++) {
        for (let c = r + 1; c < dim; c++) {
          const s = 0.5 * (result[o + r * dim + c]! + result[o + c * dim + r]!);
          result[o + r * dim + c] = s;
          result[o + c * dim + r] = s;
        }
      }
    }
    return result;
  }

  /**
   * sum_j += weight · Σ_rows coef_{r,j} x̃_r x̃_rᵀ for every neuron j of one minibatch: per neuron, one
   * `[dim, rows]·[rows, dim]` matMul of the coefficient-weighted transposed rows with the rows (rows in chunks
   * of at most `chunkElements / dim`).
   */
  private accumulateMatrices(p: BlockPlan, d: BlockBatchData, weight: number, sum: Float64Array): void {
    const { neurons, dim } = p.block;
    const chunk = Math.max(1, Math.floor(this.chunkElements / dim));
    const x = d.patches!;
    const total = x.shape[0];
    const coefT = tf.transpose(d.coef);
    try {
      for (let r0 = 0; r0 < total; r0 += chunk) {
        const r = Math.min(chunk, total - r0);
        const [xc, xt] = tf.tidy(() => {
          const c = r === total && x.shape[1] === dim ? tf.clone(x) : tf.slice(x, [r0, 0], [r, dim]);
          return [c, tf.transpose(c)];
        });
        for (let j = 0; j < neurons; j++) {
          const m = tf.tidy(() => tf.matMul(tf.mul(xt!, tf.slice(coefT, [j, r0], [1, r])), xc!));
          const values = m.dataSync();
          m.dispose();
          const o = j * dim * dim;
          for (let k = 0; k < dim * dim; k++) sum[o + k] = sum[o + k]! + weight * values[k]!;
        }
        tf.dispose([xc!, xt!]);
      }
    } finally {
      coefT.dispose();
    }
  }
}

/** Default of {@link SplittingOperatorOptions.cacheBytes}: 256 MiB. */
export const DEFAULT_CACHE_BYTES = 256 * 1024 * 1024;

function checkFiniteResult(acc: Float64Array, name: string, batches: readonly Batch[]): void {
  for (let k = 0; k < acc.length; k++) {
    if (!Number.isFinite(acc[k]!)) {
      const first = batches[0]!.start;
      const last = batches[batches.length - 1]!.end - 1;
      throw new NasError(
        'E_NUMERICAL',
        `Splitting products of layer "${name}" became non-finite on samples ${first}–${last} ` +
          `(overflow in the network; check the weights and the input scaling)`,
        { layer: name, samples: [first, last] },
      );
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
