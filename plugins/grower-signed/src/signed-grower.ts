import type { JSONSchemaType } from 'ajv';
import { injectable } from '@mitosis/core/di';
import {
  NasError,
  type EigenResult,
  type GrowthPlan,
  type Grower,
  type GrowerContribution,
  type MethodContext,
  type MethodLayer,
  type NeuronGrowth,
  type Offspring,
  type ScoreRequest,
} from '@mitosis/core';
import {
  lambdaMinSummary,
  layerRoom,
  layerStats,
  selectCandidates,
  splittingScores,
  summarise,
  symmetricOffspring,
  unitRow,
  type Candidate,
} from '@mitosis/grower-kit';

/** The splitting schemes of algorithms.md §4, with the plan's scheme names. */
export type SignedScheme = 's2d' | 'signed-negative-pair' | 'signed-amplified-positive' | 'signed-combined';
export const SIGNED_SCHEMES: readonly SignedScheme[] = [
  's2d',
  'signed-negative-pair',
  'signed-amplified-positive',
  'signed-combined',
];

/** Options of the signed grower; {@link signedOptionsSchema} gives the defaults. */
export interface SignedOptions {
  /** Installed eigen solver the loop runs for this grower to compute λ_min, v_min, λ_max, v_max. */
  readonly solver: string;
  /** Options passed to that solver, validated by its own schema. */
  readonly solverOptions: Record<string, unknown>;
  /**
   * Weight budget c: offspring weights satisfy Σ w_i = 1 and Σ |w_i| ≤ c. c = 1 is positive (S2D) splitting;
   * default 2 (see the README: the paper's normalisation could not be confirmed).
   */
  readonly c: number;
  /** Schemes a neuron may use; each neuron takes the one with the lowest II per added neuron. */
  readonly schemes: SignedScheme[];
  /** `quantile`: strict global quantile of the per-added-neuron score; `top-k`: the k best scores. */
  readonly selection: 'quantile' | 'top-k';
  /** Quantile rule fraction (as S2D's reference, 0.3). */
  readonly fraction: number;
  /** Top-k rule: neurons grown per round. */
  readonly k: number;
  /** Grow only neurons whose best score is < 0 (a predicted decrease of the loss). */
  readonly requireNegative: boolean;
  /** Step size ε along the unit eigenvectors. */
  readonly epsilon: number;
}

export const signedOptionsSchema: JSONSchemaType<SignedOptions> = {
  type: 'object',
  properties: {
    solver: { type: 'string', minLength: 1, default: 'dense' },
    solverOptions: { type: 'object', required: [], additionalProperties: true, default: {} },
    c: { type: 'number', minimum: 1, default: 2 },
    schemes: {
      type: 'array',
      items: { type: 'string', enum: [...SIGNED_SCHEMES] },
      minItems: 1,
      uniqueItems: true,
      default: ['s2d', 'signed-negative-pair', 'signed-amplified-positive'],
    },
    selection: { type: 'string', enum: ['quantile', 'top-k'], default: 'quantile' },
    fraction: { type: 'number', minimum: 0, maximum: 1, default: 0.3 },
    k: { type: 'integer', minimum: 1, default: 1 },
    requireNegative: { type: 'boolean', default: true },
    epsilon: { type: 'number', exclusiveMinimum: 0, default: 0.01 },
  },
  required: ['solver', 'solverOptions', 'c', 'schemes', 'selection', 'fraction', 'k', 'requireNegative', 'epsilon'],
  additionalProperties: false,
};

/** One scheme applied to one neuron. `score` is II / added; II is the second-order coefficient of ΔL. */
export interface SchemeCandidate extends Candidate {
  readonly scheme: SignedScheme;
  /** Σ_i w_i δ_iᵀ S δ_i: ΔL ≈ ε²/2 · II. */
  readonly ii: number;
  /** The neuron's other usable schemes, best score first (fallbacks under a tight cap). */
  readonly alternatives: readonly SchemeCandidate[];
}

