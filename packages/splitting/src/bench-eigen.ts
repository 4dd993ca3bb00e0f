import { NasError, SeededRandom, type Dataset, type EigenResult, type EigenSolver, type NetworkSpec } from '@mitosis/core';
import { NetworkModel, train } from '@mitosis/engine';
import { initWeights } from '@mitosis/ir';
import { createSplittingOperator } from './splitting-operator.js';

/** Options of {@link benchmarkEigen}. */
export interface EigenBenchOptions {
  /** Solvers to time; one must have id `dense` (the reference). */
  readonly solvers: readonly EigenSolver[];
  /** Input channels of the 3×3 conv layer (d = 9·channels). Default [32, 64] → d = 288, 576. */
  readonly inputChannels?: readonly number[];
  /** Output channels (neurons) of the conv layer. Default 64. */
  readonly neurons?: number;
  /** Spatial size of the inputs (h = w). Default 8. */
  readonly spatial?: number;
  /** Scoring / training samples. Default 128. */
  readonly samples?: number;
  /** Minibatch size for training and S·v. Default 32. */
  readonly batchSize?: number;
  /** Training epochs before scoring. Default 2. */
  readonly trainEpochs?: number;
  /** Neurons (most negative λ_min by dense) over which the errors are the worst case. Default 10. */
  readonly worstOf?: number;
  readonly seed?: number;
}

/** One solver at one d. */
export interface EigenBenchRow {
  readonly d: number;
  readonly solver: string;
  /** Wall time of `solve` (for dense: building the explicit matrices plus the eigendecompositions). */
  readonly ms: number;
  readonly speedupVsDense: number;
  /** max |λ_min − λ_min,dense| / |λ_min,dense| over the `worstOf` most negative neurons. */
  readonly lambdaRelErr: number;
  /** min |cos(v_min, v_min,dense)| over the same neurons. */
  readonly cos: number;
}

/** The JSON of `mitosis bench eigen --json`. */
export interface EigenBenchReport {
  readonly results: EigenBenchRow[];
  /** One pass of S·v over the scoring data (one Rayleigh epoch) against one training epoch on the same data. */
  readonly rayleighEpoch: { readonly d: number; readonly rayleighEpochMs: number; readonly trainEpochMs: number; readonly ratio: number }[];
  readonly config: Required<Omit<EigenBenchOptions, 'solvers'>>;
}

/** input [s, s, cin] → conv 3×3 (neurons, no bias) → BN → relu → globalAvgPool → dense (classes). */
function benchSpec(spatial: number, cin: number, neurons: number, classes: number): NetworkSpec {
  return {
    format: 'mitosis-network',
    version: 1,
    name: `bench-eigen-d${9 * cin}`,
    nodes: [
      { name: 'x', op: 'input', shape: [spatial, spatial, cin] },
      { name: 'conv', op: 'conv2d', inputs: ['x'], filters: neurons, kernelSize: [3, 3], strides: [1, 1], padding: 'same', useBias: false },
      { name: 'bn', op: 'batchNorm', inputs: ['conv'], epsilon: 1e-3, momentum: 0.9 },
      { name: 'relu', op: 'activation', inputs: ['bn'], activation: 'relu' },
      { name: 'gap', op: 'globalAvgPool', inputs: ['relu'] },
      { name: 'out', op: 'dense', inputs: ['gap'], units: classes, useBias: true },
    ],
    output: 'out',
  };
}

/** Synthetic classification: Gaussian images, labels from a random quadratic teacher on local features. */
function syntheticData(spatial: number, cin: number, count: number, classes: number, rng: SeededRandom): Dataset {
  const size = spatial * spatial * cin;
  const x = new Float32Array(count * size);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  const teacher = Float64Array.from({ length: classes * cin }, () => rng.normal());
  const y = new Float32Array(count);
  for (let n = 0; n < count; n++) {
    let best = 0;
    let bestScore = -Infinity;
    for (let k = 0; k < classes; k++) {
      let score = 0;
      for (let p = 0; p < spatial * spatial; p++) {
        let a = 0;
        for (let c = 0; c < cin; c++) a += teacher[k * cin + c]! * x[n * size + p * cin + c]!;
        score += Math.max(a, 0);
      }
      if (score > bestScore) {
        bestScore = score;
        best = k;
      }
    }
    y[n] = best;
  }
  return { name: `synthetic-${cin}`, task: 'classification', inputShape: [spatial, spatial, cin], targetSize: classes, count, x, y };
}

function worstErrors(ref: EigenResult, got: EigenResult, worstOf: number): { lambdaRelErr: number; cos: number } {
  const order = Array.from({ length: ref.neurons }, (_, j) => j).sort((a, b) => ref.lambdaMin[a]! - ref.lambdaMin[b]!);
  let lambdaRelErr = 0;
  let cos = 1;
  for (const j of order.slice(0, worstOf)) {
    const l = ref.lambdaMin[j]!;
    lambdaRelErr = Math.max(lambdaRelErr, Math.abs(got.lambdaMin[j]! - l) / Math.max(Math.abs(l), 1e-30));
    let dot = 0;
    for (let k = 0; k < ref.dim; k++) dot += ref.vMin[j * ref.dim + k]! * got.vMin[j * ref.dim + k]!;
    cos = Math.min(cos, Math.abs(dot));
  }
  return { lambdaRelErr, cos };
}

