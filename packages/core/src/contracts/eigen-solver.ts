import { injectable, multiInject, optional } from '../di/shared-inversify.js';
import { ContributionRegistry, type Contribution } from './contribution.js';

/** One splittable layer as the solver sees it: `neurons` splitting matrices of size `dim`×`dim`. */
export interface SplittingBlock {
  /** The producing node (dense, conv2d or depthwiseConv2d). */
  readonly name: string;
  readonly neurons: number;
  /** Length of a neuron's parameter vector θ (incoming weights, plus the bias where the layer has one). */
  readonly dim: number;
}

/**
 * Access to the splitting matrices S_j = E[g σ''(z) c² x xᵀ] of every neuron of every splittable layer,
 * without forming them unless asked (algorithms.md §2.1, §3.1).
 *
 * Vectors are `Float64Array`s of `neurons × dim` values, neuron-major (row j is neuron j's vector).
 */
export interface SplittingOperator {
  readonly blocks: readonly SplittingBlock[];
  /** Minibatches in one pass over the scoring data. */
  readonly batchCount: number;
  /**
   * S_j·v_j for every neuron of every block, from one forward/backward per minibatch.
   * With `batch`, the estimate of that minibatch alone (stochastic solvers); without, the average over the
   * whole scoring set.
   */
  multiply(vectors: readonly Float64Array[], batch?: number): Promise<Float64Array[]>;
  /**
   * Optional: `multiply` for several vector sets (`sets[k]` is one `multiply` argument) sharing one pass over
   * the data, e.g. v_min and v_max of a stochastic solver. Operators that wrap another should forward it when
   * the inner one has it.
   */
  multiplyMany?(sets: readonly (readonly Float64Array[])[], batch?: number): Promise<Float64Array[][]>;
  /**
   * The explicit matrices of one block, `neurons × dim × dim` (row-major per neuron), averaged over the
   * whole scoring set. Exact solvers and tests use it; memory is `neurons·dim²` doubles.
   */
  matrices(block: number): Promise<Float64Array>;
}

/** Extreme eigenpairs of every neuron of one block. Vectors are unit rows, `neurons × dim`. */
export interface EigenResult {
  readonly block: string;
  readonly neurons: number;
  readonly dim: number;
  readonly lambdaMin: Float64Array;
  readonly lambdaMax: Float64Array;
  readonly vMin: Float64Array;
  readonly vMax: Float64Array;
  /** ‖S v − λ v‖ for the returned pairs, measured on the full-data operator. */
  readonly residualMin: Float64Array;
  readonly residualMax: Float64Array;
  /**
   * ‖S v − λ v‖ / ‖S‖ per neuron, with ‖S‖ = max(|λ_min|, |λ_max|) (the spectral radius of a symmetric S, as
   * far as the solver found it). Optional: solvers written before these fields report only the residuals.
   */
  readonly relativeResidualMin?: Float64Array;
  readonly relativeResidualMax?: Float64Array;
  /**
   * 1 where the pair met the solver's convergence test, 0 where it did not (the solver ran out of iterations).
   * Absent: the solver does not judge (callers treat the pairs as converged). The run loop never hands a
   * grower a pair marked 0: it scores that neuron as unsplittable for the round (λ_min = +∞ or λ_max = −∞)
   * and counts it in the round's event (`scoring.notConverged`).
   */
  readonly convergedMin?: Uint8Array;
  readonly convergedMax?: Uint8Array;
  /** The relative residual the solver's convergence test used. */
  readonly tolerance?: number;
}

/** Neurons of `result` whose λ_min or λ_max pair is marked not converged (0 when the solver does not judge). */
export function notConvergedCount(result: EigenResult): { min: number; max: number; either: number } {
  let min = 0;
  let max = 0;
  let either = 0;
  for (let j = 0; j < result.neurons; j++) {
    const a = result.convergedMin !== undefined && result.convergedMin[j] === 0;
    const b = result.convergedMax !== undefined && result.convergedMax[j] === 0;
    if (a) min++;
    if (b) max++;
    if (a || b) either++;
  }
  return { min, max, either };
}

/** Per-call options of {@link EigenSolver.solve}. */
export interface EigenSolveOptions {
  /** Reports progress of long solves (`done` of `total` units). */
  readonly onProgress?: (done: number, total: number, label: string) => void;
  readonly signal?: AbortSignal;
}

/** Computes λ_min, v_min, λ_max, v_max of every neuron's splitting matrix. */
export interface EigenSolver {
  readonly id: string;
  solve(operator: SplittingOperator, options?: EigenSolveOptions): Promise<EigenResult[]>;
}

/** DI token of {@link EigenSolverContribution}. */
export const EigenSolverContribution = Symbol.for('mitosis.EigenSolverContribution');
/** A plugin's eigen solver: `create` returns a solver configured with validated options. */
export interface EigenSolverContribution<O = never> extends Contribution {
  create(options: O): EigenSolver;
}

/** All installed eigen solvers; the class is its own token. */
@injectable()
export class EigenSolverRegistry extends ContributionRegistry<EigenSolverContribution<unknown>> {
  constructor(
    @multiInject(EigenSolverContribution) @optional() contributions: readonly EigenSolverContribution<unknown>[] = [],
  ) {
    super('eigenSolvers', 'eigen solver', contributions);
  }

  /** Validates `options` and creates solver `id`. */
  create(id: string, options: unknown = {}): EigenSolver {
    return this.get(id).create(this.options(id, options));
  }
}
