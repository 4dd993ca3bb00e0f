import { injectable } from '@mitosis/core/di';
import type {
  EigenResult,
  EigenSolveOptions,
  EigenSolver,
  EigenSolverContribution,
  JSONSchemaType,
  SplittingOperator,
} from '@mitosis/core';

/** Options of the solver; the schema below gives their defaults. */
export interface PowerIterationOptions {
  /** Most iterations per eigenpair. */
  readonly maxIterations: number;
  /** A pair has converged when ‖S·v − λ·v‖ ≤ tolerance · max(|λ_min|, |λ_max|). */
  readonly tolerance: number;
}

const optionsSchema: JSONSchemaType<PowerIterationOptions> = {
  type: 'object',
  properties: {
    maxIterations: { type: 'integer', minimum: 1, default: 2000 },
    tolerance: { type: 'number', exclusiveMinimum: 0, default: 1e-6 },
  },
  required: ['maxIterations', 'tolerance'],
  additionalProperties: false,
};

/** y = S·x for a dense symmetric `dim`×`dim` matrix stored row-major. */
function multiply(s: Float64Array, x: Float64Array, dim: number): Float64Array {
  const y = new Float64Array(dim);
  for (let i = 0; i < dim; i++) {
    let sum = 0;
    for (let k = 0; k < dim; k++) sum += (s[i * dim + k] ?? 0) * (x[k] ?? 0);
    y[i] = sum;
  }
  return y;
}

const norm = (x: Float64Array): number => Math.sqrt(x.reduce((sum, v) => sum + v * v, 0));
const dot = (a: Float64Array, b: Float64Array): number => a.reduce((sum, v, i) => sum + v * (b[i] ?? 0), 0);

/** ‖S·v − λ·v‖ for a unit vector v and its Rayleigh quotient λ. */
function residual(s: Float64Array, v: Float64Array, lambda: number, dim: number): number {
  const sv = multiply(s, v, dim);
  return norm(sv.map((x, i) => x - lambda * (v[i] ?? 0)));
}

/** A fixed start vector with no zero entry, so that it is not orthogonal to an axis-aligned eigenvector. */
function startVector(dim: number): Float64Array {
  const v = Float64Array.from({ length: dim }, (_, i) => 1 + 0.5 * Math.sin(1.7 * (i + 1)));
  const n = norm(v);
  return v.map((x) => x / n);
}

/**
 * The eigenpair of `sign`·S at the top of its spectrum (sign 1: λ_max, −1: λ_min), by power iteration on
 * `sign`·S + ρI, where ρ bounds the spectral radius (largest absolute row sum), so that every eigenvalue of the
 * shifted matrix is ≥ 0 and the wanted one dominates. Stops when the residual meets `tolerance`·ρ.
 */
function extremePair(s: Float64Array, dim: number, sign: 1 | -1, rho: number, options: PowerIterationOptions): { lambda: number; v: Float64Array } {
  let v = startVector(dim);
  let lambda = dot(v, multiply(s, v, dim));
  for (let it = 0; it < options.maxIterations; it++) {
    const sv = multiply(s, v, dim);
    const next = sv.map((x, i) => sign * x + rho * (v[i] ?? 0));
    const n = norm(next);
    if (!(n > 0)) break; // S = −sign·ρI on this start vector: v is already an eigenvector
    v = next.map((x) => x / n);
    lambda = dot(v, multiply(s, v, dim));
    if (residual(s, v, lambda, dim) <= options.tolerance * rho) break;
  }
  return { lambda, v };
}

/**
 * Power iteration on each neuron's explicit splitting matrix: λ_min and λ_max with their unit eigenvectors, the
 * residuals, and whether each pair converged. It forms the matrices (`neurons·dim²` values per layer), so it
 * suits small layers; the solvers shipped with mitosis scale further.
 */
class PowerIterationSolver implements EigenSolver {
  readonly id = '{{id}}';

  constructor(private readonly options: PowerIterationOptions) {}

  async solve(operator: SplittingOperator, solveOptions: EigenSolveOptions = {}): Promise<EigenResult[]> {
    const results: EigenResult[] = [];
    for (const [b, block] of operator.blocks.entries()) {
      solveOptions.signal?.throwIfAborted();
      const { neurons, dim } = block;
      const matrices = await operator.matrices(b);
      const out = {
        lambdaMin: new Float64Array(neurons), lambdaMax: new Float64Array(neurons),
        vMin: new Float64Array(neurons * dim), vMax: new Float64Array(neurons * dim),
        residualMin: new Float64Array(neurons), residualMax: new Float64Array(neurons),
        relativeResidualMin: new Float64Array(neurons), relativeResidualMax: new Float64Array(neurons),
        convergedMin: new Uint8Array(neurons), convergedMax: new Uint8Array(neurons),
      };
      for (let j = 0; j < neurons; j++) {
        const s = matrices.subarray(j * dim * dim, (j + 1) * dim * dim);
        let rho = 0;
        for (let i = 0; i < dim; i++) {
          let row = 0;
          for (let k = 0; k < dim; k++) row += Math.abs(s[i * dim + k] ?? 0);
          rho = Math.max(rho, row);
        }
        const min = extremePair(s, dim, -1, rho, this.options);
        const max = extremePair(s, dim, 1, rho, this.options);
        const scale = Math.max(Math.abs(min.lambda), Math.abs(max.lambda));
        const pairs = [
          [min, out.lambdaMin, out.vMin, out.residualMin, out.relativeResidualMin, out.convergedMin],
          [max, out.lambdaMax, out.vMax, out.residualMax, out.relativeResidualMax, out.convergedMax],
        ] as const;
        for (const [pair, lambdas, vectors, residuals, relative, converged] of pairs) {
          const r = residual(s, pair.v, pair.lambda, dim);
          lambdas[j] = pair.lambda;
          vectors.set(pair.v, j * dim);
          residuals[j] = r;
          relative[j] = scale > 0 ? r / scale : 0;
          converged[j] = scale === 0 || r <= this.options.tolerance * scale ? 1 : 0;
        }
      }
      results.push({ block: block.name, neurons, dim, ...out, tolerance: this.options.tolerance });
      solveOptions.onProgress?.(b + 1, operator.blocks.length, block.name);
    }
    return results;
  }
}

/** The contribution: a singleton that makes one solver per use, with options validated against the schema. */
@injectable()
export class PowerIterationSolverContribution implements EigenSolverContribution<PowerIterationOptions> {
  readonly id = '{{id}}';
  readonly description = 'Power iteration on explicit splitting matrices (small layers)';
  readonly optionsSchema = optionsSchema;

  create(options: PowerIterationOptions): EigenSolver {
    return new PowerIterationSolver(options);
  }
}
