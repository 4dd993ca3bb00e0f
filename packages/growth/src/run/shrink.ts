import { rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  NasError,
  SeededRandom,
  removeStaleTemporaries,
  type CellEdge,
  type CostModel,
  type CostUnit,
  type Dataset,
  type NetworkSpec,
  type ShrinkCandidate,
  type ShrinkChoice,
  type ShrinkContext,
  type Shrinker,
  type WeightMap,
} from '@mitosis/core';
import { subset } from '@mitosis/data';
import { initWeights } from '@mitosis/ir';
import { loadRoundState, resumePoint, saveRoundState } from './checkpoint.js';
import type { RunEvent } from './event-log.js';
import { priceAll } from './stages.js';
import { compileCell, edgeName, fullMask, liveEdges, pruneDead, removableEdges, removeEdge, startMask, type CellArchitecture, type CellMask } from '../space/cell-space.js';

/**
 * The search half of a shrinker run (AutoShrink, algorithms.md §6.1): from the cell space's start cell, each
 * iteration asks the method for edges to try, builds and proxy-trains one candidate per edge (that edge removed,
 * dead nodes pruned), prices it, lets the method score the candidates and keeps the chosen removal, until the
 * budget, the method's edge fraction or iteration limit, or a cell with no removable edge stops it. Every
 * iteration is one `round` event (the new cell, every candidate with its metrics and score) and one checkpoint
 * under `<run>/search/`, so a killed search resumes after its last finished iteration with the same result.
 * The final network is then trained from scratch by the run loop for the space's epoch budget.
 */

/** Why a shrink search ended. */
export type ShrinkStop = 'budget' | 'edge-fraction' | 'iterations' | 'min-edges';

/** One logged cell of the search: the cell after an iteration's removal. */
export interface ShrinkStep {
  readonly iteration: number;
  readonly removed: string;
  readonly mask: number[][];
  readonly edges: number;
  readonly cost: Partial<Record<CostUnit, number | null>>;
  readonly accuracy: number | null;
  readonly loss: number;
  readonly score: number;
}

/** `summary.search` of a shrinker run: what the search cost, apart from the final training's epochs. */
export interface ShrinkSearchSummary {
  readonly iterations: number;
  /** Candidates proxy-trained (each from scratch). */
  readonly candidates: number;
  /** Proxy epochs per candidate and in all (search cost; not part of `epochs.total`). */
  readonly proxyEpochsPerCandidate: number;
  readonly proxyEpochs: number;
  /** Training samples of the proxy set, and the split candidates are scored on. */
  readonly proxySamples: number;
  readonly evaluatedOn: 'val' | 'proxy-train';
  readonly wallMs: number;
  readonly edges: { readonly initial: number; readonly final: number };
  /** The iteration whose cell was trained as the final network (0: the start cell). */
  readonly finalIteration: number;
  readonly cell: { readonly nodes: readonly string[]; readonly merge: string; readonly mask: number[][] };
}

/** What the search needs from the run loop. */
export interface ShrinkEnv {
  readonly cell: CellArchitecture;
  readonly name: string;
  readonly shrinker: Shrinker;
  readonly method: string;
  readonly runDir: string;
  readonly resume: boolean;
  readonly seed: number;
  readonly costModels: ReadonlyMap<CostUnit, CostModel>;
  readonly unit: CostUnit;
  readonly target: number | null;
  readonly train: Dataset;
  readonly val: Dataset;
  readonly emit: (e: RunEvent) => void;
  readonly say: (m: string) => void;
  /** Trains `spec` from `weights` on `train` for `epochs` (the space's training settings); the trained weights. */
  readonly proxyTrain: (spec: NetworkSpec, weights: WeightMap, train: Dataset, epochs: number, rng: SeededRandom, label: string) => Promise<WeightMap>;
  /** Loss and accuracy (`null` for regression) of `spec` with `weights` on `data`, in inference mode. */
  readonly evaluate: (spec: NetworkSpec, weights: WeightMap, data: Dataset) => { loss: number; accuracy: number | null };
  /** The start event's fields (run configuration) for a fresh search. */
  readonly startEvent: Readonly<Record<string, unknown>>;
}

export interface ShrinkResult {
  readonly spec: NetworkSpec;
  readonly mask: number[][];
  readonly iterations: number;
  readonly stopReason: ShrinkStop;
  /** The random stream after the search (the final network's initialisation draws from it). */
  readonly rng: SeededRandom;
  readonly summary: ShrinkSearchSummary;
  readonly history: readonly ShrinkStep[];
}

