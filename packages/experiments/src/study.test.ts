import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { NasError } from '@mitosis/core';
import { budgetArgument, formatBudget, formatCount, parseBudgetText } from './budget.js';
import { expandStudy } from './plan.js';
import { loadStudy, parseStudy, studyFromFlags, studySchema } from './study.js';
import { repoRoot } from './testing/fixtures.js';

const minimal = {
  format: 'mitosis-study',
  version: 1,
  id: 'demo',
  space: 'convnet-fashion',
  methods: [{ id: 'energy-aware' }, { id: 'prune-l1', options: { perRound: 0.2 } }],
  budgets: { unit: 'macs', values: [300000] },
  seeds: [0],
};

function problems(doc: unknown): { pointer: string; message: string }[] {
  try {
    parseStudy(doc, 'study.json');
  } catch (e) {
    assert.ok(NasError.is(e, 'E_CONFIG_INVALID'), String(e));
    assert.equal(e.details['file'], 'study.json');
    return e.details['problems'] as { pointer: string; message: string }[];
  }
  assert.fail('expected E_CONFIG_INVALID');
}

describe('study files', () => {
  it('fills labels, options and the default device, leaving the input untouched', () => {
    const doc = structuredClone(minimal);
    const s = parseStudy(doc, 'study.json');
    assert.deepEqual(
      s.methods.map((m) => [m.id, m.label, m.options]),
      [
        ['energy-aware', 'energy-aware', {}],
        ['prune-l1', 'prune-l1', { perRound: 0.2 }],
      ],
    );
    assert.deepEqual(s.devices, [null]);
    assert.deepEqual(doc, minimal);
  });

  it('lists every schema problem with its JSON pointer', () => {
    const p = problems({
      ...minimal,
      version: 2,
      methods: [],
      budgets: { unit: 'flops', values: [-1] },
      seeds: [0, 0],
      extra: true,
    });
    const pointers = p.map((x) => x.pointer);
    for (const ptr of ['/version', '/methods', '/budgets/unit', '/budgets/values/0', '/seeds', '/extra']) {
      assert.ok(pointers.includes(ptr), `${ptr} missing from ${JSON.stringify(p)}`);
    }
  });

  it('rejects repeated labels, repeated runs and an unknown reference, each with its pointer', () => {
    const p = problems({
      ...minimal,
      methods: [{ id: 'energy-aware' }, { id: 'energy-aware' }, { id: 's2d', label: 'energy-aware' }, { id: 'signed', options: { a: 1 } }, { id: 'signed', options: { a: 1 }, label: 'again' }],
      reference: 'width',
    });
    assert.deepEqual(
      p.map((x) => x.pointer),
      ['/methods/1/label', '/methods/1', '/methods/2/label', '/methods/4', '/reference'],
    );
    assert.match(p[4]?.message ?? '', /energy-aware, s2d|energy-aware, signed/);
  });

  it('builds the same study from flags as from a file', () => {
    const fromFlags = studyFromFlags({
      id: 'demo',
      space: 'convnet-fashion',
      methods: 'energy-aware,prune-l1',
      methodOptions: '{"prune-l1":{"perRound":0.2}}',
      budget: '300kmacs',
      seeds: '0',
    });
    assert.deepEqual(fromFlags, parseStudy(minimal, 'x'));
  });

  it('rejects flags that mix budget units or give options for a method not in the list', () => {
    assert.throws(
      () => studyFromFlags({ space: 's', methods: 'a', budget: '300kmacs,2ms' }),
      (e: unknown) => NasError.is(e, 'E_USAGE') && /mixes units/.test(e.message),
    );
    assert.throws(
      () => studyFromFlags({ space: 's', methods: 'a', budget: '1ms', methodOptions: '{"b":{}}' }),
      (e: unknown) => NasError.is(e, 'E_USAGE') && /not in --methods: b/.test(e.message),
    );
    assert.throws(() => studyFromFlags({ space: 's', methods: 'a', budget: '1ms', seeds: '0,x' }), (e: unknown) => NasError.is(e, 'E_USAGE'));
    assert.equal(studyFromFlags({ space: 'search-spaces/convnet-fashion.json', methods: 'a', budget: '1ms' }).id, 'convnet-fashion-study');
  });

  it('reads budgets with unit prefixes and writes them back for mitosis run', () => {
    assert.deepEqual(parseBudgetText('300kmacs'), { value: 300000, unit: 'macs' });
    assert.deepEqual(parseBudgetText('1.5Mparams'), { value: 1500000, unit: 'params' });
    assert.deepEqual(parseBudgetText('2.5ms'), { value: 2.5, unit: 'ms' });
    assert.throws(() => parseBudgetText('3kms'), (e: unknown) => NasError.is(e, 'E_USAGE'));
    assert.throws(() => parseBudgetText('300 flops'), (e: unknown) => NasError.is(e, 'E_USAGE') && /macs, params, ms, mJ/.test(e.message));
    assert.equal(budgetArgument({ value: 300000, unit: 'macs' }), '300000macs');
    assert.equal(formatBudget({ value: 450000, unit: 'macs' }), '450k macs');
    assert.equal(formatCount(1234567, 'params'), '1.235M');
    assert.equal(formatCount(0.123456, 'ms'), '0.1235');
  });

  it('ships a quick and a full Fashion-MNIST study, and the splitting ablations, that validate and expand', () => {
    const dir = join(repoRoot, 'search-spaces', 'studies');
    const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
    assert.deepEqual(files, ['fashion-ablations.json', 'fashion-cell-quick.json', 'fashion-full.json', 'fashion-long.json', 'fashion-quick.json', 'fashion-retrain-9.json', 'fashion-retrain.json']);
    const cells = expandStudy(loadStudy(join(dir, 'fashion-cell-quick.json')));
    assert.equal(cells.space.id, 'cell-fashion-quick');
    assert.deepEqual(cells.trials.map((t) => t.args[t.args.indexOf('--method') + 1]).sort(), ['autoshrink', 'energy-aware', 'prune-l1', 'width-multiplier']);
    const ablations = expandStudy(loadStudy(join(dir, 'fashion-ablations.json')));
    assert.ok(ablations.trials.every((t) => existsSync(t.args[t.args.indexOf('--space') + 1]!)));
    assert.equal(new Set(ablations.trials.map((t) => t.args[t.args.indexOf('--space') + 1])).size, 7);
    const quick = expandStudy(loadStudy(join(dir, 'fashion-quick.json')));
    assert.equal(quick.space.id, 'convnet-fashion-quick');
    assert.equal(quick.trials.length, 2);
    const full = loadStudy(join(dir, 'fashion-full.json'));
    assert.deepEqual(
      full.methods.map((m) => m.id).sort(),
      ['energy-aware', 'prune-l1', 'prune-slimming', 'prune-taylor', 'random-split', 's2d', 'signed', 'width-multiplier'],
    );
    assert.ok(full.budgets.values.length >= 2);
    assert.deepEqual(full.seeds, [0, 1, 2]);
    const plan = expandStudy(full);
    assert.equal(plan.space.id, 'convnet-fashion');
    assert.equal(plan.trials.length, 8 * 2 * 3);
  });

  it('the example study in docs/compare.md is valid', () => {
    const doc = readFileSync(join(repoRoot, 'docs', 'compare.md'), 'utf8');
    const block = /## The study file[\s\S]*?```json\n([\s\S]*?)```/.exec(doc)?.[1];
    assert.ok(block !== undefined, 'no json block under "The study file"');
    const s = parseStudy(JSON.parse(block), 'docs/compare.md');
    assert.deepEqual(
      s.methods.map((m) => m.label),
      ['energy-aware', 'energy-aware (lanczos)', 'prune-l1', 'width-multiplier'],
    );
  });

  it('the shipped schema file is the schema the code validates against', () => {
    const shipped = JSON.parse(readFileSync(join(repoRoot, 'search-spaces', 'schema', 'study.schema.json'), 'utf8')) as unknown;
    assert.deepEqual(shipped, JSON.parse(JSON.stringify(studySchema)));
  });
});
