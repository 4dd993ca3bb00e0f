import type { JSONSchemaType } from 'ajv';
import { injectable } from '@mitosis/core/di';
import {
  SeededRandom,
  type EigenResult,
  type EigenSolveOptions,
  type EigenSolver,
  type EigenSolverContribution,
  type SplittingOperator,
} from '@mitosis/core';
import { checkFiniteRows, normalise, randomUnitRows, residualNorms, throwIfAborted } from '@mitosis/linalg';
import { RmsProp, rayleighGradient } from './rayleigh-update.js';

/**
 * Options of the stochastic Rayleigh-quotient solver. The defaults are tuned for scoring sets of a few hundred
 * samples (measured with `benchmarkEigen`, d = 288 and 576: see the README); the paper's CIFAR setting is
 * `{ batchMode: 'minibatch', epochs: 10, learningRate: 1e-3, learningRateDecay: 0.2, decayEvery: 2,
 * averageEpochs: 1 }` with ~780 minibatches per epoch.
 */
export interface RayleighEigenOptions {
  /**
   * What one step sees. `full` (default): S·v over the whole scoring set, one step per epoch. `minibatch`: the
   * paper's per-minibatch steps (`operator.batchCount` steps per epoch). With tens of minibatches the minibatch
   * estimates are far too noisy for this method (on the benchmark, a 32-sample minibatch's v_min has |cos| 0.01–0.5
   * with the full-data v_min, while the gap below λ_min is 0.4–3% of the spread): `minibatch` then needs a small
   * learning rate and hundreds of epochs; `full` converges in ~80 steps at the same cost per epoch.
   */
  readonly batchMode: 'full' | 'minibatch';
  /** Passes over the scoring data. Default 80 (d = 288: 60 left |cos| at 0.73 for the worst of 10 neurons). */
  readonly epochs: number;
  /**
   * RMSprop learning rate (a per-coordinate step, independent of the scale of S). Default 0.02: 0.04 stalls the
   * smallest-gap neurons, 0.003 is too slow for 80 steps.
   */
  readonly learningRate: number;
  /** Multiplies the learning rate before every epoch whose 1-based index is a multiple of `decayEvery`. */
  readonly learningRateDecay: number;
  /** Default 10 with decay 0.8: the rate falls to 0.17× over 80 epochs. */
  readonly decayEvery: number;
  readonly momentum: number;
  /** RMSprop smoothing constant (0.9 in the reference code; PyTorch's default is 0.99). */
  readonly alpha: number;
  readonly epsilon: number;
  /**
   * λ is the mean of R(v) and v the renormalised mean of the iterates over this many final epochs (the paper
   * averages over the last epoch's minibatches, i.e. 1). Default 20 (a quarter of the default epochs): averaging
   * the last full-data iterates cancels the oscillation the momentum leaves. Capped at `epochs`.
   */
  readonly averageEpochs: number;
  /** Seed of the U(−0.1, 0.1) initialisation of v. */
  readonly seed: number;
}

export const rayleighOptionsSchema: JSONSchemaType<RayleighEigenOptions> = {
  type: 'object',
  properties: {
    batchMode: { type: 'string', enum: ['full', 'minibatch'], default: 'full' },
    epochs: { type: 'integer', minimum: 1, default: 80 },
    learningRate: { type: 'number', exclusiveMinimum: 0, default: 0.02 },
    learningRateDecay: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.8 },
    decayEvery: { type: 'integer', minimum: 1, default: 10 },
    momentum: { type: 'number', minimum: 0, exclusiveMaximum: 1, default: 0.9 },
    alpha: { type: 'number', minimum: 0, exclusiveMaximum: 1, default: 0.9 },
    epsilon: { type: 'number', exclusiveMinimum: 0, default: 1e-8 },
    averageEpochs: { type: 'integer', minimum: 1, default: 20 },
    seed: { type: 'integer', minimum: 0, default: 1 },
  },
  required: ['batchMode', 'epochs', 'learningRate', 'learningRateDecay', 'decayEvery', 'momentum', 'alpha', 'epsilon', 'averageEpochs', 'seed'],
  additionalProperties: false,
};

