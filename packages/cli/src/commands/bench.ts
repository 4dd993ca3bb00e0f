import type { Command } from 'commander';
import { NasError } from '@mitosis/core';
import { benchmarkTraining, type BenchmarkResult } from '@mitosis/engine';
import { integerFlag } from '../flags.js';
import { emit, type GlobalOptions, type Io } from '../io.js';
import { registerBenchTrainCommand } from './bench-train.js';
import { backendOption } from './train.js';

interface BenchFlags {
  backend: string;
  steps: string;
  warmup: string;
}

const AVAILABLE = ['tensorflow', 'wasm', 'cpu'] as const;

/**
 * `mitosis bench [training]`: refnet-32 training throughput per backend. `auto` measures every backend that
 * is available here, `cpu` last and with few steps (its conv gradients take minutes). Subcommands add other
 * benchmarks (`bench eigen`, `bench train`).
 */
export function registerBenchCommand(program: Command, io: Io): Command {
  const bench = program
    .command('bench')
    .description('benchmarks; without a subcommand: refnet-32 training throughput per backend')
    .option('--backend <name>', 'auto (every available backend) | tensorflow | wasm | cpu', 'auto')
    .option('--steps <n>', 'timed training steps', '10')
    .option('--warmup <n>', 'untimed steps first', '2')
    .action(async (flags: BenchFlags, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const steps = integerFlag('--steps', flags.steps, 1);
      const warmup = integerFlag('--warmup', flags.warmup);
      const choice = backendOption(flags.backend);
      const backends = choice === 'auto' ? [...AVAILABLE] : [choice];
      const results: BenchmarkResult[] = [];
      const skipped: { backend: string; reason: string }[] = [];
      for (const backend of backends) {
        try {
          // The pure-JS cpu backend needs minutes per refnet-32 step; measure it only when asked for.
          if (choice === 'auto' && backend === 'cpu') {
            skipped.push({ backend, reason: 'pure-JS conv gradients take minutes per step; run --backend cpu to measure' });
            continue;
          }
          if (options.json !== true) io.stderr(`benchmarking refnet-32 on ${backend}…\n`);
          results.push(await benchmarkTraining({ network: 'refnet-32', backend, steps, warmup }));
        } catch (error) {
          if (choice === 'auto' && NasError.is(error, 'E_BACKEND_UNAVAILABLE')) skipped.push({ backend, reason: error.message });
          else throw error;
        }
      }
      emit(io, options, { results, skipped }, () =>
        [
          ...results.map((r) => `refnet-32 on ${r.backend}: ${r.imagesPerSecond.toFixed(1)} img/s, ${r.stepMs.toFixed(1)} ms/step (batch ${r.batchSize}), peak RSS ${r.peakRssMb.toFixed(0)} MiB`),
          ...skipped.map((s) => `${s.backend}: skipped (${s.reason})`),
          '',
        ].join('\n'),
      );
    });
  registerBenchTrainCommand(bench, io);
  return bench;
}
