import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  NasError,
  SeededRandom,
  readJsonFile,
  type CostModel,
  type CostModelRegistry,
  type CostUnit,
  type Dataset,
  type DatasetSplits,
  type EigenSolverRegistry,
  type GrowableLayer,
  type GrowerRegistry,
  type GrowthPlan,
  type NetworkSpec,
  type WeightMap,
} from '@mitosis/core';
import { loadDataset, normaliseSplits, subset, writeModelNormalisation, type ChannelStats } from '@mitosis/data';
import {
  NetworkModel,
  evaluate,
  exportLayersModel,
  createProgress,
  train,
  type EpochMetrics,
  type Progress,
  type OptimizerConfig,
  type ScheduleConfig,
} from '@mitosis/engine';
import { marginalCosts } from '@mitosis/hardware';
import { applyGrowthPlan, buildChannelGraph, initWeights } from '@mitosis/ir';
import { createSplittingOperator } from '@mitosis/splitting';
import { costModelForUnit, type Budget } from './budget.js';
import { lastCheckpointedRound, loadRoundState, saveRoundState } from './checkpoint.js';
import { EventLog, type RunEvent } from './event-log.js';
import { parseRunConfig } from './run-config.js';
import type { SearchSpace, TrainingPhase } from '../space/search-space.js';

/** Options of one growth run (what `mitosis grow` passes). */
export interface GrowOptions {
  readonly space: SearchSpace;
  /** Grower id and its options (validated against the grower's schema before any training). */
  readonly grower: string;
  readonly growerOptions?: unknown;
  /** Hardware profile id or path for the latency/energy cost models. */
  readonly profile?: string;
  /** Final-model cost target; each round's budget is (target − cost) / rounds left. */
  readonly budget?: Budget;
  readonly rounds: number;
  readonly out: string;
  readonly resume?: boolean;
  readonly seed: number;
  /** Quiet progress bars (JSON output or tests). */
  readonly quiet?: boolean;
  /**
   * Start from these trained weights (a spec compatible with the space's layers) instead of initialising and
   * training the seed network; `mitosis grow --from <LayersModel dir>`.
   */
  readonly initial?: { readonly spec: NetworkSpec; readonly weights: WeightMap };
}

/** The services a run draws on (the registries of the plugin container). */
export interface GrowServices {
  readonly growers: GrowerRegistry;
  readonly costModels: CostModelRegistry;
  readonly eigenSolvers: EigenSolverRegistry;
}

export interface GrowCallbacks {
  /** Every event, as it is appended to the log. */
  onEvent?(event: RunEvent): void;
  /** Human-readable progress lines (phase starts and ends). */
  onMessage?(message: string): void;
}

/** Cost of a network under every cost model the run has, by unit. */
export type CostSummary = Partial<Record<'macs' | 'params' | 'latencyMs' | 'energyMj', number | null>>;

/** What a finished (or stopped) run reports. */
export interface GrowSummary {
  readonly runDir: string;
  readonly space: string;
  readonly grower: string;
  readonly rounds: number;
  readonly stopReason: 'rounds' | 'budget' | 'caps' | 'no-useful-split' | 'diverged';
  readonly final: { readonly trainLoss: number; readonly valLoss: number; readonly valAccuracy: number | null; readonly testLoss: number; readonly testAccuracy: number | null };
  readonly widths: Readonly<Record<string, number>>;
  readonly cost: CostSummary;
  readonly model: string;
  readonly log: string;
  readonly summary: string;
}

const KEY_OF_UNIT: Record<CostUnit, keyof CostSummary> = { macs: 'macs', params: 'params', ms: 'latencyMs', mJ: 'energyMj' };

function optimizerOf(phase: TrainingPhase): OptimizerConfig {
  switch (phase.optimizer) {
    case 'adam':
      return { kind: 'adam', weightDecay: phase.weightDecay };
    case 'rmsprop':
      return { kind: 'rmsprop', weightDecay: phase.weightDecay };
    default:
      return { kind: 'sgd', momentum: phase.momentum, nesterov: phase.nesterov, weightDecay: phase.weightDecay };
  }
}

