import { NasError, SeededRandom, type Dataset, type NetworkSpec } from '@mitosis/core';
import { initWeights } from '@mitosis/ir';
import { useBackend, type BackendPreference } from '../backend/use-backend.js';
import { NetworkModel } from '../model/network-model.js';
import { tf } from '../tf.js';
import { batchTensors } from '../train/batches.js';
import type { LossKind } from '../train/losses.js';
import { Optimizer, type OptimizerConfig } from '../train/optimizers.js';
import { trainStep, type StepTimings } from '../train/train.js';

/** Options of {@link benchmarkNetwork}. */
export interface NetworkBenchmarkOptions {
  readonly spec: NetworkSpec;
  /** Name in the result (e.g. `convnet-mnist seed`). */
  readonly label: string;
  readonly backend: BackendPreference;
  /** Timed steps (at least 1). */
  readonly steps: number;
  /** Untimed steps first (kernel compilation, allocation). */
  readonly warmup: number;
  /** Default 64. */
  readonly batchSize?: number;
  readonly seed?: number;
  /** Default softmax cross-entropy (labels uniform over the output units); `mse` trains towards N(0, 1) targets. */
  readonly loss?: LossKind;
  /** Default SGD, momentum 0.9 (mitosis's and the PyTorch peers' default). */
  readonly optimizer?: OptimizerConfig;
  readonly learningRate?: number;
}

/** Mean wall time per step of each phase, ms (see {@link StepTimings}; `data` is building the batch tensors). */
export interface PhaseTimes {
  readonly dataMs: number;
  readonly forwardMs: number;
  readonly backwardMs: number;
  readonly optimizerMs: number;
}

/** Training throughput of one network on one backend, by phase. */
export interface NetworkBenchmarkResult {
  readonly network: string;
  readonly backend: string;
  readonly backendDetail: string;
  readonly batchSize: number;
  readonly steps: number;
  /** Trainable parameters. */
  readonly parameters: number;
  /** Training images per second over all timed steps (data, forward, backward, update). */
  readonly imagesPerSecond: number;
  /** Mean wall time of one timed step, ms. */
  readonly stepMs: number;
  /** Images per second of the fastest of (up to) five equal blocks of timed steps: less disturbed by other load. */
  readonly bestImagesPerSecond: number;
  readonly phases: PhaseTimes;
  /** Peak resident set size of the process so far, MiB. */
  readonly peakRssMb: number;
}

/** A synthetic data set that fits `spec`: N(0, 1) inputs; uniform labels (cross-entropy) or N(0, 1) targets. */
function syntheticData(spec: NetworkSpec, count: number, loss: LossKind, seed: number): Dataset {
  const input = spec.nodes.find((n) => n.op === 'input');
  const out = spec.nodes.find((n) => n.name === spec.output);
  if (input?.op !== 'input') throw new NasError('E_SPEC_INVALID', `Network "${spec.name ?? 'network'}" has no input node`, {});
  const units = out?.op === 'dense' ? out.units : undefined;
  if (units === undefined) {
    throw new NasError('E_SPEC_INVALID', `benchmark: the output node "${spec.output}" must be a dense layer (its units are the classes or targets)`, {
      node: spec.output,
    });
  }
  const rng = new SeededRandom(seed);
  const sample = input.shape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(count * sample).map(() => rng.normal());
  if (loss === 'mse') {
    const y = new Float32Array(count * units).map(() => rng.normal());
    return { name: 'synthetic', task: 'regression', inputShape: [...input.shape], targetSize: units, count, x, y };
  }
  const y = new Float32Array(count).map(() => rng.int(units));
  return { name: 'synthetic', task: 'classification', inputShape: [...input.shape], targetSize: units, count, x, y };
}

/**
 * Trains `spec` (weights from `initWeights`) on synthetic data for `warmup` + `steps` steps of `trainStep`, each
 * on a batch gathered from a shuffled pool of 4 batches as `train` gathers them, and reports the throughput of
 * the timed steps and their wall time by phase: data (gathering the batch and making its tensors), forward,
 * backward and optimizer (see {@link StepTimings}).
 */
export async function benchmarkNetwork(options: NetworkBenchmarkOptions): Promise<NetworkBenchmarkResult> {
  if (!(options.steps >= 1) || !(options.warmup >= 0) || !((options.batchSize ?? 64) >= 1)) {
    throw new NasError('E_OPTIONS_INVALID', 'benchmark: steps and batch size must be ≥ 1 and warmup ≥ 0', {
      steps: options.steps,
      warmup: options.warmup,
      batchSize: options.batchSize ?? 64,
    });
  }
  const choice = await useBackend(options.backend);
  const batch = options.batchSize ?? 64;
  const seed = options.seed ?? 0;
  const loss = options.loss ?? 'softmaxCrossEntropy';
  const data = syntheticData(options.spec, 4 * batch, loss, seed + 1);
  const model = new NetworkModel(options.spec, initWeights(options.spec, seed), { rng: new SeededRandom(seed) });
  const optimizer = new Optimizer(options.optimizer ?? { kind: 'sgd', momentum: 0.9 });
  const rng = new SeededRandom(seed + 2);
  const order = new Int32Array(data.count).map((_, i) => i);
  let position = data.count;
  const trainable = model.trainableVariables();
  let parameters = 0;
  for (const v of trainable.values()) parameters += v.size;
  const timings: StepTimings = { forwardMs: 0, backwardMs: 0, optimizerMs: 0, steps: 0 };
  let dataMs = 0;
  const step = (timed: boolean): void => {
    const t0 = performance.now();
    if (position + batch > data.count) {
      rng.shuffle(order);
      position = 0;
    }
    const { x, y } = batchTensors(data, order, position, position + batch);
    position += batch;
    if (timed) dataMs += performance.now() - t0;
    try {
      const r = trainStep(model, optimizer, x, y, {
        loss,
        learningRate: options.learningRate ?? 0.01,
        task: data.task,
        varList: trainable,
        rng,
        ...(timed ? { timings } : {}),
      });
      if (!Number.isFinite(r.loss)) throw new NasError('E_DIVERGED', `benchmark: loss became ${r.loss}`, { loss: String(r.loss) });
    } finally {
      tf.dispose([x, y]);
    }
  };
  try {
    for (let i = 0; i < options.warmup; i++) step(false);
    const blocks = Math.min(5, options.steps);
    const blockMs: number[] = [];
    let done = 0;
    const t0 = performance.now();
    for (let b = 0; b < blocks; b++) {
      const n = Math.floor((options.steps * (b + 1)) / blocks) - done;
      const tb = performance.now();
      for (let i = 0; i < n; i++) step(true);
      blockMs.push((performance.now() - tb) / n);
      done += n;
    }
    const elapsedMs = performance.now() - t0;
    const stepMs = elapsedMs / options.steps;
    const per = (ms: number): number => ms / options.steps;
    return {
      network: options.label,
      backend: choice.backend,
      backendDetail: choice.detail,
      batchSize: batch,
      steps: options.steps,
      parameters,
      imagesPerSecond: batch / (stepMs / 1000),
      stepMs,
      bestImagesPerSecond: batch / (Math.min(...blockMs) / 1000),
      phases: { dataMs: per(dataMs), forwardMs: per(timings.forwardMs), backwardMs: per(timings.backwardMs), optimizerMs: per(timings.optimizerMs) },
      peakRssMb: process.resourceUsage().maxRSS / 1024,
    };
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}
