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
import { checkFiniteRows, convergence, dot, normalise, randomUnitRows, rayleighQuotients, residualNorms, throwIfAborted } from '@mitosis/linalg';
import { RmsProp, rayleighGradient } from './rayleigh-update.js';

/**
 * Options of the stochastic Rayleigh-quotient solver. The defaults are the paper's minibatch method on a short
 * budget, measured with `benchmarkEigen` on a short-trained MNIST convnet (d = 288 and 576, 128 scoring
 * samples in 4 minibatches: see packages/splitting/README.md). Real image patches are correlated, so the extreme
 * eigenvalues of S stand well clear of the rest (gap 40–75% of the spread there) and ~30 minibatch steps
 * suffice. Near-random spectra (i.i.d. inputs; gaps ≤ 3%) need far more: e.g. `{ batchMode: 'full', epochs: 80,
 * learningRate: 0.02, learningRateDecay: 0.8, decayEvery: 10, averageEpochs: 20 }`. The paper's CIFAR setting is
 * `{ batchMode: 'minibatch', epochs: 10, learningRate: 1e-3, learningRateDecay: 0.2, decayEvery: 2,
 * averageEpochs: 1 }` with ~780 minibatches per epoch.
 */
export interface RayleighEigenOptions {
  /**
   * What one step sees. `minibatch` (default, the paper's): one step per minibatch (`operator.batchCount` steps
   * per pass over the data, at the cost of one full pass). `full`: S·v over the whole scoring set, one step per
   * epoch: noise-free, for spectra with tiny gaps, where a minibatch's v_min can be far from the full-data one.
   */
  readonly batchMode: 'full' | 'minibatch';
  /**
   * Passes over the scoring data (at most: see `stopTolerance`). Default 8: with the default rate schedule the
   * last epochs move v by < 0.1%; 6 left the worst |cos| at 0.98 on the MNIST d = 288 layer.
   */
  readonly epochs: number;
  /**
   * RMSprop learning rate (a per-coordinate step, independent of the scale of S). Default 0.04 (first used
   * halved, see `decayEvery`): large steps first to leave the random start (unit vectors have coordinates
   * ~1/√d ≈ 0.04–0.06), then halving every epoch to shrink the jitter RMSprop keeps near the optimum.
   */
  readonly learningRate: number;
  /** Multiplies the learning rate before every epoch whose 1-based index is a multiple of `decayEvery`. */
  readonly learningRateDecay: number;
  /** Default 1 with decay 0.5: the rate halves every epoch (0.02 in epoch 1 … 0.0003 in epoch 8). */
  readonly decayEvery: number;
  readonly momentum: number;
  /** RMSprop smoothing constant (0.9 in the reference code; PyTorch's default is 0.99). */
  readonly alpha: number;
  readonly epsilon: number;
  /**
   * λ is the mean of R(v) and v the renormalised mean of the iterates over this many final epochs. Default 1
   * (the paper: the last epoch's minibatches). In `full` mode an epoch is one step, so use more there (e.g. 20)
   * to cancel the oscillation the momentum leaves. Capped at `epochs`.
   */
  readonly averageEpochs: number;
  /**
   * Convergence: a pair is converged when ‖S v − λ v‖ ≤ residualTolerance·‖S‖ on the full scoring set
   * (‖S‖ = max(|λ_min|, |λ_max|)). After each epoch a neuron (per direction) whose epoch-mean residual (the
   * epoch's products S_b v_b averaged, against the epoch-mean v) meets it retires; the returned flags
   * (`convergedMin`/`convergedMax`) come from one exact full-data product of the returned vectors. Default
   * 1e-3: the angle to the true eigenvector is at most residual/gap, so |cos| ≥ 0.98 holds down to gaps of
   * 0.5% of ‖S‖. Neurons still above it after `epochs` are returned flagged (the run loop retries them with
   * lanczos, then skips what is still flagged).
   */
  readonly residualTolerance: number;
  /**
   * Extra early stopping on movement: after each epoch from the second on, a neuron also retires when its
   * epoch-mean R and epoch-mean v moved by at most this much since the previous epoch (relative change of R
   * and 1 − |cos| of v); 0 (default) disables it. A neuron retired this way is still flagged by the residual
   * test: stagnation is not convergence.
   */
  readonly stopTolerance: number;
  /** Seed of the U(−0.1, 0.1) initialisation of v. */
  readonly seed: number;
}

