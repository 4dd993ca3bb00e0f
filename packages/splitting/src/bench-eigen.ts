import { NasError, SeededRandom, type ActivationKind, type Dataset, type EigenResult, type EigenSolver, type NetworkSpec } from '@mitosis/core';
import { loadDataset, subset } from '@mitosis/data';
import { NetworkModel, train } from '@mitosis/engine';
import { initWeights } from '@mitosis/ir';
import { createSplittingOperator, type NetworkSplittingOperator } from './splitting-operator.js';

/** Options of {@link benchmarkEigen}. */
export interface EigenBenchOptions {
  /** Solvers to time; one must have id `dense` (the reference). */
  readonly solvers: readonly EigenSolver[];
  /**
   * Where the benched layer's splitting matrices come from. `mnist` (default): a small convnet trained briefly
   * on the embedded real MNIST digits (conv 3×3 1→cin stride 2 + BN + swish, 2×2 max pool, the benched conv
   * 3×3 cin→neurons + BN + activation at 7×7, global average pool, dense 10); the scoring set is `samples`
   * real digits. `synthetic`: i.i.d. Gaussian `spatial`×`spatial`×cin images labelled by a random quadratic
   * teacher, feeding the benched conv directly (near-random spectra with tiny gaps below λ_min: a stress case).
   */
  readonly data?: 'mnist' | 'synthetic';
  /** Activation after the benched conv's BN. Default `swish` (as in the convnet-mnist search space). */
  readonly activation?: ActivationKind;
  /**
   * `mnist`: distinct training digits for the short training before scoring (the scoring set is their first
   * `samples`). Default 2048. Ignored by `synthetic`, which trains on its `samples`.
   */
  readonly trainSamples?: number;
  /** Input channels of the 3×3 conv layer (d = 9·channels). Default [32, 64] → d = 288, 576. */
  readonly inputChannels?: readonly number[];
  /** Output channels (neurons) of the conv layer. Default 64. */
  readonly neurons?: number;
  /** Spatial size of the synthetic inputs (h = w). Default 8 (`mnist`: the benched conv runs at 7×7). */
  readonly spatial?: number;
  /** Scoring / training samples. Default 128. */
  readonly samples?: number;
  /** Minibatch size for training and S·v. Default 32. */
  readonly batchSize?: number;
  /** Training epochs before scoring (over `trainSamples` for `mnist`, `samples` for `synthetic`). Default 2. */
  readonly trainEpochs?: number;
  /** Neurons (most negative λ_min by dense) over which the errors are the worst case. Default 10. */
  readonly worstOf?: number;
  readonly seed?: number;
  /** Timed solves per solver (the best is reported; the CPU may be shared). Default 1. */
  readonly repeats?: number;
}

/** One solver at one d. */
export interface EigenBenchRow {
  readonly d: number;
  readonly solver: string;
  /**
   * Wall time (ms) of one solve on a fresh operator (creation, every network pass and product, the solve, and
   * for dense the explicit matrices plus the eigendecompositions); the best of `repeats` runs.
   */
  readonly ms: number;
  /** The times of every run (ms), in order. */
  readonly runsMs: number[];
  readonly speedupVsDense: number;
  /** max |λ_min − λ_min,dense| / |λ_min,dense| over the `worstOf` most negative neurons (by dense). */
  readonly lambdaRelErr: number;
  /** min |cos(v_min, v_min,dense)| over the same neurons. */
  readonly cos: number;
  /** The same two errors for λ_max / v_max over the `worstOf` neurons with the largest λ_max. */
  readonly lambdaMaxRelErr: number;
  readonly cosMax: number;
}

/** One Rayleigh epoch against one training epoch, on the same data and minibatch size. */
export interface RayleighEpochRow {
  readonly d: number;
  /**
   * One pass of min+max products over every minibatch (`multiplyMany` with 2 sets) on a fresh operator: it
   * runs each minibatch's forward/backward and fills the cache (the first epoch of a solve).
   */
  readonly coldEpochMs: number;
  /** = `coldEpochMs` (the name earlier reports used). */
  readonly rayleighEpochMs: number;
  /** The same pass again, from the cache (every later epoch). */
  readonly warmEpochMs: number;
  /** Fastest training epoch after one warm-up epoch (SGD, forward + backward + update). */
  readonly trainEpochMs: number;
  /** coldEpochMs / trainEpochMs (the acceptance ratio; the conservative one). */
  readonly ratio: number;
  readonly warmRatio: number;
}

