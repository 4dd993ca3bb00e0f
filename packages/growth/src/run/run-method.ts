import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  NasError,
  SeededRandom,
  ensureDirectory,
  fileSystemError,
  LOCK_FILE,
  lockDirectory,
  readJsonFile,
  removeStaleTemporaries,
  writeChecksums,
  writeFileAtomicSync,
  type ChannelPlan,
  type CostModel,
  type Grower,
  type Pruner,
  type CostUnit,
  type Dataset,
  type DatasetSplits,
  type MethodKind,
  type MethodLayer,
  type MethodScores,
  type NetworkSpec,
  type ScoreRequest,
  type WeightMap,
} from '@mitosis/core';
import { loadDataset, modelDataInfo, normaliseSplits, subset, writeModelDataInfo, writeModelNormalisation, type ChannelStats, type ModelDataInfo } from '@mitosis/data';
import {
  NetworkModel,
  createProgress,
  evaluate,
  exportLayersModel,
  train,
  type EpochMetrics,
  type L1Penalty,
  type OptimizerConfig,
  type Progress,
  type ScheduleConfig,
} from '@mitosis/engine';
import { buildChannelGraph, initWeights } from '@mitosis/ir';
import type { Budget } from './budget.js';
import { lastCheckpointedRound, loadRoundState, resumePoint, saveRoundState } from './checkpoint.js';
import { EventLog, type RunEvent } from './event-log.js';
import { layerWidths, methodLayers, priceWidths, resizeSpec as resizeSpecOf } from './method-layers.js';
import { resolveMethod, type ResolvedMethod, type RunServices } from './methods.js';
import { growPolicy, prunePolicy, resizePolicy, type PlanStats } from './plan-policy.js';
import { parseRunConfig } from './run-config.js';
import { computeScores, type EigenConvergenceStats } from './scores.js';
import { cellCostFloor, runShrinkSearch, type ShrinkSearchSummary, type ShrinkStop } from './shrink.js';
import { applyPlan, checkBudgetFeasible, createCostModels, priceAll, primaryCostModel, roundBudget, roundStop } from './stages.js';
import { fullNetwork, type SearchSpace, type TrainingPhase } from '../space/search-space.js';

/** Options of one run of any method (what `mitosis run` and `mitosis grow` pass). */
export interface RunOptions {
  readonly space: SearchSpace;
  /** Method id (a grower, pruner, resizer or shrinker) and its options (validated before any training). */
  readonly method: string;
  readonly methodOptions?: unknown;
  /** Hardware profile id or path for the latency/energy cost models. */
  readonly profile?: string;
  /** Final-model cost target. */
  readonly budget?: Budget;
  /** Rounds of score → plan → apply → fine-tune (growers and pruners; a resize is one step). */
  readonly rounds: number;
  readonly out: string;
  readonly resume?: boolean;
  /**
   * With `resume`: continue from this round's checkpoint instead of the last one (used when the last one is
   * damaged; the checkpoints after it are set aside and their rounds run again).
   */
  readonly resumeRound?: number;
  /** Start over in a directory that already holds a run (its files are removed first). */
  readonly force?: boolean;
  readonly seed: number;
  /** Quiet progress bars (JSON output or tests). */
  readonly quiet?: boolean;
  /** Start from these trained weights instead of initialising and training the space's start network. */
  readonly initial?: { readonly spec: NetworkSpec; readonly weights: WeightMap };
}

export interface RunCallbacks {
  /** Every event, as it is appended to the log. */
  onEvent?(event: RunEvent): void;
  /** Human-readable progress lines (phase starts and ends, one line per round). */
  onMessage?(message: string): void;
}

/** Why a run ended. */
export type StopReason = 'rounds' | 'budget' | 'caps' | 'min-widths' | 'no-useful-split' | 'diverged' | 'resized' | ShrinkStop;

/** Cost of a network in every unit the run can price. */
export type CostSummary = Partial<Record<CostUnit, number | null>>;

/** `summary.json` of a run (format `mitosis-run-summary`, version 2). */
export interface RunSummary {
  readonly format: 'mitosis-run-summary';
  readonly version: 2;
  readonly runDir: string;
  readonly space: string;
  readonly method: string;
  readonly kind: MethodKind;
  readonly options: unknown;
  readonly device: string | null;
  readonly seed: number;
  readonly budget: Budget | null;
  /** Final cost / target in the budget's unit. */
  readonly budgetUsed: number | null;
  /** Final cost ≤ target (`null` without a budget). */
  readonly budgetMet: boolean | null;
  /** Rounds run (a shrinker: edges removed; a resizer: 0). */
  readonly rounds: number;
  readonly stopReason: StopReason;
  /**
   * A shrinker's search: iterations, candidates and their proxy epochs (search cost, not in `epochs`), and the
   * final cell. Absent for the other kinds.
   */
  readonly search?: ShrinkSearchSummary;
  /** Training epochs run (seed + fine-tunes + final, or from scratch) and the space's budget of epochs. */
  readonly epochs: { readonly total: number; readonly planned: number };
  readonly wallMs: number;
  readonly phaseMs: Readonly<Record<'train' | 'score' | 'plan' | 'apply' | 'fineTune' | 'evaluate', number>>;
  readonly final: {
    readonly trainLoss: number;
    readonly valLoss: number;
    readonly valAccuracy: number | null;
    readonly testLoss: number;
    readonly testAccuracy: number | null;
  };
  readonly widths: Readonly<Record<string, number>>;
  readonly cost: CostSummary;
  readonly model: string;
  readonly log: string;
  readonly summary: string;
}

