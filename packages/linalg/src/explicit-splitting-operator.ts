import { NasError, SeededRandom, type SplittingBlock, type SplittingOperator } from '@mitosis/core';
import { dot } from './vector.js';

/** One block of explicit splitting matrices: `neurons × dim × dim` row-major per neuron. */
export interface ExplicitBlock extends SplittingBlock {
  readonly matrices: Float64Array;
}

/**
 * Per-minibatch noise for stochastic solvers. Batch b of neuron j gets S_j + Σ_r c_{b,j,r} u_{j,r} u_{j,r}ᵀ,
 * with fixed random unit directions u_{j,r} and coefficients whose mean over the `batchCount` batches is
 * exactly zero, so the batch matrices average to S_j (to rounding) as minibatch estimates do.
 */
export interface BatchNoiseOptions {
  /** Minibatches in one pass (≥ 1). */
  readonly batchCount: number;
  /** Noise directions per neuron (default 4). */
  readonly rank?: number;
  /** Standard deviation of each coefficient relative to ‖S_j‖_F (default 0.3). */
  readonly scale?: number;
  readonly seed?: number;
}

/**
 * A {@link SplittingOperator} over explicit per-neuron matrices, for testing and benchmarking eigen solvers
 * without TF.js. `multiply` without a batch uses S_j itself; with a batch, the noisy batch matrix of
 * {@link BatchNoiseOptions}. Counts its calls (`multiplyCalls`, `matricesCalls`).
 */
export class ExplicitSplittingOperator implements SplittingOperator {
  readonly blocks: readonly SplittingBlock[];
  readonly batchCount: number;
  multiplyCalls = 0;
  matricesCalls = 0;
  private readonly rank: number;
  /** Per block: `neurons × rank × dim` unit directions. */
  private readonly directions: Float64Array[];
  /** Per block: `batchCount × neurons × rank` coefficients, zero-mean over batches. */
  private readonly coefficients: Float64Array[];

  constructor(
    private readonly explicit: readonly ExplicitBlock[],
    noise?: BatchNoiseOptions,
  ) {
    explicit.forEach((block, b) => {
      if (!Number.isInteger(block.neurons) || !Number.isInteger(block.dim) || block.neurons < 1 || block.dim < 1) {
        throw new NasError('E_SHAPE_MISMATCH', `Block ${b} ("${block.name}") needs integer neurons ≥ 1 and dim ≥ 1`, {
          block: block.name,
        });
      }
      if (block.matrices.length !== block.neurons * block.dim * block.dim) {
        throw new NasError(
          'E_SHAPE_MISMATCH',
          `Block "${block.name}" has ${block.matrices.length} matrix entries; expected neurons·dim² = ${block.neurons * block.dim * block.dim}`,
          { block: block.name, expected: block.neurons * block.dim * block.dim, actual: block.matrices.length },
        );
      }
    });
    this.blocks = explicit.map(({ name, neurons, dim }) => ({ name, neurons, dim }));
    const batchCount = noise?.batchCount ?? 1;
    if (!Number.isInteger(batchCount) || batchCount < 1) {
      throw new NasError('E_USAGE', `batchCount must be an integer ≥ 1, got ${batchCount}`, { batchCount });
    }
    this.batchCount = batchCount;
    this.rank = noise === undefined ? 0 : (noise.rank ?? 4);
    const rng = new SeededRandom(noise?.seed ?? 1);
    const noiseScale = noise?.scale ?? 0.3;
    this.directions = [];
    this.coefficients = [];
    for (const block of explicit) {
      const { neurons, dim } = block;
      const u = new Float64Array(neurons * this.rank * dim);
      for (let i = 0; i < u.length; i++) u[i] = rng.normal();
      for (let r = 0; r < neurons * this.rank; r++) {
        const n = Math.sqrt(dot(u, u, dim, r * dim, r * dim));
        for (let i = 0; i < dim; i++) u[r * dim + i] = (u[r * dim + i] as number) / n;
      }
      const c = new Float64Array(batchCount * neurons * this.rank);
      for (let j = 0; j < neurons; j++) {
        const off = j * dim * dim;
        const frob = Math.sqrt(dot(block.matrices, block.matrices, dim * dim, off, off));
        for (let r = 0; r < this.rank; r++) {
          let mean = 0;
          for (let b = 0; b < batchCount; b++) {
            const x = noiseScale * frob * rng.normal();
            c[(b * neurons + j) * this.rank + r] = x;
            mean += x / batchCount;
          }
          for (let b = 0; b < batchCount; b++) {
            const at = (b * neurons + j) * this.rank + r;
            c[at] = (c[at] as number) - mean;
          }
        }
      }
      this.directions.push(u);
      this.coefficients.push(c);
    }
  }