interface SearchState {
  readonly mask: number[][];
  readonly history: ShrinkStep[];
  readonly candidates: number;
  readonly searchMs: number;
}

/** The proxy training set: `samples` training examples drawn with a stream of their own (stable on resume). */
export function proxySet(train: Dataset, samples: number | null, seed: number): Dataset {
  if (samples === null || samples >= train.count) return train;
  const rng = new SeededRandom((seed ^ 0x5eed5eed) >>> 0);
  const idx = Int32Array.from({ length: train.count }, (_, i) => i);
  rng.shuffle(idx);
  const keep = Array.from(idx.subarray(0, samples)).sort((a, b) => a - b);
  return subset(train, keep);
}

/** The cost of the cell that is one path input → `nodes` → output (every cell of the stack). */
function pathCost(cell: CellArchitecture, model: CostModel, nodes: readonly number[]): number | null {
  const n = cell.nodes.length;
  const mask = fullMask(n).map((row) => row.map(() => 0));
  [0, ...nodes, n + 1].forEach((v, i, all) => {
    if (i > 0) mask[all[i - 1]!]![v] = 1;
  });
  return model.estimate(compileCell(cell, mask)).total;
}

/** The cheapest cells an edge removal can reach: input → one node → output, one per node; their lowest cost. */
export function cellCostFloor(cell: CellArchitecture, model: CostModel): number | null {
  let best: number | null = null;
  for (let v = 1; v <= cell.nodes.length; v++) {
    const cost = pathCost(cell, model, [v]);
    if (cost === null) return null;
    best = best === null ? cost : Math.min(best, cost);
  }
  return best;
}

/**
 * Node costs for the budget guard: a path cell through nodes S costs `base + Σ_{v∈S} node[v]` (`node[0]` and
 * `node[N+1]` are 0). Exact for add-cells under MACs and params (a node's cost does not depend on its inputs
 * there); an additive estimate for concat-cells and device costs. `null` when the model cannot price a cell.
 */
export interface NodeCosts {
  readonly base: number;
  readonly node: readonly number[];
}

export function nodeCosts(cell: CellArchitecture, model: CostModel): NodeCosts | null {
  const n = cell.nodes.length;
  const single = Array.from({ length: n }, (_, i) => pathCost(cell, model, [i + 1]));
  if (single.some((c) => c === null)) return null;
  const pair = n >= 2 ? pathCost(cell, model, [1, 2]) : null;
  if (n >= 2 && pair === null) return null;
  const base = n >= 2 ? single[0]! + single[1]! - pair! : single[0]!;
  return { base, node: [0, ...single.map((c) => c! - base), 0] };
}

/** The cost of the cheapest input → output path of `mask` under `costs` (the least a shrink can still reach). */
export function cheapestPathCost(mask: CellMask, costs: NodeCosts): number {
  const size = mask.length;
  const best = new Array<number>(size).fill(Number.POSITIVE_INFINITY);
  best[0] = 0;
  for (let v = 1; v < size; v++) for (let u = 0; u < v; u++) if (mask[u]![v] === 1) best[v] = Math.min(best[v]!, best[u]! + costs.node[v]!);
  return costs.base + best[size - 1]!;
}

const sameEdge = (a: CellEdge, b: CellEdge): boolean => a.from === b.from && a.to === b.to;

/** Checks a shrinker's proposal: at least one edge, distinct, each removable. `E_PLAN_INVALID` otherwise. */
export function checkProposal(method: string, proposed: readonly CellEdge[], removable: readonly CellEdge[]): void {
  if (proposed.length === 0) throw new NasError('E_PLAN_INVALID', `Shrinker "${method}" proposed no edge to remove`, { method });
  proposed.forEach((e, i) => {
    if (!removable.some((r) => sameEdge(r, e))) {
      throw new NasError('E_PLAN_INVALID', `Shrinker "${method}" proposed edge ${edgeName(e)}, which is not a removable edge of the cell (removable: ${removable.map(edgeName).join(', ')})`, {
        method,
        edge: e,
      });
    }
    if (proposed.findIndex((q) => sameEdge(q, e)) !== i) throw new NasError('E_PLAN_INVALID', `Shrinker "${method}" proposed edge ${edgeName(e)} twice`, { method, edge: e });
  });
}

