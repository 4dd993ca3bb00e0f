import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigValidationError, NasError, readJsonFile, validateAgainst, type NetworkSpec } from '@mitosis/core';
import { buildChannelGraph, parseNetworkSpec, resizeGroups } from '@mitosis/ir';
import { cellArchitectureSchema, checkCell, compileCell, startMask, type CellArchitecture } from './cell-space.js';

/** How one layer may change. */
export interface LayerRule {
  /** Most output channels allowed; must not be below the seed width. Growers stop here; pruners start here. */
  readonly cap?: number;
  /** Fewest output channels allowed (pruners and resizers never go below; default 1). */
  readonly min?: number;
  /** Layers of one group share a budget (energy-aware splitting's `split_groups`). */
  readonly group?: string;
}

/** Optimiser and schedule of one training phase. */
export interface TrainingPhase {
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly optimizer: 'sgd' | 'adam' | 'rmsprop';
  readonly momentum: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;
  readonly schedule: 'constant' | 'cosine' | 'step';
  readonly warmupEpochs: number;
}

/**
 * A search space: the seed network, which of its layers may grow and how far, the data set and the training
 * schedule. Shipped spaces live in `search-spaces/<id>.json`.
 */
export interface SearchSpace {
  readonly $schema?: string;
  readonly format: 'mitosis-search-space';
  readonly version: 1;
  readonly id: string;
  readonly description: string;
  /**
   * The seed architecture: growers start here, resizers scale it. A cell space's document omits it: it is
   * compiled from {@link SearchSpace.cell} (with the cell's `seedScale`) when the space is parsed.
   */
  readonly seed: NetworkSpec;
  /**
   * A cell space (AutoShrink, see `cell-space.ts`): a stack of cells sharing one DAG topology. Parsing compiles
   * its start mask into `seed` (and, with `seedScale` < 1, `full` at the stages' filters).
   */
  readonly cell?: CellArchitecture;
  /**
   * The large architecture pruners start from, with the seed's nodes and names. Absent: the seed with every
   * listed layer at its cap (see {@link fullNetwork}).
   */
  readonly full?: NetworkSpec;
  /**
   * Growable layers by producer node. Absent: every splittable producer may grow without a cap, in group
   * "all". Present: only the listed layers grow.
   */
  readonly layers?: Readonly<Record<string, LayerRule>>;
  readonly data: {
    readonly dataset: string;
    /** Options for `loadDataset` (limits, generator options). */
    readonly options: Readonly<Record<string, unknown>>;
    /** Per-channel normalisation with training-set statistics. */
    readonly normalise: boolean;
  };
  /** Loss: softmax cross-entropy or ½-MSE. */
  readonly loss: 'ce' | 'mse';
  /** Training of the seed network. */
  readonly training: TrainingPhase;
  /** Fine-tuning after each round of splits. */
  readonly fineTune: TrainingPhase;
  /**
   * Epochs trained after the last round with the fine-tuning settings (default 0). Every method of the space
   * trains `training.epochs + rounds·fineTune.epochs + finalEpochs` epochs in all.
   */
  readonly finalEpochs?: number;
  /**
   * What the epochs after the last round (`finalEpochs`, plus any an early stop left) do with a grower's or a
   * pruner's network: `continue` (default) trains the weights it has; `retrain` re-initialises the found
   * architecture and trains it from scratch with the seed phase's settings and a fresh schedule — the search is then
   * the first part of the same epoch budget (splitting as architecture search). Resizers and shrinkers always train
   * from scratch.
   */
  readonly finalPhase?: 'continue' | 'retrain';
  /**
   * `phase` (default): each training phase starts a fresh schedule at its own learning rate; `run`: one schedule
   * of `training` (its learning rate and kind) spans the run's whole epoch budget, each phase taking its slice.
   */
  readonly scheduleSpan?: 'phase' | 'run';
  /** Data used to compute splitting matrices. */
  readonly scoring: { readonly samples: number; readonly batchSize: number };
  /** Defaults of `mitosis run` / `mitosis grow` for this space. */
  readonly defaults: {
    /** Default method of `mitosis run` (any kind); `grower` when absent. */
    readonly method?: string;
    readonly grower: string;
    readonly rounds: number;
    readonly profile?: string;
    readonly seed: number;
    /** Options per method id used when the run gives none (e.g. top-k selection on a one-neuron seed). */
    readonly growerOptions?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  };
}

