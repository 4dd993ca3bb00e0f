import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { GrowerRegistry, NasError, PrunerRegistry, ResizerRegistry, ShrinkerRegistry } from '@mitosis/core';
import { createProgress } from '@mitosis/engine';
import { loadProfile } from '@mitosis/hardware';
import {
  defaultJobs,
  formatBudget,
  formatDuration,
  formatProgress,
  loadStudy,
  mitosisRunCommand,
  runStudy,
  studyFromFlags,
  writeReport,
  type ExecutorEvent,
  type Study,
  type StudyRun,
  type TrialCommandFactory,
  type TrialExecutor,
} from '@mitosis/experiments';
import { integerFlag } from '../flags.js';
import { CommandExit, emit, type GlobalOptions, type Io } from '../io.js';
import { pluginContainer } from '../plugin-context.js';

interface CompareFlags {
  study?: string;
  id?: string;
  space?: string;
  methods?: string;
  methodOptions?: string;
  budget?: string;
  seeds?: string;
  devices?: string;
  rounds?: string;
  data?: string;
  reference?: string;
  out: string;
  jobs?: string;
  executor?: string;
  attempts?: string;
}

/** This CLI's entry point, which every trial runs as `node main.js run …`; MITOSIS_RUN_SCRIPT replaces it. */
export function trialScript(env: NodeJS.ProcessEnv = process.env): string {
  const override = env['MITOSIS_RUN_SCRIPT'];
  return override !== undefined && override !== '' ? resolve(override) : fileURLToPath(new URL('../main.js', import.meta.url));
}

/**
 * The command of every trial: this CLI's `run` (or MITOSIS_RUN_SCRIPT) with the plugin flags of this
 * invocation (`--no-discover`, `--plugin <dir>`), so that trials load the plugins the study was checked with.
 */
export function trialCommand(options: GlobalOptions): TrialCommandFactory {
  const globalArgs = [
    ...(options.discover === false ? ['--no-discover'] : []),
    ...(options.plugin ?? []).flatMap((dir) => ['--plugin', resolve(dir)]),
  ];
  return mitosisRunCommand(trialScript(), globalArgs);
}

function studyFrom(flags: CompareFlags): { study: Study; source: string } {
  const inline = ['space', 'methods', 'methodOptions', 'budget', 'seeds', 'devices', 'rounds', 'data', 'reference', 'id'] as const;
  if (flags.study !== undefined) {
    const clash = inline.filter((k) => flags[k] !== undefined);
    if (clash.length > 0) {
      throw new NasError('E_USAGE', `--study cannot be combined with ${clash.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')}; put them in the study file`, {
        options: clash,
      });
    }
    return { study: loadStudy(flags.study), source: flags.study };
  }
  const missing = (['space', 'methods', 'budget'] as const).filter((k) => flags[k] === undefined);
  if (missing.length > 0) {
    throw new NasError('E_USAGE', `Give --study <file>, or --space, --methods and --budget (missing: ${missing.map((k) => `--${k}`).join(', ')})`, {
      missing,
    });
  }
  return {
    study: studyFromFlags({
      space: flags.space as string,
      methods: flags.methods as string,
      budget: flags.budget as string,
      ...(flags.id === undefined ? {} : { id: flags.id }),
      ...(flags.methodOptions === undefined ? {} : { methodOptions: flags.methodOptions }),
      ...(flags.seeds === undefined ? {} : { seeds: flags.seeds }),
      ...(flags.devices === undefined ? {} : { devices: flags.devices }),
      ...(flags.rounds === undefined ? {} : { rounds: integerFlag('--rounds', flags.rounds) }),
      ...(flags.data === undefined ? {} : { data: flags.data }),
      ...(flags.reference === undefined ? {} : { reference: flags.reference }),
    }),
    source: 'command line',
  };
}

/**
 * Checks every method id against the installed growers, pruners, resizers and shrinkers, validates its options, and
 * loads every device's hardware profile before any trial starts, so a typo fails the study at once (exit 2)
 * instead of failing every trial.
 */
export async function checkStudy(study: Study, source: string, options: GlobalOptions): Promise<void> {
  for (const device of study.devices) if (device !== null) loadProfile(device);
  const { container } = await pluginContainer(options);
  const registries = [container.get(GrowerRegistry), container.get(PrunerRegistry), container.get(ResizerRegistry), container.get(ShrinkerRegistry)];
  const known = [...new Set(registries.flatMap((r) => r.ids()))].sort();
  study.methods.forEach((m, i) => {
    const registry = registries.find((r) => r.has(m.id));
    if (registry === undefined) {
      throw new NasError('E_CONFIG_INVALID', `Study ${source}: unknown method "${m.id}" at /methods/${i}/id (known: ${known.join(', ')})`, {
        file: source,
        problems: [{ pointer: `/methods/${i}/id`, message: `must be an installed method (${known.join(', ')})` }],
        known,
      });
    }
    registry.options(m.id, m.options, `${source}#/methods/${i}/options`);
  });
}

/**
 * While a study or generation runs: SIGINT / SIGTERM abort `controller` (the executor stops its trials, which
 * resume on the next run with the same --out), once, saying so on stderr. `release` removes the handlers.
 */