function scheduleOf(phase: TrainingPhase): ScheduleConfig {
  if (phase.schedule === 'step') return { kind: 'step', milestones: [phase.epochs * 0.5, phase.epochs * 0.75], gamma: 0.1, warmupEpochs: phase.warmupEpochs };
  if (phase.schedule === 'cosine') return { kind: 'cosine', warmupEpochs: phase.warmupEpochs };
  return { kind: 'constant', warmupEpochs: phase.warmupEpochs };
}

/** Output widths of every dense/conv producer. */
export function layerWidths(spec: NetworkSpec): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of spec.nodes) {
    if (n.op === 'dense') out[n.name] = n.units;
    else if (n.op === 'conv2d') out[n.name] = n.filters;
  }
  return out;
}

/** The cost models of a run: macs and params always; latency and energy when a profile is given. */
export function createCostModels(registry: CostModelRegistry, profile: string | undefined): Map<CostUnit, CostModel> {
  const models = new Map<CostUnit, CostModel>();
  for (const c of registry.all()) {
    if (c.requiresProfile && profile === undefined) continue;
    const model = registry.create(c.id, c.requiresProfile ? { profile } : {});
    models.set(model.unit, model);
  }
  return models;
}

function priceAll(models: ReadonlyMap<CostUnit, CostModel>, spec: NetworkSpec): CostSummary {
  const out: CostSummary = {};
  for (const [unit, model] of models) out[KEY_OF_UNIT[unit]] = model.estimate(spec).total;
  return out;
}

/**
 * The layers that may grow this round, in topological order: splittable producers of the channel graph,
 * restricted to the space's `layers` when it lists some, with caps, groups and the exact marginal cost of one
 * more output channel under `costModel` (re-pricing the widened network).
 */
export function growableLayers(space: SearchSpace, spec: NetworkSpec, costModel: CostModel, source = space.id): GrowableLayer[] {
  const graph = buildChannelGraph(spec);
  const rules = space.layers;
  if (rules !== undefined) {
    for (const node of Object.keys(rules)) {
      const p = graph.producers.get(node);
      if (p === undefined || !p.splittable) {
        const known = [...graph.producers.values()].filter((q) => q.splittable).map((q) => q.node);
        throw new NasError('E_CONFIG_INVALID', `Search space ${source}: /layers/${node} is not a splittable layer of the seed (splittable: ${known.join(', ')})`, {
          file: source,
          node,
          problems: [{ pointer: `/layers/${node}`, message: 'is not a splittable layer' }],
        });
      }
    }
  }
  const splittable = [...graph.producers.values()].filter((p) => p.splittable).map((p) => p.node);
  const marginal = new Map(marginalCosts(costModel, spec, { nodes: splittable }).map((m) => [m.node, m.delta]));
  const out: GrowableLayer[] = [];
  for (const p of graph.producers.values()) {
    if (!p.splittable) continue;
    // Layers the space does not list stay at their width (cap = width) but keep their place, so that the
    // layers line up with the splitting operator's blocks.
    const rule = rules === undefined ? {} : (rules[p.node] ?? { cap: p.width, group: 'fixed' });
    if (rule.cap !== undefined && rule.cap < p.width) {
      throw new NasError('E_CONFIG_INVALID', `Search space ${source}: the cap of layer ${p.node} (${rule.cap}) is below its width (${p.width})`, {
        file: source,
        node: p.node,
        problems: [{ pointer: `/layers/${p.node}/cap`, message: `must be at least ${p.width}` }],
      });
    }
    out.push({
      node: p.node,
      width: p.width,
      cap: rule.cap ?? null,
      group: rule.group ?? 'all',
      marginalCost: marginal.get(p.node) ?? null,
    });
  }
  return out;
}