const phase = (defaults: Partial<TrainingPhase>) =>
  ({
    type: 'object',
    properties: {
      epochs: { type: 'integer', minimum: 0, default: defaults.epochs ?? 1 },
      batchSize: { type: 'integer', minimum: 1, default: defaults.batchSize ?? 64 },
      learningRate: { type: 'number', exclusiveMinimum: 0, default: defaults.learningRate ?? 0.05 },
      optimizer: { enum: ['sgd', 'adam', 'rmsprop'], default: defaults.optimizer ?? 'sgd' },
      momentum: { type: 'number', minimum: 0, maximum: 1, default: 0.9, description: 'SGD momentum (sgd only)' },
      nesterov: { type: 'boolean', default: false },
      weightDecay: { type: 'number', minimum: 0, default: defaults.weightDecay ?? 0 },
      schedule: { enum: ['constant', 'cosine', 'step'], default: defaults.schedule ?? 'cosine' },
      warmupEpochs: { type: 'number', minimum: 0, default: 0 },
    },
    additionalProperties: false,
    default: {},
  }) as const;

/** JSON Schema of {@link SearchSpace} (also written to `search-spaces/schema/search-space.schema.json`). */
export const searchSpaceSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://mitosis.dev/schemas/search-space.json',
  title: 'mitosis search space',
  type: 'object',
  properties: {
    $schema: { type: 'string' },
    format: { const: 'mitosis-search-space' },
    version: { const: 1 },
    id: { type: 'string', pattern: '^[a-z0-9][a-z0-9.-]*$' },
    description: { type: 'string' },
    seed: { type: 'object', description: 'A mitosis network spec (format "mitosis-network"); a cell space compiles it from "cell".' },
    cell: cellArchitectureSchema,
    full: { type: 'object', description: 'The network pruners start from (default: the seed with every listed layer at its cap).' },
    layers: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        properties: { cap: { type: 'integer', minimum: 1 }, min: { type: 'integer', minimum: 1 }, group: { type: 'string', minLength: 1 } },
        additionalProperties: false,
      },
    },
    data: {
      type: 'object',
      properties: {
        dataset: { type: 'string', minLength: 1 },
        options: { type: 'object', default: {} },
        normalise: { type: 'boolean', default: false },
      },
      required: ['dataset'],
      additionalProperties: false,
    },
    loss: { enum: ['ce', 'mse'] },
    training: phase({ epochs: 2 }),
    fineTune: phase({ epochs: 1 }),
    finalEpochs: { type: 'integer', minimum: 0, default: 0 },
    finalPhase: { enum: ['continue', 'retrain'], default: 'continue' },
    scheduleSpan: { enum: ['phase', 'run'], default: 'phase' },
    scoring: {
      type: 'object',
      properties: {
        samples: { type: 'integer', minimum: 1, default: 512 },
        batchSize: { type: 'integer', minimum: 1, default: 64 },
      },
      additionalProperties: false,
      default: {},
    },
    defaults: {
      type: 'object',
      properties: {
        method: { type: 'string' },
        grower: { type: 'string', default: 's2d' },
        rounds: { type: 'integer', minimum: 0, default: 3 },
        profile: { type: 'string' },
        seed: { type: 'integer', minimum: 0, default: 0 },
        growerOptions: { type: 'object', additionalProperties: { type: 'object' } },
      },
      additionalProperties: false,
      default: {},
    },
  },
  required: ['format', 'version', 'id', 'description', 'data', 'loss'],
  additionalProperties: false,
} as const;

/** The shipped `search-spaces/` directory (walking up from this package), or `MITOSIS_SEARCH_SPACES`. */
export function searchSpaceDirectories(env: NodeJS.ProcessEnv = process.env): string[] {
  const dirs: string[] = [];
  if (env['MITOSIS_SEARCH_SPACES']) dirs.push(resolve(env['MITOSIS_SEARCH_SPACES']));
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'search-spaces');
    if (existsSync(candidate)) {
      dirs.push(candidate);
      break;
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return dirs;
}

/** Ids of the shipped search spaces. */
export function listSearchSpaces(): string[] {
  const ids = new Set<string>();
  for (const dir of searchSpaceDirectories()) {
    for (const f of readdirSync(dir)) if (f.endsWith('.json')) ids.add(basename(f, '.json'));
  }
  return [...ids].sort();
}

/**
 * Validates a search space document: the schema (every problem with its pointer), the seed network (via the
 * IR, pointers prefixed with `/seed`), that every listed layer is a splittable producer, and that no cap is
 * below the seed width.
 */
