import type { JSONSchemaType } from 'ajv';
import { injectable } from '@mitosis/core/di';
import {
  SeededRandom,
  type EigenResult,
  type EigenSolveOptions,
  type EigenSolver,
  type EigenSolverContribution,
  type SplittingBlock,
  type SplittingOperator,
} from '@mitosis/core';
import {
  checkFiniteRows,
  convergence,
  dot,
  norm,
  normalise,
  orthogonaliseAgainst,
  residualNorms,
  throwIfAborted,
  tridiagonalEigen,
} from '@mitosis/linalg';

export interface LanczosEigenOptions {
  /**
   * Krylov dimension per round (capped at each block's dim): one full-data pass per step. Default 40: on the
   * benchmark (conv, 64 neurons, 128 samples) the worst of the 10 most negative neurons reaches |cos| ≥ 0.98
   * with v_min after ~28 steps at d = 288 and ~34 at d = 576 (the gap below λ_min is 0.4–3% of the spread).
   */
  readonly steps: number;
  /**
   * A neuron stops when both extreme Ritz pairs have residual estimates β_j·|y_j| ≤ tolerance·‖S‖, with ‖S‖
   * estimated by the largest ‖S q‖ seen. Default 1e-3: the angle to the true vector is at most residual/gap, and
   * gaps down to ~0.5% of ‖S‖ then still give |cos| ≥ 0.98; stopped neurons cost nothing in later passes.
   */
  readonly tolerance: number;
  /**
   * Explicit restarts for neurons not converged after `steps`: the new start vector is v_min + v_max (Ritz).
   * Default 2 (what the run loop's retry of another solver's flagged neurons uses); they only run for neurons
   * still above the tolerance, and never for a block whose dim ≤ `steps` (its Krylov space is then the whole
   * space and the pairs are exact).
   */
  readonly restarts: number;
  /**
   * Ritz values are checked every this many steps (and at the last). Default 1: a check is a k × k tridiagonal
   * eigenproblem per neuron, far cheaper than the product a converged neuron would otherwise keep paying for.
   */
  readonly checkEvery: number;
  /** Seed of the Gaussian start vectors. */
  readonly seed: number;
}

export const lanczosOptionsSchema: JSONSchemaType<LanczosEigenOptions> = {
  type: 'object',
  properties: {
    steps: { type: 'integer', minimum: 1, default: 40 },
    tolerance: { type: 'number', exclusiveMinimum: 0, default: 1e-3 },
    restarts: { type: 'integer', minimum: 0, default: 2 },
    checkEvery: { type: 'integer', minimum: 1, default: 1 },
    seed: { type: 'integer', minimum: 0, default: 1 },
  },
  required: ['steps', 'tolerance', 'restarts', 'checkEvery', 'seed'],
  additionalProperties: false,
};

/** Relative size of β below which the Krylov space is taken to be invariant (breakdown). */
const BREAKDOWN = 1e-10;

/** Lanczos state of every neuron of one block. */
class BlockKrylov {
  readonly steps: number;
  /** `neurons × (steps+1) × dim`: q_0 … q_steps per neuron. */
  readonly basis: Float64Array;
  /** `neurons × steps × dim`: S q_0 … S q_{steps−1} per neuron (the operator's products, kept for residuals). */
  readonly images: Float64Array;
  readonly alpha: Float64Array;
  readonly beta: Float64Array;
  /** Steps taken in the current round. */
  readonly length: Int32Array;
  readonly active: Uint8Array;
  /** Largest ‖S q‖ seen: the scale for breakdown and convergence tests. */
  readonly scale: Float64Array;
  private readonly work: Float64Array;

  constructor(
    readonly block: SplittingBlock,
    steps: number,
    rng: SeededRandom,
  ) {
    const { neurons, dim } = block;
    this.steps = Math.min(steps, dim);
    this.basis = new Float64Array(neurons * (this.steps + 1) * dim);
    this.images = new Float64Array(neurons * this.steps * dim);
    this.alpha = new Float64Array(neurons * this.steps);
    this.beta = new Float64Array(neurons * this.steps);
    this.length = new Int32Array(neurons);
    this.active = new Uint8Array(neurons).fill(1);
    this.scale = new Float64Array(neurons);
    this.work = new Float64Array(dim);
    for (let j = 0; j < neurons; j++) {
      const off = this.row(j, 0);
      for (let i = 0; i < dim; i++) this.basis[off + i] = rng.normal();
      if (normalise(this.basis, dim, off) === 0) this.basis[off] = 1;
    }
  }

  /** Offset of q_t of neuron j in `basis`. */
  row(j: number, t: number): number {
    return (j * (this.steps + 1) + t) * this.block.dim;
  }

