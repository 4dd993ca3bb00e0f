import { processAlive } from '@mitosis/core';

/**
 * A process started by `mitosis compare` (which sets `MITOSIS_PARENT_PID`) exits when that parent is gone —
 * killed with SIGKILL, it cannot stop its children itself — so that no orphan keeps writing into a trial
 * directory that a re-run of the study takes over. Checks once a second; the timer does not keep Node alive.
 * Returns the timer (tests stop it), or `undefined` when there is no parent to watch.
 */
export function exitWithParent(env: NodeJS.ProcessEnv, intervalMs = 1000, exit: (code: number) => void = (code) => process.exit(code)): NodeJS.Timeout | undefined {
  const raw = env['MITOSIS_PARENT_PID'];
  const parent = raw === undefined ? Number.NaN : Number(raw);
  if (!Number.isInteger(parent) || parent <= 1) return undefined;
  const timer = setInterval(() => {
    if (!processAlive(parent) || process.ppid !== parent) {
      clearInterval(timer);
      process.stderr.write(`mitosis: the study process ${parent} is gone; stopping this trial (re-run the study to resume it)\n`);
      exit(137);
    }
  }, intervalMs);
  timer.unref();
  return timer;
}
