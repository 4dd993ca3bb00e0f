import { existsSync, readFileSync } from 'node:fs';
import { appendDurableSync, terminateTornLine } from '@mitosis/core';

/** One line of a run's `events.jsonl`. Every event has a type and, where it belongs to one, a round. */
export interface RunEvent {
  readonly type: 'start' | 'seed' | 'round' | 'rollback' | 'stop' | 'final' | 'resume';
  readonly round?: number;
  readonly [key: string]: unknown;
}

/** Every parsable line of a log, in order (a line torn by a kill, or any unreadable line, is skipped). */
export function parseEventLines(text: string): RunEvent[] {
  return text
    .split('\n')
    .filter((line) => line.trim().length > 0)
    .flatMap((line) => {
      try {
        const e = JSON.parse(line) as unknown;
        return typeof e === 'object' && e !== null && typeof (e as RunEvent).type === 'string' ? [e as RunEvent] : [];
      } catch {
        return [];
      }
    });
}

/**
 * The history an append-only log describes: a `start` event begins it afresh (a run started over in the same
 * directory); a `resume` event of round R drops what was logged after round R's checkpoint (the `round` and
 * `rollback` events of later rounds, `stop` and `final`), which the resumed run logs again. The `resume`
 * markers themselves are left out, so a killed-and-resumed run reads like an uninterrupted one.
 */
export function effectiveEvents(raw: readonly RunEvent[]): RunEvent[] {
  let out: RunEvent[] = [];
  for (const e of raw) {
    if (e.type === 'start') out = [e];
    else if (e.type === 'resume') {
      const r = typeof e.round === 'number' ? e.round : -1;
      out = out.filter((x) => x.type === 'start' || x.type === 'seed' || ((x.type === 'round' || x.type === 'rollback') && (x.round ?? 0) <= r));
    } else out.push(e);
  }
  return out;
}

/** The events of a run's `events.jsonl` as {@link effectiveEvents} reads them; none when it is missing. */
export function readRunEvents(file: string): RunEvent[] {
  return existsSync(file) ? effectiveEvents(parseEventLines(readFileSync(file, 'utf8'))) : [];
}

/**
 * Append-only JSONL log: each event is one line, appended and fsynced before the call returns; nothing is ever
 * rewritten. A resumed run appends a `resume` event (see {@link effectiveEvents}).
 */
export class EventLog {
  constructor(readonly file: string) {}

  append(event: RunEvent): void {
    appendDurableSync(this.file, `${JSON.stringify(event)}\n`, 'append to the run log');
  }

  /** Before the first append of a process: ends a line torn by an earlier kill, so it stays one skipped line. */
  reopen(): void {
    terminateTornLine(this.file, 'append to the run log');
  }

  /** The effective events (see {@link effectiveEvents}). */
  read(): RunEvent[] {
    return readRunEvents(this.file);
  }

  /** Every readable line, `resume` markers and superseded records included. */
  readRaw(): RunEvent[] {
    return existsSync(this.file) ? parseEventLines(readFileSync(this.file, 'utf8')) : [];
  }
}
