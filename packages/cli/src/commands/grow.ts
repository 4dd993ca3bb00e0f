import type { Command } from 'commander';
import { CostModelRegistry, EigenSolverRegistry, GrowerRegistry, NasError } from '@mitosis/core';
import { grow, loadSearchSpace, parseBudget, type GrowSummary } from '@mitosis/growth';
import { loadModelSource, useBackend } from '@mitosis/engine';
import { integerFlag, jsonFlag } from '../flags.js';
import { emit, type GlobalOptions, type Io } from '../io.js';
import { pluginContainer } from '../plugin-context.js';

interface GrowFlags {
  space: string;
  grower?: string;
  growerOptions?: string;
  profile?: string;
  budget?: string;
  rounds?: string;
  out?: string;
  resume?: boolean;
  seed?: string;
  data?: string;
  from?: string;
  backend: string;
}

function render(s: GrowSummary): string {
  const acc = s.final.testAccuracy === null ? `test loss ${s.final.testLoss.toFixed(4)}` : `test accuracy ${(100 * s.final.testAccuracy).toFixed(2)}%`;
  const cost = Object.entries(s.cost)
    .map(([k, v]) => `${k} ${v === null || v === undefined ? 'n/a' : Number(v.toPrecision(4))}`)
    .join(', ');
  return [
    `grew ${s.space} with ${s.grower}: ${s.rounds} round(s), stopped by ${s.stopReason}`,
    `  ${acc}; ${cost}`,
    `  widths: ${Object.entries(s.widths).map(([k, v]) => `${k}=${v}`).join(' ')}`,
    `  model:   ${s.model}`,
    `  log:     ${s.log}`,
    `  summary: ${s.summary}`,
    '',
  ].join('\n');
}

/** `mitosis grow`: a growth run on a search space, checkpointed every round and resumable. */
export function registerGrowCommand(program: Command, io: Io): void {
  program
    .command('grow')
    .description('grow a network from a seed by splitting neurons, against the cost of a device')
    .requiredOption('--space <id|file>', 'search space: a shipped id (see search-spaces/) or a JSON file')
    .option('--grower <id>', 'growth method (default: the space\'s; see `mitosis plugins`)')
    .option('--grower-options <json>', 'grower options as JSON, validated against its schema')
    .option('--profile <device>', 'hardware profile id or file for latency/energy costs')
    .option('--budget <value><unit>', 'cost target of the final model, e.g. 5ms, 300Mmacs, 40mJ; each round gets (target − cost)/rounds left')
    .option('--rounds <n>', 'growth rounds (default: the space\'s)')
    .option('--out <dir>', 'run directory (default runs/<space>-<grower>)')
    .option('--resume', 'continue the run in --out from its last finished round')
    .option('--seed <n>', 'random seed (default: the space\'s)')
    .option('--data <id|path>', 'use this data set instead of the space\'s (e.g. a CIFAR-10 binary directory)')
    .option('--from <dir>', 'start from this trained LayersModel instead of training the space\'s seed')
    .option('--backend <name>', 'auto | tensorflow | wasm | cpu', 'auto')
    .action(async (flags: GrowFlags, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const { space: loaded } = loadSearchSpace(flags.space);
      const space = flags.data === undefined ? loaded : { ...loaded, data: { ...loaded.data, dataset: flags.data, options: {} } };
      const budget = flags.budget === undefined ? undefined : parseBudget(flags.budget);
      const grower = flags.grower ?? space.defaults.grower;
      let growerOptions: unknown = space.defaults.growerOptions?.[grower] ?? {};
      if (flags.growerOptions !== undefined) growerOptions = jsonFlag('--grower-options', flags.growerOptions);
      const profile = flags.profile ?? space.defaults.profile;
      const { container } = await pluginContainer(options);
      const backend = await useBackend(flags.backend as 'auto');
      if (options.json !== true) io.stderr(`backend: ${backend.backend} (${backend.detail})\n`);
      const seed = (flags.seed === undefined ? undefined : integerFlag('--seed', flags.seed)) ?? space.defaults.seed;
      const initial = flags.from === undefined ? undefined : await loadModelSource(flags.from, seed);
      const summary = await grow(
        {
          space,
          grower,
          growerOptions,
          ...(profile === undefined ? {} : { profile }),
          ...(budget === undefined ? {} : { budget }),
          rounds: (flags.rounds === undefined ? undefined : integerFlag('--rounds', flags.rounds)) ?? space.defaults.rounds,
          out: flags.out ?? `runs/${space.id}-${grower}`,
          resume: flags.resume === true,
          seed,
          ...(initial === undefined ? {} : { initial }),
          quiet: options.json === true || !io.interactive,
        },
        {
          growers: container.get(GrowerRegistry),
          costModels: container.get(CostModelRegistry),
          eigenSolvers: container.get(EigenSolverRegistry),
        },
        { onMessage: (m) => (options.json === true ? undefined : io.stderr(`${m}\n`)) },
      );
      emit(io, options, summary, () => render(summary));
    });
}
