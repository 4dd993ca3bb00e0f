import { NasError, SeededRandom } from '@mitosis/core';
import { initWeights } from '@mitosis/ir';
import { useBackend, type BackendPreference } from '../backend/use-backend.js';
import { NetworkModel } from '../model/network-model.js';
import { tf } from '../tf.js';
import { Optimizer } from '../train/optimizers.js';
import { trainStep } from '../train/train.js';
import { refnet32Spec } from './refnet.js';

/** Options of {@link benchmarkTraining}. */
export interface BenchmarkOptions {
  readonly network: 'refnet-32';
  readonly backend: BackendPreference;
  /** Timed steps. */
  readonly steps: number;
  /** Untimed steps first (kernel compilation, allocation). */
  readonly warmup: number;
  /** Default 64. */
  readonly batchSize?: number;
  readonly seed?: number;
}

/** Training throughput of one network on one backend. */
export interface BenchmarkResult {
  readonly network: string;
  readonly backend: string;
  readonly backendDetail: string;
  readonly batchSize: number;
  readonly steps: number;
  /** Training images per second over the timed steps (forward + backward + SGD update). */
  readonly imagesPerSecond: number;
  /** Mean wall time of one timed step, ms. */
  readonly stepMs: number;
  /** Peak resident set size of the process so far, MiB. */
  readonly peakRssMb: number;
}

/**
 * Trains refnet-32 ({@link refnet32Spec}) on synthetic data (N(0, 1) images, uniform labels, fixed seed) with
 * softmax cross-entropy, SGD momentum 0.9 and batch-statistics batch norm, and reports the throughput of the
 * timed steps.
 */
export async function benchmarkTraining(options: BenchmarkOptions): Promise<BenchmarkResult> {
  if (options.network !== 'refnet-32') {
    throw new NasError('E_OPTIONS_INVALID', `Unknown benchmark network "${String(options.network)}" (known: refnet-32)`, {
      network: options.network,
      known: ['refnet-32'],
    });
  }
  if (!(options.steps >= 1) || !(options.warmup >= 0)) {
    throw new NasError('E_OPTIONS_INVALID', 'benchmark: steps must be ≥ 1 and warmup ≥ 0', { steps: options.steps, warmup: options.warmup });
  }
  const choice = await useBackend(options.backend);
  const batch = options.batchSize ?? 64;
  const seed = options.seed ?? 0;
  const spec = refnet32Spec();
  const model = new NetworkModel(spec, initWeights(spec, seed), { rng: new SeededRandom(seed) });
  const optimizer = new Optimizer({ kind: 'sgd', momentum: 0.9 });
  const rng = new SeededRandom(seed + 1);
  const xData = new Float32Array(batch * 32 * 32 * 3);
  for (let i = 0; i < xData.length; i++) xData[i] = rng.normal();
  const yData = new Float32Array(batch);
  for (let i = 0; i < batch; i++) yData[i] = rng.int(10);
  const x = tf.tensor(xData, [batch, 32, 32, 3]);
  const y = tf.tensor(yData, [batch]);
  try {
    const step = (): void => {
      const r = trainStep(model, optimizer, x, y, { loss: 'softmaxCrossEntropy', learningRate: 0.01, task: 'classification' });
      if (!Number.isFinite(r.loss)) throw new NasError('E_DIVERGED', `benchmark: loss became ${r.loss}`, { loss: String(r.loss) });
    };
    for (let i = 0; i < options.warmup; i++) step();
    const t0 = performance.now();
    for (let i = 0; i < options.steps; i++) step();
    const elapsedMs = performance.now() - t0;
    return {
      network: options.network,
      backend: choice.backend,
      backendDetail: choice.detail,
      batchSize: batch,
      steps: options.steps,
      imagesPerSecond: (batch * options.steps) / (elapsedMs / 1000),
      stepMs: elapsedMs / options.steps,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
    };
  } finally {
    tf.dispose([x, y]);
    optimizer.dispose();
    model.dispose();
  }
}