/**
 * Times every solver on the conv layer of a briefly trained network for each d = 9·cin, against the `dense`
 * reference (errors are the worst over the `worstOf` most negative neurons), and measures one S·v pass over the
 * data against one training epoch. Runs on the active TF.js backend.
 */
/** The network, data and training time of one benchmark case (see {@link prepareEigenBenchCase}). */
export interface EigenBenchCase {
  readonly d: number;
  readonly model: NetworkModel;
  readonly data: Dataset;
  /** Fastest training epoch (ms) on `data` (batch size `batchSize`), warm-up epoch excluded. */
  readonly trainEpochMs: number;
}

/**
 * Builds the benchmark network for `cin` input channels (d = 9·cin), its synthetic data, and trains it for
 * `trainEpochs` epochs (plus one warm-up epoch) with deterministic seeds. The caller disposes `model`.
 */
export async function prepareEigenBenchCase(
  cin: number,
  config: Required<Omit<EigenBenchOptions, 'solvers'>>,
): Promise<EigenBenchCase> {
  const classes = 4;
  const rng = new SeededRandom(config.seed + cin);
  const spec = benchSpec(config.spatial, cin, config.neurons, classes);
  const data = syntheticData(config.spatial, cin, config.samples, classes, rng);
  const model = new NetworkModel(spec, initWeights(spec, config.seed + cin));
  try {
    const history = await train(model, { train: data }, {
      epochs: config.trainEpochs + 1,
      batchSize: config.batchSize,
      learningRate: 0.05,
      seed: config.seed,
      progress: false,
    });
    history.optimizer.dispose();
    const trainEpochMs = Math.min(...history.history.slice(1).map((h) => h.durationMs));
    return { d: 9 * cin, model, data, trainEpochMs };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

export async function benchmarkEigen(options: EigenBenchOptions): Promise<EigenBenchReport> {
  const config = {
    inputChannels: options.inputChannels ?? [32, 64],
    neurons: options.neurons ?? 64,
    spatial: options.spatial ?? 8,
    samples: options.samples ?? 128,
    batchSize: options.batchSize ?? 32,
    trainEpochs: options.trainEpochs ?? 2,
    worstOf: options.worstOf ?? 10,
    seed: options.seed ?? 0,
  };
  const dense = options.solvers.find((s) => s.id === 'dense');
  if (dense === undefined) {
    throw new NasError('E_OPTIONS_INVALID', 'benchmarkEigen needs a solver with id "dense" as the reference', {
      solvers: options.solvers.map((s) => s.id),
    });
  }
  const classes = 4;
  const results: EigenBenchRow[] = [];
  const rayleighEpoch: EigenBenchReport['rayleighEpoch'] = [];
  for (const cin of config.inputChannels) {
    const d = 9 * cin;
    const rng = new SeededRandom(config.seed + cin);
    const spec = benchSpec(config.spatial, cin, config.neurons, classes);
    const data = syntheticData(config.spatial, cin, config.samples, classes, rng);
    const model = new NetworkModel(spec, initWeights(spec, config.seed + cin));
    try {
      const history = await train(model, { train: data }, {
        epochs: config.trainEpochs + 1,
        batchSize: config.batchSize,
        learningRate: 0.05,
        seed: config.seed,
        progress: false,
      });
      history.optimizer.dispose();
      const trainEpochMs = Math.min(...history.history.map((h) => h.durationMs));
      const op = createSplittingOperator(model, data, { loss: 'ce', batchSize: config.batchSize });
      const vectors = op.blocks.map((b) => Float64Array.from({ length: b.neurons * b.dim }, () => rng.normal()));
      await op.multiply(vectors, 0); // warm-up
      const t0 = performance.now();
      for (let b = 0; b < op.batchCount; b++) await op.multiply(vectors, b);
      const rayleighEpochMs = performance.now() - t0;
      rayleighEpoch.push({ d, rayleighEpochMs, trainEpochMs, ratio: rayleighEpochMs / trainEpochMs });

      const timed = async (solver: EigenSolver): Promise<{ ms: number; result: EigenResult }> => {
        const start = performance.now();
        const out = await solver.solve(op);
        const ms = performance.now() - start;
        const result = out.find((r) => r.block === 'conv');
        if (result === undefined) throw new NasError('E_RUN_FAILED', `Solver "${solver.id}" returned no result for "conv"`, {});
        return { ms, result };
      };
      const ref = await timed(dense);
      results.push({ d, solver: 'dense', ms: ref.ms, speedupVsDense: 1, lambdaRelErr: 0, cos: 1 });
      for (const solver of options.solvers) {
        if (solver === dense) continue;
        const got = await timed(solver);
        results.push({ d, solver: solver.id, ms: got.ms, speedupVsDense: ref.ms / got.ms, ...worstErrors(ref.result, got.result, config.worstOf) });
      }
    } finally {
      model.dispose();
    }
  }
  return { results, rayleighEpoch, config };
}