export const rayleighOptionsSchema: JSONSchemaType<RayleighEigenOptions> = {
  type: 'object',
  properties: {
    batchMode: { type: 'string', enum: ['full', 'minibatch'], default: 'minibatch' },
    epochs: { type: 'integer', minimum: 1, default: 8 },
    learningRate: { type: 'number', exclusiveMinimum: 0, default: 0.04 },
    learningRateDecay: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.5 },
    decayEvery: { type: 'integer', minimum: 1, default: 1 },
    momentum: { type: 'number', minimum: 0, exclusiveMaximum: 1, default: 0.9 },
    alpha: { type: 'number', minimum: 0, exclusiveMaximum: 1, default: 0.9 },
    epsilon: { type: 'number', exclusiveMinimum: 0, default: 1e-8 },
    averageEpochs: { type: 'integer', minimum: 1, default: 1 },
    residualTolerance: { type: 'number', exclusiveMinimum: 0, default: 1e-3 },
    stopTolerance: { type: 'number', minimum: 0, default: 0 },
    seed: { type: 'integer', minimum: 0, default: 1 },
  },
  required: ['batchMode', 'epochs', 'learningRate', 'learningRateDecay', 'decayEvery', 'momentum', 'alpha', 'epsilon', 'averageEpochs', 'residualTolerance', 'stopTolerance', 'seed'],
  additionalProperties: false,
};

/** S·v for the min and the max vectors of every block, in one pass when the operator allows it. */
async function multiplyBoth(
  operator: SplittingOperator,
  mins: readonly Float64Array[],
  maxs: readonly Float64Array[],
  batch?: number,
): Promise<[Float64Array[], Float64Array[]]> {
  if (operator.multiplyMany !== undefined) {
    const [a, b] = await operator.multiplyMany([mins, maxs], batch);
    return [a!, b!];
  }
  return [await operator.multiply(mins, batch), await operator.multiply(maxs, batch)];
}

/** One direction (min or max) of one block: unit rows, optimiser state, per-epoch sums and retirement. */
interface Track {
  readonly neurons: number;
  readonly dim: number;
  readonly v: Float64Array;
  readonly grad: Float64Array;
  readonly optimiser: RmsProp;
  /** Σ R(v), Σ v and Σ S·v over the steps of the current epoch. */
  readonly epochLambda: Float64Array;
  readonly epochV: Float64Array;
  readonly epochSv: Float64Array;
  /** Epoch-mean R of the last completed epoch (the other direction's scale for the residual test). */
  readonly lastLambda: Float64Array;
  /** Per-epoch means of the last `averageEpochs` epochs (ring buffers, slot = epoch mod window). */
  readonly lambdas: Float64Array[];
  readonly vs: Float64Array[];
  /** Epochs each neuron has completed (it stops counting when it retires). */
  readonly epochsDone: Int32Array;
  /** 1 while the neuron still takes steps. */
  readonly active: Uint8Array;
}

/** v with the rows of retired neurons zeroed (the network operator skips zero rows). */
function activeRows(track: Track): Float64Array {
  const out = track.v.slice();
  for (let j = 0; j < track.neurons; j++) if (track.active[j] === 0) out.fill(0, j * track.dim, (j + 1) * track.dim);
  return out;
}

/**
 * The stochastic Rayleigh-quotient solver of fast energy-aware splitting (algorithms.md §3.2): per step,
 * S·v (of one minibatch in `minibatch` mode, the paper's; of the whole scoring set in `full` mode), the manual
 * gradient of R(v), an RMSprop step and renormalisation of every neuron's v. λ_min is minimised, λ_max
 * maximised (ascent) on the same products: one `multiplyMany` call carries both vector sets when the operator
 * has it (one pass), otherwise two `multiply` calls. Outputs: λ = mean of R(v) before each step and v = the
 * renormalised mean of the iterates, over the last `averageEpochs` epochs (the paper: the last epoch).
 * Stopping: after each epoch, a neuron (per direction) whose epoch-mean residual is within `residualTolerance`
 * of ‖S‖ retires with its current averages (optionally also on movement, `stopTolerance`); retired neurons pass
 * zero vectors, which the network operator skips. One more full-data product of both sets gives the returned
 * λ = vᵀSv, the residuals and the `converged` flags (relative residual ≤ `residualTolerance`); pairs that did
 * not get there within `epochs` are returned flagged, never silently.
 * Cost: at most epochs·(batchCount in `minibatch` mode, else 1) + 1 passes of two vector sets.
 */