export function parseSearchSpace(doc: unknown, source: string): SearchSpace {
  const validated = validateAgainst<SearchSpace>(searchSpaceSchema, doc, { source, what: 'search space' });
  if (validated.cell === undefined && (validated as { seed?: unknown }).seed === undefined) {
    throw new ConfigValidationError(source, [{ pointer: '/seed', message: 'is required (or /cell, for a cell space)' }], 'search space');
  }
  const space = validated.cell === undefined ? validated : compiledCellSpace(validated, source);
  let seed: NetworkSpec;
  try {
    seed = parseNetworkSpec(space.seed, `${source}#/seed`);
  } catch (error) {
    if (NasError.is(error)) {
      throw new NasError(error.code, `Search space ${source}: seed network: ${error.message}`, { ...error.details, file: source }, { cause: error });
    }
    throw error;
  }
  let full: NetworkSpec | undefined;
  if (space.full !== undefined) {
    try {
      full = parseNetworkSpec(space.full, `${source}#/full`);
    } catch (error) {
      if (NasError.is(error)) {
        throw new NasError(error.code, `Search space ${source}: full network: ${error.message}`, { ...error.details, file: source }, { cause: error });
      }
      throw error;
    }
  }
  for (const [node, rule] of Object.entries(space.layers ?? {})) {
    if (rule.min !== undefined && rule.cap !== undefined && rule.min > rule.cap) {
      throw new NasError('E_CONFIG_INVALID', `Search space ${source}: layer ${node} has min ${rule.min} above its cap ${rule.cap}`, {
        file: source,
        node,
        problems: [{ pointer: `/layers/${node}/min`, message: `must be at most the cap (${rule.cap})` }],
      });
    }
  }
  return { ...space, seed, ...(full === undefined ? {} : { full }) };
}

/**
 * A cell space with its seed (and full network) compiled from the cell: the cell section is checked (pointers
 * under `/cell`), and a `seed` or `full` already in the document (a run's `run.json` embeds the parsed space)
 * must equal the compiled one.
 */
function compiledCellSpace(space: SearchSpace, source: string): SearchSpace {
  const cell = space.cell!;
  checkCell(cell, source);
  const mask = startMask(cell);
  const seed = compileCell(cell, mask, { scale: cell.seedScale, name: space.id });
  const full = cell.seedScale === 1 ? undefined : compileCell(cell, mask, { name: `${space.id}-full` });
  const given: [string, unknown, unknown][] = [
    ['seed', (space as { seed?: unknown }).seed, seed],
    ['full', space.full, full],
  ];
  for (const [key, value, compiled] of given) {
    if (value !== undefined && JSON.stringify(value) !== JSON.stringify(compiled)) {
      throw new NasError('E_CONFIG_INVALID', `Search space ${source}: /${key} differs from the network compiled from /cell; omit it`, {
        file: source,
        problems: [{ pointer: `/${key}`, message: 'must be omitted in a cell space (it is compiled from /cell)' }],
      });
    }
  }
  return { ...space, seed, ...(full === undefined ? {} : { full }) };
}

/**
 * The network pruners start from: the space's `full` network, or the seed with every layer the space lists
 * at its cap (tied producers move together). A space without caps has no larger network than its seed.
 */
export function fullNetwork(space: SearchSpace): NetworkSpec {
  if (space.full !== undefined) return space.full;
  const graph = buildChannelGraph(space.seed);
  const widths = new Map<number, number>();
  for (const [node, rule] of Object.entries(space.layers ?? {})) {
    const p = graph.producers.get(node);
    if (p === undefined || rule.cap === undefined) continue;
    widths.set(p.group, Math.max(widths.get(p.group) ?? 0, rule.cap));
  }
  return widths.size === 0 ? space.seed : resizeGroups(space.seed, graph, widths);
}

/** Loads a search space by shipped id or by path. Unknown ids list the known ones. */
export function loadSearchSpace(ref: string): { space: SearchSpace; file: string } {
  let file: string | undefined;
  if (ref.endsWith('.json') || ref.includes('/') || ref.includes('\\')) file = resolve(ref);
  else {
    for (const dir of searchSpaceDirectories()) {
      const candidate = join(dir, `${ref}.json`);
      if (existsSync(candidate)) {
        file = candidate;
        break;
      }
    }
    if (file === undefined) {
      const known = listSearchSpaces();
      throw new NasError('E_USAGE', `Unknown search space "${ref}" (known: ${known.join(', ')}); pass an id or a .json path`, { id: ref, known });
    }
  }
  const space = parseSearchSpace(readJsonFile(file), file);
  return { space, file };
}