export function stopOnSignals(io: Io): { controller: AbortController; stoppedBy: () => NodeJS.Signals | undefined; release: () => void } {
  const controller = new AbortController();
  let stoppedBy: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stoppedBy !== undefined) return;
    stoppedBy = signal;
    io.stderr(`\n${signal}: stopping the running trials (run again with the same --out to resume)\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    controller,
    stoppedBy: () => stoppedBy,
    release: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** Progress on stderr: a bar on a terminal, one line per trial otherwise, nothing with --json. */
export function progressReporter(io: Io, options: GlobalOptions, total: () => number): (e: ExecutorEvent) => void {
  let bar: ReturnType<typeof createProgress> | undefined;
  const quiet = options.json === true;
  return (e) => {
    const t = e.type === 'start' ? e.trial : e.outcome.trial;
    const what = `${t.label} · ${formatBudget(t.budget)}${t.device === null ? '' : ` · ${t.device}`} · seed ${t.seed}`;
    if (io.interactive && !quiet) {
      bar ??= createProgress('trials', total(), { json: false });
      bar.update(e.progress.skipped + e.progress.done + e.progress.failed, formatProgress(e.progress).replace(/^\d+\/\d+ done(?: \(\d+ skipped\))?, /, ''));
    } else if (!quiet) {
      if (e.type === 'start') io.stderr(`start  ${what} (${t.dir})\n`);
      else if (e.outcome.status === 'done') io.stderr(`done   ${what} in ${formatDuration(e.outcome.wallMs)} — ${formatProgress(e.progress)}\n`);
    }
    if (e.type === 'finish' && e.outcome.status === 'failed') {
      const o = e.outcome;
      const exit = o.exitCode === null ? `signal ${o.signal ?? '?'}` : `exit ${o.exitCode}`;
      const tail = o.logTail.slice(-6).map((l) => `    ${l}\n`).join('');
      io.stderr(`FAILED ${what} (${exit}); log: ${o.log}\n${tail}`);
    }
    if (bar !== undefined && e.progress.pending === 0 && e.progress.running === 0) bar.stop();
  };
}

function render(run: StudyRun): string {
  const { total, done, failed, incomplete } = run.results.counts;
  const lines = [`study ${run.plan.study}: ${total} trials, ${done} done, ${failed} failed, ${incomplete} not finished`];
  if (run.report !== undefined) lines.push(`  report:  ${run.report.markdown}`, `           ${run.report.html}`);
  lines.push(`  results: ${run.studyDir}/results.csv, results.json`);
  if (run.interrupted) lines.push(`  interrupted: run \`mitosis compare\` with the same --out to finish the remaining trials`);
  return `${lines.join('\n')}\n`;
}

/** A positive integer from an environment variable (tuning knobs the docs list), or undefined when unset. */
export function envMs(name: string, env: NodeJS.ProcessEnv = process.env): number | undefined {
  const text = env[name];
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new NasError('E_USAGE', `${name} must be a positive integer (milliseconds), got "${text}"`, { variable: name, value: text });
  return n;
}

/**
 * The Redis executor of `--executor <url>` (loaded only then: BullMQ is not needed for a local study), with the
 * tuning variables of docs/scale-out.md. Every URL it prints is redacted.
 */
async function redisExecutorFor(
  url: string,
  flags: CompareFlags,
  io: Io,
  options: GlobalOptions,
): Promise<{ executor: TrialExecutor; url: string; describe: (study: string, dir: string) => string }> {
  const { connectRedis, parseRedisUrl, redisExecutor, studyQueueName } = await import('@mitosis/experiments/distributed');
  const target = parseRedisUrl(url, process.env, '--executor');
  // Before the study directory is touched: a wrong URL or a stopped server is the first thing said.
  (await connectRedis(target, 'start it or fix the URL, then run mitosis compare again')).disconnect();
  const attempts = flags.attempts === undefined ? undefined : integerFlag('--attempts', flags.attempts, 1);
  const pollMs = envMs('MITOSIS_REDIS_POLL_MS');
  const redisTimeoutMs = envMs('MITOSIS_REDIS_TIMEOUT_MS');
  const backoffMs = envMs('MITOSIS_REDIS_BACKOFF_MS');
  const executor = redisExecutor({
    redis: target,
    ...(attempts === undefined ? {} : { attempts }),
    ...(pollMs === undefined ? {} : { pollMs }),
    ...(redisTimeoutMs === undefined ? {} : { redisTimeoutMs }),
    ...(backoffMs === undefined ? {} : { backoffMs }),
    onNote: (m) => {
      if (options.json !== true) io.stderr(`${m}\n`);
    },
  });
  return {
    executor,
    url: target.display,
    describe: (study, dir) => `the Redis queue ${studyQueueName(study, dir)} on ${target.display} (run \`mitosis worker --redis <url>\` on each machine)`,
  };
}

/**
 * `mitosis compare`: a study (file or flags) expanded into trials run in parallel, resumable; and
 * `mitosis report <dir>`, which regenerates a study directory's report.
 */