/** The JSON of `mitosis bench eigen --json`. */
export interface EigenBenchReport {
  readonly results: EigenBenchRow[];
  readonly rayleighEpoch: RayleighEpochRow[];
  readonly config: Required<Omit<EigenBenchOptions, 'solvers'>>;
}

/** input [s, s, cin] → conv 3×3 (neurons, no bias) → BN → activation → globalAvgPool → dense (classes). */
function syntheticSpec(spatial: number, cin: number, neurons: number, classes: number, activation: ActivationKind): NetworkSpec {
  return {
    format: 'mitosis-network',
    version: 1,
    name: `bench-eigen-synthetic-d${9 * cin}`,
    nodes: [
      { name: 'x', op: 'input', shape: [spatial, spatial, cin] },
      { name: 'conv', op: 'conv2d', inputs: ['x'], filters: neurons, kernelSize: [3, 3], strides: [1, 1], padding: 'same', useBias: false },
      { name: 'bn', op: 'batchNorm', inputs: ['conv'], epsilon: 1e-3, momentum: 0.9 },
      { name: 'act', op: 'activation', inputs: ['bn'], activation },
      { name: 'gap', op: 'globalAvgPool', inputs: ['act'] },
      { name: 'out', op: 'dense', inputs: ['gap'], units: classes, useBias: true },
    ],
    output: 'out',
  };
}

/**
 * input [28, 28, 1] → conv0 3×3 stride 2 (cin) → BN → swish → max pool 2×2 (7×7×cin) → conv 3×3 (neurons, the
 * benched layer, d = 9·cin) → BN → activation → globalAvgPool → dense (10).
 */