/** Checks a shrinker's choice: one finite score per candidate and a chosen index in range. */
export function checkChoice(method: string, choice: ShrinkChoice, candidates: number): void {
  if (choice.scores.length !== candidates || choice.scores.some((s) => !Number.isFinite(s))) {
    throw new NasError('E_PLAN_INVALID', `Shrinker "${method}" must return one finite score per candidate (${candidates}), got [${choice.scores.join(', ')}]`, { method });
  }
  if (!Number.isInteger(choice.chosen) || choice.chosen < 0 || choice.chosen >= candidates) {
    throw new NasError('E_PLAN_INVALID', `Shrinker "${method}" chose candidate ${choice.chosen} of ${candidates}`, { method, chosen: choice.chosen });
  }
}

function stopOf(env: ShrinkEnv, mask: CellMask, initialEdges: number, iteration: number, cost: Partial<Record<CostUnit, number | null>>, offered: readonly CellEdge[]): ShrinkStop | null {
  const c = cost[env.unit];
  if (env.target !== null && c !== null && c !== undefined && c <= env.target * (1 + 1e-9)) return 'budget';
  if (liveEdges(mask).length <= env.shrinker.keepFraction * initialEdges) return 'edge-fraction';
  if (env.shrinker.maxIterations !== null && iteration >= env.shrinker.maxIterations) return 'iterations';
  if (offered.length === 0) return 'min-edges';
  return null;
}

