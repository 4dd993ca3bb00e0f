#!/usr/bin/env node
// Where a growth round's scoring time goes, next to one training epoch on the same data: trains the space's seed
// as the run loop does (one epoch cold, one warm), then scores the seed on the round's scoring subset with each
// solver in turn on a fresh operator (cold: the first product fills the per-batch cache), counting operator
// passes and timing the cache fill, the solve and the convergence of the pairs.
// usage: node bench/profile-scoring.mjs [--space convnet-fashion] [--solvers rayleigh,lanczos,dense]
//          [--seed-epochs 1] [--options JSON (per solver id)] [--kernels] [--calls] [--backend wasm]
// --calls prints each operator call's time and, per block, how many neurons had a non-zero vector.
import { parseArgs } from 'node:util';
import { SeededRandom, notConvergedCount } from '@mitosis/core';
import { NetworkModel, train, useBackend, tf } from '@mitosis/engine';
import { loadSearchSpace, loadSpaceData, scoringSet } from '@mitosis/growth';
import { initWeights } from '@mitosis/ir';
import { createSplittingOperator } from '@mitosis/splitting';
import { RayleighEigenSolver, rayleighOptionsSchema } from '@mitosis/plugin-eigen-rayleigh';
import { LanczosEigenSolver, lanczosOptionsSchema } from '@mitosis/plugin-eigen-lanczos';
import { DenseEigenSolver, denseOptionsSchema } from '@mitosis/plugin-eigen-dense';

const { values: args } = parseArgs({
  options: {
    space: { type: 'string', default: 'convnet-fashion' },
    solvers: { type: 'string', default: 'rayleigh,lanczos,dense' },
    'seed-epochs': { type: 'string', default: '1' },
    options: { type: 'string', default: '{}' },
    kernels: { type: 'boolean', default: false },
    calls: { type: 'boolean', default: false },
    fill: { type: 'boolean', default: false },
    backend: { type: 'string', default: 'wasm' },
    seed: { type: 'string', default: '0' },
  },
});
const seed = Number(args.seed);
const perSolver = JSON.parse(args.options);
const defaultsOf = (schema) => Object.fromEntries(Object.entries(schema.properties).map(([k, s]) => [k, s.default]));
const make = {
  rayleigh: (o) => new RayleighEigenSolver({ ...defaultsOf(rayleighOptionsSchema), ...o }),
  lanczos: (o) => new LanczosEigenSolver({ ...defaultsOf(lanczosOptionsSchema), restarts: 2, ...o }),
  dense: (o) => new DenseEigenSolver({ ...defaultsOf(denseOptionsSchema), ...o }),
};

await useBackend(args.backend);
// The data and a scoring subset as the run loop makes them.
const { space } = loadSearchSpace(args.space);
const spec = space.seed;
const lossKind = space.loss === 'ce' ? 'softmaxCrossEntropy' : 'mse';
const { splits } = await loadSpaceData(space, seed);
const scoring = scoringSet(splits.train, space.scoring.samples, new SeededRandom(seed));

const model = new NetworkModel(spec, initWeights(spec, seed));
const t = space.training;
const epochTimes = [];
for (let e = 0; e < Math.max(1, Number(args['seed-epochs'])); e++) {
  const started = performance.now();
  const result = await train(model, { train: splits.train }, {
    epochs: 1,
    batchSize: t.batchSize,
    learningRate: t.learningRate,
    optimizer: t.optimizer === 'sgd' ? { kind: 'sgd', momentum: t.momentum, nesterov: t.nesterov, weightDecay: t.weightDecay } : { kind: t.optimizer, weightDecay: t.weightDecay },
    schedule: { kind: 'constant', warmupEpochs: 0 },
    loss: lossKind,
    seed: seed + e,
    progress: false,
  });
  result.optimizer.dispose();
  epochTimes.push(performance.now() - started);
}
console.log(`${args.space}: ${splits.train.count} training samples, batch ${t.batchSize}; epoch ${epochTimes.map((x) => x.toFixed(0)).join(' · ')} ms (first cold)`);
console.log(`scoring: ${scoring.count} samples, batch ${space.scoring.batchSize}`);

for (const id of args.solvers.split(',')) {
  const built = performance.now();
  const operator = createSplittingOperator(model, scoring, { loss: space.loss, batchSize: space.scoring.batchSize });
  const buildMs = performance.now() - built;
  let passes = 0;
  let batchProducts = 0;
  let vectorSets = 0;
  let firstMs = 0;
  let operatorMs = 0;
  // multiply calls multiplyMany: count the outermost call only.
  let depth = 0;
  const wrap = (name) => {
    const inner = operator[name].bind(operator);
    operator[name] = async (...a) => {
      if (depth > 0) return inner(...a);
      depth++;
      const started = performance.now();
      try {
        const out = await inner(...a);
        operatorMs += performance.now() - started;
        if (passes === 0) firstMs = performance.now() - started;
        if (args.calls) {
          const sets = name === 'multiply' ? [a[0]] : a[0];
          const live = operator.blocks.map((block, b) => {
            let n = 0;
            for (const set of sets) for (let j = 0; j < block.neurons; j++) if (set[b].subarray(j * block.dim, (j + 1) * block.dim).some((x) => x !== 0)) n++;
            return n;
          });
          console.log(`  call ${passes}: ${(performance.now() - started).toFixed(1)} ms, non-zero vectors per block ${live.join(' ')}`);
        }
        passes++;
        batchProducts += a[1] === undefined ? operator.batchCount : 1;
        vectorSets += name === 'multiplyMany' ? a[0].length : 1;
        return out;
      } finally {
        depth--;
      }
    };
  };
  wrap('multiply');
  wrap('multiplyMany');
  const solver = make[id](perSolver[id] ?? {});
  const started = performance.now();
  let profile = null;
  let results;
  if (args.kernels) {
    profile = await tf.profile(async () => {
      if (args.fill) await operator.multiply(operator.blocks.map((b) => new Float64Array(b.neurons * b.dim).fill(1)));
      else results = await solver.solve(operator);
    });
    if (args.fill) results = await solver.solve(operator);
  } else {
    results = await solver.solve(operator);
  }
  const ms = performance.now() - started;
  operator.dispose();
  const neurons = results.reduce((a, r) => a + r.neurons, 0);
  const flagged = results.reduce((a, r) => a + notConvergedCount(r).either, 0);
  console.log(
    `${id}: operator built in ${buildMs.toFixed(0)} ms; ${ms.toFixed(0)} ms (${(ms / epochTimes.at(-1)).toFixed(2)} warm epochs); ${passes} operator calls (${operatorMs.toFixed(0)} ms, the first ${firstMs.toFixed(0)} ms; solver ${(ms - operatorMs).toFixed(0)} ms), ${batchProducts} minibatch products, ${vectorSets} vector sets; ${flagged} of ${neurons} neurons not converged`,
  );
  if (profile !== null) {
    const byKernel = new Map();
    for (const k of profile.kernels) {
      const e = byKernel.get(k.name) ?? { ms: 0, n: 0 };
      e.ms += k.kernelTimeMs;
      e.n++;
      byKernel.set(k.name, e);
    }
    const top = [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15);
    console.log(`  kernels: ${profile.kernels.length} calls; ${top.map(([name, e]) => `${name} ${e.ms.toFixed(0)} ms/${e.n}`).join(', ')}`);
  }
}
model.dispose();
