import { useBackend, tf } from '@mitosis/engine';
import { prepareEigenBenchCase, createSplittingOperator } from '@mitosis/splitting';
const backend = process.argv[2] ?? 'wasm';
const cin = Number(process.argv[3] ?? 64);
const bs = Number(process.argv[4] ?? 32);
console.error(await useBackend(backend));
const config = { inputChannels: [cin], neurons: 64, spatial: 8, samples: 128, batchSize: 32, trainEpochs: 2, worstOf: 10, seed: 0 };
const c = await prepareEigenBenchCase(cin, config);
console.log('trainEpochMs', c.trainEpochMs.toFixed(1), 'per batch', (c.trainEpochMs/4).toFixed(1));
const op = createSplittingOperator(c.model, c.data, { loss: 'ce', batchSize: bs });
const vectors = op.blocks.map((b) => Float64Array.from({ length: b.neurons * b.dim }, () => Math.random()));
await op.multiply(vectors, 0);
let t0 = performance.now();
for (let b = 0; b < op.batchCount; b++) await op.multiply(vectors, b);
console.log('multiply epoch ms', (performance.now() - t0).toFixed(1), 'batches', op.batchCount);
t0 = performance.now();
await op.multiply(vectors);
console.log('multiply full ms', (performance.now() - t0).toFixed(1));
const prof = await tf.profile(async () => { await op.multiply(vectors, 0); });
const agg = new Map();
for (const k of prof.kernels) { const a = agg.get(k.name) ?? [0, 0]; a[0] += k.kernelTimeMs; a[1]++; agg.set(k.name, a); }
console.log([...agg].sort((a, b) => b[1][0] - a[1][0]).map(([n, [t, c]]) => `${n} ${t.toFixed(2)}ms x${c}`).join('\n'));
if (process.argv[5] === 'mat') {
  t0 = performance.now(); await op.matrices(0); console.log('matrices ms', (performance.now() - t0).toFixed(1));
  const p2 = await tf.profile(async () => { await op.matrices(0); });
  const ag = new Map();
  for (const k of p2.kernels) { const a = ag.get(k.name) ?? [0, 0]; a[0] += k.kernelTimeMs; a[1]++; ag.set(k.name, a); }
  console.log([...ag].sort((a, b) => b[1][0] - a[1][0]).map(([n, [t, c]]) => `${n} ${t.toFixed(2)}ms x${c}`).join('\n'));
}
c.model.dispose();