  /** The vectors for the next product: q_t of every neuron still at step t, zeros elsewhere. */
  vectors(t: number): Float64Array {
    const { neurons, dim } = this.block;
    const out = new Float64Array(neurons * dim);
    for (let j = 0; j < neurons; j++) {
      if (this.active[j] === 1 && this.length[j] === t && t < this.steps) {
        out.set(this.basis.subarray(this.row(j, t), this.row(j, t) + dim), j * dim);
      }
    }
    return out;
  }

  /** Takes S q_t for every neuron at step t: one Lanczos step with full reorthogonalisation. */
  absorb(products: Float64Array, t: number, tolerance: number, checkEvery: number): void {
    const { name, neurons, dim } = this.block;
    checkFiniteRows(products, neurons, dim, name, 'S·q (Lanczos)');
    const w = this.work;
    for (let j = 0; j < neurons; j++) {
      if (this.active[j] !== 1 || this.length[j] !== t || t >= this.steps) continue;
      w.set(products.subarray(j * dim, (j + 1) * dim));
      this.images.set(w, (j * this.steps + t) * dim);
      this.scale[j] = Math.max(this.scale[j] as number, norm(w));
      const qt = this.row(j, t);
      const a = dot(this.basis, w, dim, qt, 0);
      this.alpha[j * this.steps + t] = a;
      // w − α q_t − β q_{t−1} is what plain Lanczos keeps; full reorthogonalisation against q_0…q_t does that
      // and also removes the rounding drift that would otherwise bring back converged Ritz vectors.
      const b = orthogonaliseAgainst(w, this.basis, t + 1, dim, 0, this.row(j, 0));
      this.length[j] = t + 1;
      const s = this.scale[j] as number;
      if (b <= BREAKDOWN * s || t + 1 >= dim) {
        this.beta[j * this.steps + t] = 0; // invariant subspace: the Ritz pairs are exact
        this.active[j] = 0;
        continue;
      }
      this.beta[j * this.steps + t] = b;
      const next = this.row(j, t + 1);
      for (let i = 0; i < dim; i++) this.basis[next + i] = (w[i] as number) / b;
      if ((t + 1) % checkEvery === 0 || t + 1 === this.steps) {
        // ‖S x − θ x‖ = β_t·|last coordinate of y| for the Ritz pair (θ, x = Q y).
        const { vectors } = this.ritz(j);
        const k = t + 1;
        const resMin = b * Math.abs(vectors[k - 1] as number);
        const resMax = b * Math.abs(vectors[k * k - 1] as number);
        if (Math.max(resMin, resMax) <= tolerance * s) this.active[j] = 0;
      }
    }
  }

  /** Eigenpairs of neuron j's current tridiagonal T (rows of `vectors` are Ritz coordinates). */
  ritz(j: number): { values: Float64Array; vectors: Float64Array } {
    const k = this.length[j] as number;
    const base = j * this.steps;
    return tridiagonalEigen(this.alpha.slice(base, base + k), this.beta.slice(base, base + Math.max(k - 1, 0)));
  }

  /**
   * v = Σ_i y_i q_i for Ritz coordinates `y` (row `index` of `vectors`), written to `out` at `outOff`, unit.
   * With `image`, also S v = Σ_i y_i S q_i (same scaling) from the stored products, written to `image`.
   */
  ritzVector(j: number, vectors: Float64Array, index: number, out: Float64Array, outOff: number, image?: Float64Array): void {
    const k = this.length[j] as number;
    const { dim } = this.block;
    const weights = new Float64Array(k);
    for (let i = 0; i < k; i++) weights[i] = vectors[index * k + i] as number;
    out.fill(0, outOff, outOff + dim);
    for (let i = 0; i < k; i++) {
      const y = weights[i] as number;
      const q = this.row(j, i);
      for (let c = 0; c < dim; c++) out[outOff + c] = (out[outOff + c] as number) + y * (this.basis[q + c] as number);
    }
    const length = normalise(out, dim, outOff);
    if (length === 0) {
      out.set(this.basis.subarray(this.row(j, 0), this.row(j, 0) + dim), outOff);
      weights.fill(0);
      weights[0] = 1;
    } else {
      for (let i = 0; i < k; i++) weights[i] = (weights[i] as number) / length;
    }
    if (image === undefined) return;
    image.fill(0, outOff, outOff + dim);
    for (let i = 0; i < k; i++) {
      const y = weights[i] as number;
      const q = (j * this.steps + i) * dim;
      for (let c = 0; c < dim; c++) image[outOff + c] = (image[outOff + c] as number) + y * (this.images[q + c] as number);
    }
  }