  /** S_j v_j for every neuron of every block (batch estimate when `batch` is given). */
  multiply(vectors: readonly Float64Array[], batch?: number): Promise<Float64Array[]> {
    this.multiplyCalls++;
    if (vectors.length !== this.explicit.length) {
      return Promise.reject(
        new NasError('E_SHAPE_MISMATCH', `multiply got ${vectors.length} vector blocks; the operator has ${this.explicit.length}`, {
          expected: this.explicit.length,
          actual: vectors.length,
        }),
      );
    }
    if (batch !== undefined && (!Number.isInteger(batch) || batch < 0 || batch >= this.batchCount)) {
      return Promise.reject(
        new NasError('E_USAGE', `Batch ${batch} is out of range [0, ${this.batchCount})`, { batch, batchCount: this.batchCount }),
      );
    }
    const out: Float64Array[] = [];
    for (let b = 0; b < this.explicit.length; b++) {
      const block = this.explicit[b] as ExplicitBlock;
      const v = vectors[b] as Float64Array;
      const { neurons, dim, matrices } = block;
      if (v.length !== neurons * dim) {
        return Promise.reject(
          new NasError('E_SHAPE_MISMATCH', `Vectors for block "${block.name}" have length ${v.length}; expected ${neurons * dim}`, {
            block: block.name,
            expected: neurons * dim,
            actual: v.length,
          }),
        );
      }
      const result = new Float64Array(neurons * dim);
      const u = this.directions[b] as Float64Array;
      const c = this.coefficients[b] as Float64Array;
      for (let j = 0; j < neurons; j++) {
        const mOff = j * dim * dim;
        const vOff = j * dim;
        for (let i = 0; i < dim; i++) result[vOff + i] = dot(matrices, v, dim, mOff + i * dim, vOff);
        if (batch !== undefined) {
          for (let r = 0; r < this.rank; r++) {
            const uOff = (j * this.rank + r) * dim;
            const coef = (c[(batch * neurons + j) * this.rank + r] as number) * dot(u, v, dim, uOff, vOff);
            for (let i = 0; i < dim; i++) result[vOff + i] = (result[vOff + i] as number) + coef * (u[uOff + i] as number);
          }
        }
      }
      out.push(result);
    }
    return Promise.resolve(out);
  }

  /** A copy of the full-data matrices of `block` (`neurons × dim × dim`). */
  matrices(block: number): Promise<Float64Array> {
    this.matricesCalls++;
    const found = this.explicit[block];
    if (found === undefined) {
      return Promise.reject(
        new NasError('E_USAGE', `Block ${block} does not exist (the operator has ${this.explicit.length})`, { block }),
      );
    }
    return Promise.resolve(found.matrices.slice());
  }

  /** The explicit `dim × dim` matrix of neuron `neuron` of `block` on minibatch `batch` (for checks). */
  batchMatrix(block: number, neuron: number, batch: number): Float64Array {
    const b = this.explicit[block];
    if (b === undefined || neuron < 0 || neuron >= b.neurons || batch < 0 || batch >= this.batchCount) {
      throw new NasError('E_USAGE', `No batch matrix for block ${block}, neuron ${neuron}, batch ${batch}`, { block, neuron, batch });
    }
    const { dim } = b;
    const m = b.matrices.slice(neuron * dim * dim, (neuron + 1) * dim * dim);
    const u = this.directions[block] as Float64Array;
    const c = this.coefficients[block] as Float64Array;
    for (let r = 0; r < this.rank; r++) {
      const uOff = (neuron * this.rank + r) * dim;
      const coef = c[(batch * b.neurons + neuron) * this.rank + r] as number;
      for (let i = 0; i < dim; i++) {
        for (let k = 0; k < dim; k++) {
          m[i * dim + k] = (m[i * dim + k] as number) + coef * (u[uOff + i] as number) * (u[uOff + k] as number);
        }
      }
    }
    return m;
  }
}
