import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { NasError, processAlive } from '@mitosis/core';
import { runTrials, type ExecutorEvent, type TrialCommandFactory, type TrialExecutor, type TrialOutcome } from './executor.js';
import { expandStudy, STUDY_FILES, writePlan, type StudyPlan } from './plan.js';
import { writeReport, type ReportFiles } from './report.js';
import { writeResults, type StudyResults } from './results.js';
import type { Study } from './study.js';

/** Options of {@link runStudy}. */
export interface RunStudyOptions {
  /** The study directory (created when absent). */
  readonly out: string;
  readonly command: TrialCommandFactory;
  /** Trials at once (default: the number of cores). */
  readonly jobs?: number;
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: ExecutorEvent) => void;
  /** Called once the plan is written, before any trial starts. */
  readonly onPlan?: (plan: StudyPlan) => void;
  readonly env?: NodeJS.ProcessEnv;
  /** Passed to the executor (tests shorten it). */
  readonly killGraceMs?: number;
  /** Runs the trials (default {@link runTrials}, the local executor; `redisExecutor` for many machines). */
  readonly executor?: TrialExecutor;
}

/** What a study invocation did. */
export interface StudyRun {
  readonly studyDir: string;
  readonly plan: StudyPlan;
  readonly outcomes: readonly TrialOutcome[];
  readonly results: StudyResults;
  /** Absent when the study was interrupted (results are still rebuilt). */
  readonly report?: ReportFiles;
  readonly interrupted: boolean;
  /** Trials that failed in this invocation. */
  readonly failed: readonly TrialOutcome[];
}

/**
 * Takes `<studyDir>/compare.lock` for this process, so that two `mitosis compare` on one directory never run
 * a trial twice at once. A lock left by a process that no longer exists is taken over. Returns the release
 * function; `E_USAGE` when a live process holds the lock.
 */
export function lockStudy(studyDir: string): () => void {
  mkdirSync(studyDir, { recursive: true });
  const file = join(studyDir, STUDY_FILES.lock);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      return () => rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
        throw new NasError('E_USAGE', `Another mitosis compare (pid ${pid}) is running on ${studyDir}; wait for it or stop it`, {
          file,
          pid,
        });
      }
      rmSync(file, { force: true });
    }
  }
  throw new NasError('E_USAGE', `Cannot take the lock ${file}`, { file });
}

/**
 * Runs a study into a directory: writes `study.json` and `plan.json`, runs every trial that is not done yet
 * (see {@link runTrials}), rebuilds `results.json` / `results.csv` from the trial directories, and, unless
 * interrupted, writes the report. Running it again on the same directory resumes: finished trials are
 * skipped and killed ones continue from their last round. A changed study may reuse a directory: trials it
 * shares with the old one are kept, the others run, and the report covers only the new study's trials.
 */
export async function runStudy(study: Study, options: RunStudyOptions): Promise<StudyRun> {
  const studyDir = resolve(options.out);
  const plan = expandStudy(study, options.env);
  const release = lockStudy(studyDir);
  try {
    writePlan(studyDir, study, plan);
    options.onPlan?.(plan);
    const execute = options.executor ?? runTrials;
    const { outcomes, interrupted } = await execute(plan.trials, {
      studyDir,
      study: plan.study,
      command: options.command,
      ...(options.jobs === undefined ? {} : { jobs: options.jobs }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.onEvent === undefined ? {} : { onEvent: options.onEvent }),
      ...(options.killGraceMs === undefined ? {} : { killGraceMs: options.killGraceMs }),
    });
    const failed = outcomes.filter((o) => o.status === 'failed');
    if (interrupted) {
      return { studyDir, plan, outcomes, results: writeResults(studyDir, plan), interrupted, failed };
    }
    const report = await writeReport(studyDir);
    return { studyDir, plan, outcomes, results: report.results, report, interrupted, failed };
  } finally {
    release();
  }
}
