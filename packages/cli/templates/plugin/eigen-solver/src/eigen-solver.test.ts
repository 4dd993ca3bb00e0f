import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { EigenSolverRegistry, loadPlugins, type EigenSolver, type SplittingOperator } from '@mitosis/core';

/** The plugin's folder: tests load it exactly as mitosis does, from its package.json. */
const pluginDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

async function solver(options: object = {}): Promise<EigenSolver> {
  const { container } = await loadPlugins([pluginDir]);
  return container.get(EigenSolverRegistry).create('{{id}}', options);
}

/** An operator over fixed matrices: one block of neurons, each a `dim`×`dim` symmetric matrix. */
function operator(matrices: number[][][]): SplittingOperator {
  const dim = matrices[0]?.length ?? 0;
  const flat = Float64Array.from(matrices.flat(2));
  return {
    blocks: [{ name: 'fc1', neurons: matrices.length, dim }],
    batchCount: 1,
    matrices: async () => flat,
    multiply: async ([v]) => [
      Float64Array.from({ length: matrices.length * dim }, (_, k) => {
        const j = Math.floor(k / dim);
        const i = k % dim;
        return (matrices[j]?.[i] ?? []).reduce((sum, s, c) => sum + s * (v?.[j * dim + c] ?? 0), 0);
      }),
    ],
  };
}

describe('{{id}} eigen solver', () => {
  it('loads through the plugin loader and validates its options', async () => {
    const { plugins } = await loadPlugins([pluginDir]);
    assert.deepEqual(plugins.map((p) => p.manifest.id), ['{{id}}']);
    await assert.rejects(solver({ tolerance: -1 }), /tolerance/);
  });

  it('finds λ_min and λ_max with unit eigenvectors', async () => {
    // Neuron 0: eigenvalues 3 (v = (1, 1, 0)/√2), 1, −4 (v = e₂). Neuron 1: diag(0.5, −2, 1).
    const [result] = await (await solver()).solve(operator([
      [[2, 1, 0], [1, 2, 0], [0, 0, -4]],
      [[0.5, 0, 0], [0, -2, 0], [0, 0, 1]],
    ]));
    assert.ok(result !== undefined);
    const close = (a: number, b: number, tol = 1e-5): void => assert.ok(Math.abs(a - b) < tol, `${a} vs ${b}`);
    close(result.lambdaMin[0]!, -4);
    close(result.lambdaMax[0]!, 3);
    close(result.lambdaMin[1]!, -2);
    close(result.lambdaMax[1]!, 1);
    close(Math.abs(result.vMin[2]!), 1);
    close(Math.abs(result.vMax[0]! + result.vMax[1]!), Math.SQRT2);
    close(Math.abs(result.vMin[3 + 1]!), 1);
    assert.deepEqual([...result.convergedMin!, ...result.convergedMax!], [1, 1, 1, 1]);
    for (const r of [...result.residualMin, ...result.residualMax]) assert.ok(r < 1e-5, `residual ${r}`);
  });

  it('marks a pair that did not converge within maxIterations', async () => {
    // Eigenvalues 1 and 0.999: the power iteration for λ_max needs far more than 3 steps.
    const [result] = await (await solver({ maxIterations: 3, tolerance: 1e-12 })).solve(operator([[[1, 0], [0, 0.999]]]));
    assert.equal(result?.convergedMax?.[0], 0);
  });
});
