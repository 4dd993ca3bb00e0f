import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { NasError, type NetworkSpec } from '@mitosis/core';
import { benchmarkNetwork, type NetworkBenchmarkResult } from '@mitosis/engine';
import { fullNetwork, listSearchSpaces, loadSearchSpace, type SearchSpace } from '@mitosis/growth';
import { parseNetworkSpec } from '@mitosis/ir';
import { integerFlag, sharedOption } from '../flags.js';
import { emit, type GlobalOptions, type Io } from '../io.js';
import { backendOption } from './train.js';

interface BenchTrainFlags {
  space?: string;
  network: string;
  batch: string;
}

/** What each phase of `bench train` includes (printed under the table and carried in the JSON). */
export const PHASES = {
  data: 'gather the batch from the shuffled pool into the input and label tensors (as `mitosis train` does)',
  forward: 'forward pass in training mode (batch statistics, moving-statistics update), loss and correct count, gradient tape recording',
  backward: 'gradients of the loss with respect to every trainable weight (the tape played back)',
  optimizer: 'SGD-momentum update of the weights and momentum buffers, then reading the loss back',
} as const;

interface Target {
  readonly label: string;
  readonly spec: NetworkSpec;
  readonly loss: 'softmaxCrossEntropy' | 'mse';
}

function readSpecFile(file: string): NetworkSpec {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new NasError('E_USAGE', `--network ${file}: not "seed", "full", "both" or a readable network spec JSON file (${(cause as Error).message})`, { file }, { cause });
  }
  return parseNetworkSpec(doc, file);
}

function targets(spaceRef: string | undefined, network: string): Target[] {
  const which = network === 'both' ? ['seed', 'full'] : [network];
  const named = which.every((w) => w === 'seed' || w === 'full');
  const lossOf = (space: SearchSpace | undefined): Target['loss'] => (space?.loss === 'mse' ? 'mse' : 'softmaxCrossEntropy');
  if (!named) {
    const space = spaceRef === undefined ? undefined : loadSearchSpace(spaceRef).space;
    const spec = readSpecFile(network);
    return [{ label: spec.name ?? network, spec, loss: lossOf(space) }];
  }
  if (spaceRef === undefined) throw new NasError('E_USAGE', 'bench train: --space <id|all> is required with --network seed|full|both', { option: '--space' });
  const ids = spaceRef === 'all' ? listSearchSpaces() : [spaceRef];
  return ids.flatMap((ref) => {
    const space = loadSearchSpace(ref).space;
    return which.map((w) => ({ label: `${space.id} ${w}`, spec: w === 'seed' ? space.seed : fullNetwork(space), loss: lossOf(space) }));
  });
}

function table(results: readonly NetworkBenchmarkResult[]): string {
  const head = ['network', 'params', 'img/s', 'best img/s', 'ms/step', 'forward', 'backward', 'optimizer', 'data', 'peak RSS'];
  const rows = results.map((r) => [
    r.network,
    String(r.parameters),
    r.imagesPerSecond.toFixed(0),
    r.bestImagesPerSecond.toFixed(0),
    r.stepMs.toFixed(2),
    r.phases.forwardMs.toFixed(2),
    r.phases.backwardMs.toFixed(2),
    r.phases.optimizerMs.toFixed(2),
    r.phases.dataMs.toFixed(2),
    `${r.peakRssMb.toFixed(0)} MiB`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  const first = results[0];
  return [
    first === undefined ? '' : `backend ${first.backend} (${first.backendDetail}), batch ${first.batchSize}, ${first.steps} timed steps; phase columns are ms per step`,
    line(head),
    ...rows.map(line),
    '',
    ...Object.entries(PHASES).map(([k, v]) => `  ${k}: ${v}`),
    '  best img/s: the fastest of five equal blocks of timed steps (less disturbed by other processes)',
    '',
  ].join('\n');
}

/**
 * `mitosis bench train`: training throughput of a search space's seed and/or full network (or a spec file) on
 * synthetic data, with the step split into data / forward / backward / optimizer and the peak RSS.
 */
export function registerBenchTrainCommand(bench: Command, io: Io): void {
  bench
    .command('train')
    .description("training throughput (img/s, ms/step by phase, peak RSS) of a space's seed or full network on synthetic data")
    .option('--space <id|all>', 'search space id or .json path; all: every shipped space')
    .option('--network <which>', 'seed | full | both | a network spec .json file', 'seed')
    .option('--batch <n>', 'batch size', '64')
    .option('--steps <n>', 'timed training steps', '40')
    .option('--warmup <n>', 'untimed steps first', '5')
    .option('--backend <name>', 'auto | tensorflow | wasm | cpu', 'wasm')
    .action(async (flags: BenchTrainFlags, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const steps = integerFlag('--steps', String(sharedOption(command, 'steps')), 1);
      const warmup = integerFlag('--warmup', String(sharedOption(command, 'warmup')));
      const backend = backendOption(String(sharedOption(command, 'backend')));
      const batchSize = integerFlag('--batch', flags.batch, 1);
      const results: NetworkBenchmarkResult[] = [];
      for (const t of targets(flags.space, flags.network)) {
        if (options.json !== true) io.stderr(`benchmarking ${t.label}…\n`);
        results.push(await benchmarkNetwork({ spec: t.spec, label: t.label, backend, steps, warmup, batchSize, loss: t.loss }));
      }
      emit(io, options, { results, phases: PHASES }, () => table(results));
    });
}
