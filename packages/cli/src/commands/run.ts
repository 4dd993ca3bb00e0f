import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { NasError } from '@mitosis/core';
import { loadSearchSpace, parseBudget, runMethod } from '@mitosis/growth';
import { loadModelSource, useBackend } from '@mitosis/engine';
import { integerFlag, jsonFlag } from '../flags.js';
import { CommandExit, emit, type GlobalOptions, type Io } from '../io.js';
import { pluginContainer, runServices } from '../plugin-context.js';
import { writeRunOnnx } from './export.js';
import { formatRunEvent, renderSummary } from '../run-output.js';

/** Flags shared by `mitosis run` and `mitosis grow`. */
export interface RunFlags {
  space: string;
  profile?: string;
  budget?: string;
  rounds?: string;
  out?: string;
  resume?: boolean;
  resumeRound?: string;
  force?: boolean;
  seed?: string;
  data?: string;
  from?: string;
  backend: string;
}

/** Adds the flags every run takes. */
export function withRunFlags(command: Command): Command {
  return command
    .requiredOption('--space <id|file>', 'search space: a shipped id (see search-spaces/) or a JSON file')
    .option('--profile <device>', 'hardware profile id or file for latency/energy costs')
    .option('--budget <value><unit>', 'cost target of the final model, e.g. 5ms, 300Mmacs, 40mJ; each round gets (target − cost)/rounds left')
    .option('--rounds <n>', "rounds of score → plan → apply → fine-tune (default: the space's)")
    .option('--out <dir>', 'run directory (default runs/<space>-<method>)')
    .option('--resume', 'continue the run in --out from its last finished round (starts one when there is none)')
    .option('--resume-round <n>', 'with --resume: continue from round n\'s checkpoint (when the last one is damaged; later rounds run again)')
    .option('--force', 'start over in an --out that already holds a run')
    .option('--seed <n>', "random seed (default: the space's)")
    .option('--data <id|path>', "use this data set instead of the space's (e.g. a CIFAR-10 binary directory)")
    .option('--from <dir>', "start from this trained LayersModel instead of training the space's start network")
    .option('--backend <name>', 'auto | tensorflow | wasm | cpu', 'auto');
}

/** Runs `method` with the shared flags, prints the summary, and exits 1 when the run ended outside its budget. */
export async function executeRun(
  flags: RunFlags,
  command: Command,
  io: Io,
  method: string | undefined,
  rawOptions: string | undefined,
  optionsFlag: string,
  only?: 'grower',
): Promise<void> {
  const options = command.optsWithGlobals<GlobalOptions>();
  if (flags.force === true && flags.resume === true) {
    throw new NasError('E_USAGE', '--force (start over) and --resume (continue) exclude each other', { options: ['--force', '--resume'] });
  }
  const { space: loaded } = loadSearchSpace(flags.space);
  const space = flags.data === undefined ? loaded : { ...loaded, data: { ...loaded.data, dataset: flags.data, options: {} } };
  const budget = flags.budget === undefined ? undefined : parseBudget(flags.budget);
  const id = method ?? space.defaults.method ?? space.defaults.grower;
  let methodOptions: unknown = space.defaults.growerOptions?.[id] ?? {};
  if (rawOptions !== undefined) methodOptions = jsonFlag(optionsFlag, rawOptions);
  const profile = flags.profile ?? space.defaults.profile;
  const { container } = await pluginContainer(options, io);
  const services = runServices(container);
  // `mitosis grow` runs growers only: an unknown id names the known growers.
  if (only === 'grower') services.growers.get(id);
  const backend = await useBackend(flags.backend as 'auto');
  if (options.json !== true) io.stderr(`backend: ${backend.backend} (${backend.detail})\n`);
  const seed = (flags.seed === undefined ? undefined : integerFlag('--seed', flags.seed)) ?? space.defaults.seed;
  const initial = flags.from === undefined ? undefined : await loadModelSource(flags.from, seed);
  const out = flags.out ?? `runs/${space.id}-${id}`;
  const rounds = (flags.rounds === undefined ? undefined : integerFlag('--rounds', flags.rounds)) ?? space.defaults.rounds;
  // Never silently: say what --force is about to remove.
  if (flags.force === true && existsSync(join(out, 'run.json'))) io.stderr(`--force: replacing the run in ${out}\n`);
  const shrinker = services.shrinkers?.has(id) === true;
  const line = { unit: budget?.unit ?? (profile === undefined ? 'macs' : 'ms'), budget: budget ?? null, rounds } as const;
  const summary = await runMethod(
    {
      space,
      method: id,
      methodOptions,
      ...(profile === undefined ? {} : { profile }),
      ...(budget === undefined ? {} : { budget }),
      rounds,
      out,
      resume: flags.resume === true,
      ...(flags.resumeRound === undefined ? {} : { resumeRound: integerFlag('--resume-round', flags.resumeRound) }),
      force: flags.force === true,
      seed,
      ...(initial === undefined ? {} : { initial }),
      quiet: options.json === true || !io.interactive,
    },
    services,
    {
      onMessage: (m) => io.stderr(`${m}\n`),
      // One line per phase on stderr (stdout stays the result, one JSON document with --json). A shrinker's
      // search logs cells, not channel changes, and prints its own line per iteration.
      onEvent: (e) => {
        if (shrinker) return;
        const text = formatRunEvent(e, line);
        if (text !== null) io.stderr(`${text}\n`);
      },
    },
  );
  // Every run's final model also ships as ONNX beside the LayersModel; a model that cannot be exported only warns.
  const onnxFile = await writeRunOnnx(summary.model, io);
  if (onnxFile !== null) io.stderr(`onnx: ${onnxFile}\n`);
  emit(io, options, summary, () => renderSummary(summary));
  if (summary.budgetMet === false) {
    io.stderr(`mitosis: E_BUDGET_NOT_MET: the final model costs ${(100 * (summary.budgetUsed ?? 0)).toFixed(1)}% of the ${summary.budget?.unit} budget (summary: ${summary.summary})\n`);
    throw new CommandExit(1);
  }
}

/** `mitosis run`: any method (grower, pruner, resizer or shrinker) on a search space under a budget. */
export function registerRunCommand(program: Command, io: Io): void {
  withRunFlags(
    program
      .command('run')
      .description('run one method (grower, pruner, resizer or shrinker) on a search space under a cost budget, with equal epochs for every method')
      .option('--method <id>', "method id (default: the space's; see `mitosis plugins`)")
      .option('--method-options <json>', "method options as JSON, validated against the method's schema"),
  ).action(async (flags: RunFlags & { method?: string; methodOptions?: string }, command: Command) => {
    await executeRun(flags, command, io, flags.method, flags.methodOptions, '--method-options');
  });
}