function mnistSpec(cin: number, neurons: number, activation: ActivationKind): NetworkSpec {
  return {
    format: 'mitosis-network',
    version: 1,
    name: `bench-eigen-mnist-d${9 * cin}`,
    nodes: [
      { name: 'x', op: 'input', shape: [28, 28, 1] },
      { name: 'conv0', op: 'conv2d', inputs: ['x'], filters: cin, kernelSize: [3, 3], strides: [2, 2], padding: 'same', useBias: false },
      { name: 'bn0', op: 'batchNorm', inputs: ['conv0'], epsilon: 1e-3, momentum: 0.9 },
      { name: 'act0', op: 'activation', inputs: ['bn0'], activation: 'swish' },
      { name: 'pool0', op: 'maxPool', inputs: ['act0'], poolSize: [2, 2], strides: [2, 2], padding: 'valid' },
      { name: 'conv', op: 'conv2d', inputs: ['pool0'], filters: neurons, kernelSize: [3, 3], strides: [1, 1], padding: 'same', useBias: false },
      { name: 'bn', op: 'batchNorm', inputs: ['conv'], epsilon: 1e-3, momentum: 0.9 },
      { name: 'act', op: 'activation', inputs: ['bn'], activation },
      { name: 'gap', op: 'globalAvgPool', inputs: ['act'] },
      { name: 'out', op: 'dense', inputs: ['gap'], units: 10, useBias: true },
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

function worstErrors(
  ref: EigenResult,
  got: EigenResult,
  worstOf: number,
): { lambdaRelErr: number; cos: number; lambdaMaxRelErr: number; cosMax: number } {
  const ids = Array.from({ length: ref.neurons }, (_, j) => j);
  const side = (lambdaRef: Float64Array, lambdaGot: Float64Array, vRef: Float64Array, vGot: Float64Array, sign: 1 | -1): { err: number; cos: number } => {
    const order = [...ids].sort((a, b) => sign * (lambdaRef[a]! - lambdaRef[b]!));
    let err = 0;
    let cos = 1;
    for (const j of order.slice(0, worstOf)) {
      const l = lambdaRef[j]!;
      err = Math.max(err, Math.abs(lambdaGot[j]! - l) / Math.max(Math.abs(l), 1e-30));
      let dot = 0;
      for (let k = 0; k < ref.dim; k++) dot += vRef[j * ref.dim + k]! * vGot[j * ref.dim + k]!;
      cos = Math.min(cos, Math.abs(dot));
    }
    return { err, cos };
  };
  const lo = side(ref.lambdaMin, got.lambdaMin, ref.vMin, got.vMin, 1);
  const hi = side(ref.lambdaMax, got.lambdaMax, ref.vMax, got.vMax, -1);
  return { lambdaRelErr: lo.err, cos: lo.cos, lambdaMaxRelErr: hi.err, cosMax: hi.cos };
}

/** The network, data and training time of one benchmark case (see {@link prepareEigenBenchCase}). */
export interface EigenBenchCase {
  readonly d: number;
  readonly model: NetworkModel;
  readonly data: Dataset;
  /** Fastest training epoch (ms) on `data` (batch size `batchSize`), warm-up epoch excluded. */
  readonly trainEpochMs: number;
}

/**
 * Builds the benchmark network for `cin` input channels (d = 9·cin) and its data, and trains it with
 * deterministic seeds: `synthetic` for `trainEpochs` + 1 epochs on its `samples` (the first is the warm-up);
 * `mnist` for `trainEpochs` epochs on `trainSamples` real digits, then two more epochs on the scoring set (the
 * first `samples` of them; warm-up + timed). `trainEpochMs` is the fastest timed epoch on the scoring set.
 * The caller disposes `model`.
 */
export async function prepareEigenBenchCase(
  cin: number,
  config: Required<Omit<EigenBenchOptions, 'solvers'>>,
): Promise<EigenBenchCase> {
  const base = { batchSize: config.batchSize, learningRate: 0.05, seed: config.seed, progress: false } as const;
  if (config.data === 'synthetic') {
    const classes = 4;
    const rng = new SeededRandom(config.seed + cin);
    const spec = syntheticSpec(config.spatial, cin, config.neurons, classes, config.activation);
    const data = syntheticData(config.spatial, cin, config.samples, classes, rng);
    const model = new NetworkModel(spec, initWeights(spec, config.seed + cin));
    try {
      const history = await train(model, { train: data }, { ...base, epochs: config.trainEpochs + 1 });
      history.optimizer.dispose();
      const trainEpochMs = Math.min(...history.history.slice(1).map((h) => h.durationMs));
      return { d: 9 * cin, model, data, trainEpochMs };
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
  if (config.data !== 'mnist') {
    throw new NasError('E_OPTIONS_INVALID', `benchmarkEigen data must be "mnist" or "synthetic", got ${String(config.data)}`, { data: config.data });
  }
  const count = Math.max(config.trainSamples, config.samples);
  const splits = await loadDataset('mnist', { seed: config.seed, limit: { train: count } });
  const trainSet = splits.train;
  if (trainSet.count < config.samples) {
    throw new NasError('E_OPTIONS_INVALID', `benchmarkEigen: MNIST has only ${trainSet.count} training digits, ${config.samples} asked`, { samples: config.samples });
  }
  const data = subset(trainSet, Array.from({ length: config.samples }, (_, i) => i), 'mnist-scoring');
  const spec = mnistSpec(cin, config.neurons, config.activation);
  const model = new NetworkModel(spec, initWeights(spec, config.seed + cin));
  try {
    const first = await train(model, { train: trainSet }, { ...base, epochs: config.trainEpochs });
    const timed = await train(model, { train: data }, { ...base, epochs: 2, optimizer: first.optimizer, startEpoch: config.trainEpochs });
    first.optimizer.dispose();
    const trainEpochMs = Math.min(...timed.history.slice(1).map((h) => h.durationMs));
    return { d: 9 * cin, model, data, trainEpochMs };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/**
 * Times every solver on the conv layer of a briefly trained network for each d = 9·cin, against the `dense`
 * reference (errors are the worst over the `worstOf` most negative neurons; every solve runs on a fresh
 * operator, so dense's time includes building the matrices and the iterative solvers' time includes their
 * network passes), and measures one Rayleigh epoch (min and max products over every minibatch) against one
 * training epoch on the same data. Deterministic seeds. Runs on the active TF.js backend.
 */
export async function benchmarkEigen(options: EigenBenchOptions): Promise<EigenBenchReport> {
  const config = {
    data: options.data ?? 'mnist',
    activation: options.activation ?? 'swish',
    trainSamples: options.trainSamples ?? 2048,
    inputChannels: options.inputChannels ?? [32, 64],
    neurons: options.neurons ?? 64,
    spatial: options.spatial ?? 8,
    samples: options.samples ?? 128,
    batchSize: options.batchSize ?? 32,
    trainEpochs: options.trainEpochs ?? 2,
    worstOf: options.worstOf ?? 10,
    seed: options.seed ?? 0,
    repeats: options.repeats ?? 1,
  };
  const dense = options.solvers.find((s) => s.id === 'dense');
  if (dense === undefined) {
    throw new NasError('E_OPTIONS_INVALID', 'benchmarkEigen needs a solver with id "dense" as the reference', {
      solvers: options.solvers.map((s) => s.id),
    });
  }
  const results: EigenBenchRow[] = [];
  const rayleighEpoch: RayleighEpochRow[] = [];
  for (const cin of config.inputChannels) {
    const { d, model, data, trainEpochMs } = await prepareEigenBenchCase(cin, config);
    try {
      const operator = (): NetworkSplittingOperator => createSplittingOperator(model, data, { loss: 'ce', batchSize: config.batchSize });
      const rng = new SeededRandom(config.seed + 7 * cin);
      const epoch = async (op: NetworkSplittingOperator, sets: Float64Array[][]): Promise<number> => {
        const t0 = performance.now();
        for (let b = 0; b < op.batchCount; b++) await op.multiplyMany(sets, b);
        return performance.now() - t0;
      };
      const warmUp = operator();
      const sets = [0, 1].map(() => warmUp.blocks.map((b) => Float64Array.from({ length: b.neurons * b.dim }, () => rng.normal())));
      await epoch(warmUp, sets); // warms the kernels up
      warmUp.dispose();
      const op = operator();
      const coldEpochMs = await epoch(op, sets);
      const warmEpochMs = await epoch(op, sets);
      op.dispose();
      rayleighEpoch.push({ d, coldEpochMs, rayleighEpochMs: coldEpochMs, warmEpochMs, trainEpochMs, ratio: coldEpochMs / trainEpochMs, warmRatio: warmEpochMs / trainEpochMs });

      const timed = async (solver: EigenSolver): Promise<{ runsMs: number[]; result: EigenResult }> => {
        const runsMs: number[] = [];
        let result: EigenResult | undefined;
        for (let r = 0; r < config.repeats; r++) {
          const start = performance.now();
          const fresh = operator();
          const out = await solver.solve(fresh);
          fresh.dispose();
          runsMs.push(performance.now() - start);
          result = out.find((x) => x.block === 'conv');
          if (result === undefined) throw new NasError('E_RUN_FAILED', `Solver "${solver.id}" returned no result for "conv"`, {});
        }
        return { runsMs, result: result! };
      };
      const ref = await timed(dense);
      const denseMs = Math.min(...ref.runsMs);
      results.push({ d, solver: 'dense', ms: denseMs, runsMs: ref.runsMs, speedupVsDense: 1, lambdaRelErr: 0, cos: 1, lambdaMaxRelErr: 0, cosMax: 1 });
      for (const solver of options.solvers) {
        if (solver === dense) continue;
        const got = await timed(solver);
        const ms = Math.min(...got.runsMs);
        results.push({ d, solver: solver.id, ms, runsMs: got.runsMs, speedupVsDense: denseMs / ms, ...worstErrors(ref.result, got.result, config.worstOf) });
      }
    } finally {
      model.dispose();
    }
  }
  return { results, rayleighEpoch, config };
}

/** A fixed-width text table of a report: one row per d and solver, then the Rayleigh-epoch rows. */
export function formatEigenBench(report: EigenBenchReport): string {
  const pad = (v: string, w: number): string => v.padStart(w);
  const lines = [
    `${pad('d', 5)} ${'solver'.padEnd(9)} ${pad('ms', 8)} ${pad('speedup', 8)} ${pad('λmin err', 9)} ${pad('|cos|', 7)} ${pad('λmax err', 9)} ${pad('|cos|max', 8)}  runs (ms)`,
  ];
  for (const r of report.results) {
    lines.push(
      `${pad(String(r.d), 5)} ${r.solver.padEnd(9)} ${pad(r.ms.toFixed(0), 8)} ${pad(`${r.speedupVsDense.toFixed(1)}×`, 8)} ` +
        `${pad(r.lambdaRelErr.toExponential(1), 9)} ${pad(r.cos.toFixed(4), 7)} ${pad(r.lambdaMaxRelErr.toExponential(1), 9)} ` +
        `${pad(r.cosMax.toFixed(4), 8)}  ${r.runsMs.map((m) => m.toFixed(0)).join(' ')}`,
    );
  }
  lines.push('', `${pad('d', 5)}  rayleigh epoch cold / warm (ms)  train epoch (ms)  ratio cold / warm`);
  for (const e of report.rayleighEpoch) {
    lines.push(
      `${pad(String(e.d), 5)}  ${pad(e.coldEpochMs.toFixed(0), 14)} / ${e.warmEpochMs.toFixed(0).padEnd(14)} ${pad(e.trainEpochMs.toFixed(0), 16)}  ${e.ratio.toFixed(2)} / ${e.warmRatio.toFixed(2)}`,
    );
  }
  return lines.join('\n');
}