/** The epochs every method of a space trains for: seed training plus one fine-tune per round. */
export function plannedEpochs(space: SearchSpace, rounds: number): number {
  return space.training.epochs + rounds * space.fineTune.epochs + (space.finalEpochs ?? 0);
}

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

type Loss = 'softmaxCrossEntropy' | 'mse';

/**
 * A search space's data as a run loads it: the data set fitted to the seed network's input, normalised when the
 * space says so (with the statistics), and what a model card records of it.
 */
export async function loadSpaceData(space: SearchSpace, seed: number): Promise<{ splits: DatasetSplits; stats: ChannelStats | null; info: ModelDataInfo }> {
  // Fit the samples to the seed network's input (e.g. NumPy (n, 28, 28) images to [28, 28, 1]), or fail naming the data.
  const input = space.seed.nodes.find((n) => n.op === 'input');
  const inputShape = input?.op === 'input' ? { inputShape: input.shape } : {};
  const splits = await loadDataset(space.data.dataset, { seed, ...(space.data.options as object), ...inputShape });
  const info = modelDataInfo(space.data.dataset, splits);
  return space.data.normalise ? { ...normaliseSplits(splits), info } : { splits, stats: null, info };
}

/** A round's scoring samples: `samples` of the training set drawn with `rng` (kept in their order), or all of it. */
export function scoringSet(trainSet: Dataset, samples: number, rng: SeededRandom): Dataset {
  if (samples >= trainSet.count) return trainSet;
  const idx = Int32Array.from({ length: trainSet.count }, (_, i) => i);
  rng.shuffle(idx);
  return subset(trainSet, Array.from(idx.subarray(0, samples)).sort((a, b) => a - b));
}

/** Batch-norm γ keys of the layers' producers (network slimming's sparsity targets). */
function bnScaleKeys(spec: NetworkSpec, layers: readonly MethodLayer[]): string[] {
  const graph = buildChannelGraph(spec);
  const keys: string[] = [];
  for (const layer of layers) {
    for (const p of layer.producers) {
      const bn = graph.producers.get(p)?.batchNorm ?? null;
      if (bn !== null) keys.push(`${bn}/gamma`);
    }
  }
  return keys;
}

/** Everything fixed before training: the method, the cost models, the start network and the budget checks. */
interface RunSetup {
  readonly resolved: ResolvedMethod;
  readonly costModels: Map<CostUnit, CostModel>;
  readonly unit: CostUnit;
  readonly primary: CostModel;
  readonly target: number | null;
  /** The network the first training phase trains (the resized one for a resizer). */
  readonly start: NetworkSpec;
  readonly resize: { readonly plan: ChannelPlan; readonly stats: PlanStats } | null;
  readonly planned: number;
  readonly needs: readonly ScoreRequest[];
}

/**
 * Checks every option and builds what the run needs before any data is loaded or any epoch trained: the method
 * (options, score requests), the cost models and the budget's unit, the start network (a grower's seed, a
 * pruner's full network, a resizer's resized seed) and whether the budget is feasible from there.
 */
