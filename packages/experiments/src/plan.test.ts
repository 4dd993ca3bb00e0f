import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NasError } from '@mitosis/core';
import { canonicalJson, shortHash } from './canonical.js';
import { expandStudy, trialConfig } from './plan.js';
import { resolveSpace } from './space-ref.js';
import { fakeStudy, tempDir, writeFakeSpace } from './testing/fixtures.js';

describe('expanding a study into trials', () => {
  let dir: string;
  let cleanup: () => void;
  let space: string;
  before(() => {
    ({ dir, cleanup } = tempDir('plan'));
    space = writeFakeSpace(dir, { layers: { conv1: { cap: 32 } } });
  });
  after(() => cleanup());

  it('writes canonical JSON whatever the key order', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } }), '{"a":{"c":null,"d":[1,{"x":1,"y":2}]},"b":1}');
    assert.equal(shortHash({ a: 1, b: 2 }), shortHash({ b: 2, a: 1 }));
    assert.throws(() => canonicalJson({ a: Number.NaN }), TypeError);
  });

  it('gives methods × budgets × devices × seeds trials, seed-major, with their run flags', () => {
    const plan = expandStudy(fakeStudy(space, { devices: [null, 'note10-cpu'] }));
    assert.equal(plan.trials.length, 3 * 2 * 2 * 2);
    assert.deepEqual(
      plan.trials.slice(0, 4).map((t) => [t.seed, t.budget.value, t.device, t.label]),
      [
        [0, 300000, null, 'energy-aware'],
        [0, 300000, null, 'prune-l1'],
        [0, 300000, null, 'width'],
        [0, 300000, 'note10-cpu', 'energy-aware'],
      ],
    );
    assert.ok(plan.trials.every((t) => /^[0-9a-f]{12}$/.test(t.id) && t.dir === `trials/${t.id}`));
    assert.equal(new Set(plan.trials.map((t) => t.id)).size, plan.trials.length);
    const t = plan.trials[3];
    assert.deepEqual(t?.args, [
      '--method',
      'energy-aware',
      '--space',
      space,
      '--budget',
      '300000macs',
      '--profile',
      'note10-cpu',
      '--rounds',
      '2',
      '--seed',
      '0',
    ]);
    assert.deepEqual(plan.space, { ref: space, id: 'fake-space', file: space, sha256: resolveSpace(space).sha256 });
  });

  it('runs an ablation arm on its own space: other file, other trial ids, same method', () => {
    mkdirSync(join(dir, 'variant'), { recursive: true });
    const variant = writeFakeSpace(join(dir, 'variant'), { layers: { conv1: { cap: 16 } } });
    const plan = expandStudy(fakeStudy(space, { methods: [{ id: 'energy-aware', options: {}, label: 'base' }, { id: 'energy-aware', options: {}, label: 'arm', space: variant }], reference: 'base' }));
    const base = plan.trials.find((t) => t.label === 'base')!;
    const arm = plan.trials.find((t) => t.label === 'arm' && t.seed === base.seed && t.budget.value === base.budget.value)!;
    assert.notEqual(base.id, arm.id);
    assert.equal(arm.args[arm.args.indexOf('--space') + 1], variant);
    assert.equal(base.args[base.args.indexOf('--space') + 1], space);
  });

  it('passes method options as JSON and a data override', () => {
    const plan = expandStudy(fakeStudy(space, { methods: [{ id: 'prune-l1', options: { perRound: 0.25 } }], data: '/data/fmnist', reference: undefined }));
    const args = plan.trials[0]?.args ?? [];
    assert.equal(args[args.indexOf('--method-options') + 1], '{"perRound":0.25}');
    assert.equal(args[args.indexOf('--data') + 1], '/data/fmnist');
  });

  it('hashes the configuration: ids change with any setting or the space content, not with labels or formatting', () => {
    const base = expandStudy(fakeStudy(space)).trials[0];
    assert.ok(base !== undefined);
    const resolved = resolveSpace(space);
    assert.equal(base.id, shortHash(trialConfig(resolved, base)));
    const variants: [string, Record<string, unknown>][] = [
      ['seed', { seed: 9 }],
      ['budget', { budget: { value: 300001, unit: 'macs' } }],
      ['device', { device: 'pixel1-cpu' }],
      ['rounds', { rounds: 3 }],
      ['data', { data: 'mnist' }],
      ['options', { options: { k: 1 } }],
      ['method', { method: 's2d' }],
    ];
    for (const [what, change] of variants) {
      assert.notEqual(shortHash(trialConfig(resolved, { ...base, ...change })), base.id, what);
    }
    const relabelled = expandStudy(fakeStudy(space, { methods: [{ id: 'energy-aware', label: 'EA' }], reference: undefined })).trials[0];
    assert.equal(relabelled?.id, base.id);
    // The same document reformatted with its keys in another order: same trials.
    const other = join(dir, 'reordered.json');
    writeFileSync(other, JSON.stringify({ layers: { conv1: { cap: 32 } }, id: 'fake-space', version: 1, format: 'mitosis-search-space' }));
    assert.equal(expandStudy(fakeStudy(other)).trials[0]?.id, base.id);
    // Another cap: every trial is new.
    const edited = join(dir, 'edited.json');
    writeFileSync(edited, JSON.stringify({ format: 'mitosis-search-space', version: 1, id: 'fake-space', layers: { conv1: { cap: 64 } } }));
    assert.notEqual(expandStudy(fakeStudy(edited)).trials[0]?.id, base.id);
  });

  it('names the known spaces for an unknown id and rejects a file that is not a space', () => {
    assert.throws(
      () => resolveSpace('convnet-fashon'),
      (e: unknown) => NasError.is(e, 'E_USAGE') && (e.details['known'] as string[]).includes('convnet-fashion'),
    );
    const notSpace = join(dir, 'not-space.json');
    writeFileSync(notSpace, '{"format":"mitosis-network"}');
    assert.throws(
      () => resolveSpace(notSpace),
      (e: unknown) =>
        NasError.is(e, 'E_CONFIG_INVALID') &&
        JSON.stringify(e.details['problems']) === JSON.stringify([
          { pointer: '/format', message: 'must be "mitosis-search-space"' },
          { pointer: '/id', message: 'must be a string' },
        ]),
    );
  });
});