/** An operator that can multiply several vector sets in one pass (e.g. `NetworkSplittingOperator`). */
interface MultiVectorOperator extends SplittingOperator {
  multiplyMany(sets: readonly (readonly Float64Array[])[], batch?: number): Promise<Float64Array[][]>;
}

function hasMultiplyMany(operator: SplittingOperator): operator is MultiVectorOperator {
  return typeof (operator as Partial<MultiVectorOperator>).multiplyMany === 'function';
}

/** S·v for the min and the max vectors of every block, in one pass when the operator allows it. */
async function multiplyBoth(
  operator: SplittingOperator,
  mins: readonly Float64Array[],
  maxs: readonly Float64Array[],
  batch?: number,
): Promise<[Float64Array[], Float64Array[]]> {
  if (hasMultiplyMany(operator)) {
    const [a, b] = await operator.multiplyMany([mins, maxs], batch);
    return [a!, b!];
  }
  return [await operator.multiply(mins, batch), await operator.multiply(maxs, batch)];
}

/** One direction (min or max) of one block: unit rows, optimiser state and last-epoch accumulators. */
interface Track {
  readonly v: Float64Array;
  readonly grad: Float64Array;
  readonly optimiser: RmsProp;
  readonly sumLambda: Float64Array;
  readonly sumV: Float64Array;
}

/**
 * The stochastic Rayleigh-quotient solver of fast energy-aware splitting (algorithms.md §3.2): per step,
 * S·v (of one minibatch, or of the whole scoring set in `full` mode), the manual gradient of R(v), an RMSprop
 * step and renormalisation of every neuron's v. λ_min is minimised, λ_max maximised (ascent) on the same
 * products: one `multiplyMany` call carries both vector sets when the operator has it (one network pass),
 * otherwise two `multiply` calls. Outputs: λ = mean of R(v) before each step over the last `averageEpochs`
 * epochs; v = mean of those iterates, renormalised. Residuals use one more full-data product of both sets.
 * Cost: epochs·(batchCount in `minibatch` mode, else 1) + 1 passes of two vector sets.
 */
export class RayleighEigenSolver implements EigenSolver {
  readonly id = 'rayleigh';

  constructor(private readonly options: RayleighEigenOptions) {}

