// One S2D round on a search-space seed (default mobilenetv1-cifar) with the splitting matrix before issue 12
// (firstActivationOnly: the curvature of the first activation only) and after it (the whole depthwise chain):
// which neurons the S2D quantile rule picks with each, predicted ε²/2·λ_min against the measured ΔL of the actual
// split (float64 loss on the scoring set after the real surgery, split-oracle.ts), and the loss decrease of the
// whole picked set.
//
// Usage (after `npx tsc -b`):
//   node packages/splitting/scripts/s2d-round-report.mjs [--space mobilenetv1-cifar] [--epochs 1] [--samples 256]
//     [--top 6] [--epsilon 0.01] [--fraction 0.3] [--seed 0] [--backend wasm]
//
// The data are the space's own (synthetic-images for mobilenetv1-cifar, normalised as the run loop does); the
// network is the seed, trained --epochs epochs with the space's training settings (0: initWeights only); the
// scoring set is a seeded subset of --samples training samples (as in a run round). Both operators use the dense
// solver. --top: neurons per operator whose split is measured one at a time (the most negative picked λ_min).
import { parseArgs } from 'node:util';
import { SeededRandom } from '@mitosis/core';
import { NetworkModel, evaluate, train, useBackend } from '@mitosis/engine';
import { selectCandidates, symmetricSplit, unitRow } from '@mitosis/grower-kit';
import { loadSearchSpace, loadSpaceData, scoringSet } from '@mitosis/growth';
import { applyGrowthPlan, initWeights } from '@mitosis/ir';
import { DenseEigenSolver } from '@mitosis/plugin-eigen-dense';
import { createSplittingOperator } from '@mitosis/splitting';
import { SplitProbe, loss64 } from '../dist/split-oracle.js';

const { values: args } = parseArgs({
  options: {
    space: { type: 'string', default: 'mobilenetv1-cifar' },
    epochs: { type: 'string', default: '1' },
    samples: { type: 'string', default: '256' },
    top: { type: 'string', default: '6' },
    epsilon: { type: 'string', default: '0.01' },
    fraction: { type: 'string', default: '0.3' },
    seed: { type: 'string', default: '0' },
    backend: { type: 'string', default: 'wasm' },
  },
});
const seed = Number(args.seed);
const epsilon = Number(args.epsilon);
const top = Number(args.top);
const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;
const log = (m) => console.log(m);

await useBackend(args.backend);
const { space } = loadSearchSpace(args.space);
const spec = space.seed;
const lossKind = space.loss === 'ce' ? 'softmaxCrossEntropy' : 'mse';

// Data as the run loop loads them, then a seeded scoring subset of the training split (the run loop's own helpers).
const { splits } = await loadSpaceData(space, seed);
const scoring = scoringSet(splits.train, Number(args.samples), new SeededRandom(seed));

// The seed network, trained briefly with the space's settings.
const trained = new NetworkModel(spec, initWeights(spec, seed));
const epochs = Number(args.epochs);
if (epochs > 0) {
  const t = space.training;
  const result = await train(trained, { train: splits.train }, {
    epochs,
    batchSize: t.batchSize,
    learningRate: t.learningRate,
    // As run-method.ts optimizerOf / scheduleOf, with the schedule spanning the epochs trained here.
    optimizer: t.optimizer === 'sgd' ? { kind: 'sgd', momentum: t.momentum, nesterov: t.nesterov, weightDecay: t.weightDecay } : { kind: t.optimizer, weightDecay: t.weightDecay },
    schedule:
      t.schedule === 'step'
        ? { kind: 'step', milestones: [epochs * 0.5, epochs * 0.75], gamma: 0.1, warmupEpochs: t.warmupEpochs }
        : { kind: t.schedule === 'cosine' ? 'cosine' : 'constant', warmupEpochs: t.warmupEpochs },
    loss: lossKind,
    seed,
    progress: false,
  });
  result.optimizer.dispose();
}
// One source of truth for the TF.js operator and the float64 oracle: the weight map, and a model rebuilt from it.
const weights = trained.toWeightMap();
trained.dispose();
const model = new NetworkModel(spec, weights);
const evalBefore = evaluate(model, scoring, space.scoring.batchSize, lossKind);
log(`# S2D round report: ${args.space}, data ${space.data.dataset} (${splits.train.count} train samples), ${epochs} epoch(s) of training`);
log(`scoring set: ${scoring.count} samples; loss ${evalBefore.loss.toFixed(5)} (float32; float64 ${loss64(spec, weights, scoring, space.loss).toFixed(5)}), accuracy ${(evalBefore.accuracy ?? 0).toFixed(3)}; ε = ${epsilon}, quantile fraction ${args.fraction} [${elapsed()}]`);