export async function setupRun(options: RunOptions, services: RunServices): Promise<RunSetup> {
  const { space } = options;
  if (!Number.isInteger(options.rounds) || options.rounds < 0) throw new NasError('E_USAGE', `--rounds must be an integer ≥ 0, got ${options.rounds}`, { rounds: options.rounds });
  const resolved = resolveMethod(services, options.method, options.methodOptions ?? {});
  const costModels = createCostModels(services.costModels, options.profile);
  const unit: CostUnit = options.budget?.unit ?? (costModels.has('ms') ? 'ms' : 'macs');
  const primary = primaryCostModel(costModels, unit, options.profile);
  const target = options.budget?.value ?? null;
  const kind = resolved.kind;
  if (kind === 'shrinker') {
    if (space.cell === undefined) {
      throw new NasError('E_USAGE', `${resolved.id} is a shrinker: it removes edges of a cell, so it needs a cell search space (one with "cell", e.g. cell-fashion-quick); ${space.id} has none`, {
        method: resolved.id,
        space: space.id,
      });
    }
    if (options.initial !== undefined) throw new NasError('E_USAGE', `${resolved.id} searches a cell from the space's start cell; it cannot start from --from`, { method: resolved.id });
    if (!costModels.has(resolved.method.costUnit)) {
      throw new NasError('E_UNIT_MISMATCH', `${resolved.id} scores candidates in ${resolved.method.costUnit}, which no cost model of this run prices (give --profile for ms or mJ)`, {
        method: resolved.id,
        unit: resolved.method.costUnit,
      });
    }
  }
  let start = options.initial?.spec ?? (kind === 'pruner' || kind === 'shrinker' ? fullNetwork(space) : space.seed);
  const layers = methodLayers(space, start, primary, options.initial === undefined ? space.id : 'the --from model');
  if (kind === 'grower') {
    for (const l of layers) {
      if (l.cap !== null && l.cap < l.width) {
        throw new NasError('E_CONFIG_INVALID', `Search space ${space.id}: the cap of layer ${l.node} (${l.cap}) is below its width (${l.width})`, {
          file: space.id,
          node: l.node,
          problems: [{ pointer: `/layers/${l.node}/cap`, message: `must be at least ${l.width}` }],
        });
      }
    }
  }
  if (kind === 'pruner' && target === null) {
    throw new NasError('E_USAGE', `${resolved.id} is a pruner: give it a cost target with --budget (e.g. --budget 300kmacs); it prunes until the network costs no more`, { method: resolved.id });
  }
  const startCost = primary.estimate(start).total;
  if (target !== null && startCost === null) {
    throw new NasError('E_UNIT_MISMATCH', `The ${primary.id} cost model cannot price ${space.id}'s network in ${unit}; choose another unit or profile`, { unit, model: primary.id });
  }
  const floor =
    kind === 'pruner'
      ? priceWidths(primary, start, Object.fromEntries(layers.map((l) => [l.node, l.min])))
      : kind === 'shrinker' && target !== null
        ? cellCostFloor(space.cell!, primary)
        : null;
  checkBudgetFeasible(kind, { cost: startCost, floor }, target, unit, resolved.id);
  let resize: RunSetup['resize'] = null;
  if (resolved.kind === 'resizer') {
    // A resize is decided from the seed alone, so it is made (and can fail) before any training.
    const rng = new SeededRandom(options.seed);
    const seed = start;
    const plan = await resolved.method.plan({
      spec: seed,
      layers,
      costModel: primary,
      costUnit: unit,
      target,
      price: (widths) => priceWidths(primary, seed, widths),
      random: () => rng.next(),
    });
    const checked = resizePolicy(plan, { spec: start, layers, costModel: primary, budget: null });
    resize = checked;
    start = resizeSpecOf(start, checked.plan.widths);
  }
  const needs = resolved.kind === 'resizer' || resolved.kind === 'shrinker' ? [] : resolved.method.needs;
  // A run started from trained weights (--from) skips the seed phase: its epochs are not owed at the end.
  const planned = plannedEpochs(space, options.rounds) - (options.initial !== undefined && kind !== 'resizer' ? space.training.epochs : 0);
  return { resolved, costModels, unit, primary, target, start, resize, planned, needs };
}

/** Phase timers of a run. */
class PhaseClock {
  readonly ms = { train: 0, score: 0, plan: 0, apply: 0, fineTune: 0, evaluate: 0 };
  async time<T>(phase: keyof PhaseClock['ms'], work: () => Promise<T> | T): Promise<T> {
    const t = performance.now();
    try {
      return await work();
    } finally {
      this.ms[phase] += performance.now() - t;
    }
  }
}

/** One training phase of `epochs` epochs with `phase`'s optimiser and schedule (a fresh optimiser each phase). */
async function trainPhase(
  model: NetworkModel,
  data: DatasetSplits,
  phase: TrainingPhase,
  epochs: number,
  loss: Loss,
  rng: SeededRandom,
  quiet: boolean,
  label: string,
  l1?: L1Penalty,
  span?: { readonly start: number; readonly total: number },
): Promise<readonly EpochMetrics[]> {
  if (epochs === 0) return [];
  const result = await train(
    model,
    { train: data.train },
    {
      epochs,
      batchSize: phase.batchSize,
      learningRate: phase.learningRate,
      optimizer: optimizerOf(phase),
      // A run-long schedule: this phase is the slice [start, start + epochs) of one schedule over `total` epochs.
      schedule: scheduleOf({ ...phase, epochs: span?.total ?? epochs }),
      ...(span === undefined ? {} : { startEpoch: span.start, scheduleEpochs: span.total }),
      loss,
      rng,
      progress: quiet ? false : { label },
      ...(l1 === undefined ? {} : { l1 }),
    },
  );
  result.optimizer.dispose();
  return result.history;
}

/**
 * Metrics after a phase: the training loss and accuracy of its last epoch (training mode; evaluated afresh only
 * when the phase trained nothing), and the validation and test sets in inference mode.
 */
