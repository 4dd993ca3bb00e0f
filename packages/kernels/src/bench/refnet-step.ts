import * as tf from '@tensorflow/tfjs-core';

import { batchNormReluTrain } from '../batch-norm.js';
import { softmaxCrossEntropy } from '../softmax-cross-entropy.js';
import { globalAvgPool } from '../sum-channels.js';

/** Shape of the refnet benchmark: input `[batch, size, size, 3]`, `classes` outputs. */
export interface RefnetShape {
  readonly batch: number;
  readonly size: number;
  readonly classes: number;
}

/** refnet-32: 32×32×3 input, batch 64, 10 classes (issue #3). */
export const refnet32: RefnetShape = { batch: 64, size: 32, classes: 10 };

interface BnParams {
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;
  readonly runMean: tf.Variable;
  readonly runVar: tf.Variable;
}

interface Block {
  readonly stride: number;
  readonly dw: tf.Variable; // [3, 3, cin, 1]
  readonly dwBn: BnParams;
  readonly pw: tf.Variable; // [1, 1, cin, cout]
  readonly pwBn: BnParams;
}

/** A refnet-32 model with its SGD-momentum optimiser, built directly from TF.js variables. */
export interface RefnetModel {
  readonly shape: RefnetShape;
  /** Every variable, trainable or not (for disposal). */
  readonly variables: readonly tf.Variable[];
  /** Runs one training step on `x` `[N, H, W, 3]`, one-hot `labels` `[N, K]`; returns the loss. */
  step(x: tf.Tensor4D, labels: tf.Tensor2D): number;
  /** Disposes every variable and the optimiser state. */
  dispose(): void;
}

const BN_EPS = 1e-3;
const BN_MOMENTUM = 0.9;

/**
 * Builds refnet-32 (issue #3): conv 3×3 3→32 + BN + ReLU; depthwise-separable blocks (depthwise 3×3
 * + BN + ReLU, pointwise 1×1 + BN + ReLU) 32→64 s1, 64→128 s2, 128→128 s1, 128→256 s2; global
 * average pool; dense 256→10; softmax cross-entropy; SGD momentum 0.9; batch-statistics BN with
 * running averages. Weights use a seeded He-normal initialisation.
 */
export function createRefnet(shape: RefnetShape = refnet32, seed = 1, learningRate = 0.05): RefnetModel {
  let s = seed;
  // Variables outlive tidy; the initial-value tensors do not.
  const he = (dims: number[], fanIn: number, name: string): tf.Variable =>
    tf.tidy(() =>
      tf.variable(tf.mul(tf.randomNormal(dims, 0, 1, 'float32', s++), Math.sqrt(2 / fanIn)), true, name),
    );
  const filled = (c: number, value: number, trainable: boolean, name: string): tf.Variable =>
    tf.tidy(() => tf.variable(tf.fill([c], value), trainable, name));
  const bn = (c: number, name: string): BnParams => ({
    gamma: filled(c, 1, true, `${name}/gamma`),
    beta: filled(c, 0, true, `${name}/beta`),
    runMean: filled(c, 0, false, `${name}/mean`),
    runVar: filled(c, 1, false, `${name}/var`),
  });
  const uid = `refnet${Math.floor(Math.random() * 1e9)}`;
  const conv1 = he([3, 3, 3, 32], 27, `${uid}/conv1`);
  const bn1 = bn(32, `${uid}/bn1`);
  const spec: [number, number, number][] = [
    [32, 64, 1],
    [64, 128, 2],
    [128, 128, 1],
    [128, 256, 2],
  ];
  const blocks: Block[] = spec.map(([cin, cout, stride], i) => ({
    stride,
    dw: he([3, 3, cin, 1], 9, `${uid}/b${i}/dw`),
    dwBn: bn(cin, `${uid}/b${i}/dwbn`),
    pw: he([1, 1, cin, cout], cin, `${uid}/b${i}/pw`),
    pwBn: bn(cout, `${uid}/b${i}/pwbn`),
  }));
  const dense = he([256, shape.classes], 256, `${uid}/dense`);
  const bias = filled(shape.classes, 0, true, `${uid}/bias`);
  const bns = [bn1, ...blocks.flatMap((b) => [b.dwBn, b.pwBn])];
  const trainable = [
    conv1,
    ...blocks.flatMap((b) => [b.dw, b.pw]),
    ...bns.flatMap((b) => [b.gamma, b.beta]),
    dense,
    bias,
  ];
  // SGD with momentum 0.9 (v ← 0.9·v + g; w ← w − lr·v), written out: tf.train.momentum's
  // dispose() leaks its learning-rate scalar in tfjs-core 4.22.
  const velocity = trainable.map((v) => tf.tidy(() => tf.variable(tf.zerosLike(v), false, `${v.name}/velocity`)));
  const variables = [...trainable, ...bns.flatMap((b) => [b.runMean, b.runVar]), ...velocity];

  const bnRelu = (h: tf.Tensor, p: BnParams): tf.Tensor => {
    const r = batchNormReluTrain(h, p.gamma as tf.Tensor1D, p.beta as tf.Tensor1D, BN_EPS);
    p.runMean.assign(tf.add(tf.mul(p.runMean, BN_MOMENTUM), tf.mul(r.mean, 1 - BN_MOMENTUM)));
    p.runVar.assign(tf.add(tf.mul(p.runVar, BN_MOMENTUM), tf.mul(r.variance, 1 - BN_MOMENTUM)));
    return r.y;
  };
  const forwardLoss = (x: tf.Tensor4D, labels: tf.Tensor2D): tf.Scalar => {
    let h = bnRelu(tf.conv2d(x, conv1 as tf.Tensor4D, 1, 'same'), bn1) as tf.Tensor4D;
    for (const b of blocks) {
      h = bnRelu(tf.depthwiseConv2d(h, b.dw as tf.Tensor4D, b.stride, 'same'), b.dwBn) as tf.Tensor4D;
      h = bnRelu(tf.conv2d(h, b.pw as tf.Tensor4D, 1, 'same'), b.pwBn) as tf.Tensor4D;
    }
    const logits = tf.add(tf.matMul(globalAvgPool(h), dense), bias) as tf.Tensor2D;
    return softmaxCrossEntropy(logits, labels);
  };

  return {
    shape,
    variables,
    step(x, labels) {
      const { value, grads } = tf.variableGrads(() => forwardLoss(x, labels), trainable);
      tf.tidy(() => {
        trainable.forEach((w, i) => {
          const g = grads[w.name];
          const v = velocity[i];
          if (g === undefined || v === undefined) throw new Error(`refnet step: no gradient for ${w.name}`);
          v.assign(tf.add(tf.mul(v, 0.9), g));
          w.assign(tf.sub(w, tf.mul(v, learningRate)));
        });
      });
      tf.dispose(grads);
      const loss = value.dataSync()[0] ?? Number.NaN;
      value.dispose();
      return loss;
    },
    dispose() {
      for (const v of variables) v.dispose();
    },
  };
}

