import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ActivationKind, NetworkSpec, WeightMap, Dataset } from '@mitosis/core';
import { NetworkModel, useBackend } from '@mitosis/engine';
import { createSplittingOperator } from './splitting-operator.js';
import { chainSetup, wideMobileNet } from './test-networks.js';
import { tf } from './tf.js';

/*
 * Issue 18: on wasm the operator runs fused kernels (batch norm + activation with its input gradient, the
 * activation terms, the row and transposed products with zero-padded patch columns, the merged all-sample
 * cache entry). Its products and matrices must equal the cpu backend's (every kernel TF.js's own, the backend
 * the oracle tests use) within float32 rounding.
 */

interface Products {
  full: Float64Array[][];
  batch: Float64Array[][];
  matrices: Float64Array[];
  kernels: string[];
  /** Inference batch-norm kernels run by the full product (its network pass). */
  batchNormKernels: number;
  passes: number;
}

async function products(backend: 'cpu' | 'wasm', spec: NetworkSpec, weights: WeightMap, data: Dataset): Promise<Products> {
  await useBackend(backend);
  const model = new NetworkModel(spec, weights);
  try {
    const op = createSplittingOperator(model, data, { loss: 'mse', batchSize: 4 });
    try {
      const sets = [0, 1].map((s) => op.blocks.map((b, k) => Float64Array.from({ length: b.neurons * b.dim }, (_, i) => Math.cos(0.37 * i + 1.3 * k + 2.1 * s))));
      let full: Float64Array[][] = [];
      const info = await tf.profile(async () => {
        full = await op.multiplyMany(sets);
      });
      const batch = await op.multiplyMany(sets, 1);
      const passes = op.networkPasses;
      const matrices = await Promise.all(op.blocks.map((_, b) => op.matrices(b)));
      const batchNormKernels = info.kernels.filter((k) => k.name === 'MitosisBatchNormActInfer').length;
      return { full, batch, matrices, kernels: info.kernelNames, batchNormKernels, passes };
    } finally {
      op.dispose();
    }
  } finally {
    model.dispose();
  }
}

function assertClose(actual: Float64Array, expected: Float64Array, label: string): void {
  const scale = Math.max(...expected.map(Math.abs));
  assert.ok(scale > 0, `${label}: all zero`);
  let err = 0;
  for (let i = 0; i < expected.length; i++) err = Math.max(err, Math.abs(actual[i]! - expected[i]!));
  assert.ok(err <= 2e-4 * scale, `${label}: max error ${(err / scale).toExponential(2)} of the largest entry`);
}

for (const [a, b] of [
  ['swish', 'relu6'],
  ['relu', 'swish'],
] as [ActivationKind, ActivationKind][]) {
  test(`wasm (fused kernels) S·v and matrices equal the cpu backend's: ${a}/${b}`, async () => {
    const spec = wideMobileNet(a, b);
    const { weights, data } = chainSetup(spec, 7, [8, 8, 3], 12);
    const cpu = await products('cpu', spec, weights, data);
    const wasm = await products('wasm', spec, weights, data);
    try {
      for (const name of ['MitosisActivationTerms', 'MitosisBatchNormActInferGrad', 'MitosisTransposedProduct', 'MitosisRowMatMul', 'MitosisMulPair', 'MitosisMulAdd']) {
        assert.ok(wasm.kernels.includes(name), `wasm runs ${name}: ${[...new Set(wasm.kernels)].join(', ')}`);
      }
      // One inference batch-norm kernel per batch norm: z is formed inside the activation terms, not computed
      // by a second kernel.
      const batchNorms = spec.nodes.filter((n) => n.op === 'batchNorm').length;
      assert.equal(wasm.batchNormKernels, batchNorms);
      // The full pass used the merged entry (one network pass), the minibatch product its own.
      assert.equal(wasm.passes, 2);
      cpu.full.forEach((set, s) => set.forEach((v, k) => assertClose(wasm.full[s]![k]!, v, `set ${s} block ${k} (all samples)`)));
      cpu.batch.forEach((set, s) => set.forEach((v, k) => assertClose(wasm.batch[s]![k]!, v, `set ${s} block ${k} (minibatch 1)`)));
      cpu.matrices.forEach((m, k) => assertClose(wasm.matrices[k]!, m, `matrices of block ${k}`));
    } finally {
      await useBackend('cpu');
    }
  });
}