/** Runs (or resumes) the search; see the module comment. */
export async function runShrinkSearch(env: ShrinkEnv): Promise<ShrinkResult> {
  const { cell, shrinker } = env;
  const searchDir = join(env.runDir, 'search');
  const t0 = performance.now();
  const start = pruneDead(startMask(cell));
  const initialEdges = liveEdges(start).length;
  const proxy = proxySet(env.train, shrinker.proxy.samples, env.seed);
  const evalSet = env.val.count > 0 ? env.val : proxy;
  removeStaleTemporaries(join(searchDir, 'checkpoints'));
  const last = env.resume ? resumePoint(searchDir) : -1;
  let rng: SeededRandom;
  let iteration: number;
  let state: SearchState;
  if (last >= 0) {
    const saved = await loadRoundState(searchDir, last);
    // Append-only log: readers drop what was logged after this iteration's checkpoint (effectiveEvents).
    env.emit({ type: 'resume', round: last });
    rng = SeededRandom.restore(saved.rng);
    iteration = saved.round;
    state = saved.metrics['search'] as SearchState;
    env.say(`resuming the shrink search after iteration ${iteration}`);
  } else {
    rmSync(searchDir, { recursive: true, force: true });
    rng = new SeededRandom(env.seed);
    iteration = 0;
    state = { mask: start, history: [], candidates: 0, searchMs: 0 };
    const spec = compileCell(cell, start, { name: env.name });
    env.emit({ ...env.startEvent, type: 'start', cell: { mask: start, edges: initialEdges }, cost: priceAll(env.costModels, spec) });
    // Iteration 0 is the start cell; its weights are a fixed initialisation (candidates are trained from scratch).
    await saveRoundState(searchDir, { round: 0, spec, weights: initWeights(spec, 0), rng: rng.snapshot(), metrics: { search: state } });
  }
  const elapsedBefore = state.searchMs;
  // The budget guard: under a target, only removals after which some path still meets it are offered, so the
  // greedy search cannot strand itself on a bridge-only cell above the budget.
  const primary = env.costModels.get(env.unit);
  const guard = env.target !== null && primary !== undefined ? nodeCosts(cell, primary) : null;
  const target = env.target;
  const offeredOf = (mask: CellMask): CellEdge[] =>
    removableEdges(mask).filter((e) => guard === null || target === null || cheapestPathCost(removeEdge(mask, e), guard) <= target * (1 + 1e-9));
  let stop: ShrinkStop;
  for (;;) {
    const spec = compileCell(cell, state.mask, { name: env.name });
    const cost = priceAll(env.costModels, spec);
    const offered = offeredOf(state.mask);
    const reason = stopOf(env, state.mask, initialEdges, iteration, cost, offered);
    if (reason !== null) {
      stop = reason;
      break;
    }
    iteration += 1;
    const context: ShrinkContext = {
      iteration,
      nodes: cell.nodes.length,
      edges: liveEdges(state.mask),
      removable: offered,
      initialEdges,
      costUnit: env.unit,
      target: env.target,
      cost,
      random: () => rng.next(),
    };
    const proposed = await shrinker.propose(context);
    checkProposal(env.method, proposed, context.removable);
    // Every candidate's initialisation and data order are drawn before any is trained: independent trials.
    const seeds = proposed.map(() => [rng.fork(), rng.fork()] as const);
    env.say(`shrink iteration ${iteration}: ${proposed.length} candidate(s) of ${context.edges.length} edges, ${shrinker.proxy.epochs} proxy epoch(s) each on ${proxy.count} samples`);
    const candidates: (ShrinkCandidate & { mask: number[][]; weights: WeightMap; spec: NetworkSpec })[] = [];
    for (const [i, edge] of proposed.entries()) {
      const mask = removeEdge(state.mask, edge);
      const candidateSpec = compileCell(cell, mask, { name: env.name });
      const [initSeed, trainSeed] = seeds[i]!;
      const weights = await env.proxyTrain(candidateSpec, initWeights(candidateSpec, initSeed), proxy, shrinker.proxy.epochs, new SeededRandom(trainSeed), `iteration ${iteration} − ${edgeName(edge)}`);
      const metrics = env.evaluate(candidateSpec, weights, evalSet);
      candidates.push({ edge, edges: liveEdges(mask).length, accuracy: metrics.accuracy, loss: metrics.loss, cost: priceAll(env.costModels, candidateSpec), mask, weights, spec: candidateSpec });
    }
    const plain: ShrinkCandidate[] = candidates.map(({ edge, edges, accuracy, loss, cost: c }) => ({ edge, edges, accuracy, loss, cost: c }));
    const choice = await shrinker.choose(context, plain);
    checkChoice(env.method, choice, candidates.length);
    const kept = candidates[choice.chosen]!;
    const step: ShrinkStep = {
      iteration,
      removed: edgeName(kept.edge),
      mask: kept.mask,
      edges: kept.edges,
      cost: kept.cost,
      accuracy: kept.accuracy,
      loss: kept.loss,
      score: choice.scores[choice.chosen]!,
    };
    state = {
      mask: kept.mask,
      history: [...state.history, step],
      candidates: state.candidates + candidates.length,
      searchMs: elapsedBefore + (performance.now() - t0),
    };
    env.emit({
      type: 'round',
      round: iteration,
      cell: { mask: kept.mask, edges: kept.edges },
      removed: step.removed,
      cost: kept.cost,
      accuracy: kept.accuracy,
      loss: kept.loss,
      score: step.score,
      candidates: plain.map((c, i) => ({ edge: edgeName(c.edge), edges: c.edges, accuracy: c.accuracy, loss: c.loss, cost: c.cost, score: choice.scores[i] })),
      chosen: choice.chosen,
      details: choice.details ?? {},
    });
    const described = kept.accuracy === null ? `loss ${kept.loss.toFixed(4)}` : `proxy accuracy ${(100 * kept.accuracy).toFixed(2)}%`;
    env.say(`shrink iteration ${iteration}: removed ${step.removed} (${kept.edges} edges left, ${described}, ${Number((kept.cost[env.unit] ?? Number.NaN).toPrecision(4))} ${env.unit}, score ${step.score.toFixed(4)})`);
    await saveRoundState(searchDir, { round: iteration, spec: kept.spec, weights: kept.weights, rng: rng.snapshot(), metrics: { search: state } });
  }
  // The final cell: the last one under a budget (the first that meets it, or the cheapest reached); without a
  // budget and with `final: "best"`, the best-scoring logged cell (AutoShrink keeps every intermediate cell).
  let finalStep: ShrinkStep | null = state.history[state.history.length - 1] ?? null;
  if (env.target === null && shrinker.final === 'best') {
    for (const s of state.history) if (finalStep === null || s.score > finalStep.score) finalStep = s;
  }
  const mask = finalStep?.mask ?? state.mask;
  const spec = compileCell(cell, mask, { name: env.name });
  const wallMs = Math.round(elapsedBefore + (performance.now() - t0));
  const summary: ShrinkSearchSummary = {
    iterations: iteration,
    candidates: state.candidates,
    proxyEpochsPerCandidate: shrinker.proxy.epochs,
    proxyEpochs: state.candidates * shrinker.proxy.epochs,
    proxySamples: proxy.count,
    evaluatedOn: env.val.count > 0 ? 'val' : 'proxy-train',
    wallMs,
    edges: { initial: initialEdges, final: liveEdges(mask).length },
    finalIteration: finalStep?.iteration ?? 0,
    cell: { nodes: [...cell.nodes], merge: cell.merge, mask },
  };
  env.emit({ type: 'stop', round: iteration, reason: stop, finalIteration: summary.finalIteration, cell: { mask, edges: summary.edges.final }, cost: priceAll(env.costModels, spec) });
  return { spec, mask, iterations: iteration, stopReason: stop, rng, summary, history: state.history };
}