/** Keeps plan entries, best score first, while the added cost fits `budget` (entries without a cost pass). */
function fitPlanToBudget(plan: GrowthPlan, budget: number | null): GrowthPlan {
  if (budget === null) return plan;
  let used = 0;
  const kept = [...plan.entries]
    .sort((a, b) => a.score - b.score)
    .filter((e) => {
      const c = Math.max(0, e.cost ?? 0); // a negative Δcost (non-monotonic table) is not extra budget
      if (used + c > budget + 1e-12) return false;
      used += c;
      return true;
    });
  if (kept.length === plan.entries.length) return plan;
  const order = new Set(kept);
  const entries = plan.entries.filter((e) => order.has(e));
  return { ...plan, entries, predictedDeltaLoss: entries.reduce((s, e) => s + (e.predictedDeltaLoss ?? 0), 0) };
}

function lossOf(kind: 'ce' | 'mse'): 'softmaxCrossEntropy' | 'mse' {
  return kind === 'ce' ? 'softmaxCrossEntropy' : 'mse';
}

async function loadData(space: SearchSpace, seed: number): Promise<{ splits: DatasetSplits; stats: ChannelStats | null }> {
  const splits = await loadDataset(space.data.dataset, { seed, ...(space.data.options as object) });
  return space.data.normalise ? normaliseSplits(splits) : { splits, stats: null };
}

function scoringSet(train: Dataset, samples: number, rng: SeededRandom): Dataset {
  if (samples >= train.count) return train;
  const idx = Int32Array.from({ length: train.count }, (_, i) => i);
  rng.shuffle(idx);
  return subset(train, Array.from(idx.subarray(0, samples)).sort((a, b) => a - b));
}

/**
 * Runs (or resumes) a growth run: train the seed, then rounds of {score, select, split, fine-tune} until the
 * round count, the budget, the caps, or the absence of a useful split stops it. After every round the state is
 * checkpointed atomically and one event is appended to `events.jsonl`; `resume` continues from the last
 * finished round so that the final model and log equal an uninterrupted run with the same seed (durations
 * aside). Options are checked before any training starts.
 */