export function registerCompareCommands(program: Command, io: Io): void {
  program
    .command('compare')
    .description('run a study: methods × budgets × devices × seeds on one search space, in parallel and resumable, then write its report')
    .option('--study <file>', 'study JSON file (see docs/compare.md); or give the study with the flags below')
    .option('--space <id|file>', 'search space of every trial')
    .option('--methods <ids>', 'comma-separated method ids, e.g. energy-aware,prune-l1,width-multiplier')
    .option('--method-options <json>', 'JSON object: method id → its options')
    .option('--budget <values>', 'comma-separated budgets in one unit, e.g. 300kmacs,450kmacs')
    .option('--seeds <list>', 'comma-separated seeds (default 0)')
    .option('--devices <ids>', 'comma-separated hardware profile ids or files (default: none given)')
    .option('--rounds <n>', "rounds per trial (default: the space's)")
    .option('--data <id|path>', "data set of every trial instead of the space's")
    .option('--reference <method>', 'method every other one is compared with, paired by seed')
    .option('--id <name>', 'study id for the report (flags only; default <space>-study)')
    .requiredOption('--out <dir>', 'study directory; run again with the same --out to resume')
    .option('--jobs <n>', `trials run at once (default: the number of cores, ${defaultJobs()} here)`)
    .option('--executor <local|url>', 'local (default), or redis://[:password@]host[:port][/db] / rediss://…: queue the trials for `mitosis worker` processes on any machine (docs/scale-out.md)')
    .option('--attempts <n>', 'with a Redis executor: tries of a trial that fails on its own before it counts as failed (default 2)')
    .action(async (flags: CompareFlags, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const { study, source } = studyFrom(flags);
      const remote = flags.executor !== undefined && flags.executor !== 'local' ? flags.executor : undefined;
      if (remote !== undefined && flags.jobs !== undefined) {
        throw new NasError('E_USAGE', '--jobs applies to the local executor; with --executor redis://… give --jobs to each `mitosis worker`', { options: ['--jobs', '--executor'] });
      }
      if (remote === undefined && flags.attempts !== undefined) throw new NasError('E_USAGE', '--attempts applies only with --executor redis://…', { options: ['--attempts'] });
      const jobs = flags.jobs === undefined ? defaultJobs() : integerFlag('--jobs', flags.jobs, 1);
      const distributed = remote === undefined ? undefined : await redisExecutorFor(remote, flags, io, options);
      await checkStudy(study, source, options);
      const stop = stopOnSignals(io);
      const controller = stop.controller;
      let total = 0;
      let run: StudyRun;
      try {
        run = await runStudy(study, {
          out: flags.out,
          jobs,
          command: trialCommand(options),
          signal: controller.signal,
          ...(distributed === undefined ? {} : { executor: distributed.executor }),
          onPlan: (plan) => {
            total = plan.trials.length;
            const where = distributed === undefined ? `${jobs} at a time` : `through ${distributed.describe(plan.study, resolve(flags.out))}`;
            if (options.json !== true) io.stderr(`study ${plan.study}: ${plan.trials.length} trials, ${where}, in ${resolve(flags.out)}\n`);
          },
          onEvent: progressReporter(io, options, () => total),
        });
      } finally {
        stop.release();
      }
      emit(
        io,
        options,
        {
          study: run.plan.study,
          studyDir: run.studyDir,
          executor: distributed === undefined ? 'local' : distributed.url,
          interrupted: run.interrupted,
          counts: run.results.counts,
          failed: run.failed.map((o) => ({ trial: o.trial.id, label: o.trial.label, budget: o.trial.budget, device: o.trial.device, seed: o.trial.seed, exitCode: o.exitCode, log: o.log, logTail: o.logTail })),
          report: run.report === undefined ? null : { markdown: run.report.markdown, html: run.report.html, plots: run.report.plots },
          results: { json: `${run.studyDir}/results.json`, csv: `${run.studyDir}/results.csv` },
        },
        () => render(run),
      );
      if (stop.stoppedBy() !== undefined) throw new CommandExit(stop.stoppedBy() === 'SIGINT' ? 130 : 143);
      // Every trial must have a result: failed ones, and ones stopped from outside, make the study fail.
      if (run.results.counts.failed > 0 || run.results.counts.incomplete > 0) throw new CommandExit(1);
    });

  program
    .command('report')
    .description("regenerate a study directory's report: tables, Pareto front, paired comparisons, SVG plots, report.md/html, results.csv/json")
    .argument('<dir>', 'study directory written by `mitosis compare`')
    .action(async (dir: string, _flags: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const files = await writeReport(dir);
      emit(
        io,
        options,
        { studyDir: resolve(dir), counts: files.results.counts, markdown: files.markdown, html: files.html, plots: files.plots, results: { json: files.resultsJson, csv: files.resultsCsv } },
        () => {
          const { total, done, failed, incomplete } = files.results.counts;
          return `report of ${total} trials (${done} done, ${failed} failed, ${incomplete} not finished):\n  ${files.markdown}\n  ${files.html}\n  ${files.plots.length} plots in ${resolve(dir)}/plots\n`;
        },
      );
    });
}