// Both operators, dense solver; the S2D quantile rule over the layers the space lets grow (room = cap − width).
const solver = new DenseEigenSolver({ symmetrise: true, asymmetryTolerance: 1e-10 });
const operators = { old: true, new: false };
const picks = {};
const results = {};
for (const [label, firstActivationOnly] of Object.entries(operators)) {
  const op = createSplittingOperator(model, scoring, { loss: space.loss, batchSize: space.scoring.batchSize, firstActivationOnly });
  try {
    results[label] = await solver.solve(op);
  } finally {
    op.dispose();
  }
  const blocks = results[label];
  const room = blocks.map((r) => {
    const cap = space.layers[r.block]?.cap;
    return cap === undefined ? 0 : cap - r.neurons;
  });
  const candidates = blocks.flatMap((r, layer) => Array.from(r.lambdaMin, (score, neuron) => ({ layer, neuron, score, added: 1 })));
  const selection = selectCandidates(candidates, { selection: 'quantile', fraction: Number(args.fraction) }, room, true);
  picks[label] = { chosen: selection.chosen, threshold: selection.threshold };
  log(`${label} operator: ${selection.chosen.length} of ${candidates.length} neurons picked, threshold λ < ${selection.threshold?.toExponential(3)} [${elapsed()}]`);
}
const key = (c) => `${results.old[c.layer].block}[${c.neuron}]`;
const oldSet = new Set(picks.old.chosen.map(key));
const newSet = new Set(picks.new.chosen.map(key));
const both = [...oldSet].filter((k) => newSet.has(k));
log(`\n## Selection overlap`);
log(`picked by both: ${both.length}; old only: ${oldSet.size - both.length}; new only: ${newSet.size - both.length}; Jaccard ${(both.length / new Set([...oldSet, ...newSet]).size).toFixed(2)}`);
log('layer   neurons  chain  picked old  picked new  both   λ_min median old / new');
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
results.old.forEach((r, layer) => {
  const n = (set) => [...set].filter((k) => k.startsWith(`${r.block}[`)).length;
  const chain = results.new[layer].lambdaMin.some((x, j) => Math.abs(x - r.lambdaMin[j]) > 1e-6 * Math.abs(x)) ? 'yes' : 'no';
  log(
    `${r.block.padEnd(7)} ${String(r.neurons).padStart(7)}  ${chain.padEnd(5)}  ${String(n(oldSet)).padStart(10)}  ${String(n(newSet)).padStart(10)}  ${String(both.filter((k) => k.startsWith(`${r.block}[`)).length).padStart(4)}   ` +
      `${median(r.lambdaMin).toExponential(2)} / ${median(results.new[layer].lambdaMin).toExponential(2)}`,
  );
});

// Per neuron: the split θ ± ε·v_min measured in float64 after the real surgery, against ε²/2·λ_min. The exact
// quadratic form vᵀS v of the split Hessian (finite differences, Richardson) shows which λ is the right one.
log(`\n## Predicted vs measured ΔL, one split at a time (top ${top} picks of each operator, float64 loss on the scoring set)`);
log('operator  neuron      λ_min (op)   pred ε²/2·λ   measured ΔL   ratio   sign   exact vᵀSv   λ (other op, same neuron)');
const rows = [];
for (const label of ['old', 'new']) {
  const other = label === 'old' ? 'new' : 'old';
  const ranked = [...picks[label].chosen].sort((a, b) => a.score - b.score).slice(0, top);
  for (const c of ranked) {
    const r = results[label][c.layer];
    const v = unitRow(r.vMin, c.neuron, r.dim);
    const probe = new SplitProbe(spec, weights, scoring, r.block, c.neuron, space.loss);
    const measured = probe.deltaLoss(v, epsilon);
    const exact = probe.quadratic(v, 1e-2);
    const predicted = ((epsilon * epsilon) / 2) * c.score;
    const row = { label, neuron: key(c), lambda: c.score, predicted, measured, exact, otherLambda: results[other][c.layer].lambdaMin[c.neuron] };
    rows.push(row);
    log(
      `${label.padEnd(8)}  ${row.neuron.padEnd(10)}  ${c.score.toExponential(3).padStart(11)}  ${predicted.toExponential(3).padStart(12)}  ${measured.toExponential(3).padStart(12)}  ` +
        `${(measured / predicted).toFixed(3).padStart(6)}  ${Math.sign(measured) === Math.sign(predicted) ? 'same' : 'WRONG'}  ${exact.toExponential(3).padStart(11)}  ${row.otherLambda.toExponential(3)}`,
    );
  }
}
for (const label of ['old', 'new']) {
  const rs = rows.filter((r) => r.label === label);
  const ratios = rs.map((r) => r.measured / r.predicted);
  log(
    `${label}: measured/predicted median ${median(ratios).toFixed(3)} [${Math.min(...ratios).toFixed(3)}, ${Math.max(...ratios).toFixed(3)}], ` +
      `sign agrees ${rs.filter((r) => Math.sign(r.measured) === Math.sign(r.predicted)).length}/${rs.length}, ` +
      `Σ measured ${rs.reduce((s, r) => s + r.measured, 0).toExponential(3)} vs Σ predicted ${rs.reduce((s, r) => s + r.predicted, 0).toExponential(3)}`,
  );
}

// The whole round: every picked neuron split at once (the grower's plan, the actual float32 surgery), loss in
// float64 (and float32 as the run loop's lossBefore / lossAfter).
log(`\n## Whole picked set split at once (the round's plan)`);
const base64 = loss64(spec, weights, scoring, space.loss);
for (const label of ['old', 'new']) {
  const entries = picks[label].chosen.map((c) => {
    const r = results[label][c.layer];
    return symmetricSplit(r.block, c.neuron, unitRow(r.vMin, c.neuron, r.dim), epsilon, c.score, null);
  });
  const plan = { action: 'grow', method: 's2d', round: 1, epsilon, entries, predictedDeltaLoss: entries.reduce((s, e) => s + e.predictedDeltaLoss, 0) };
  const changed = applyGrowthPlan(spec, weights, plan);
  const after64 = loss64(changed.spec, changed.weights, scoring, space.loss);
  const grown = new NetworkModel(changed.spec, changed.weights);
  const after32 = evaluate(grown, scoring, space.scoring.batchSize, lossKind).loss;
  grown.dispose();
  log(
    `${label}: ${entries.length} splits; predicted Σε²/2·λ ${plan.predictedDeltaLoss.toExponential(3)}; measured ΔL float64 ${(after64 - base64).toExponential(3)} ` +
      `(ratio ${((after64 - base64) / plan.predictedDeltaLoss).toFixed(3)}), float32 ${(after32 - evalBefore.loss).toExponential(3)} [${elapsed()}]`,
  );
}
model.dispose();
