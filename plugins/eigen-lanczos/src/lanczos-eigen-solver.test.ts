import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Container } from '@mitosis/core/di';
import { EigenSolverRegistry, NasError, SeededRandom, type EigenResult } from '@mitosis/core';
import { ExplicitSplittingOperator, compareWithExact, splittingLikeBlock, symmetricWithSpectrum } from '@mitosis/linalg';
import lanczosModule, { LanczosEigenSolver, type LanczosEigenOptions } from './index.js';

const defaults: LanczosEigenOptions = { steps: 40, tolerance: 1e-3, restarts: 0, checkEvery: 4, seed: 1 };

describe('LanczosEigenSolver', () => {
  it('check F: exact after 3 steps (the Krylov space is all of R³), residuals at rounding level', async () => {
    const F = Float64Array.of(2, 1, 0, 1, -1, 0.5, 0, 0.5, 0.3);
    const op = new ExplicitSplittingOperator([{ name: 'f', neurons: 1, dim: 3, matrices: F }]);
    const [r] = await new LanczosEigenSolver(defaults).solve(op);
    assert.ok(Math.abs(r!.lambdaMin[0]! + 1.435182425313032) < 1e-14);
    assert.ok(Math.abs(r!.lambdaMax[0]! - 2.313540459762819) < 1e-14);
    assert.ok(r!.residualMin[0]! < 1e-14 && r!.residualMax[0]! < 1e-14);
    assert.equal(op.multiplyCalls, 3, 'one pass per step; the residuals come from the stored products');
  });

  it('d = 288 (12 neurons) and d = 576 (2 neurons): the 10 most negative within 2% and |cos| ≥ 0.98, one multiply per step for all', async () => {
    const rng = new SeededRandom(21);
    const blocks = [splittingLikeBlock('conv1', 12, 288, rng), splittingLikeBlock('conv2', 2, 576, rng)];
    const op = new ExplicitSplittingOperator(blocks);
    const results = await new LanczosEigenSolver(defaults).solve(op);
    blocks.forEach((block, b) => {
      const q = compareWithExact(block, results[b]!, 10);
      assert.ok(q.lambda < 0.02 && q.cos > 0.98 && q.lambdaMax < 0.02 && q.cosMax > 0.98, `${block.name}: ${JSON.stringify(q)}`);
      const scale = Math.max(...results[b]!.lambdaMax.map(Math.abs));
      assert.ok(Math.max(...results[b]!.residualMin, ...results[b]!.residualMax) < 1e-3 * scale);
    });
    assert.ok(op.multiplyCalls <= defaults.steps, `${op.multiplyCalls} calls`);
  });

  it('a flatter spectrum needs the full k steps; restarts improve what k alone gives', async () => {
    const rng = new SeededRandom(4);
    const dim = 200;
    const spectrum = Array.from({ length: dim }, (_, i) => (i % 2 === 0 ? -1 : 1) * (Math.floor(i / 2) + 1) ** -0.25);
    const block = { name: 'flat', neurons: 1, dim, matrices: symmetricWithSpectrum(spectrum, rng) };
    const short = await new LanczosEigenSolver({ ...defaults, steps: 12 }).solve(new ExplicitSplittingOperator([block]));
    const restarted = await new LanczosEigenSolver({ ...defaults, steps: 12, restarts: 4 }).solve(new ExplicitSplittingOperator([block]));
    assert.ok(restarted[0]!.residualMin[0]! < short[0]!.residualMin[0]!, `${restarted[0]!.residualMin[0]} vs ${short[0]!.residualMin[0]}`);
    const full = await new LanczosEigenSolver(defaults).solve(new ExplicitSplittingOperator([block]));
    const q = compareWithExact(block, full[0]!, 1);
    assert.ok(q.lambda < 0.02 && q.lambdaMax < 0.02, JSON.stringify(q));
  });

  it('degenerate blocks: zero S, dim 1, dim < k (breakdown) — exact, finite, no hang', async () => {
    const rng = new SeededRandom(6);
    const small = symmetricWithSpectrum([-2, 0.5, 1, 3, 3], rng);
    const op = new ExplicitSplittingOperator([
      { name: 'zero', neurons: 2, dim: 5, matrices: new Float64Array(50) },
      { name: 'scalar', neurons: 2, dim: 1, matrices: Float64Array.of(-3, 5) },
      { name: 'small', neurons: 1, dim: 5, matrices: small },
    ]);
    const [zero, scalar, five] = await new LanczosEigenSolver(defaults).solve(op);
    assert.deepEqual([...zero!.lambdaMin, ...zero!.lambdaMax, ...zero!.residualMin, ...zero!.residualMax], new Array(8).fill(0));
    let n2 = 0;
    for (let i = 0; i < 5; i++) n2 += zero!.vMin[i]! ** 2;
    assert.ok(Math.abs(n2 - 1) < 1e-12);
    assert.deepEqual([...scalar!.lambdaMin], [-3, 5]);
    assert.deepEqual([...scalar!.lambdaMax], [-3, 5]);
    assert.ok(Math.abs(five!.lambdaMin[0]! + 2) < 1e-12 && Math.abs(five!.lambdaMax[0]! - 3) < 1e-12);
    assert.ok(five!.residualMin[0]! < 1e-12 && five!.residualMax[0]! < 1e-12);
    assert.ok(op.multiplyCalls <= 5, `${op.multiplyCalls} calls`);
  });

  it('a NaN product is E_NUMERICAL naming the block and the neuron', async () => {
    const m = new Float64Array(3 * 4);
    m[8 + 1] = Number.POSITIVE_INFINITY;
    const op = new ExplicitSplittingOperator([{ name: 'pw', neurons: 3, dim: 2, matrices: m }]);
    await assert.rejects(new LanczosEigenSolver(defaults).solve(op), (e: unknown) =>
      NasError.is(e, 'E_NUMERICAL') && e.details['block'] === 'pw' && e.details['neuron'] === 2);
  });
});

describe('eigen-lanczos plugin module', () => {
  it('registers "lanczos" with defaults', () => {
    const container = new Container({ defaultScope: 'Singleton' });
    container.bind(EigenSolverRegistry).toSelf();
    container.load(lanczosModule);
    const registry = container.get(EigenSolverRegistry);
    assert.deepEqual(registry.options('lanczos', {}), { ...defaults, restarts: 2, checkEvery: 1 });
    assert.throws(() => registry.create('lanczos', { steps: 0 }), (e: unknown) => NasError.is(e, 'E_OPTIONS_INVALID'));
  });
});