  /** Neurons still active after a full round restart from v_min + v_max (when `restart`) or stop. */
  endRound(restart: boolean): boolean {
    const { neurons, dim } = this.block;
    let any = false;
    const start = new Float64Array(dim * 2);
    for (let j = 0; j < neurons; j++) {
      if (this.active[j] !== 1) continue;
      if (!restart) {
        this.active[j] = 0;
        continue;
      }
      const k = this.length[j] as number;
      const { vectors } = this.ritz(j);
      this.ritzVector(j, vectors, 0, start, 0);
      this.ritzVector(j, vectors, k - 1, start, dim);
      const q0 = this.row(j, 0);
      for (let i = 0; i < dim; i++) this.basis[q0 + i] = (start[i] as number) + (start[dim + i] as number);
      if (normalise(this.basis, dim, q0) === 0) this.basis.set(start.subarray(0, dim), q0);
      this.length[j] = 0;
      any = true;
    }
    return any;
  }
}

/**
 * Batched Lanczos (algorithms.md §2.3, "use an iterative solver"): every `operator.multiply` call (full data)
 * advances the Krylov space of every neuron of every block by one vector. Full reorthogonalisation keeps the
 * basis orthonormal (dim ≤ ~600, so O(k²·dim) per neuron is cheap). λ_min and λ_max with their Ritz vectors
 * come from the k × k tridiagonal; a neuron stops early on breakdown (an invariant subspace: exact pairs)
 * or when both residual estimates are below tolerance. Neurons that stopped pass zero vectors, which the
 * network operator skips (its cost falls as neurons converge). The residuals ‖S v − λ v‖ use S v = Σ y_i S q_i
 * from the stored full-data products (the operator is linear), so no extra pass is needed.
 * Memory: neurons·(2k+1)·dim doubles per block.
 */
export class LanczosEigenSolver implements EigenSolver {
  readonly id = 'lanczos';

  constructor(private readonly options: LanczosEigenOptions) {}

  async solve(operator: SplittingOperator, options: EigenSolveOptions = {}): Promise<EigenResult[]> {
    const o = this.options;
    const rng = new SeededRandom(o.seed);
    const states = operator.blocks.map((b) => new BlockKrylov(b, o.steps, rng));
    const maxSteps = states.reduce((m, s) => Math.max(m, s.steps), 0);
    const totalSteps = maxSteps * (o.restarts + 1);
    for (let round = 0; round <= o.restarts; round++) {
      for (let t = 0; t < maxSteps; t++) {
        if (!states.some((s) => s.active.some((a, j) => a === 1 && s.length[j] === t))) break;
        throwIfAborted(options.signal);
        const products = await operator.multiply(states.map((s) => s.vectors(t)));
        states.forEach((s, b) => s.absorb(products[b] as Float64Array, t, o.tolerance, o.checkEvery));
        options.onProgress?.(round * maxSteps + t + 1, totalSteps, `lanczos: round ${round + 1}, step ${t + 1}`);
      }
      const again = states.map((s) => s.endRound(round < o.restarts)).some(Boolean);
      if (!again) break;
    }

    const extracted = states.map((s) => {
      const { neurons, dim } = s.block;
      const lambdaMin = new Float64Array(neurons);
      const lambdaMax = new Float64Array(neurons);
      const vMin = new Float64Array(neurons * dim);
      const vMax = new Float64Array(neurons * dim);
      const svMin = new Float64Array(neurons * dim);
      const svMax = new Float64Array(neurons * dim);
      for (let j = 0; j < neurons; j++) {
        const k = s.length[j] as number;
        const { values, vectors } = s.ritz(j);
        lambdaMin[j] = values[0] as number;
        lambdaMax[j] = values[k - 1] as number;
        s.ritzVector(j, vectors, 0, vMin, j * dim, svMin);
        s.ritzVector(j, vectors, k - 1, vMax, j * dim, svMax);
      }
      return { lambdaMin, lambdaMax, vMin, vMax, svMin, svMax };
    });
    return states.map((s, b) => {
      const { name, neurons, dim } = s.block;
      const { svMin, svMax, ...e } = extracted[b] as (typeof extracted)[number];
      checkFiniteRows(svMin, neurons, dim, name, 'S·v (full data)');
      checkFiniteRows(svMax, neurons, dim, name, 'S·v (full data)');
      const residualMin = residualNorms(svMin, e.vMin, e.lambdaMin, neurons, dim);
      const residualMax = residualNorms(svMax, e.vMax, e.lambdaMax, neurons, dim);
      return {
        block: name,
        neurons,
        dim,
        ...e,
        residualMin,
        residualMax,
        // Flags from the measured residuals (the stopping test used estimates against the largest ‖S q‖).
        ...convergence(residualMin, residualMax, e.lambdaMin, e.lambdaMax, o.tolerance),
      };
    });
  }
}

/** The `lanczos` eigen solver: batched Krylov on full-data S·v products. */
@injectable()
export class LanczosEigenSolverContribution implements EigenSolverContribution<LanczosEigenOptions> {
  readonly id = 'lanczos';
  readonly description = 'Batched Lanczos with full reorthogonalisation on full-data S·v products (both extremes from one Krylov space)';
  readonly optionsSchema = lanczosOptionsSchema;

  create(options: LanczosEigenOptions): EigenSolver {
    return new LanczosEigenSolver(options);
  }
}