/**
 * II and added-neuron count of each scheme for a neuron with extreme eigenvalues λ_min ≤ λ_max under budget c
 * (algorithms.md §4 table). The amplified and signed schemes need c > 1 and are left out at c = 1.
 */
export function schemeValues(
  lambdaMin: number,
  lambdaMax: number,
  c: number,
  allowed: readonly SignedScheme[],
): { scheme: SignedScheme; ii: number; added: number }[] {
  const out: { scheme: SignedScheme; ii: number; added: number }[] = [];
  const pos = (c + 1) / 2;
  const neg = (c - 1) / 2;
  for (const scheme of allowed) {
    if (scheme !== 's2d' && !(c > 1)) continue;
    switch (scheme) {
      case 's2d':
        out.push({ scheme, ii: lambdaMin, added: 1 });
        break;
      case 'signed-negative-pair':
        out.push({ scheme, ii: -neg * lambdaMax, added: 2 });
        break;
      case 'signed-amplified-positive':
        out.push({ scheme, ii: pos * lambdaMin, added: 2 });
        break;
      case 'signed-combined':
        out.push({ scheme, ii: pos * lambdaMin - neg * lambdaMax, added: 3 });
        break;
    }
  }
  return out;
}

/**
 * Offspring of `scheme` (§4 table): offspring 0 keeps the parent's slot; negative weights flip the sign of the
 * copy's outgoing weights; Σ w = 1 and Σ w_i δ_i = 0 (no mean shift) for every scheme.
 */
export function schemeOffspring(scheme: SignedScheme, c: number, vMin: number[], vMax: number[]): Offspring[] {
  const neg = (x: number[]): number[] => x.map((v) => -v);
  switch (scheme) {
    case 's2d':
      return symmetricOffspring(vMin);
    case 'signed-negative-pair':
      return [
        { weight: (c + 1) / 2 },
        { weight: -(c - 1) / 4, direction: vMax },
        { weight: -(c - 1) / 4, direction: neg(vMax) },
      ];
    case 'signed-amplified-positive':
      return [
        { weight: (c + 1) / 4, direction: vMin },
        { weight: (c + 1) / 4, direction: neg(vMin) },
        { weight: -(c - 1) / 2 },
      ];
    case 'signed-combined':
      return [
        { weight: (c + 1) / 4, direction: vMin },
        { weight: (c + 1) / 4, direction: neg(vMin) },
        { weight: -(c - 1) / 4, direction: vMax },
        { weight: -(c - 1) / 4, direction: neg(vMax) },
      ];
  }
}

/** Orders scheme options: lowest II per added neuron first, then fewer added neurons, then table order. */
function byScore(a: SchemeCandidate, b: SchemeCandidate): number {
  return a.score - b.score || a.added - b.added || SIGNED_SCHEMES.indexOf(a.scheme) - SIGNED_SCHEMES.indexOf(b.scheme);
}

/**
 * Signed neuron splitting (S3D; Wu, Ye, Lei, Lee, Liu; algorithms.md §4). Each neuron takes the scheme with the
 * lowest II per added neuron among `schemes` (S2D pair, signed negative pair along v_max, amplified positive
 * pair, 4-copy combined); neurons are then selected on that score by the quantile or top-k rule, within the
 * caps (a neuron whose best scheme does not fit falls back to its best scheme that does).
 */
export class SignedGrower implements Grower {
  readonly id = 'signed';
  readonly needs: readonly ScoreRequest[];

  constructor(private readonly options: SignedOptions) {
    this.needs = [{ kind: 'splitting', solver: options.solver, solverOptions: options.solverOptions }];
    if (options.c === 1 && !options.schemes.includes('s2d')) {
      throw new NasError(
        'E_OPTIONS_INVALID',
        `signed: with weight budget c = 1 only the S2D pair is possible, but schemes (${options.schemes.join(', ')}) leave it out`,
        { c: options.c, schemes: options.schemes, problems: [{ pointer: '/schemes', message: 'must include "s2d" when c = 1' }] },
      );
    }
  }

