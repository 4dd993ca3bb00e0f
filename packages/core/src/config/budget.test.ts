import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NasError } from '../errors.js';
import { parseBudget } from './budget.js';

describe('parseBudget', () => {
  it('reads value, prefix and unit', () => {
    assert.deepEqual(parseBudget('300kmacs'), { value: 300_000, unit: 'macs' });
    assert.deepEqual(parseBudget('2.5e6 params'), { value: 2.5e6, unit: 'params' });
    assert.deepEqual(parseBudget('5ms'), { value: 5, unit: 'ms' });
  });

  it('refuses a budget that is not a finite positive number (1e999macs would write a run.json its own --resume rejects)', () => {
    for (const text of ['1e999macs', '1e308Gmacs', '0ms', 'fast', '3kms']) {
      assert.throws(() => parseBudget(text), (e: unknown) => NasError.is(e, 'E_USAGE') && e.details['budget'] === text, text);
    }
  });
});