function metricsOf(
  model: NetworkModel,
  data: DatasetSplits,
  loss: Loss,
  batchSize: number,
  history: readonly EpochMetrics[],
  costModels: ReadonlyMap<CostUnit, CostModel>,
  epochs: number,
): Record<string, unknown> {
  const last = history[history.length - 1];
  const trainM = last !== undefined ? { loss: last.loss, accuracy: last.accuracy } : evaluate(model, data.train, batchSize, loss);
  const val = data.val.count > 0 ? evaluate(model, data.val, batchSize, loss) : { loss: Number.NaN };
  const test = data.test.count > 0 ? evaluate(model, data.test, batchSize, loss) : { loss: Number.NaN };
  return {
    trainLoss: trainM.loss,
    trainAccuracy: trainM.accuracy ?? null,
    valLoss: val.loss,
    valAccuracy: 'accuracy' in val ? (val.accuracy ?? null) : null,
    testLoss: test.loss,
    testAccuracy: 'accuracy' in test ? (test.accuracy ?? null) : null,
    imagesPerSecond: last?.imagesPerSecond ?? null,
    epochs,
    cost: priceAll(costModels, model.spec),
  };
}

function evalLoss(spec: NetworkSpec, weights: WeightMap, data: Dataset, loss: Loss, batchSize: number): number {
  const model = new NetworkModel(spec, weights);
  try {
    return evaluate(model, data, batchSize, loss).loss;
  } finally {
    model.dispose();
  }
}

/** Seed of a retrained network's fresh weights: derived from the run's, so it differs from the seed network's draw. */
function retrainSeed(seed: number): number {
  return (Math.imul(seed ^ 0x2545f491, 0x9e3779b1) + 0x7f4a7c15) >>> 0;
}

function countBy(keys: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = (out[k] ?? 0) + 1;
  return out;
}

/** The part of the run configuration that a resumed run must share with the interrupted one. */
function runConfigOf(options: RunOptions, setup: RunSetup): Record<string, unknown> {
  return {
    space: options.space.id,
    method: setup.resolved.id,
    kind: setup.resolved.kind,
    methodOptions: setup.resolved.options,
    profile: options.profile ?? null,
    budget: options.budget ?? null,
    rounds: options.rounds,
    seed: options.seed,
    epochs: setup.planned,
  };
}

/** Whether `runDir` holds the traces of a run killed before it wrote `run.json` (its lock, run.json's temporary file). */
function interruptedBeforeRunJson(runDir: string): boolean {
  try {
    return readdirSync(runDir).some((n) => n === LOCK_FILE || n.startsWith('.run.json.tmp-'));
  } catch {
    return false;
  }
}

/** What {@link openRunDirectory} hands the run: its folder, log, the round to resume from and the lock's release. */
interface OpenRun {
  readonly runDir: string;
  readonly log: EventLog;
  readonly resumeFrom: number;
  readonly release: () => void;
}

/**
 * Creates or reopens the run directory under its lock (`.lock`; a second writer is refused, a lock left by a dead
 * process is taken over), removes what an interrupted write left (`.<name>.tmp-*` files and folders, a folder
 * set aside mid-swap is put back), refuses to overwrite a run unless resuming (same settings) or forced, writes
 * `run.json` atomically and picks the round to resume from (checkpoints verified, see {@link resumePoint}).
 */
function openRunDirectory(options: RunOptions, config: Record<string, unknown>): OpenRun {
  const runDir = resolve(options.out);
  const configFile = join(runDir, 'run.json');
  // A run killed before its run.json landed leaves its lock or run.json's temporary file: it resumes (afresh).
  if (options.resume === true && !existsSync(configFile) && !interruptedBeforeRunJson(runDir)) {
    throw new NasError('E_USAGE', `--resume: ${runDir} holds no run to resume (no run.json); leave out --resume to start one there`, { runDir });
  }
  ensureDirectory(runDir, 'create the run directory');
  const release = lockDirectory(runDir, 'run');
  try {
    if (options.force === true && options.resume !== true) {
      for (const name of ['checkpoints', 'model', 'events.jsonl', 'summary.json', 'run.json']) {
        try {
          rmSync(join(runDir, name), { recursive: true, force: true });
        } catch (error) {
          throw fileSystemError(error, join(runDir, name), 'remove the previous run (--force)');
        }
      }
    }
    for (const dir of [runDir, join(runDir, 'checkpoints')]) removeStaleTemporaries(dir);
    const log = new EventLog(join(runDir, 'events.jsonl'));
    if (options.resume === true && existsSync(configFile)) {
      const previous = parseRunConfig(readJsonFile(configFile), configFile) as unknown as Record<string, unknown>;
      const differing = Object.keys(config).filter((k) => JSON.stringify(previous[k] ?? null) !== JSON.stringify(config[k] ?? null));
      if (differing.length > 0) {
        throw new NasError('E_USAGE', `--resume: ${runDir} was started with other settings (${differing.join(', ')}); resume with the same ones or choose another --out`, {
          runDir,
          differing,
        });
      }
    }
    if (options.resume !== true && options.resumeRound !== undefined) {
      throw new NasError('E_USAGE', '--resume-round needs --resume', { round: options.resumeRound });
    }
    if (options.resume !== true && (existsSync(configFile) || (existsSync(log.file) && lastCheckpointedRound(runDir) >= 0))) {
      throw new NasError('E_USAGE', `${runDir} already holds a run; pass --resume to continue it, --force to start over, or choose another --out`, { runDir });
    }
    const resumeFrom = options.resume === true ? resumePoint(runDir, options.resumeRound) : -1;
    writeFileAtomicSync(configFile, `${JSON.stringify({ format: 'mitosis-run', version: 2, ...config, searchSpace: options.space }, null, 1)}\n`, 'write the run configuration');
    log.reopen();
    return { runDir, log, resumeFrom, release };
  } catch (error) {
    release();
    throw error;
  }
}