  /**
   * One candidate per neuron of every splittable layer (`layers` parallel to `results`): its best scheme, with
   * the others as fallbacks.
   */
  candidates(results: readonly EigenResult[], layers: readonly MethodLayer[]): SchemeCandidate[] {
    const { c, schemes } = this.options;
    const out: SchemeCandidate[] = [];
    results.forEach((r, layer) => {
      if (layers[layer]?.splittable !== true) return;
      for (let neuron = 0; neuron < r.neurons; neuron++) {
        const options = schemeValues(r.lambdaMin[neuron]!, r.lambdaMax[neuron]!, c, schemes)
          .map((s) => ({ layer, neuron, ...s, score: s.ii / s.added, alternatives: [] as SchemeCandidate[] }))
          .sort(byScore);
        const [best, ...rest] = options;
        if (best !== undefined) out.push({ ...best, alternatives: rest });
      }
    });
    return out;
  }

  async plan(context: MethodContext): Promise<GrowthPlan> {
    const { options } = this;
    const room = layerRoom(context);
    const results = splittingScores(context, this.id);
    const rule =
      options.selection === 'quantile'
        ? { selection: 'quantile' as const, fraction: options.fraction }
        : { selection: 'top-k' as const, k: options.k };
    const fits = (s: SchemeCandidate, left: number): boolean => s.added <= left && (!options.requireNegative || s.score < 0);
    const selection = selectCandidates(this.candidates(results, context.layers), rule, room, options.requireNegative, (cand, left) =>
      fits(cand, left) ? cand : (cand.alternatives.find((alt) => fits(alt, left)) ?? null),
    );
    const eps = options.epsilon;
    const entries: NeuronGrowth[] = selection.chosen.map((cand) => {
      const r = results[cand.layer]!;
      const layer = context.layers[cand.layer]!;
      const usesMin = cand.scheme !== 'signed-negative-pair';
      const usesMax = cand.scheme === 'signed-negative-pair' || cand.scheme === 'signed-combined';
      const vMin = usesMin ? unitRow(r.vMin, cand.neuron, r.dim) : [];
      const vMax = usesMax ? unitRow(r.vMax, cand.neuron, r.dim) : [];
      return {
        node: layer.node,
        neuron: cand.neuron,
        offspring: schemeOffspring(cand.scheme, options.c, vMin, vMax),
        scheme: cand.scheme,
        score: cand.score,
        predictedDeltaLoss: ((eps * eps) / 2) * cand.ii,
        cost: layer.marginalCost === null ? null : cand.added * layer.marginalCost,
      };
    });
    const schemeCounts = Object.fromEntries(
      SIGNED_SCHEMES.map((s) => [s, selection.chosen.filter((cand) => cand.scheme === s).length]),
    );
    const lambdaMax: number[] = [];
    results.forEach((r, b) => {
      if (context.layers[b]!.splittable) lambdaMax.push(...r.lambdaMax);
    });
    return {
      action: 'grow',
      method: this.id,
      round: context.round,
      epsilon: eps,
      entries,
      predictedDeltaLoss: entries.reduce((s, e) => s + (e.predictedDeltaLoss ?? 0), 0),
      details: {
        solver: options.solver,
        c: options.c,
        selection: options.selection,
        threshold: selection.threshold,
        lambdaMin: lambdaMinSummary(results, context.layers),
        lambdaMax: summarise(lambdaMax),
        schemes: schemeCounts,
        added: selection.chosen.reduce((s, cand) => s + cand.added, 0),
        droppedByCap: selection.droppedByCap,
        droppedNonNegative: selection.droppedNonNegative,
        layers: layerStats(context, selection.chosen, results),
      },
    };
  }
}

/** The contribution: a singleton that makes one fresh grower per run. */
@injectable()
export class SignedGrowerContribution implements GrowerContribution<SignedOptions> {
  readonly id = 'signed';
  readonly description =
    'Signed neuron splitting (S3D): negative offspring weights along v_max escape S2D-stable neurons';
  readonly optionsSchema = signedOptionsSchema;

  create(options: SignedOptions): Grower {
    return new SignedGrower(options);
  }
}
