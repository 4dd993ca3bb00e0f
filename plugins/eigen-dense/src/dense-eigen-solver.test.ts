import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Container } from '@mitosis/core/di';
import { EigenSolverRegistry, NasError, SeededRandom } from '@mitosis/core';
import { ExplicitSplittingOperator, splittingLikeBlock, symmetricEigen } from '@mitosis/linalg';
import denseModule, { DenseEigenSolver } from './index.js';

const defaults = { symmetrise: true, asymmetryTolerance: 1e-10 };
const F = Float64Array.of(2, 1, 0, 1, -1, 0.5, 0, 0.5, 0.3);

describe('DenseEigenSolver', () => {
  it('check F: λ_min, λ_max, v_min and zero residuals, with progress per neuron', async () => {
    const op = new ExplicitSplittingOperator([{ name: 'f', neurons: 2, dim: 3, matrices: Float64Array.of(...F, ...F.map((x) => -x)) }]);
    const progress: string[] = [];
    const [r] = await new DenseEigenSolver(defaults).solve(op, { onProgress: (done, total, label) => progress.push(`${done}/${total} ${label}`) });
    assert.ok(r !== undefined);
    assert.ok(Math.abs(r.lambdaMin[0]! + 1.435182425313032) < 1e-14);
    assert.ok(Math.abs(r.lambdaMax[0]! - 2.313540459762819) < 1e-14);
    assert.ok(Math.abs(r.lambdaMin[1]! + 2.313540459762819) < 1e-14);
    const expected = [0.269383246565912, -0.925380594276986, 0.266652249578325];
    assert.ok(Math.abs(Math.abs(expected.reduce((s, x, i) => s + x * r.vMin[i]!, 0)) - 1) < 1e-13);
    assert.ok(Math.max(...r.residualMin, ...r.residualMax) < 1e-14);
    assert.deepEqual(progress, ['1/2 dense: f', '2/2 dense: f']);
    assert.equal(op.multiplyCalls, 0);
  });

  it('matches the full decomposition on a d = 288 block, with unit vectors and small residuals', async () => {
    const block = splittingLikeBlock('conv', 3, 288, new SeededRandom(3));
    const [r] = await new DenseEigenSolver(defaults).solve(new ExplicitSplittingOperator([block]));
    assert.ok(r !== undefined);
    for (let j = 0; j < 3; j++) {
      const full = symmetricEigen(block.matrices, 288, j * 288 * 288);
      assert.ok(Math.abs(r.lambdaMin[j]! - full.values[0]!) < 1e-15);
      assert.ok(Math.abs(r.lambdaMax[j]! - full.values[287]!) < 1e-15);
      let n2 = 0;
      for (let i = 0; i < 288; i++) n2 += r.vMin[j * 288 + i]! ** 2;
      assert.ok(Math.abs(n2 - 1) < 1e-14);
      assert.ok(r.residualMin[j]! < 1e-15 && r.residualMax[j]! < 1e-15, `${r.residualMin[j]}`);
    }
  });

  it('degenerate blocks: all-zero S, dim 1', async () => {
    const op = new ExplicitSplittingOperator([
      { name: 'zero', neurons: 2, dim: 4, matrices: new Float64Array(32) },
      { name: 'scalar', neurons: 2, dim: 1, matrices: Float64Array.of(-3, 5) },
    ]);
    const [zero, scalar] = await new DenseEigenSolver(defaults).solve(op);
    assert.deepEqual([...zero!.lambdaMin, ...zero!.lambdaMax], [0, 0, 0, 0]);
    assert.deepEqual([...zero!.residualMin], [0, 0]);
    assert.deepEqual([...scalar!.lambdaMin], [-3, 5]);
    assert.deepEqual([...scalar!.vMax], [1, 1]);
  });

  it('NaN in S is E_NUMERICAL naming the block and the neuron', async () => {
    const m = new Float64Array(2 * 9);
    m[9 + 4] = Number.NaN;
    const op = new ExplicitSplittingOperator([{ name: 'fc2', neurons: 2, dim: 3, matrices: m }]);
    await assert.rejects(new DenseEigenSolver(defaults).solve(op), (e: unknown) => {
      assert.ok(NasError.is(e, 'E_NUMERICAL'));
      assert.equal(e.details['block'], 'fc2');
      assert.equal(e.details['neuron'], 1);
      assert.match(e.message, /fc2.*neuron 1/);
      return true;
    });
  });

  it('symmetrises by default; without it an asymmetric matrix is rejected', async () => {
    const op = new ExplicitSplittingOperator([{ name: 'a', neurons: 1, dim: 2, matrices: Float64Array.of(0, 2, 0, 0) }]);
    const [r] = await new DenseEigenSolver(defaults).solve(op);
    assert.ok(Math.abs(r!.lambdaMin[0]! + 1) < 1e-15 && Math.abs(r!.lambdaMax[0]! - 1) < 1e-15);
    await assert.rejects(new DenseEigenSolver({ ...defaults, symmetrise: false }).solve(op), (e: unknown) =>
      NasError.is(e, 'E_NUMERICAL') && e.details['block'] === 'a' && e.details['neuron'] === 0);
  });

  it('stops when the signal is aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const op = new ExplicitSplittingOperator([{ name: 'a', neurons: 1, dim: 1, matrices: Float64Array.of(1) }]);
    await assert.rejects(new DenseEigenSolver(defaults).solve(op, { signal: controller.signal }), { name: 'AbortError' });
  });
});

describe('eigen-dense plugin module', () => {
  it('registers "dense"; the registry fills defaults and rejects unknown options', () => {
    const container = new Container({ defaultScope: 'Singleton' });
    container.bind(EigenSolverRegistry).toSelf();
    container.load(denseModule);
    const registry = container.get(EigenSolverRegistry);
    assert.deepEqual(registry.ids(), ['dense']);
    assert.deepEqual(registry.options('dense', {}), defaults);
    assert.equal(registry.create('dense').id, 'dense');
    assert.throws(() => registry.create('dense', { symetrise: false }), (e: unknown) => NasError.is(e, 'E_OPTIONS_INVALID'));
  });
});