export async function grow(options: GrowOptions, services: GrowServices, callbacks: GrowCallbacks = {}): Promise<GrowSummary> {
  const { space } = options;
  const say = (m: string): void => callbacks.onMessage?.(m);
  // --- everything that can be wrong with the options is checked before training -----------------------
  const growerOptions = services.growers.options(options.grower, options.growerOptions ?? {});
  // Creating the grower resolves what it depends on (its eigen solver and that solver's options).
  const grower = services.growers.create(options.grower, growerOptions);
  const costModels = createCostModels(services.costModels, options.profile);
  const primaryUnit: CostUnit = options.budget?.unit ?? (costModels.has('ms') ? 'ms' : 'macs');
  const primary = costModels.get(primaryUnit);
  if (primary === undefined) {
    const have = [...costModels.keys()];
    throw new NasError(
      'E_UNIT_MISMATCH',
      `No cost model measures ${primaryUnit} here (${costModelForUnit(primaryUnit)} ${options.profile === undefined ? 'needs --profile' : 'is not installed'}); available units: ${have.join(', ')}`,
      { unit: primaryUnit, available: have },
    );
  }
  growableLayers(space, space.seed, primary);
  if (options.rounds < 0) throw new NasError('E_USAGE', `--rounds must be ≥ 0, got ${options.rounds}`, { rounds: options.rounds });

  const runDir = resolve(options.out);
  mkdirSync(runDir, { recursive: true });
  const log = new EventLog(join(runDir, 'events.jsonl'));
  const emit = (e: RunEvent): void => {
    log.append(e);
    callbacks.onEvent?.(e);
  };
  const runConfig = {
    space: space.id,
    grower: options.grower,
    growerOptions,
    profile: options.profile ?? null,
    budget: options.budget ?? null,
    rounds: options.rounds,
    seed: options.seed,
  };
  const configFile = join(runDir, 'run.json');
  if (options.resume === true && existsSync(configFile)) {
    const previous = parseRunConfig(readJsonFile(configFile), configFile) as unknown as Record<string, unknown>;
    const differing = (Object.keys(runConfig) as (keyof typeof runConfig)[]).filter(
      (k) => JSON.stringify(previous[k] ?? null) !== JSON.stringify(runConfig[k] ?? null),
    );
    if (differing.length > 0) {
      throw new NasError('E_USAGE', `--resume: ${runDir} was started with other settings (${differing.join(', ')}); resume with the same ones or choose another --out`, {
        runDir,
        differing,
      });
    }
  }
  if (options.resume !== true && existsSync(join(runDir, 'events.jsonl')) && lastCheckpointedRound(runDir) >= 0) {
    throw new NasError('E_USAGE', `${runDir} already holds a run; pass --resume to continue it or choose another --out`, { runDir });
  }
  writeFileSync(configFile, `${JSON.stringify({ format: 'mitosis-run', version: 1, ...runConfig, searchSpace: space }, null, 1)}\n`);

  const { splits: data, stats: normalisation } = await loadData(space, options.seed);
  const loss = lossOf(space.loss);
  const batch = space.fineTune.batchSize;

  // --- start: fresh or resumed --------------------------------------------------------------------------
  let spec: NetworkSpec;
  let weights: WeightMap;
  let rng: SeededRandom;
  let round: number;
  let lastMetrics: Record<string, unknown> = {};
  const resumeFrom = options.resume === true ? lastCheckpointedRound(runDir) : -1;
  if (resumeFrom >= 0) {
    const state = await loadRoundState(runDir, resumeFrom);
    log.truncateAfterRound(resumeFrom);
    ({ spec, weights } = state);
    rng = SeededRandom.restore(state.rng);
    round = state.round;
    lastMetrics = { ...state.metrics };
    say(`resuming ${runDir} after round ${round}`);
  } else {
    if (existsSync(log.file)) writeFileSync(log.file, '');
    rng = new SeededRandom(options.seed);
    spec = options.initial?.spec ?? space.seed;
    weights = initWeights(spec, rng.fork());
    if (options.initial !== undefined) {
      growableLayers(space, spec, primary, 'the --from model');
      weights = options.initial.weights;
    }
    emit({ type: 'start', ...runConfig, from: options.initial === undefined ? null : 'initial weights', widths: layerWidths(spec) });
    const t0 = performance.now();
    const model = new NetworkModel(spec, weights);
    try {
      if (options.initial === undefined) say(`training the seed network (${space.training.epochs} epochs)`);
      const history = options.initial === undefined ? await runPhase(model, data, space.training, loss, rng, options.quiet === true, 'seed') : [];
      weights = model.toWeightMap();
      lastMetrics = metricsOf(model, data, loss, batch, history, costModels);
    } finally {
      model.dispose();
    }
    round = 0;
    emit({ type: 'seed', round: 0, ...lastMetrics, timeMs: { train: Math.round(performance.now() - t0) } });
    await saveRoundState(runDir, { round, spec, weights, rng: rng.snapshot(), metrics: lastMetrics });
  }

  // --- rounds -----------------------------------------------------------------------------------------------
  let stopReason: GrowSummary['stopReason'] = 'rounds';
  while (round < options.rounds) {
    const r = round + 1;
    const cost = primary.estimate(spec).total;
    const target = options.budget?.value ?? null;
    if (target !== null && cost !== null && cost >= target) {
      stopReason = 'budget';
      break;
    }
    const layers = growableLayers(space, spec, primary);
    if (layers.every((l) => l.cap !== null && l.width >= l.cap)) {
      stopReason = 'caps';
      break;
    }
    const roundBudget = target === null || cost === null ? null : (target - cost) / (options.rounds - round);
    const before = { spec, weights, rng: rng.snapshot() };
    let attempt = 0;
    let done = false;
    while (!done) {
      const timeMs: Record<string, number> = {};
      let t = performance.now();
      const model = new NetworkModel(spec, weights);
      let plan: GrowthPlan;
      const scoring = scoringSet(data.train, space.scoring.samples, rng);
      let operator: ReturnType<typeof createSplittingOperator> | undefined;
      try {
        say(`round ${r}: scoring ${layers.length} layers on ${scoring.count} samples`);
        operator = createSplittingOperator(model, scoring, { loss: space.loss, batchSize: space.scoring.batchSize });
        const blockNames = operator.blocks.map((b) => b.name).join(',');
        if (blockNames !== layers.map((l) => l.node).join(',')) {
          throw new NasError('E_RUN_FAILED', `Internal: splitting blocks (${blockNames}) do not match the growable layers`, { blocks: blockNames });
        }
        // The eigen solve is the long part of scoring: a bar (on a terminal) driven by the solver's progress.
        let bar: Progress | undefined;
        try {
          plan = await grower.plan({
            round: r,
            spec,
            layers,
            operator,
            costModel: primary,
            costUnit: primaryUnit,
            budget: roundBudget,
            random: () => rng.next(),
            onProgress: (done, total, label) => {
              bar ??= createProgress(`round ${r} scoring`, total, { json: options.quiet === true });
              bar.update(done, label);
            },
          });
        } finally {
          bar?.stop();
        }
        plan = fitPlanToBudget(plan, roundBudget);
      } finally {
        operator?.dispose();
        model.dispose();
      }
      timeMs['score'] = Math.round(performance.now() - t);
      if (plan.entries.length === 0) {
        stopReason = 'no-useful-split';
        emit({ type: 'stop', round: r, reason: stopReason, stats: plan.stats ?? {} });
        break;
      }
      t = performance.now();
      const lossBefore = evalLoss(spec, weights, scoring, loss, space.scoring.batchSize);
      // A retry after a non-finite loss splits with a smaller step as well as a smaller fine-tuning rate.
      const grown = applyGrowthPlan(spec, weights, attempt === 0 ? plan : { ...plan, epsilon: plan.epsilon / 2 ** attempt });
      const lossAfter = evalLoss(grown.spec, grown.weights, scoring, loss, space.scoring.batchSize);
      timeMs['split'] = Math.round(performance.now() - t);
      t = performance.now();
      const model2 = new NetworkModel(grown.spec, grown.weights);
      try {
        if (!Number.isFinite(lossAfter)) throw new NasError('E_DIVERGED', `The loss is ${lossAfter} right after the split of round ${r}`, { round: r });
        const history = await runPhase(model2, data, { ...space.fineTune, learningRate: space.fineTune.learningRate / 2 ** attempt }, loss, rng, options.quiet === true, `round ${r}`);
        timeMs['fineTune'] = Math.round(performance.now() - t);
        spec = grown.spec;
        weights = model2.toWeightMap();
        lastMetrics = metricsOf(model2, data, loss, batch, history, costModels);
        done = true;
      } catch (error) {
        if (!NasError.is(error, 'E_DIVERGED')) throw error;
        attempt += 1;
        emit({ type: 'rollback', round: r, attempt, reason: error.message });
        spec = before.spec;
        weights = before.weights;
        rng = SeededRandom.restore(before.rng);
        if (attempt > 2) {
          stopReason = 'diverged';
          break;
        }
        say(`round ${r}: diverged, rolling back and retrying with half the fine-tuning rate`);
        continue;
      } finally {
        model2.dispose();
      }
      round = r;
      emit({
        type: 'round',
        round: r,
        widths: layerWidths(spec),
        ...lastMetrics,
        split: {
          count: plan.entries.length,
          epsilon: plan.epsilon,
          predictedDeltaLoss: plan.predictedDeltaLoss,
          measuredDeltaLoss: lossAfter - lossBefore,
          byLayer: countBy(plan.entries.map((e) => e.node)),
          schemes: countBy(plan.entries.map((e) => e.scheme)),
        },
        budget: roundBudget,
        eigen: plan.stats ?? {},
        timeMs,
      });
      await saveRoundState(runDir, { round, spec, weights, rng: rng.snapshot(), metrics: lastMetrics });
    }
    if (!done) break;
  }

  // --- final model and summary ---------------------------------------------------------------------------
  const modelDir = join(runDir, 'model');
  await exportLayersModel(modelDir, spec, weights, { allowMitosisActivations: true });
  // The model expects normalised inputs: keep the statistics beside it (train / split-scores apply them).
  if (normalisation !== null) writeModelNormalisation(modelDir, normalisation);
  const metrics = lastMetrics as { trainLoss: number; valLoss: number; valAccuracy: number | null; testLoss: number; testAccuracy: number | null; cost: CostSummary };
  const summaryFile = join(runDir, 'summary.json');
  const summary: GrowSummary = {
    runDir,
    space: space.id,
    grower: options.grower,
    rounds: round,
    stopReason,
    final: { trainLoss: metrics.trainLoss, valLoss: metrics.valLoss, valAccuracy: metrics.valAccuracy, testLoss: metrics.testLoss, testAccuracy: metrics.testAccuracy },
    widths: layerWidths(spec),
    cost: metrics.cost,
    model: modelDir,
    log: log.file,
    summary: summaryFile,
  };
  writeFileSync(summaryFile, `${JSON.stringify(summary, null, 1)}\n`);
  return summary;
}

