import type { JSONSchemaType } from 'ajv';
import { injectable } from '@mitosis/core/di';
import {
  NasError,
  type EigenResult,
  type EigenSolveOptions,
  type EigenSolver,
  type EigenSolverContribution,
  type SplittingOperator,
} from '@mitosis/core';
import {
  checkFiniteRows,
  convergence,
  matVec,
  relativeAsymmetry,
  residualNorms,
  symmetricExtremeEigen,
  symmetrise,
  throwIfAborted,
} from '@mitosis/linalg';

export interface DenseEigenOptions {
  /**
   * Replace each matrix by (S + Sᵀ)/2 before decomposing (the official S2D code does this). When false, a
   * matrix whose relative asymmetry exceeds `asymmetryTolerance` is an `E_NUMERICAL` error.
   */
  readonly symmetrise: boolean;
  /** max|S_ij − S_ji| / max|S_ij| allowed when `symmetrise` is false. */
  readonly asymmetryTolerance: number;
}

export const denseOptionsSchema: JSONSchemaType<DenseEigenOptions> = {
  type: 'object',
  properties: {
    symmetrise: { type: 'boolean', default: true },
    asymmetryTolerance: { type: 'number', minimum: 0, default: 1e-10 },
  },
  required: ['symmetrise', 'asymmetryTolerance'],
  additionalProperties: false,
};

/**
 * Exact extreme eigenpairs from the explicit matrices (`operator.matrices(b)`, one block at a time):
 * Householder tridiagonalisation + QL eigenvalues + inverse iteration for v_min and v_max
 * ({@link symmetricExtremeEigen}). Memory: one block's `neurons·dim²` doubles at a time. Residuals are
 * ‖S v − λ v‖ with the matrix as the operator returned it (before symmetrising).
 */
export class DenseEigenSolver implements EigenSolver {
  readonly id = 'dense';

  constructor(private readonly options: DenseEigenOptions) {}

  async solve(operator: SplittingOperator, options: EigenSolveOptions = {}): Promise<EigenResult[]> {
    const total = operator.blocks.reduce((sum, b) => sum + b.neurons, 0);
    let done = 0;
    const results: EigenResult[] = [];
    for (let b = 0; b < operator.blocks.length; b++) {
      throwIfAborted(options.signal);
      const { name, neurons, dim } = operator.blocks[b] as (typeof operator.blocks)[number];
      const matrices = await operator.matrices(b);
      if (matrices.length !== neurons * dim * dim) {
        throw new NasError(
          'E_SHAPE_MISMATCH',
          `operator.matrices(${b}) for block "${name}" returned ${matrices.length} values; expected neurons·dim² = ${neurons * dim * dim}`,
          { block: name, expected: neurons * dim * dim, actual: matrices.length },
        );
      }
      checkFiniteRows(matrices, neurons, dim * dim, name, 'splitting-matrix entry');
      const lambdaMin = new Float64Array(neurons);
      const lambdaMax = new Float64Array(neurons);
      const vMin = new Float64Array(neurons * dim);
      const vMax = new Float64Array(neurons * dim);
      const sMin = new Float64Array(neurons * dim);
      const sMax = new Float64Array(neurons * dim);
      const work = new Float64Array(dim * dim);
      for (let j = 0; j < neurons; j++) {
        const off = j * dim * dim;
        work.set(matrices.subarray(off, off + dim * dim));
        if (this.options.symmetrise) {
          symmetrise(work, dim);
        } else {
          const asym = relativeAsymmetry(work, dim);
          if (asym > this.options.asymmetryTolerance) {
            throw new NasError(
              'E_NUMERICAL',
              `The splitting matrix of block "${name}", neuron ${j} is not symmetric (relative asymmetry ${asym.toExponential(2)} > ${this.options.asymmetryTolerance}); use the option symmetrise: true`,
              { block: name, neuron: j, asymmetry: asym },
            );
          }
        }
        let eig;
        try {
          eig = symmetricExtremeEigen(work, dim);
        } catch (cause) {
          throw new NasError('E_NUMERICAL', `Eigen-decomposition failed for block "${name}", neuron ${j}: ${(cause as Error).message}`, { block: name, neuron: j }, { cause });
        }
        lambdaMin[j] = eig.values[0] as number;
        lambdaMax[j] = eig.values[dim - 1] as number;
        vMin.set(eig.vMin, j * dim);
        vMax.set(eig.vMax, j * dim);
        matVec(matrices, dim, vMin, sMin, off, j * dim, j * dim);
        matVec(matrices, dim, vMax, sMax, off, j * dim, j * dim);
        done++;
        options.onProgress?.(done, total, `dense: ${name}`);
      }
      results.push({
        block: name,
        neurons,
        dim,
        lambdaMin,
        lambdaMax,
        vMin,
        vMax,
        ...withConvergence(residualNorms(sMin, vMin, lambdaMin, neurons, dim), residualNorms(sMax, vMax, lambdaMax, neurons, dim), lambdaMin, lambdaMax),
      });
    }
    return results;
  }
}

/**
 * Relative residual up to which a dense pair counts as converged: the decomposition is exact up to rounding
 * (≈1e-15 relative), so only a failed decomposition (or a badly asymmetric matrix) gets flagged.
 */
export const DENSE_TOLERANCE = 1e-8;

function withConvergence(residualMin: Float64Array, residualMax: Float64Array, lambdaMin: Float64Array, lambdaMax: Float64Array) {
  return { residualMin, residualMax, ...convergence(residualMin, residualMax, lambdaMin, lambdaMax, DENSE_TOLERANCE) };
}

/** The `dense` eigen solver: exact, O(neurons·dim³) per block; the reference the iterative solvers are tested against. */
@injectable()
export class DenseEigenSolverContribution implements EigenSolverContribution<DenseEigenOptions> {
  readonly id = 'dense';
  readonly description = 'Exact extreme eigenpairs from the explicit splitting matrices (Householder + QL + inverse iteration)';
  readonly optionsSchema = denseOptionsSchema;

  create(options: DenseEigenOptions): EigenSolver {
    return new DenseEigenSolver(options);
  }
}
