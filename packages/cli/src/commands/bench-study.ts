import type { Command } from 'commander';
import { benchmarkStudy, formatBudget, formatProgress, formatStudyBenchmark, loadStudy, type StudyBenchmark } from '@mitosis/experiments';
import { integerFlag } from '../flags.js';
import { CommandExit, emit, type GlobalOptions, type Io } from '../io.js';
import { checkStudy, trialCommand } from './compare.js';

interface BenchStudyFlags {
  study: string;
  jobs: string;
  limitTrials?: string;
}

/**
 * `mitosis bench study`: a study's trials/hour with the local executor at each `--jobs` value, and the speed-up
 * over the first; every measurement runs the same first trials from scratch in a fresh temporary directory.
 */
export function registerBenchStudyCommand(bench: Command, io: Io): void {
  bench
    .command('study')
    .description("a study's throughput (trials/hour) with the local executor per --jobs value, and the speed-up over the first")
    .requiredOption('--study <file>', 'study JSON file (see docs/compare.md)')
    .option('--jobs <list>', 'comma-separated --jobs values, measured in this order; the first is the baseline', '1,2')
    .option('--limit-trials <n>', "run only the study's first n trials (run order: seed-major); default all")
    .action(async (flags: BenchStudyFlags, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const jobs = flags.jobs.split(',').map((j) => integerFlag('--jobs', j.trim(), 1));
      const limit = flags.limitTrials === undefined ? undefined : integerFlag('--limit-trials', flags.limitTrials, 1);
      const study = loadStudy(flags.study);
      await checkStudy(study, flags.study, options);
      const quiet = options.json === true;
      const controller = new AbortController();
      let stoppedBy: NodeJS.Signals | undefined;
      const onSignal = (signal: NodeJS.Signals): void => {
        if (stoppedBy !== undefined) return;
        stoppedBy = signal;
        io.stderr(`\n${signal}: stopping the benchmark\n`);
        controller.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      let result: StudyBenchmark;
      try {
        result = await benchmarkStudy(study, {
          jobs,
          ...(limit === undefined ? {} : { limit }),
          command: trialCommand(options),
          signal: controller.signal,
          onRun: (j, dir, trials) => {
            if (!quiet) io.stderr(`jobs ${j}: ${trials.length} trials in ${dir}\n`);
          },
          onEvent: (j, e) => {
            if (e.type !== 'finish') return;
            const o = e.outcome;
            if (o.status === 'failed') {
              const t = o.trial;
              io.stderr(`FAILED ${t.label} · ${formatBudget(t.budget)} · seed ${t.seed} (${o.exitCode === null ? `signal ${o.signal ?? '?'}` : `exit ${o.exitCode}`}); log: ${o.log}\n`);
            } else if (!quiet && o.status === 'done') io.stderr(`  jobs ${j}: ${formatProgress(e.progress)}\n`);
          },
        });
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      emit(io, options, result, () => formatStudyBenchmark(result));
      if (stoppedBy !== undefined) throw new CommandExit(stoppedBy === 'SIGINT' ? 130 : 143);
      if (result.runs.some((r) => r.failed > 0)) throw new CommandExit(1);
    });
}
