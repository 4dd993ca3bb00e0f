import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { EventLog, effectiveEvents, type RunEvent } from './event-log.js';

const root = mkdtempSync(join(tmpdir(), 'mitosis-event-log-'));
after(() => rmSync(root, { recursive: true, force: true }));

const ev = (type: RunEvent['type'], round?: number, extra: Record<string, unknown> = {}): RunEvent => ({ type, ...(round === undefined ? {} : { round }), ...extra });

describe('append-only run log', () => {
  it('a resume of round R drops what was logged after R; a start begins afresh; resume markers are left out', () => {
    const raw = [
      ev('start', undefined, { seed: 1 }),
      ev('seed', 0),
      ev('round', 1, { v: 'first' }),
      ev('round', 2, { v: 'lost' }),
      ev('rollback', 3),
      ev('stop', 3),
      ev('final', 2),
      ev('resume', 1),
      ev('round', 2, { v: 'again' }),
      ev('final', 2, { v: 'again' }),
    ];
    assert.deepEqual(effectiveEvents(raw), [ev('start', undefined, { seed: 1 }), ev('seed', 0), ev('round', 1, { v: 'first' }), ev('round', 2, { v: 'again' }), ev('final', 2, { v: 'again' })]);
    assert.deepEqual(effectiveEvents([...raw, ev('start', undefined, { seed: 2 }), ev('seed', 0)]), [ev('start', undefined, { seed: 2 }), ev('seed', 0)]);
  });

  it('appends without rewriting; a line torn by a kill stays one skipped line after reopen', () => {
    const log = new EventLog(join(root, 'events.jsonl'));
    log.append(ev('start'));
    log.append(ev('seed', 0));
    appendFileSync(log.file, '{"type":"round","rou'); // a kill mid-append
    const before = readFileSync(log.file, 'utf8');
    log.reopen();
    log.append(ev('resume', 0));
    log.append(ev('round', 1));
    assert.ok(readFileSync(log.file, 'utf8').startsWith(before), 'nothing already written changed');
    assert.deepEqual(log.read(), [ev('start'), ev('seed', 0), ev('round', 1)]);
    assert.equal(log.readRaw().length, 4);
  });
});