/**
 * Runs (or resumes) one method on one search space under one budget: the start network is trained (a grower's
 * seed, a pruner's full network — with the pruner's sparsity penalty —, or a resizer's resized seed from
 * scratch for the whole epoch budget; a shrinker first searches a cell space's topology on proxy training, see
 * `shrink.ts`, and trains the chosen cell from scratch the same way), then rounds of
 * score → method.plan → plan policy → apply → fine-tune → checkpoint/log, until the rounds, the budget (grow
 * until cost ≥ target, prune until cost ≤ target), the caps or the absence of a useful change stop it. Epochs
 * left unused by an early stop are trained at the end, so every method of a space trains for the same number
 * of epochs. After every round the state is checkpointed atomically and one event is appended to
 * `events.jsonl`; `resume` continues from the last finished round so that the final model and log equal an
 * uninterrupted run with the same seed (durations aside).
 */
export async function runMethod(options: RunOptions, services: RunServices, callbacks: RunCallbacks = {}): Promise<RunSummary> {
  const t0 = performance.now();
  const setup = await setupRun(options, services);
  const config = runConfigOf(options, setup);
  const opened = openRunDirectory(options, config);
  try {
    return await runInDirectory(options, services, callbacks, setup, config, opened, t0);
  } finally {
    opened.release();
  }
}

