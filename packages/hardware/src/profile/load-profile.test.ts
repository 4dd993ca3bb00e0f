import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigValidationError, NasError } from '@mitosis/core';
import { hardwareProfileSchema } from './hardware-profile.js';
import { tinyProfile } from '../test-support/tiny-profile.js';
import { loadProfile, shippedProfileDir, shippedProfileIds, validateProfile } from './load-profile.js';
import { compileFallback } from '../predictor/fallback-predictor.js';

function problemsOf(fn: () => unknown): { pointer: string; message: string }[] {
  try {
    fn();
  } catch (error) {
    assert.ok(NasError.is(error, 'E_PROFILE_INVALID'), String(error));
    assert.ok(error instanceof ConfigValidationError);
    return [...error.problems];
  }
  assert.fail('expected E_PROFILE_INVALID');
}

describe('validateProfile', () => {
  it('accepts a valid profile and returns a copy', () => {
    const p = tinyProfile();
    const v = validateProfile(p, 'tiny');
    assert.deepEqual(v, p);
    assert.notEqual(v, p);
  });

  const cases: [string, (p: Record<string, unknown>) => void, string, RegExp][] = [
    ['missing units', (p) => delete p['units'], '/units', /required/],
    ['negative latency', (p) => ((p['table'] as Record<string, { mean: number }>)['dense-input:16-output:10']!.mean = -1), '/table/dense-input:16-output:10/mean', />= 0/],
    ['malformed key', (p) => ((p['table'] as Record<string, unknown>)['dense-input:16-output:1x2'] = { mean: 1 }), '/table/dense-input:16-output:1x2', /Malformed op key/],
    ['unknown op', (p) => ((p['table'] as Record<string, unknown>)['conv3d-input:1x1x1'] = { mean: 1 }), '/table/conv3d-input:1x1x1', /unknown op "conv3d"/],
    ['unparsable expression', (p) => ((p['fallback'] as { expression: string }).expression = 'c0 + * macs'), '/fallback/expression', /does not parse/],
    ['unknown symbol', (p) => ((p['fallback'] as { expression: string }).expression = 'c0 + c1 * flops'), '/fallback/expression', /unknown symbol "flops"/],
    ['assignment', (p) => ((p['fallback'] as { expression: string }).expression = 'c0 = 3'), '/fallback/expression', /AssignmentNode/],
    ['unknown function', (p) => ((p['fallback'] as { expression: string }).expression = 'c0 + evaluate(macs)'), '/fallback/expression', /unknown function "evaluate"/],
    ['unknown op in byOp', (p) => ((p['fallback'] as Record<string, unknown>)['byOp'] = { conv3d: { expression: 'c0', coefficients: { c0: 1 } } }), '/fallback/byOp/conv3d', /unknown op/],
    ['energy without unit', (p) => (p['energy'] = { model: { expression: 'p * latencyMs', coefficients: { p: 2 } } }), '/units/energy', /required/],
    ['bad device class', (p) => ((p['device'] as Record<string, unknown>)['class'] = 'tpu'), '/device/class', /one of/],
  ];
  for (const [name, mutate, pointer, message] of cases) {
    it(`reports ${name} at ${pointer}`, () => {
      const p = structuredClone(tinyProfile()) as unknown as Record<string, unknown>;
      mutate(p);
      const problems = problemsOf(() => validateProfile(p, 'bad.json'));
      assert.ok(
        problems.some((q) => q.pointer === pointer && message.test(q.message)),
        JSON.stringify(problems),
      );
    });
  }

  // Issue 16 reproducers: each was a raw TypeError/RangeError before (exit 1, no code).
  const fallback = (p: Record<string, unknown>): { expression: string; coefficients: Record<string, number> } =>
    p['fallback'] as { expression: string; coefficients: Record<string, number> };
  const hostile: [string, (p: Record<string, unknown>) => void, string, RegExp][] = [
    ...['pow', 'sqrt', 'end', 'constructor', 'toString', 'pi'].map(
      (name): [string, (p: Record<string, unknown>) => void, string, RegExp] => [
        `a coefficient named ${name}`,
        (p) => {
          fallback(p).expression = `${name} * macs`;
          fallback(p).coefficients = { [name]: 1 };
        },
        `/fallback/coefficients/${name}`,
        /shadows|keyword|Object\.prototype/,
      ],
    ),
    [
      'a coefficient named __proto__ (as JSON.parse makes it)',
      (p) => {
        fallback(p).expression = 'c0 * macs';
        fallback(p).coefficients = JSON.parse('{"c0": 1, "__proto__": 2}') as Record<string, number>;
      },
      '/fallback/coefficients/__proto__',
      /identifier|Object\.prototype/,
    ],
    ['max() with no argument', (p) => (fallback(p).expression = 'max()'), '/fallback/expression', /max\(\) with 0 argument/],
    ['pow() with one argument', (p) => (fallback(p).expression = 'pow(macs)'), '/fallback/expression', /pow\(\) with 1 argument/],
    ['max() with 200,000 arguments', (p) => (fallback(p).expression = `max(${'1,'.repeat(200_000)}1)`), '/fallback/expression', /characters long/],
    ['a 20,000-term expression', (p) => (fallback(p).expression = `c0${' + macs'.repeat(20_000)}`), '/fallback/expression', /characters long/],
    ['a 450-term sum in 2,000 characters', (p) => (fallback(p).expression = `c0${'+h'.repeat(450)}`), '/fallback/expression', /nests deeper than 64 operations/],
    ['5,000 nested brackets', (p) => (fallback(p).expression = `${'('.repeat(5000)}c0${')'.repeat(5000)}`), '/fallback/expression', /characters long|nests brackets/],
    ['40 nested brackets', (p) => (fallback(p).expression = `${'('.repeat(40)}c0${')'.repeat(40)}`), '/fallback/expression', /nests brackets deeper than 32/],
  ];
  for (const [name, mutate, pointer, message] of hostile) {
    it(`refuses ${name} with a pointer (${pointer})`, () => {
      const p = structuredClone(tinyProfile()) as unknown as Record<string, unknown>;
      mutate(p);
      const problems = problemsOf(() => validateProfile(p, 'bad.json'));
      assert.ok(
        problems.some((q) => q.pointer === pointer && message.test(q.message)),
        JSON.stringify(problems).slice(0, 500),
      );
    });
  }

  it('refuses a profile nested 5,000 levels deep before cloning it', () => {
    const deep = JSON.parse(`${'['.repeat(5000)}${']'.repeat(5000)}`) as unknown;
    const p = { ...tinyProfile(), provenance: { source: 'x', license: 'y', note: deep } };
    assert.throws(() => validateProfile(p, 'deep.json'), (e: unknown) => NasError.is(e, 'E_PROFILE_INVALID') && /nests deeper than 128/.test(e.message));
  });

  it('an evaluation error is E_PROFILE_INVALID naming the profile file and the pointer', () => {
    const compiled = compileFallback('c0 * latencyMs', '/energy/model/expression', new Set(['c0']), ['latencyMs'], 'dev.json');
    // latencyMs missing from the features: mathjs throws "Undefined symbol".
    assert.throws(
      () => compiled.evaluate({ macs: 1 }, { c0: 1 }),
      (e: unknown) => NasError.is(e, 'E_PROFILE_INVALID') && e.details['file'] === 'dev.json' && e.details['pointer'] === '/energy/model/expression' && /cannot be evaluated/.test(e.message),
    );
    assert.equal(compiled.evaluate({ latencyMs: 2 }, { c0: 3 }), 6);
  });

  it('requires the id to equal the file stem', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hw-'));
    const file = join(dir, 'other-name.json');
    writeFileSync(file, JSON.stringify(tinyProfile()));
    assert.deepEqual(problemsOf(() => loadProfile(file)).map((p) => p.pointer), ['/id']);
  });

  it('names the shipped profiles on an unknown id', () => {
    assert.throws(() => loadProfile('nope-cpu'), (e: unknown) => NasError.is(e, 'E_PROFILE_INVALID') && /note10-cpu/.test(e.message));
  });
});

describe('shipped profiles', () => {
  it('ship pixel1-cpu, note10-cpu, myriad-vpu, hexagon-dsp and local; each validates', () => {
    const ids = shippedProfileIds();
    for (const id of ['pixel1-cpu', 'note10-cpu', 'myriad-vpu', 'hexagon-dsp', 'local']) assert.ok(ids.includes(id), id);
    for (const id of ids) {
      const p = loadProfile(id);
      assert.equal(p.$schema, './schema/hardware-profile.schema.json');
      assert.ok(p.provenance.source.length > 0 && p.provenance.license.length > 0);
      if (p.device.class === 'dsp' || p.device.class === 'vpu') assert.equal(p.estimated, true, id);
    }
  });

  it('the schema file is the schema the loader uses', () => {
    const file = join(shippedProfileDir(), 'schema', 'hardware-profile.schema.json');
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), JSON.parse(JSON.stringify(hardwareProfileSchema)));
  });
});
