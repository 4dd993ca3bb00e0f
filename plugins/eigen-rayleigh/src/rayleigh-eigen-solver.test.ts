import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Container } from '@mitosis/core/di';
import { EigenSolverRegistry, NasError, SeededRandom, type EigenResult } from '@mitosis/core';
import { ExplicitSplittingOperator, compareWithExact, splittingLikeBlock, symmetricExtremeEigen, symmetricWithSpectrum, type ExplicitBlock } from '@mitosis/linalg';
import rayleighModule, { RayleighEigenSolver, type RayleighEigenOptions } from './index.js';

/** The schema defaults (the paper's minibatch steps, 8 epochs, rate halved every epoch, stop on the residual). */
const defaults: RayleighEigenOptions = {
  batchMode: 'minibatch',
  epochs: 8,
  learningRate: 0.04,
  learningRateDecay: 0.5,
  decayEvery: 1,
  momentum: 0.9,
  alpha: 0.9,
  epsilon: 1e-8,
  averageEpochs: 1,
  residualTolerance: 1e-3,
  stopTolerance: 0,
  seed: 1,
};

/** Long full-data steps for near-random spectra (tiny gaps; the defaults before real-data tuning). */
const longFull: RayleighEigenOptions = {
  batchMode: 'full',
  epochs: 80,
  learningRate: 0.02,
  learningRateDecay: 0.8,
  decayEvery: 10,
  momentum: 0.9,
  alpha: 0.9,
  epsilon: 1e-8,
  averageEpochs: 20,
  // Effectively off: every step runs (the call counts below are exact).
  residualTolerance: 1e-14,
  stopTolerance: 0,
  seed: 1,
};

/** The paper's per-minibatch steps (λ and v from the last epoch), with a learning rate for 20 minibatches. */
const paper: RayleighEigenOptions = {
  batchMode: 'minibatch',
  epochs: 10,
  learningRate: 1e-2,
  learningRateDecay: 0.2,
  decayEvery: 2,
  momentum: 0.9,
  alpha: 0.9,
  epsilon: 1e-8,
  averageEpochs: 1,
  residualTolerance: 1e-14,
  stopTolerance: 0,
  seed: 1,
};

/** An explicit operator with `multiplyMany` (one call for several vector sets), counting its calls. */
class ManyOperator extends ExplicitSplittingOperator {
  manyCalls = 0;

  async multiplyMany(sets: readonly (readonly Float64Array[])[], batch?: number): Promise<Float64Array[][]> {
    this.manyCalls++;
    const out: Float64Array[][] = [];
    for (const set of sets) out.push(await this.multiply(set, batch));
    return out;
  }
}

/** An explicit operator that counts the all-zero rows it is given (retired neurons). */
class ZeroCountingOperator extends ExplicitSplittingOperator {
  zeroRows = 0;

  override async multiply(vectors: readonly Float64Array[], batch?: number): Promise<Float64Array[]> {
    this.blocks.forEach((block, b) => {
      for (let j = 0; j < block.neurons; j++) {
        if (vectors[b]!.subarray(j * block.dim, (j + 1) * block.dim).every((x) => x === 0)) this.zeroRows++;
      }
    });
    return super.multiply(vectors, batch);
  }
}