async function runInDirectory(
  options: RunOptions,
  services: RunServices,
  callbacks: RunCallbacks,
  setup: RunSetup,
  config: Record<string, unknown>,
  opened: OpenRun,
  t0: number,
): Promise<RunSummary> {
  const { space } = options;
  const say = (m: string): void => callbacks.onMessage?.(m);
  const quiet = options.quiet === true;
  const { resolved, primary, costModels, unit, target, planned } = setup;
  const kind = resolved.kind;
  const { runDir, log, resumeFrom } = opened;
  const emit = (e: RunEvent): void => {
    log.append(e);
    callbacks.onEvent?.(e);
  };
  const clock = new PhaseClock();
  const { splits: data, stats: normalisation, info: dataInfo } = await loadSpaceData(space, options.seed);
  const loss: Loss = space.loss === 'ce' ? 'softmaxCrossEntropy' : 'mse';
  const batch = space.fineTune.batchSize;
  // Phase settings: each phase's own, or (scheduleSpan 'run') the seed phase's optimiser and one schedule over
  // the run's epochs, each phase taking its slice. `scale` lowers the rate of a retry after divergence.
  const runSpan = space.scheduleSpan === 'run';
  const phaseOf = (p: TrainingPhase, scale = 1): TrainingPhase => {
    const base = runSpan ? { ...space.training, batchSize: p.batchSize } : p;
    return { ...base, learningRate: base.learningRate * scale };
  };
  const spanAt = (start: number): { start: number; total: number } | undefined => (runSpan ? { start, total: planned } : undefined);

  // --- start: fresh or resumed --------------------------------------------------------------------------
  let spec: NetworkSpec;
  let weights: WeightMap;
  let rng: SeededRandom;
  let round: number;
  let epochs: number;
  let lastMetrics: Record<string, unknown>;
  let search: ShrinkSearchSummary | undefined;
  let shrinkStop: ShrinkStop | undefined;
  if (resolved.kind === 'shrinker') {
    // A shrinker searches the cell on proxy training (checkpointed per iteration under search/), then trains
    // the final cell from scratch for the whole epoch budget, like a resizer; checkpoint round 0 is that network.
    const finished = options.resume === true && resumeFrom >= 0;
    const result = await runShrinkSearch({
      cell: space.cell!,
      name: space.id,
      shrinker: resolved.method,
      method: resolved.id,
      runDir,
      resume: options.resume === true,
      seed: options.seed,
      costModels,
      unit,
      target,
      train: data.train,
      val: data.val,
      emit: (e) => (finished ? undefined : emit(e)),
      say,
      startEvent: { ...config, from: null },
      proxyTrain: async (candidate, initial, proxy, proxyEpochs, proxyRng, label) => {
        const model = new NetworkModel(candidate, initial);
        try {
          await clock.time('score', () => trainPhase(model, { ...data, train: proxy }, { ...space.training, epochs: proxyEpochs }, proxyEpochs, loss, proxyRng, quiet, label));
          return model.toWeightMap();
        } finally {
          model.dispose();
        }
      },
      evaluate: (candidate, trained, set) => {
        const model = new NetworkModel(candidate, trained);
        try {
          const m = clock.ms;
          const t = performance.now();
          const r = evaluate(model, set, space.scoring.batchSize, loss);
          m.score += performance.now() - t;
          return { loss: r.loss, accuracy: r.accuracy ?? null };
        } finally {
          model.dispose();
        }
      },
    });
    search = result.summary;
    shrinkStop = result.stopReason;
    round = result.iterations;
    spec = result.spec;
    if (finished) {
      const state = await loadRoundState(runDir, resumeFrom);
      ({ weights } = state);
      rng = SeededRandom.restore(state.rng);
      lastMetrics = { ...state.metrics };
      epochs = Number(state.metrics['epochs'] ?? 0);
      say(`resuming ${runDir}: the final cell is trained`);
    } else {
      rng = result.rng;
      weights = initWeights(spec, rng.fork());
      const model = new NetworkModel(spec, weights);
      try {
        say(`training the final cell from scratch (${planned} epochs; the search's ${search.proxyEpochs} proxy epochs are counted apart)`);
        const history = await clock.time('train', () => trainPhase(model, data, phaseOf(space.training), planned, loss, rng, quiet, 'train', undefined, spanAt(0)));
        weights = model.toWeightMap();
        epochs = planned;
        lastMetrics = await clock.time('evaluate', () => metricsOf(model, data, loss, batch, history, costModels, epochs));
      } finally {
        model.dispose();
      }
      emit({ type: 'final', round, widths: layerWidths(spec), cell: { mask: result.mask, edges: search.edges.final }, ...lastMetrics });
      await saveRoundState(runDir, { round: 0, spec, weights, rng: rng.snapshot(), metrics: lastMetrics });
    }
  } else if (resumeFrom >= 0) {
    const state = await loadRoundState(runDir, resumeFrom, { complete: true });
    // Append-only: the events after this round's checkpoint stay in the file; readers drop them (effectiveEvents).
    emit({ type: 'resume', round: resumeFrom });
    ({ spec, weights } = state);
    rng = SeededRandom.restore(state.rng);
    round = state.round;
    lastMetrics = { ...state.metrics };
    epochs = Number(state.metrics['epochs'] ?? 0);
    say(`resuming ${runDir} after round ${round}`);
  } else {
    rng = new SeededRandom(options.seed);
    spec = setup.start;
    weights = initWeights(spec, rng.fork());
    if (options.initial !== undefined && kind !== 'resizer') weights = options.initial.weights;
    emit({
      type: 'start',
      ...config,
      from: options.initial === undefined ? null : 'initial weights',
      widths: layerWidths(spec),
      ...(setup.resize === null ? {} : { plan: setup.resize.stats, details: setup.resize.plan.details ?? {} }),
    });
    // Resizers train from scratch for the whole epoch budget; the others train their start network first.
    const first = kind === 'resizer' ? planned : options.initial === undefined ? space.training.epochs : 0;
    const l1 =
      kind === 'pruner' && (resolved.method.training?.bnScaleL1 ?? 0) > 0
        ? { keys: bnScaleKeys(spec, methodLayers(space, spec, primary)), strength: resolved.method.training!.bnScaleL1! }
        : undefined;
    const model = new NetworkModel(spec, weights);
    try {
      if (first > 0) say(`training the ${kind === 'grower' ? 'seed' : kind === 'pruner' ? 'full' : 'resized'} network (${first} epochs${l1 === undefined ? '' : `, L1 ${l1.strength} on batch-norm scales`})`);
      const history = await clock.time('train', () => trainPhase(model, data, phaseOf(space.training), first, loss, rng, quiet, kind === 'resizer' ? 'train' : 'seed', l1, spanAt(0)));
      weights = model.toWeightMap();
      epochs = first;
      lastMetrics = await clock.time('evaluate', () => metricsOf(model, data, loss, batch, history, costModels, epochs));
    } finally {
      model.dispose();
    }
    round = 0;
    emit({ type: 'seed', round: 0, widths: layerWidths(spec), ...lastMetrics, timeMs: { train: Math.round(clock.ms.train), evaluate: Math.round(clock.ms.evaluate) } });
    await saveRoundState(runDir, { round, spec, weights, rng: rng.snapshot(), metrics: lastMetrics });
  }

  // --- rounds (growers and pruners) ---------------------------------------------------------------------
  let stopReason: StopReason = shrinkStop ?? (kind === 'resizer' ? 'resized' : 'rounds');
  const rounds = kind === 'resizer' || kind === 'shrinker' ? 0 : options.rounds;
  while (kind !== 'resizer' && kind !== 'shrinker' && round < rounds) {
    const r = round + 1;
    const layers = methodLayers(space, spec, primary);
    const cost = primary.estimate(spec).total;
    const stop = roundStop(kind, layers, cost, target);
    if (stop !== null) {
      stopReason = stop;
      break;
    }
    const budget = roundBudget(kind, cost, target, rounds - round);
    const before = { spec, weights, rng: rng.snapshot() };
    let attempt = 0;
    let done = false;
    while (!done) {
      const phaseStart = { ...clock.ms };
      const scoring = scoringSet(data.train, space.scoring.samples, rng);
      say(`round ${r}: scoring ${layers.length} layers on ${scoring.count} samples`);
      let bar: Progress | undefined;
      let scores: MethodScores;
      let convergence: EigenConvergenceStats | undefined;
      try {
        scores = await clock.time('score', () =>
          computeScores(setup.needs, {
            spec,
            weights,
            layers,
            data: scoring,
            loss: space.loss,
            batchSize: space.scoring.batchSize,
            solvers: services.eigenSolvers,
            onConvergence: (stats) => {
              convergence = stats;
              if (stats.notConverged > 0) {
                say(`round ${r}: ${stats.notConverged} of ${stats.neurons} neurons not converged by ${stats.solver}; ${stats.recovered} recovered by lanczos, ${stats.skipped} skipped this round`);
              }
            },
            onProgress: (n, total, label) => {
              bar ??= createProgress(`round ${r} scoring`, total, { json: quiet });
              bar.update(n, label);
            },
          }),
        );
      } finally {
        bar?.stop();
      }
      const context = { round: r, spec, layers, scores, costModel: primary, costUnit: unit, cost, target, budget, random: () => rng.next() };
      const method: Grower | Pruner = resolved.method as Grower | Pruner;
      const proposed = await clock.time<ChannelPlan>('plan', () => method.plan(context));
      const policyInput = { spec, layers, costModel: primary, budget };
      const checked = proposed.action === 'grow' ? growPolicy(proposed, policyInput) : proposed.action === 'prune' ? prunePolicy(proposed, policyInput) : null;
      if (checked === null) throw new NasError('E_PLAN_INVALID', `Method "${resolved.id}" (a ${kind}) returned a ${proposed.action} plan`, { method: resolved.id });
      const plan = checked.plan;
      if (plan.entries.length === 0) {
        stopReason = kind === 'grower' ? 'no-useful-split' : 'min-widths';
        emit({ type: 'stop', round: r, reason: stopReason, plan: checked.stats, details: proposed.details ?? {} });
        break;
      }
      const t = performance.now();
      const lossBefore = evalLoss(spec, weights, scoring, loss, space.scoring.batchSize);
      // A retry after a non-finite loss splits with a smaller step as well as a smaller fine-tuning rate.
      const changed = await clock.time('apply', () => applyPlan(spec, weights, plan, { epsilonScale: 1 / 2 ** attempt }));
      const lossAfter = evalLoss(changed.spec, changed.weights, scoring, loss, space.scoring.batchSize);
      const applyMs = Math.round(performance.now() - t);
      const model = new NetworkModel(changed.spec, changed.weights);
      try {
        if (!Number.isFinite(lossAfter)) throw new NasError('E_DIVERGED', `The loss is ${lossAfter} right after the change of round ${r}`, { round: r });
        say(`round ${r}: ${plan.action} ${plan.entries.length} channel(s), fine-tuning (${space.fineTune.epochs} epochs)`);
        const tf0 = performance.now();
        const history = await clock.time('fineTune', () =>
          trainPhase(model, data, phaseOf(space.fineTune, 1 / 2 ** attempt), space.fineTune.epochs, loss, rng, quiet, `round ${r}`, undefined, spanAt(epochs)),
        );
        const fineTuneMs = Math.round(performance.now() - tf0);
        spec = changed.spec;
        weights = model.toWeightMap();
        epochs += space.fineTune.epochs;
        lastMetrics = await clock.time('evaluate', () => metricsOf(model, data, loss, batch, history, costModels, epochs));
        done = true;
        round = r;
        emit({
          type: 'round',
          round: r,
          widths: layerWidths(spec),
          ...lastMetrics,
          change: {
            action: plan.action,
            count: plan.entries.length,
            ...(plan.action === 'grow'
              ? {
                  epsilon: plan.epsilon / 2 ** attempt,
                  predictedDeltaLoss: plan.predictedDeltaLoss,
                  schemes: countBy(plan.entries.map((e) => e.scheme)),
                }
              : {}),
            measuredDeltaLoss: lossAfter - lossBefore,
            ...(convergence === undefined ? {} : { scoring: convergence }),
            byLayer: countBy(plan.entries.map((e) => e.node)),
          },
          budget,
          plan: checked.stats,
          details: proposed.details ?? {},
          timeMs: {
            score: Math.round(clock.ms.score - phaseStart.score),
            plan: Math.round(clock.ms.plan - phaseStart.plan),
            apply: applyMs,
            fineTune: fineTuneMs,
            evaluate: Math.round(clock.ms.evaluate - phaseStart.evaluate),
          },
        });
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
        say(`round ${r}: diverged, rolling back and retrying with half the step and fine-tuning rate`);
        continue;
      } finally {
        model.dispose();
      }
      await saveRoundState(runDir, { round, spec, weights, rng: rng.snapshot(), metrics: lastMetrics });
    }
    if (!done) break;
  }

  // --- epochs an early stop left unused, so that every method trains equally long -------------------------
  if (epochs < planned && stopReason !== 'diverged') {
    const left = planned - epochs;
    const phaseStart = { ...clock.ms };
    // `finalPhase: retrain`: the found architecture, initialised afresh, trained from scratch on a schedule of its own.
    const retrain = space.finalPhase === 'retrain' && (kind === 'grower' || kind === 'pruner');
    say(retrain ? `retraining the found architecture from scratch for the ${left} epoch(s) left of the space's budget of ${planned}` : `training ${left} more epoch(s) to the space's budget of ${planned}`);
    if (retrain) weights = initWeights(spec, retrainSeed(options.seed));
    const model = new NetworkModel(spec, weights);
    try {
      const history = await clock.time('fineTune', () =>
        retrain
          ? trainPhase(model, data, space.training, left, loss, rng, quiet, 'retrain')
          : trainPhase(model, data, phaseOf(space.fineTune), left, loss, rng, quiet, 'final', undefined, spanAt(epochs)),
      );
      weights = model.toWeightMap();
      epochs = planned;
      lastMetrics = await clock.time('evaluate', () => metricsOf(model, data, loss, batch, history, costModels, epochs));
    } finally {
      model.dispose();
    }
    emit({
      type: 'final',
      round,
      ...(retrain ? { retrained: true } : {}),
      widths: layerWidths(spec),
      ...lastMetrics,
      timeMs: { fineTune: Math.round(clock.ms.fineTune - phaseStart.fineTune), evaluate: Math.round(clock.ms.evaluate - phaseStart.evaluate) },
    });
  }

  // --- final model and summary ---------------------------------------------------------------------------
  const modelDir = join(runDir, 'model');
  await exportLayersModel(modelDir, spec, weights, { allowMitosisActivations: true });
  // The model expects normalised inputs: keep the statistics beside it (train / split-scores apply them).
  if (normalisation !== null) writeModelNormalisation(modelDir, normalisation);
  // What the inputs and outputs mean (shape, raw range, class names): model cards and exports read it.
  writeModelDataInfo(modelDir, dataInfo);
  const metrics = lastMetrics as { trainLoss: number; valLoss: number; valAccuracy: number | null; testLoss: number; testAccuracy: number | null; cost: CostSummary };
  const finalCost = primary.estimate(spec).total;
  const summaryFile = join(runDir, 'summary.json');
  const summary: RunSummary = {
    format: 'mitosis-run-summary',
    version: 2,
    runDir,
    space: space.id,
    method: resolved.id,
    kind,
    options: resolved.options,
    device: options.profile ?? null,
    seed: options.seed,
    budget: options.budget ?? null,
    budgetUsed: target === null || finalCost === null ? null : finalCost / target,
    budgetMet: target === null || finalCost === null ? null : finalCost <= target * (1 + 1e-9),
    rounds: round,
    stopReason,
    ...(search === undefined ? {} : { search }),
    epochs: { total: epochs, planned },
    wallMs: Math.round(performance.now() - t0),
    phaseMs: Object.fromEntries(Object.entries(clock.ms).map(([k, v]) => [k, Math.round(v)])) as RunSummary['phaseMs'],
    final: { trainLoss: metrics.trainLoss, valLoss: metrics.valLoss, valAccuracy: metrics.valAccuracy, testLoss: metrics.testLoss, testAccuracy: metrics.testAccuracy },
    widths: layerWidths(spec),
    cost: metrics.cost,
    model: modelDir,
    log: log.file,
    summary: summaryFile,
  };
  writeFileAtomicSync(summaryFile, `${JSON.stringify(summary, null, 1)}\n`, 'write the run summary');
  // The run's artifacts (not the checkpoints, which carry their own), hashed last: `checksums.json`.
  writeChecksums(runDir, { only: ['run.json', 'events.jsonl', 'summary.json', 'model'], atomic: true });
  return summary;
}
