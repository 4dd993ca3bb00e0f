import cliProgress from 'cli-progress';

/** A progress display that can be driven whether or not it is visible. */
export interface Progress {
  /** Sets the number of completed units and optional text shown after the bar. */
  update(done: number, status?: string): void;
  /** Removes the bar (idempotent). */
  stop(): void;
}

/** Options of {@link createProgress}. */
export interface ProgressOptions {
  /** Machine-readable output was requested: draw nothing. */
  readonly json?: boolean;
  /** Where to draw; default `process.stderr`. Nothing is drawn unless it is a TTY. */
  readonly stream?: NodeJS.WriteStream;
}

const QUIET: Progress = { update: () => undefined, stop: () => undefined };

/**
 * A cli-progress bar on stderr labelled `label` counting to `total`. It stays silent (a no-op object) when
 * `json` is set or the stream is not a TTY, so callers never branch on output mode.
 */
export function createProgress(label: string, total: number, options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  if (options.json === true || stream.isTTY !== true) return QUIET;
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {value}/{total} {status}`, stream, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { status: '' });
  let stopped = false;
  return {
    update(done: number, status = ''): void {
      if (!stopped) bar.update(done, { status });
    },
    stop(): void {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}