function countBy(keys: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = (out[k] ?? 0) + 1;
  return out;
}

async function runPhase(
  model: NetworkModel,
  data: DatasetSplits,
  phase: TrainingPhase,
  loss: 'softmaxCrossEntropy' | 'mse',
  rng: SeededRandom,
  quiet: boolean,
  label: string,
): Promise<readonly EpochMetrics[]> {
  if (phase.epochs === 0) return [];
  const result = await train(
    model,
    { train: data.train },
    {
      epochs: phase.epochs,
      batchSize: phase.batchSize,
      learningRate: phase.learningRate,
      optimizer: optimizerOf(phase),
      schedule: scheduleOf(phase),
      loss,
      rng,
      progress: quiet ? false : { label },
    },
  );
  result.optimizer.dispose();
  return result.history;
}

function evalLoss(spec: NetworkSpec, weights: WeightMap, data: Dataset, loss: 'softmaxCrossEntropy' | 'mse', batchSize: number): number {
  const model = new NetworkModel(spec, weights);
  try {
    return evaluate(model, data, batchSize, loss).loss;
  } finally {
    model.dispose();
  }
}

function metricsOf(
  model: NetworkModel,
  data: DatasetSplits,
  loss: 'softmaxCrossEntropy' | 'mse',
  batchSize: number,
  history: readonly EpochMetrics[],
  costModels: ReadonlyMap<CostUnit, CostModel>,
): Record<string, unknown> {
  const trainM = evaluate(model, data.train, batchSize, loss);
  const val = data.val.count > 0 ? evaluate(model, data.val, batchSize, loss) : { loss: Number.NaN };
  const test = data.test.count > 0 ? evaluate(model, data.test, batchSize, loss) : { loss: Number.NaN };
  const last = history[history.length - 1];
  return {
    trainLoss: trainM.loss,
    trainAccuracy: trainM.accuracy ?? null,
    valLoss: val.loss,
    valAccuracy: 'accuracy' in val ? (val.accuracy ?? null) : null,
    testLoss: test.loss,
    testAccuracy: 'accuracy' in test ? (test.accuracy ?? null) : null,
    imagesPerSecond: last?.imagesPerSecond ?? null,
    cost: priceAll(costModels, model.spec),
  };
}
