import { injectable, multiInject, optional } from '../di/shared-inversify.js';
import { ContributionRegistry, type Contribution } from './contribution.js';
import type { CostUnit } from './cost-model.js';

/**
 * A topology method (AutoShrink, algorithms.md §6.1): it starts from a cell search space's fully connected cell
 * and removes one edge of the cell's DAG per iteration. Like the channel methods it works on data: each
 * iteration the loop hands it the cell's removable edges, the method proposes the edges to try, the loop builds
 * and proxy-trains one candidate per proposed edge (that edge removed, dead nodes pruned) and prices it, and the
 * method scores the candidates and names the removal to keep. The loop checks both answers, logs every
 * candidate with its score, and trains the final cell from scratch for the space's epoch budget.
 */

/**
 * An edge of a cell's DAG. Vertices are numbered 0 (the cell input), 1…N (the operation nodes, in the space's
 * order) and N + 1 (the cell output); an edge always goes from a lower to a higher vertex.
 */
export interface CellEdge {
  readonly from: number;
  readonly to: number;
}

/** What a shrinker sees each iteration. It must not mutate any of it. */
export interface ShrinkContext {
  /** 1-based iteration: the removal this iteration makes is the cell's `iteration`-th. */
  readonly iteration: number;
  /** Operation nodes of the cell (vertices 0…nodes + 1). */
  readonly nodes: number;
  /** The cell's live edges (on some input → output path), sorted by (from, to). */
  readonly edges: readonly CellEdge[];
  /**
   * The live edges whose removal keeps the output connected to the input and, under a budget, leaves a path
   * that can still meet it: the only edges a proposal may name.
   */
  readonly removable: readonly CellEdge[];
  /** Live edges of the start cell. */
  readonly initialEdges: number;
  /** The unit of the run's budget and its target (`null` without a budget). */
  readonly costUnit: CostUnit;
  readonly target: number | null;
  /** The network's cost now, in every unit the run can price. */
  readonly cost: Readonly<Partial<Record<CostUnit, number | null>>>;
  /** Seeded uniform [0, 1) generator; the only randomness a shrinker may use. */
  readonly random: () => number;
}

/** One proxy-trained candidate: the cell with `edge` removed (and dead nodes pruned). */
export interface ShrinkCandidate {
  readonly edge: CellEdge;
  /** Live edges of the candidate cell. */
  readonly edges: number;
  /** Proxy accuracy on the evaluation set (`null` for a regression loss). */
  readonly accuracy: number | null;
  /** Proxy loss on the evaluation set. */
  readonly loss: number;
  /** The candidate network's cost in every unit the run can price. */
  readonly cost: Readonly<Partial<Record<CostUnit, number | null>>>;
}

/** A shrinker's verdict on one iteration's candidates. */
export interface ShrinkChoice {
  /** One finite score per candidate, in the candidates' order (logged beside them). */
  readonly scores: readonly number[];
  /** Index of the removal to keep. */
  readonly chosen: number;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** How the loop evaluates a shrinker's candidates: trained from scratch on a subset of the training data. */
export interface ShrinkProxy {
  /** Proxy training epochs per candidate (AutoShrink: 20). */
  readonly epochs: number;
  /** Training samples of the proxy set (`null`: the whole training split). */
  readonly samples: number | null;
}

/**
 * A topology-shrinking strategy for one run. `propose` and `choose` must depend only on their arguments and the
 * options (all randomness through `context.random`), so that a resumed run reproduces an uninterrupted one.
 */
export interface Shrinker {
  readonly id: string;
  readonly proxy: ShrinkProxy;
  /** The unit the score's cost term reads (every candidate is priced in it; the run fails early if it cannot be). */
  readonly costUnit: CostUnit;
  /** Stop once the cell has at most this fraction of its initial live edges. */
  readonly keepFraction: number;
  /** Stop after this many removals (`null`: no limit). */
  readonly maxIterations: number | null;
  /** Which logged cell is final: the last one, or the best-scoring one that meets the budget. */
  readonly final: 'last' | 'best';
  /** The distinct removable edges to try this iteration. */
  propose(context: ShrinkContext): Promise<readonly CellEdge[]>;
  /** Scores the candidates and names the one whose removal is kept. */
  choose(context: ShrinkContext, candidates: readonly ShrinkCandidate[]): Promise<ShrinkChoice>;
}

/** DI token of {@link ShrinkerContribution}. */
export const ShrinkerContribution = Symbol.for('mitosis.ShrinkerContribution');
/** A plugin's shrinker: validated options in, a fresh {@link Shrinker} out. */
export interface ShrinkerContribution<O = never> extends Contribution {
  create(options: O): Shrinker;
}

/** All installed shrinkers; the class is its own token. */
@injectable()
export class ShrinkerRegistry extends ContributionRegistry<ShrinkerContribution<unknown>> {
  constructor(@multiInject(ShrinkerContribution) @optional() contributions: readonly ShrinkerContribution<unknown>[] = []) {
    super('shrinkers', 'shrinker', contributions);
  }

  create(id: string, options: unknown = {}): Shrinker {
    return this.get(id).create(this.options(id, options));
  }
}
