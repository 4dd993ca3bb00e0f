// Per-product cost of the splitting operator on a search-space seed (default mobilenetv1-cifar), with the
// depthwise chains (the exact matrix, issue 12) and with firstActivationOnly (the operator before issue 12),
// in one process, alternating, so that both see the same machine load.
// Usage: node packages/splitting/scripts/bench-product.mjs [space] [samples] [batch] [backend] [rounds]
// cold: the first full-data S·v (one eval forward/backward per minibatch fills the cache, then the products);
// warm: a full-data S·v from the cache (min and median of `rounds`); two: multiplyMany with 2 vector sets
// (what rayleigh calls), warm.
import { readFileSync } from 'node:fs';
import { SeededRandom } from '@mitosis/core';
import { NetworkModel, useBackend } from '@mitosis/engine';
import { initWeights } from '@mitosis/ir';
import { createSplittingOperator } from '@mitosis/splitting';

const [space = 'mobilenetv1-cifar', samplesArg = '128', batchArg = '64', backend = 'wasm', roundsArg = '7'] = process.argv.slice(2);
await useBackend(backend);
const spec = JSON.parse(readFileSync(new URL(`../../../search-spaces/${space}.json`, import.meta.url), 'utf8')).seed;
const weights = initWeights(spec, 1);
const input = spec.nodes.find((n) => n.op === 'input');
const count = Number(samplesArg);
const size = input.shape.reduce((a, b) => a * b, 1);
const rng = new SeededRandom(7);
const x = new Float32Array(count * size).map(() => rng.normal());
const y = new Float32Array(count).map(() => rng.int(10));
const data = { name: 'bench', task: 'classification', inputShape: input.shape, targetSize: 10, count, x, y };
const model = new NetworkModel(spec, weights);
const modes = ['first', 'chain'];
const ops = Object.fromEntries(modes.map((m) => [m, createSplittingOperator(model, data, { loss: 'ce', batchSize: Number(batchArg), firstActivationOnly: m === 'first' })]));
const vecs = ops.chain.blocks.map((b) => new Float64Array(b.neurons * b.dim).map(() => rng.normal()));
const time = async (f) => {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
};
const res = Object.fromEntries(modes.map((m) => [m, { cold: 0, warm: [], two: [] }]));
for (const m of modes) res[m].cold = await time(() => ops[m].multiply(vecs));
for (let r = 0; r < Number(roundsArg); r++) {
  for (const m of modes) {
    res[m].warm.push(await time(() => ops[m].multiply(vecs)));
    res[m].two.push(await time(() => ops[m].multiplyMany([vecs, vecs])));
  }
}
// A second cold pass on fresh operators, in the other order.
for (const m of [...modes].reverse()) {
  const op = createSplittingOperator(model, data, { loss: 'ce', batchSize: Number(batchArg), firstActivationOnly: m === 'first' });
  res[m].cold = Math.min(res[m].cold, await time(() => op.multiply(vecs)));
  op.dispose();
}
const stat = (a) => ({ min: +Math.min(...a).toFixed(1), median: +[...a].sort((p, q) => p - q)[a.length >> 1].toFixed(1) });
const out = { space, backend, samples: count, batch: Number(batchArg), blocks: ops.chain.blocks.map((b) => `${b.name}:${b.neurons}x${b.dim}`).join(' ') };
for (const m of modes) out[m] = { coldMs: +res[m].cold.toFixed(1), warmMs: stat(res[m].warm), twoSetsMs: stat(res[m].two) };
out.ratio = {
  cold: +(res.chain.cold / res.first.cold).toFixed(2),
  warmMin: +(out.chain.warmMs.min / out.first.warmMs.min).toFixed(2),
  twoSetsMin: +(out.chain.twoSetsMs.min / out.first.twoSetsMs.min).toFixed(2),
};
console.log(JSON.stringify(out, null, 1));
for (const m of modes) ops[m].dispose();
model.dispose();
