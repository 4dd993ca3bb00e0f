#!/usr/bin/env node
// One training step of a search space's seed or full network, kernel by kernel: the mean step time over 10 steps
// (after 5 untimed), then tf.profile of one step — the slowest kernels with their input shapes and the time per
// kernel name. Nested kernels (a gradient kernel that runs a convolution) appear inside their callers too.
// usage: node bench/profile-train-step.mjs <space> [seed|full|<spec.json>] [batch]   (TOP=25 kernels listed)
import { readFileSync } from 'node:fs';
import { SeededRandom } from '@mitosis/core';
import { NetworkModel, Optimizer, batchTensors, trainStep, useBackend, tf } from '@mitosis/engine';
import { fullNetwork, loadSearchSpace } from '@mitosis/growth';
import { initWeights } from '@mitosis/ir';
await useBackend('wasm');
const [spaceId, which = 'full', batch = '64'] = process.argv.slice(2);
const { space } = loadSearchSpace(spaceId);
const spec = which === 'full' ? fullNetwork(space) : which === 'seed' ? space.seed : JSON.parse(readFileSync(which, 'utf8'));
const B = Number(batch);
const input = spec.nodes.find((n) => n.op === 'input');
const rng = new SeededRandom(1);
const sample = input.shape.reduce((a, b) => a * b, 1);
const data = { name: 's', task: 'classification', inputShape: input.shape, targetSize: 10, count: 4 * B, x: new Float32Array(4 * B * sample).map(() => rng.normal()), y: new Float32Array(4 * B).map(() => rng.int(10)) };
const model = new NetworkModel(spec, initWeights(spec, 0), { rng: new SeededRandom(0) });
const opt = new Optimizer({ kind: 'sgd', momentum: 0.9 });
const trainable = model.trainableVariables();
const order = new Int32Array(data.count).map((_, i) => i);
const step = () => { const { x, y } = batchTensors(data, order, 0, B); try { trainStep(model, opt, x, y, { loss: 'softmaxCrossEntropy', learningRate: 0.01, task: 'classification', varList: trainable, rng }); } finally { tf.dispose([x, y]); } };
for (let i = 0; i < 5; i++) step();
const t = performance.now(); for (let i = 0; i < 10; i++) step(); console.log(`step ${((performance.now() - t) / 10).toFixed(1)} ms`);
const prof = await tf.profile(() => { step(); });
const rows = prof.kernels.map((k) => [k.name, k.kernelTimeMs, JSON.stringify(k.inputShapes)]).sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 25));
for (const r of rows) console.log(`${r[1].toFixed(2).padStart(7)} ${r[0]} ${r[2]}`);
const by = new Map(); for (const k of prof.kernels) by.set(k.name, (by.get(k.name) ?? 0) + k.kernelTimeMs);
console.log(`${prof.kernels.length} kernels, sum ${prof.kernels.reduce((a, k) => a + k.kernelTimeMs, 0).toFixed(1)} ms: ` + [...by].sort((a, b) => b[1] - a[1]).map(([n, t]) => `${n} ${t.toFixed(1)}`).join(', '));
