import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NasError, SeededRandom } from '@mitosis/core';
import { ExplicitSplittingOperator } from './explicit-splitting-operator.js';
import { symmetricWithSpectrum } from './test-matrices.js';

describe('ExplicitSplittingOperator', () => {
  const rng = new SeededRandom(4);
  const dim = 5;
  const neurons = 3;
  const matrices = new Float64Array(neurons * dim * dim);
  for (let j = 0; j < neurons; j++) matrices.set(symmetricWithSpectrum([-2, -1, 0, 1, 3].map((x) => x * (j + 1)), rng), j * dim * dim);
  const op = new ExplicitSplittingOperator([{ name: 'fc1', neurons, dim, matrices }], { batchCount: 7, rank: 2, scale: 0.5, seed: 9 });

  it('batch matrices are symmetric, differ from S and average exactly to S', () => {
    for (let j = 0; j < neurons; j++) {
      const mean = new Float64Array(dim * dim);
      let spread = 0;
      for (let b = 0; b < op.batchCount; b++) {
        const m = op.batchMatrix(0, j, b);
        for (let i = 0; i < dim; i++) for (let k = 0; k < dim; k++) assert.ok(Math.abs(m[i * dim + k]! - m[k * dim + i]!) < 1e-14);
        m.forEach((x, i) => {
          mean[i] = (mean[i] as number) + x / op.batchCount;
          spread = Math.max(spread, Math.abs(x - (matrices[j * dim * dim + i] as number)));
        });
      }
      assert.ok(spread > 0.1, `noise present (${spread})`);
      mean.forEach((x, i) => assert.ok(Math.abs(x - (matrices[j * dim * dim + i] as number)) < 1e-13));
    }
  });

  it('multiply(V, b) is the batch matrix times v; multiply(V) the full matrix; calls are counted', async () => {
    const v = Float64Array.from({ length: neurons * dim }, () => rng.normal());
    const [full] = await op.multiply([v]);
    const [batch] = await op.multiply([v], 4);
    for (let j = 0; j < neurons; j++) {
      const m = op.batchMatrix(0, j, 4);
      for (let i = 0; i < dim; i++) {
        let sb = 0;
        let sf = 0;
        for (let k = 0; k < dim; k++) {
          sb += (m[i * dim + k] as number) * (v[j * dim + k] as number);
          sf += (matrices[j * dim * dim + i * dim + k] as number) * (v[j * dim + k] as number);
        }
        assert.ok(Math.abs(sb - (batch as Float64Array)[j * dim + i]!) < 1e-12);
        assert.ok(Math.abs(sf - (full as Float64Array)[j * dim + i]!) < 1e-12);
      }
    }
    assert.equal(op.multiplyCalls, 2);
    assert.deepEqual(await op.matrices(0), matrices);
  });

  it('rejects wrong shapes and batch indices with NasErrors', async () => {
    await assert.rejects(op.multiply([new Float64Array(3)]), (e: unknown) => NasError.is(e, 'E_SHAPE_MISMATCH') && e.details['block'] === 'fc1');
    await assert.rejects(op.multiply([]), (e: unknown) => NasError.is(e, 'E_SHAPE_MISMATCH'));
    await assert.rejects(op.multiply([new Float64Array(neurons * dim)], 7), (e: unknown) => NasError.is(e, 'E_USAGE'));
    await assert.rejects(op.matrices(1), (e: unknown) => NasError.is(e, 'E_USAGE'));
    assert.throws(
      () => new ExplicitSplittingOperator([{ name: 'x', neurons: 2, dim: 2, matrices: new Float64Array(7) }]),
      (e: unknown) => NasError.is(e, 'E_SHAPE_MISMATCH') && e.details['block'] === 'x',
    );
  });
});
