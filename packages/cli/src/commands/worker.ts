import { resolve } from 'node:path';
import type { Command } from 'commander';
import { GrowerRegistry, NasError, PrunerRegistry, ResizerRegistry, ShrinkerRegistry } from '@mitosis/core';
import { loadProfile } from '@mitosis/hardware';
import { defaultJobs, formatBudget, formatDuration, type PlannedTrial } from '@mitosis/experiments';
import { integerFlag, positiveFlag } from '../flags.js';
import { emit, type GlobalOptions, type Io } from '../io.js';
import { pluginContainer } from '../plugin-context.js';
import { envMs, trialCommand } from './compare.js';

interface WorkerFlags {
  redis: string;
  jobs?: string;
  sharedDir?: boolean;
  workDir?: string;
  study?: string;
  maxArtifactMb?: string;
  idleExit?: string;
}

/**
 * What a worker checks before it runs a trial from the queue: the method is installed here (a grower, pruner,
 * resizer or shrinker of this invocation's plugins), its options validate against the method's schema, and the
 * device's hardware profile loads. Throws the NasError that `mitosis compare` would have given.
 */
export function workerTrialCheck(options: GlobalOptions, io?: Io): (trial: PlannedTrial) => Promise<void> {
  return async (trial) => {
    if (trial.device !== null) loadProfile(trial.device);
    const { container } = await pluginContainer(options, io);
    const registries = [container.get(GrowerRegistry), container.get(PrunerRegistry), container.get(ResizerRegistry), container.get(ShrinkerRegistry)];
    const registry = registries.find((r) => r.has(trial.method));
    if (registry === undefined) {
      const known = [...new Set(registries.flatMap((r) => r.ids()))].sort();
      throw new NasError('E_PLUGIN_UNKNOWN', `method "${trial.method}" is not installed here (installed: ${known.join(', ')})`, { method: trial.method, known });
    }
    registry.options(trial.method, trial.options, `trial ${trial.id} options`);
  };
}

/**
 * `mitosis worker --redis <url>`: runs the trials of every study that `mitosis compare --executor <url>` queues
 * (or one study, `--study`), `--jobs` at a time, each in its own `mitosis run` process, until SIGINT/SIGTERM.
 */
