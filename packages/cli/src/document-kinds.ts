import { dirname } from 'node:path';
import { readPluginDescriptor } from '@mitosis/core';
import type { NetworkSpec } from '@mitosis/core';
import { fullNetwork, parseRunConfig, parseSearchSpace, type SearchSpace } from '@mitosis/growth';
import { loadStudy, parseStudy } from '@mitosis/experiments';
import { loadProfile, validateProfile } from '@mitosis/hardware';
import { buildChannelGraph, inferShapes, parseNetworkSpec, weightShapes } from '@mitosis/ir';

/**
 * What using a network needs beyond its schema and graph checks: shapes inferred through every node
 * (`E_SHAPE_MISMATCH` naming the node), its weight shapes and its channel graph — so "valid" means usable.
 */
function checkUsableNetwork(spec: NetworkSpec): NetworkSpec {
  inferShapes(spec);
  weightShapes(spec);
  buildChannelGraph(spec);
  return spec;
}

/** A search space's seed and the network pruners start from, both usable. */
function checkUsableSpace(space: SearchSpace): SearchSpace {
  checkUsableNetwork(space.seed);
  checkUsableNetwork(fullNetwork(space));
  return space;
}

/**
 * A kind of JSON document `mitosis validate` knows. `detect` looks at the parsed document (and the file
 * name) without validating; `validate` throws a NasError listing every problem with its JSON pointer.
 */
export interface DocumentKind {
  readonly id: string;
  readonly description: string;
  detect(doc: unknown, file: string): boolean;
  validate(doc: unknown, file: string): Promise<unknown>;
}

function field(doc: unknown, key: string): unknown {
  return typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>)[key] : undefined;
}

const schemaMentions = (doc: unknown, word: string): boolean => {
  const s = field(doc, '$schema');
  return typeof s === 'string' && s.includes(word);
};

/** Every document kind, most specific first. */
export const documentKinds: DocumentKind[] = [
  {
    id: 'plugin-manifest',
    description: "a plugin's package.json with its \"mitosis\" manifest",
    detect: (doc, file) => file.endsWith('package.json') && field(doc, 'mitosis') !== undefined,
    validate: async (_doc, file) => readPluginDescriptor(dirname(file)).manifest,
  },
  {
    id: 'network-spec',
    description: 'a mitosis network spec (format "mitosis-network")',
    detect: (doc) => field(doc, 'format') === 'mitosis-network' || schemaMentions(doc, 'network-spec'),
    validate: async (doc, file) => checkUsableNetwork(parseNetworkSpec(doc, file)),
  },
  {
    id: 'search-space',
    description: 'a search space (format "mitosis-search-space")',
    detect: (doc) => field(doc, 'format') === 'mitosis-search-space' || schemaMentions(doc, 'search-space'),
    validate: async (doc, file) => checkUsableSpace(parseSearchSpace(doc, file)),
  },
  {
    id: 'run-config',
    description: 'a run configuration (format "mitosis-run", e.g. a run directory\'s run.json)',
    detect: (doc) => field(doc, 'format') === 'mitosis-run' || schemaMentions(doc, 'run-config'),
    validate: async (doc, file) => {
      const config = parseRunConfig(doc, file);
      if (config.searchSpace !== undefined) checkUsableSpace(config.searchSpace);
      return config;
    },
  },
  {
    id: 'study',
    description: 'a study for mitosis compare (format "mitosis-study")',
    detect: (doc) => field(doc, 'format') === 'mitosis-study' || schemaMentions(doc, 'study'),
    // As `mitosis compare` reads it: parsed, then its space and paths resolved beside the file.
    validate: async (doc, file) => (file.endsWith('.json') ? loadStudy(file) : parseStudy(doc, file)),
  },
  {
    id: 'hardware-profile',
    description: 'a hardware profile (device, units, measurement protocol, latency table, fallback predictor)',
    detect: (doc) => schemaMentions(doc, 'hardware-profile') || (field(doc, 'table') !== undefined && field(doc, 'device') !== undefined),
    // As `--profile <file>` loads it: schema, keys, expressions with a trial evaluation, and the id = file stem.
    validate: async (doc, file) => (file.endsWith('.json') ? loadProfile(file) : validateProfile(doc, file)),
  },
];