/** Options of {@link benchRefnetStep}. */
export interface BenchRefnetOptions {
  /** Timed steps, ≥ 1. */
  readonly steps: number;
  /** Untimed steps run first (kernel set-up, JIT). */
  readonly warmup: number;
  /** Model shape; defaults to {@link refnet32}. */
  readonly shape?: RefnetShape;
  /** Collects per-kernel times with `tf.profile` over one extra step. */
  readonly profile?: boolean;
}

/** Per-kernel totals over one profiled step (nested kernels are also counted inside their parent). */
export interface KernelTime {
  readonly name: string;
  readonly calls: number;
  readonly totalMs: number;
}

/** Result of {@link benchRefnetStep}. */
export interface BenchRefnetResult {
  readonly backend: string;
  readonly batch: number;
  readonly steps: number;
  /** Wall time per training step, milliseconds: median over the timed steps. */
  readonly stepMs: number;
  /** Fastest step, milliseconds. */
  readonly bestStepMs: number;
  /**
   * Process CPU time (user + system) per step, milliseconds, median: on a shared machine this is
   * closer than wall time to what an idle core would take (wasm runs on one thread).
   */
  readonly cpuStepMs: number;
  /** `batch / stepMs`, images per second (from the median step). */
  readonly imagesPerSecond: number;
  readonly losses: readonly number[];
  readonly kernels?: readonly KernelTime[];
}

/**
 * Times refnet training steps (forward, backward, SGD-momentum update) on the active backend, with
 * fixed random inputs and labels (seeded). Leaves no tensors behind.
 */
export async function benchRefnetStep(options: BenchRefnetOptions): Promise<BenchRefnetResult> {
  const shape = options.shape ?? refnet32;
  const model = createRefnet(shape);
  const x = tf.randomNormal([shape.batch, shape.size, shape.size, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
  const labels = tf.tidy(() => {
    const cls = tf.randomUniform([shape.batch], 0, shape.classes, 'int32', 11);
    return tf.cast(tf.oneHot(cls, shape.classes), 'float32') as tf.Tensor2D;
  });
  try {
    const losses: number[] = [];
    for (let i = 0; i < options.warmup; i++) losses.push(model.step(x, labels));
    const times: number[] = [];
    const cpuTimes: number[] = [];
    for (let i = 0; i < options.steps; i++) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      losses.push(model.step(x, labels));
      const c1 = process.cpuUsage(c0);
      times.push(performance.now() - t0);
      cpuTimes.push((c1.user + c1.system) / 1000);
    }
    const median = (v: number[]): number =>
      [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)] ?? Number.NaN;
    const sorted = [...times].sort((a, b) => a - b);
    const stepMs = median(times);
    let kernels: KernelTime[] | undefined;
    if (options.profile === true) {
      const info = await tf.profile(() => {
        losses.push(model.step(x, labels));
      });
      const byName = new Map<string, { calls: number; totalMs: number }>();
      for (const k of info.kernels) {
        const e = byName.get(k.name) ?? { calls: 0, totalMs: 0 };
        e.calls += 1;
        e.totalMs += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
        byName.set(k.name, e);
      }
      kernels = [...byName.entries()]
        .map(([name, e]) => ({ name, ...e }))
        .sort((a, b) => b.totalMs - a.totalMs);
    }
    return {
      backend: tf.getBackend(),
      batch: shape.batch,
      steps: options.steps,
      stepMs,
      cpuStepMs: median(cpuTimes),
      bestStepMs: sorted[0] ?? Number.NaN,
      imagesPerSecond: (shape.batch * 1000) / stepMs,
      losses,
      ...(kernels === undefined ? {} : { kernels }),
    };
  } finally {
    x.dispose();
    labels.dispose();
    model.dispose();
  }
}