export function registerWorkerCommand(program: Command, io: Io): void {
  program
    .command('worker')
    .description('take trials queued by `mitosis compare --executor redis://…` and run them here (see docs/scale-out.md)')
    .requiredOption('--redis <url>', 'redis://[:password@]host[:port][/db] or rediss://… (TLS); the password may come from MITOSIS_REDIS_PASSWORD')
    .option('--jobs <n>', `trials run at once (default: the number of cores, ${defaultJobs()} here)`)
    .option('--shared-dir', "write trials into the coordinator's study directory, visible here at the same path (NFS…): a retried trial resumes from its checkpoint")
    .option('--work-dir <dir>', 'where trials run when their files travel back through Redis (default: <tmp>/mitosis-worker)')
    .option('--study <id>', 'serve only this study (default: every study queued on this Redis)')
    .option('--max-artifact-mb <n>', "largest trial result sent through Redis, in MiB (default 64)")
    .option('--idle-exit <seconds>', 'stop after this many seconds with no trial running (batch jobs, CI); default: serve until Ctrl-C')
    .action(async (flags: WorkerFlags, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const { parseRedisUrl, startTrialWorker } = await import('@mitosis/experiments/distributed');
      const target = parseRedisUrl(flags.redis, process.env, '--redis');
      const jobs = flags.jobs === undefined ? defaultJobs() : integerFlag('--jobs', flags.jobs, 1);
      if (flags.sharedDir === true && flags.workDir !== undefined) throw new NasError('E_USAGE', '--work-dir applies only without --shared-dir', { options: ['--shared-dir', '--work-dir'] });
      const maxArtifactBytes = flags.maxArtifactMb === undefined ? undefined : Math.round(positiveFlag('--max-artifact-mb', flags.maxArtifactMb) * 1024 * 1024);
      const lockMs = envMs('MITOSIS_WORKER_LOCK_MS');
      const quiet = options.json === true;
      const say = (line: string): void => {
        if (!quiet) io.stderr(line);
      };
      // Plugins load once, before any trial: a broken install fails here rather than on every trial.
      await pluginContainer(options, io);
      const idleMs = flags.idleExit === undefined ? undefined : Math.round(positiveFlag('--idle-exit', flags.idleExit) * 1000);
      const counts = { done: 0, failed: 0, returned: 0, refused: 0 };
      let running = 0;
      let lastActivity = Date.now();
      const what = (study: string, t: PlannedTrial): string =>
        `${study}: ${t.label} · ${formatBudget(t.budget)}${t.device === null ? '' : ` · ${t.device}`} · seed ${t.seed}`;
      const worker = await startTrialWorker({
        redis: target,
        command: trialCommand(options),
        jobs,
        sharedDir: flags.sharedDir === true,
        ...(flags.workDir === undefined ? {} : { workDir: resolve(flags.workDir) }),
        ...(flags.study === undefined ? {} : { study: flags.study }),
        ...(maxArtifactBytes === undefined ? {} : { maxArtifactBytes }),
        ...(lockMs === undefined ? {} : { lockMs, stalledIntervalMs: Math.max(100, Math.floor(lockMs / 4)) }),
        ...(envMs('MITOSIS_WORKER_POLL_MS') === undefined ? {} : { pollMs: envMs('MITOSIS_WORKER_POLL_MS') as number }),
        checkTrial: workerTrialCheck(options, io),
        onEvent: (e) => {
          if (e.type === 'serve') say(`serving study ${e.study} (queue ${e.queue})\n`);
          else if (e.type === 'unserve') say(`study ${e.study} finished (queue ${e.queue})\n`);
          else if (e.type === 'warning') say(`warning: ${e.message}\n`);
          else if (e.type === 'start') {
            running++;
            lastActivity = Date.now();
            say(`start  ${what(e.study, e.trial)} (trial ${e.trial.id}, attempt ${e.attempt}${e.resumed ? ', resumed' : ''})\n`);
          } else {
            if (e.status !== 'refused') running = Math.max(0, running - 1);
            lastActivity = Date.now();
            counts[e.status]++;
            const head = { done: 'done  ', failed: 'FAILED', returned: 'back  ', refused: 'REFUSED' }[e.status];
            const tail = e.status === 'done' ? ` in ${formatDuration(e.wallMs)}` : e.status === 'returned' ? ' to the queue (stopping)' : `: ${e.error ?? ''}`;
            say(`${head} ${what(e.study, e.trial)}${tail}\n`);
          }
        },
      });
      say(
        `worker ${worker.name} on ${target.display}: ${jobs} trial${jobs === 1 ? '' : 's'} at a time, ${
          flags.sharedDir === true ? 'writing into the shared study directories' : 'files back through Redis'
        }; stop with Ctrl-C\n`,
      );
      const stoppedBy = await new Promise<NodeJS.Signals | 'idle'>((resolveStop) => {
        const idle =
          idleMs === undefined
            ? undefined
            : setInterval(() => {
                if (running === 0 && Date.now() - lastActivity >= idleMs) {
                  clearInterval(idle);
                  process.off('SIGINT', onSignal);
                  process.off('SIGTERM', onSignal);
                  resolveStop('idle');
                }
              }, Math.min(1000, idleMs));
        const onSignal = (signal: NodeJS.Signals): void => {
          if (idle !== undefined) clearInterval(idle);
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          // A second signal stops at once: the running trials' jobs go to other workers when their locks expire.
          const hard = (): void => process.exit(signal === 'SIGINT' ? 130 : 143);
          process.once('SIGINT', hard);
          process.once('SIGTERM', hard);
          resolveStop(signal);
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      });
      say(stoppedBy === 'idle' ? `no trial for ${(idleMs ?? 0) / 1000} s: stopping\n` : `\n${stoppedBy}: stopping; running trials go back to the queue\n`);
      await worker.stop();
      emit(io, options, { worker: worker.name, redis: target.display, stoppedBy, trials: counts }, () =>
        `worker ${worker.name} stopped: ${counts.done} done, ${counts.failed} failed, ${counts.returned} handed back, ${counts.refused} refused\n`,
      );
    });
}
