import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigValidationError, NasError, exitCodeFor } from './errors.js';

describe('NasError', () => {
  it('is recognised by its brand, with or without a code', () => {
    const e = new NasError('E_LUT_MISS', 'missing key', { key: 'k' });
    assert.ok(NasError.is(e));
    assert.ok(NasError.is(e, 'E_LUT_MISS'));
    assert.ok(!NasError.is(e, 'E_NUMERICAL'));
    assert.ok(!NasError.is(new Error('plain')));
    assert.ok(!NasError.is({ code: 'E_LUT_MISS' }));
  });

  it('is recognised across copies of core through the Symbol.for brand', () => {
    const foreign = Object.assign(new Error('x'), { code: 'E_NUMERICAL', [Symbol.for('@mitosis/core/NasError')]: true });
    assert.ok(NasError.is(foreign, 'E_NUMERICAL'));
  });

  it('serialises code, message and details', () => {
    const e = new NasError('E_NUMERICAL', 'NaN in S', { block: 'conv1' });
    assert.deepEqual(JSON.parse(JSON.stringify(e)), { code: 'E_NUMERICAL', message: 'NaN in S', details: { block: 'conv1' } });
  });

  it('lists every problem of a config error with its pointer', () => {
    const e = new ConfigValidationError('a.json', [
      { pointer: '/x', message: 'must be number' },
      { pointer: '/y', message: 'is required' },
    ]);
    assert.equal(e.code, 'E_CONFIG_INVALID');
    assert.match(e.message, /a\.json: \/x must be number; \/y is required/);
    assert.deepEqual(e.details['file'], 'a.json');
  });
});

describe('exitCodeFor', () => {
  it('maps usage and config errors (an unknown id too) to 2, broken plugins to 3 and the rest to 1', () => {
    assert.equal(exitCodeFor(new NasError('E_CONFIG_INVALID', '')), 2);
    assert.equal(exitCodeFor(new NasError('E_USAGE', '')), 2);
    assert.equal(exitCodeFor(new NasError('E_PLUGIN_MANIFEST', '')), 3);
    assert.equal(exitCodeFor(new NasError('E_PLUGIN_UNKNOWN', '')), 2);
    assert.equal(exitCodeFor(new NasError('E_DIVERGED', '')), 1);
    assert.equal(exitCodeFor(new TypeError('bug')), 1);
  });
});