  async solve(operator: SplittingOperator, options: EigenSolveOptions = {}): Promise<EigenResult[]> {
    const o = this.options;
    const rng = new SeededRandom(o.seed);
    const blocks = operator.blocks;
    const settings = { momentum: o.momentum, alpha: o.alpha, epsilon: o.epsilon };
    const makeTrack = (neurons: number, dim: number): Track => ({
      v: randomUnitRows(neurons, dim, rng),
      grad: new Float64Array(neurons * dim),
      optimiser: new RmsProp(neurons * dim, settings),
      sumLambda: new Float64Array(neurons),
      sumV: new Float64Array(neurons * dim),
    });
    const mins = blocks.map((b) => makeTrack(b.neurons, b.dim));
    const maxs = blocks.map((b) => makeTrack(b.neurons, b.dim));
    const steps = o.batchMode === 'full' ? [undefined] : Array.from({ length: operator.batchCount }, (_, b) => b);
    const total = o.epochs * steps.length;
    const averaged = Math.min(o.averageEpochs, o.epochs);
    let recorded = 0;
    let lr = o.learningRate;

    const advance = (tracks: Track[], products: Float64Array[], sign: 1 | -1, label: string, record: boolean): void => {
      tracks.forEach((track, b) => {
        const { name, neurons, dim } = blocks[b] as (typeof blocks)[number];
        const sv = products[b] as Float64Array;
        checkFiniteRows(sv, neurons, dim, name, label);
        for (let j = 0; j < neurons; j++) {
          const r = rayleighGradient(track.v, sv, track.grad, dim, j * dim);
          if (record) {
            track.sumLambda[j] = (track.sumLambda[j] as number) + r;
            for (let i = j * dim; i < (j + 1) * dim; i++) track.sumV[i] = (track.sumV[i] as number) + (track.v[i] as number);
          }
        }
        if (sign < 0) for (let i = 0; i < track.grad.length; i++) track.grad[i] = -(track.grad[i] as number);
        track.optimiser.step(track.v, track.grad, lr);
        for (let j = 0; j < neurons; j++) {
          if (normalise(track.v, dim, j * dim) === 0) track.v[j * dim] = 1;
        }
      });
    };

    for (let epoch = 1; epoch <= o.epochs; epoch++) {
      if (epoch % o.decayEvery === 0) lr *= o.learningRateDecay;
      const record = epoch > o.epochs - averaged;
      for (let s = 0; s < steps.length; s++) {
        throwIfAborted(options.signal);
        const batch = steps[s];
        const label = batch === undefined ? 'S·v (full data)' : `S·v (minibatch ${batch})`;
        const [sMin, sMax] = await multiplyBoth(operator, mins.map((t) => t.v), maxs.map((t) => t.v), batch);
        advance(mins, sMin, 1, label, record);
        advance(maxs, sMax, -1, label, record);
        if (record) recorded++;
        options.onProgress?.((epoch - 1) * steps.length + s + 1, total, `rayleigh: epoch ${epoch}/${o.epochs}`);
      }
    }

    const finish = (track: Track, neurons: number, dim: number): { lambda: Float64Array; v: Float64Array } => {
      const lambda = track.sumLambda.map((s) => s / recorded);
      const v = track.sumV.slice();
      for (let j = 0; j < neurons; j++) {
        // The mean of unit iterates only vanishes if v flipped sign; fall back to the last iterate then.
        if (normalise(v, dim, j * dim) === 0) v.set(track.v.subarray(j * dim, (j + 1) * dim), j * dim);
      }
      return { lambda, v };
    };
    const minOut = blocks.map((b, k) => finish(mins[k] as Track, b.neurons, b.dim));
    const maxOut = blocks.map((b, k) => finish(maxs[k] as Track, b.neurons, b.dim));
    const [sMin, sMax] = await multiplyBoth(operator, minOut.map((m) => m.v), maxOut.map((m) => m.v));
    return blocks.map((block, k) => {
      const { name, neurons, dim } = block;
      const lo = minOut[k] as { lambda: Float64Array; v: Float64Array };
      const hi = maxOut[k] as { lambda: Float64Array; v: Float64Array };
      const svMin = sMin[k] as Float64Array;
      const svMax = sMax[k] as Float64Array;
      checkFiniteRows(svMin, neurons, dim, name, 'S·v (full data)');
      checkFiniteRows(svMax, neurons, dim, name, 'S·v (full data)');
      return {
        block: name,
        neurons,
        dim,
        lambdaMin: lo.lambda,
        lambdaMax: hi.lambda,
        vMin: lo.v,
        vMax: hi.v,
        residualMin: residualNorms(svMin, lo.v, lo.lambda, neurons, dim),
        residualMax: residualNorms(svMax, hi.v, hi.lambda, neurons, dim),
      };
    });
  }
}

/** The `rayleigh` eigen solver: the paper's minibatch RMSprop descent on the Rayleigh quotient. */
@injectable()
export class RayleighEigenSolverContribution implements EigenSolverContribution<RayleighEigenOptions> {
  readonly id = 'rayleigh';
  readonly description = 'Stochastic Rayleigh-quotient descent/ascent with RMSprop on minibatch S·v products (fast energy-aware splitting)';
  readonly optionsSchema = rayleighOptionsSchema;

  create(options: RayleighEigenOptions): EigenSolver {
    return new RayleighEigenSolver(options);
  }
}
