import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { NasError } from '@mitosis/core';
import { opFeatures } from '../ops/op-features.js';
import { compileFallback, fitFallback, leastSquares } from './fallback-predictor.js';
import { SeededRandom } from '@mitosis/core';

describe('fallback predictor', () => {
  it('loads mathjs only when an expression is compiled (importing the package does not)', () => {
    // In a fresh process: mathjs is a CommonJS module once loaded, so it shows in the require cache.
    const script = `
      import { createRequire } from 'node:module';
      const hw = await import('@mitosis/hardware');
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('/node_modules/mathjs/'));
      const before = loaded();
      hw.compileFallback('c0 + c1 * macs', '/fallback');
      console.log(JSON.stringify([before, loaded()]));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: new URL('../..', import.meta.url), encoding: 'utf8' });
    assert.deepEqual(JSON.parse(out), [false, true]);
  });

  it('solves least squares exactly on consistent data', () => {
    const x = leastSquares([[1, 1e8], [1, 2e8], [1, 5e8]], [1 + 2, 1 + 4, 1 + 10]);
    assert.ok(Math.abs(x[0]! - 1) < 1e-9 && Math.abs(x[1]! - 2e-8) < 1e-17, String(x));
  });

  it('recovers known coefficients from noiseless samples', () => {
    const rng = new SeededRandom(3);
    const samples = Array.from({ length: 20 }, () => {
      const c = 8 + Math.floor(rng.next() * 64);
      const h = 4 + Math.floor(rng.next() * 28);
      const f = opFeatures({ kind: 'conv2d', input: [h, h, c], output: [h, h, c * 2], attrs: { kernel: 3, stride: 1, groups: 1 } });
      return { features: f, value: 0.02 + 3e-9 * f.macs + 1e-7 * (f.inBytes + f.outBytes) };
    });
    const fit = fitFallback('a + b * macs + m * (inBytes + outBytes)', samples);
    assert.ok(Math.abs(fit.coefficients['a']! - 0.02) < 1e-9);
    assert.ok(Math.abs(fit.coefficients['b']! / 3e-9 - 1) < 1e-6);
    assert.ok(Math.abs(fit.coefficients['m']! / 1e-7 - 1) < 1e-6);
    assert.ok(fit.quality.medianAbsPctError < 1e-6);
  });

  it('refuses an expression that is not linear in its coefficients', () => {
    const f = opFeatures({ kind: 'dense', input: [10], output: [5], attrs: {} });
    assert.throws(
      () => fitFallback('a * b * macs', [{ features: f, value: 1 }, { features: f, value: 2 }, { features: f, value: 3 }]),
      (e: unknown) => NasError.is(e, 'E_PROFILE_INVALID') && /linear/.test(e.message),
    );
  });

  it('evaluates allowed functions and rejects unknown coefficients when a set is given', () => {
    const c = compileFallback('k * sqrt(macs)', '/x', new Set(['k']));
    assert.equal(c.evaluate(opFeatures({ kind: 'dense', input: [4], output: [4], attrs: {} }), { k: 2 }), 8);
    assert.throws(() => compileFallback('k * macs + z', '/x', new Set(['k'])), (e: unknown) => NasError.is(e, 'E_PROFILE_INVALID') && e.details['pointer'] === '/x');
  });
});