describe('RayleighEigenSolver', () => {
  it('long full-data steps on near-random spectra, d = 288 and 576: within 2% and |cos| ≥ 0.98; multiplyMany carries min and max', async () => {
    const rng = new SeededRandom(21);
    const blocks = [splittingLikeBlock('conv1', 12, 288, rng), splittingLikeBlock('conv2', 2, 576, rng)];
    const plain = new ExplicitSplittingOperator(blocks);
    const results = await new RayleighEigenSolver(longFull).solve(plain);
    assert.equal(plain.multiplyCalls, 2 * (80 + 1));
    blocks.forEach((block, b) => {
      const q = compareWithExact(block, results[b]!, 10);
      assert.ok(q.lambda < 0.02 && q.cos > 0.98 && q.lambdaMax < 0.02 && q.cosMax > 0.98, `${block.name}: ${JSON.stringify(q)}`);
    });
    const many = new ManyOperator(blocks);
    const again = await new RayleighEigenSolver(longFull).solve(many);
    assert.equal(many.manyCalls, 80 + 1, 'one multiplyMany per step and one for the residuals');
    assert.deepEqual(again, results);
  });

  it('defaults on correlated-input spectra (gap 40% of the spread, the smallest on the MNIST bench) with minibatch noise, d = 288 and 576: within 2%, |cos| ≥ 0.98', async () => {
    const rng = new SeededRandom(4);
    const make = (name: string, neurons: number, dim: number): ExplicitBlock => {
      const matrices = new Float64Array(neurons * dim * dim);
      for (let j = 0; j < neurons; j++) {
        const scale = 0.5 + rng.next();
        // λ_min = −scale, λ_max = scale, the rest spread over [−0.2, 0.2]·scale.
        const values = Array.from({ length: dim }, (_, i) => (i === 0 ? -1 : i === dim - 1 ? 1 : 0.4 * rng.next() - 0.2) * scale);
        matrices.set(symmetricWithSpectrum(values, rng), j * dim * dim);
      }
      return { name, neurons, dim, matrices };
    };
    const blocks = [make('conv1', 12, 288), make('conv2', 2, 576)];
    const op = new ZeroCountingOperator(blocks, { batchCount: 4, rank: 4, scale: 0.05, seed: 3 });
    const results = await new RayleighEigenSolver(defaults).solve(op);
    blocks.forEach((block, b) => {
      const q = compareWithExact(block, results[b]!, 10);
      assert.ok(q.lambda < 0.02 && q.cos > 0.98 && q.lambdaMax < 0.02 && q.cosMax > 0.98, `${block.name}: ${JSON.stringify(q)}`);
    });
    assert.equal(op.multiplyCalls, 2 * (8 * 4 + 1));
  });

  it('stops on the residual: neurons within residualTolerance retire (zero rows); the flags are the final relative residuals', async () => {
    const F = Float64Array.of(2, 1, 0, 1, -1, 0.5, 0, 0.5, 0.3);
    const block = { name: 'f', neurons: 2, dim: 3, matrices: Float64Array.from([...F, ...F.map((x) => 2 * x)]) };
    const op = new ZeroCountingOperator([block], { batchCount: 4, rank: 1, scale: 0, seed: 3 });
    const options = { ...defaults, batchMode: 'full' as const, epochs: 300, learningRate: 0.05, learningRateDecay: 0.9, decayEvery: 20 };
    const [r] = await new RayleighEigenSolver(options).solve(op);
    assert.ok(op.zeroRows > 0, 'retired neurons pass zero rows');
    const exact = compareWithExact(block, r!, 2);
    for (let j = 0; j < 2; j++) {
      assert.equal(r!.convergedMin![j], r!.relativeResidualMin![j]! <= 1e-3 ? 1 : 0);
      assert.equal(r!.convergedMax![j], r!.relativeResidualMax![j]! <= 1e-3 ? 1 : 0);
    }
    assert.equal(r!.tolerance, 1e-3);
    assert.ok(r!.convergedMin!.every((c) => c === 1), 'both λ_min pairs converge here');
    assert.ok(exact.lambda < 0.02 && exact.cos > 0.98, JSON.stringify(exact));
  });

  it('near-random spectra (gaps ≤ 3%) with the defaults: every pair is either accurate (λ within 2%, |cos| ≥ 0.98) or flagged', async () => {
    const rng = new SeededRandom(21);
    const block = splittingLikeBlock('conv', 12, 288, rng);
    const op = new ExplicitSplittingOperator([block], { batchCount: 4, rank: 4, scale: 0.05, seed: 3 });
    const [r] = await new RayleighEigenSolver(defaults).solve(op);
    let flagged = 0;
    for (let j = 0; j < block.neurons; j++) {
      const { values, vMin } = symmetricExtremeEigen(block.matrices, block.dim, j * block.dim * block.dim);
      const lambda = values[0]!;
      let c = 0;
      for (let i = 0; i < block.dim; i++) c += vMin[i]! * r!.vMin[j * block.dim + i]!;
      const accurate = Math.abs(r!.lambdaMin[j]! - lambda) <= 0.02 * Math.abs(lambda) && Math.abs(c) >= 0.98;
      if (r!.convergedMin![j] === 0) flagged++;
      else assert.ok(accurate, `neuron ${j} is marked converged but λ ${r!.lambdaMin[j]} vs ${lambda}, |cos| ${Math.abs(c)}`);
    }
    assert.ok(flagged > 0, 'the stress case leaves some neurons flagged with the default budget');
  });

  it('check F with minibatch noise (paper mode): λ_min and λ_max within 2%, |cos| ≥ 0.98', async () => {
    const F = Float64Array.of(2, 1, 0, 1, -1, 0.5, 0, 0.5, 0.3);
    const block = { name: 'f', neurons: 1, dim: 3, matrices: F };
    const op = new ExplicitSplittingOperator([block], { batchCount: 20, rank: 2, scale: 0.2, seed: 5 });
    const [r] = await new RayleighEigenSolver(paper).solve(op);
    const q = compareWithExact(block, r!, 1);
    assert.ok(q.lambda < 0.02 && q.lambdaMax < 0.02 && q.cos > 0.98 && q.cosMax > 0.98, JSON.stringify(q));
    assert.equal(op.multiplyCalls, 2 * 10 * 20 + 2);
  });

  it('paper mode, d = 288 (12 neurons) and d = 576 (2 neurons) with noise: the 10 most negative within 2% and |cos| ≥ 0.98', async () => {
    const rng = new SeededRandom(21);
    const blocks = [splittingLikeBlock('conv1', 12, 288, rng), splittingLikeBlock('conv2', 2, 576, rng)];
    const op = new ExplicitSplittingOperator(blocks, { batchCount: 20, rank: 4, scale: 0.3, seed: 8 });
    let last = 0;
    const results = await new RayleighEigenSolver(paper).solve(op, { onProgress: (done, total) => (last = done / total) });
    assert.equal(last, 1);
    blocks.forEach((block, b) => {
      const q = compareWithExact(block, results[b]!, 10);
      assert.ok(q.lambda < 0.02 && q.cos > 0.98, `${block.name}: ${JSON.stringify(q)}`);
      assert.ok(q.lambdaMax < 0.02 && q.cosMax > 0.98, `${block.name}: ${JSON.stringify(q)}`);
      assert.equal(results[b]!.block, block.name);
    });
  });

  it('degenerate blocks: zero S gives λ = 0 and residual 0; dim 1 is exact', async () => {
    const op = new ExplicitSplittingOperator([
      { name: 'zero', neurons: 2, dim: 5, matrices: new Float64Array(50) },
      { name: 'scalar', neurons: 2, dim: 1, matrices: Float64Array.of(-3, 5) },
    ], { batchCount: 3 });
    const [zero, scalar] = await new RayleighEigenSolver({ ...paper, epochs: 2 }).solve(op);
    assert.deepEqual([...zero!.lambdaMin, ...zero!.lambdaMax, ...zero!.residualMin], [0, 0, 0, 0, 0, 0]);
    for (let j = 0; j < 2; j++) {
      let n2 = 0;
      for (let i = 0; i < 5; i++) n2 += zero!.vMin[j * 5 + i]! ** 2;
      assert.ok(Math.abs(n2 - 1) < 1e-12);
    }
    assert.deepEqual([...scalar!.lambdaMin], [-3, 5]);
    assert.deepEqual([...scalar!.lambdaMax], [-3, 5]);
  });

  it('a NaN product is E_NUMERICAL naming the block and the neuron', async () => {
    const m = new Float64Array(3 * 4);
    m[4 + 3] = Number.NaN;
    const op = new ExplicitSplittingOperator([{ name: 'dw', neurons: 3, dim: 2, matrices: m }]);
    await assert.rejects(new RayleighEigenSolver(longFull).solve(op), (e: unknown) =>
      NasError.is(e, 'E_NUMERICAL') && e.details['block'] === 'dw' && e.details['neuron'] === 1);
  });
});

describe('eigen-rayleigh plugin module', () => {
  it('registers "rayleigh" with defaults', () => {
    const container = new Container({ defaultScope: 'Singleton' });
    container.bind(EigenSolverRegistry).toSelf();
    container.load(rayleighModule);
    const registry = container.get(EigenSolverRegistry);
    assert.deepEqual(registry.options('rayleigh', {}), defaults);
    assert.equal(registry.create('rayleigh', { epochs: 4 }).id, 'rayleigh');
    assert.throws(() => registry.create('rayleigh', { learningRate: 0 }), (e: unknown) => NasError.is(e, 'E_OPTIONS_INVALID'));
  });
});