export class RayleighEigenSolver implements EigenSolver {
  readonly id = 'rayleigh';

  constructor(private readonly options: RayleighEigenOptions) {}

  async solve(operator: SplittingOperator, options: EigenSolveOptions = {}): Promise<EigenResult[]> {
    const o = this.options;
    const rng = new SeededRandom(o.seed);
    const blocks = operator.blocks;
    const settings = { momentum: o.momentum, alpha: o.alpha, epsilon: o.epsilon };
    const window = Math.min(o.averageEpochs, o.epochs);
    const makeTrack = (neurons: number, dim: number): Track => ({
      neurons,
      dim,
      v: randomUnitRows(neurons, dim, rng),
      grad: new Float64Array(neurons * dim),
      optimiser: new RmsProp(neurons * dim, settings),
      epochLambda: new Float64Array(neurons),
      epochV: new Float64Array(neurons * dim),
      epochSv: new Float64Array(neurons * dim),
      lastLambda: new Float64Array(neurons),
      lambdas: Array.from({ length: window }, () => new Float64Array(neurons)),
      vs: Array.from({ length: window }, () => new Float64Array(neurons * dim)),
      epochsDone: new Int32Array(neurons),
      active: new Uint8Array(neurons).fill(1),
    });
    const mins = blocks.map((b) => makeTrack(b.neurons, b.dim));
    const maxs = blocks.map((b) => makeTrack(b.neurons, b.dim));
    const tracks = [...mins, ...maxs];
    const steps = o.batchMode === 'full' ? [undefined] : Array.from({ length: operator.batchCount }, (_, b) => b);
    const total = o.epochs * steps.length;
    let lr = o.learningRate;

    const advance = (track: Track, sv: Float64Array, name: string, sign: 1 | -1, label: string): void => {
      const { neurons, dim } = track;
      checkFiniteRows(sv, neurons, dim, name, label);
      for (let j = 0; j < neurons; j++) {
        if (track.active[j] === 0) continue;
        const off = j * dim;
        const r = rayleighGradient(track.v, sv, track.grad, dim, off);
        track.epochLambda[j] = (track.epochLambda[j] as number) + r;
        for (let i = off; i < off + dim; i++) {
          track.epochV[i] = (track.epochV[i] as number) + (track.v[i] as number);
          track.epochSv[i] = (track.epochSv[i] as number) + (sv[i] as number);
          if (sign < 0) track.grad[i] = -(track.grad[i] as number);
        }
        track.optimiser.step(track.v, track.grad, lr, off, off + dim);
        if (normalise(track.v, dim, off) === 0) track.v[off] = 1;
      }
    };

    /** Closes an epoch: stores the epoch means and retires the neurons that stopped moving. */
    const endEpoch = (track: Track, other: Track, epoch: number): void => {
      const { neurons, dim } = track;
      const slot = (epoch - 1) % window;
      const lambda = track.lambdas[slot] as Float64Array;
      const v = track.vs[slot] as Float64Array;
      const previous = track.vs[(epoch - 2 + window) % window] as Float64Array;
      const previousLambda = track.lambdas[(epoch - 2 + window) % window] as Float64Array;
      const row = new Float64Array(dim);
      for (let j = 0; j < neurons; j++) {
        if (track.active[j] === 0) continue;
        const off = j * dim;
        const l = (track.epochLambda[j] as number) / steps.length;
        row.set(track.epochV.subarray(off, off + dim));
        // The mean of unit iterates only vanishes if v flipped sign; use the last iterate then.
        if (normalise(row, dim) === 0) row.set(track.v.subarray(off, off + dim));
        // Residual of the epoch mean against the epoch's mean product (exact in `full` mode).
        let vv = 0;
        let vsv = 0;
        for (let i = 0; i < dim; i++) {
          const x = track.epochV[off + i]! / steps.length;
          vv += x * x;
          vsv += x * (track.epochSv[off + i]! / steps.length);
        }
        const quotient = vv > 0 ? vsv / vv : 0;
        let residual = 0;
        for (let i = 0; i < dim; i++) {
          const r = track.epochSv[off + i]! / steps.length - (quotient * track.epochV[off + i]!) / steps.length;
          residual += r * r;
        }
        residual = vv > 0 ? Math.sqrt(residual / vv) : Number.POSITIVE_INFINITY;
        const scale = Math.max(Math.abs(l), Math.abs(epoch >= 2 || other.active[j] === 0 ? other.lastLambda[j]! : l));
        if (residual === 0 || (scale > 0 && residual <= o.residualTolerance * scale)) track.active[j] = 0;
        if (o.stopTolerance > 0 && epoch >= 2) {
          // Read before writing: with a one-epoch window the previous epoch sits in the same slot.
          const cos = Math.abs(dot(row, previous, dim, 0, off));
          const before = previousLambda[j] as number;
          const moved = Math.max(1 - cos, Math.abs(l - before) / Math.max(Math.abs(l), 1e-300));
          if (moved <= o.stopTolerance) track.active[j] = 0;
        }
        lambda[j] = l;
        v.set(row, off);
        track.lastLambda[j] = l;
        track.epochsDone[j] = epoch;
      }
      track.epochLambda.fill(0);
      track.epochV.fill(0);
      track.epochSv.fill(0);
    };

    for (let epoch = 1; epoch <= o.epochs; epoch++) {
      if (epoch % o.decayEvery === 0) lr *= o.learningRateDecay;
      for (let s = 0; s < steps.length; s++) {
        throwIfAborted(options.signal);
        const batch = steps[s];
        const label = batch === undefined ? 'S·v (full data)' : `S·v (minibatch ${batch})`;
        const [sMin, sMax] = await multiplyBoth(operator, mins.map(activeRows), maxs.map(activeRows), batch);
        blocks.forEach((block, k) => {
          advance(mins[k] as Track, sMin[k] as Float64Array, block.name, 1, label);
          advance(maxs[k] as Track, sMax[k] as Float64Array, block.name, -1, label);
        });
        options.onProgress?.((epoch - 1) * steps.length + s + 1, total, `rayleigh: epoch ${epoch}/${o.epochs}`);
      }
      blocks.forEach((_, k) => {
        endEpoch(mins[k] as Track, maxs[k] as Track, epoch);
        endEpoch(maxs[k] as Track, mins[k] as Track, epoch);
      });
      if (tracks.every((t) => t.active.every((a) => a === 0))) break;
    }

    /** λ and v of every neuron: the means over its last `window` completed epochs. */
    const finish = (track: Track): { lambda: Float64Array; v: Float64Array } => {
      const { neurons, dim } = track;
      const lambda = new Float64Array(neurons);
      const v = new Float64Array(neurons * dim);
      for (let j = 0; j < neurons; j++) {
        const done = track.epochsDone[j] as number;
        const count = Math.min(window, done);
        const off = j * dim;
        for (let e = done - count + 1; e <= done; e++) {
          const slot = (e - 1) % window;
          lambda[j] = (lambda[j] as number) + ((track.lambdas[slot] as Float64Array)[j] as number) / count;
          const epochV = track.vs[slot] as Float64Array;
          for (let i = off; i < off + dim; i++) v[i] = (v[i] as number) + (epochV[i] as number);
        }
        if (normalise(v, dim, off) === 0) v.set(track.v.subarray(off, off + dim), off);
      }
      return { lambda, v };
    };
    const minOut = mins.map(finish);
    const maxOut = maxs.map(finish);
    const [sMin, sMax] = await multiplyBoth(operator, minOut.map((m) => m.v), maxOut.map((m) => m.v));
    return blocks.map((block, k) => {
      const { name, neurons, dim } = block;
      const lo = minOut[k] as { lambda: Float64Array; v: Float64Array };
      const hi = maxOut[k] as { lambda: Float64Array; v: Float64Array };
      const svMin = sMin[k] as Float64Array;
      const svMax = sMax[k] as Float64Array;
      checkFiniteRows(svMin, neurons, dim, name, 'S·v (full data)');
      checkFiniteRows(svMax, neurons, dim, name, 'S·v (full data)');
      // λ = vᵀSv on the full scoring set (v is unit): the best λ for the returned v, and the one its residual uses.
      const lambdaMin = rayleighQuotients(svMin, lo.v, neurons, dim);
      const lambdaMax = rayleighQuotients(svMax, hi.v, neurons, dim);
      const residualMin = residualNorms(svMin, lo.v, lambdaMin, neurons, dim);
      const residualMax = residualNorms(svMax, hi.v, lambdaMax, neurons, dim);
      return {
        block: name,
        neurons,
        dim,
        lambdaMin,
        lambdaMax,
        vMin: lo.v,
        vMax: hi.v,
        residualMin,
        residualMax,
        ...convergence(residualMin, residualMax, lambdaMin, lambdaMax, o.residualTolerance),
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
