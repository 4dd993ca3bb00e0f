import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';

/** One line of a run's `events.jsonl`. Every event has a type and, where it belongs to one, a round. */
export interface RunEvent {
  readonly type: 'start' | 'seed' | 'round' | 'rollback' | 'stop' | 'final';
  readonly round?: number;
  readonly [key: string]: unknown;
}

/** Append-only JSONL log; each event is one line, flushed before the call returns. */
export class EventLog {
  constructor(readonly file: string) {}

  append(event: RunEvent): void {
    appendFileSync(this.file, `${JSON.stringify(event)}\n`);
  }

  read(): RunEvent[] {
    if (!existsSync(this.file)) return [];
    return readFileSync(this.file, 'utf8')
      .split('\n')
      .filter((line) => line.trim().length > 0)
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as RunEvent];
        } catch {
          return []; // a line cut by a kill mid-write is dropped on resume
        }
      });
  }

  /**
   * Keeps the events up to and including `round`'s checkpointed state (events of later or unfinished rounds
   * are dropped), so that a resumed run appends exactly what an uninterrupted run would have written.
   */
  truncateAfterRound(round: number): RunEvent[] {
    const kept: RunEvent[] = [];
    for (const e of this.read()) {
      if (e.type === 'start' || e.type === 'seed') kept.push(e);
      else if (e.type === 'round' && (e.round ?? 0) <= round) kept.push(e);
      else if (e.type === 'rollback' && (e.round ?? 0) <= round) kept.push(e);
    }
    writeFileSync(this.file, kept.map((e) => `${JSON.stringify(e)}\n`).join(''));
    return kept;
  }
}
