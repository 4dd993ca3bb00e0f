import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { NasError, writeChecksums, type NetworkSpec } from '@mitosis/core';
import { initWeights } from '@mitosis/ir';
import { loadRoundState, resumePoint, roundDir, saveRoundState } from './checkpoint.js';

const spec: NetworkSpec = {
  format: 'mitosis-network',
  version: 1,
  name: 'tiny',
  nodes: [
    { name: 'input', op: 'input', shape: [4] },
    { name: 'a', op: 'dense', inputs: ['input'], units: 4, useBias: true },
    { name: 'b', op: 'dense', inputs: ['a'], units: 4, useBias: true },
  ],
  output: 'b',
} as NetworkSpec;

const root = mkdtempSync(join(tmpdir(), 'mitosis-round-ckpt-'));
after(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
async function run(rounds = 1): Promise<string> {
  const dir = join(root, `run-${n++}`);
  for (let r = 0; r <= rounds; r++) {
    await saveRoundState(dir, { round: r, spec, weights: initWeights(spec, r + 1), rng: { state: 100 + r, spare: null }, metrics: { epochs: 2 * r } });
  }
  return dir;
}

const edit = (dir: string, round: number, file: string, change: (text: string) => string, rehash: boolean): string => {
  const path = join(roundDir(dir, round), file);
  writeFileSync(path, change(readFileSync(path, 'latin1')), 'latin1');
  if (rehash) writeChecksums(roundDir(dir, round));
  return path;
};

const json = (f: (doc: Record<string, unknown>) => void) => (text: string): string => {
  const doc = JSON.parse(text) as Record<string, unknown>;
  f(doc);
  return JSON.stringify(doc);
};

describe('round checkpoints (issue 16 item 2)', () => {
  it('round-trip with checksums.json written last', async () => {
    const dir = await run();
    assert.deepEqual(readdirSync(roundDir(dir, 1)).sort(), ['checksums.json', 'network.json', 'state.json', 'weights.bin', 'weights.json']);
    const state = await loadRoundState(dir, 1, { complete: true });
    assert.equal(state.round, 1);
    assert.deepEqual(state.rng, { state: 101, spare: null });
    assert.deepEqual(state.weights.get('a/kernel')!.data, initWeights(spec, 2).get('a/kernel')!.data);
  });

  // The audit's reproducers: each resumed with exit 0 and a different model before.
  // `null`: only the checksum can tell (same shapes, finite values); the others are also caught without it.
  const damages: [string, string, (text: string) => string, RegExp | null][] = [
    ['64 random bytes in weights.bin', 'weights.bin', (t) => `${t.slice(0, 8)}${'\u00a5'.repeat(64)}${t.slice(72)}`, null],
    [
      'swapped tensor names',
      'weights.json',
      json((d) => {
        const w = d['weights'] as { name: string }[];
        [w[0]!.name, w[2]!.name] = [w[2]!.name, w[0]!.name];
      }),
      null,
    ],
    ['a bad RNG state', 'state.json', json((d) => (d['rng'] = { state: -5, spare: 'x' })), /rng/],
    ['a wrong round number', 'state.json', json((d) => (d['round'] = 7)), /round/],
    ['a network.json without output', 'network.json', json((d) => delete d['output']), /output/],
  ];
  for (const [what, file, change, message] of damages) {
    it(`refuses ${what}: by its checksum${message === null ? '' : ', and by the consistency checks when the checksums are rewritten to match'}`, async () => {
      for (const rehash of message === null ? [false] : [false, true]) {
        const dir = await run();
        const path = edit(dir, 1, file, change, rehash);
        await assert.rejects(loadRoundState(dir, 1, { complete: true }), (e: unknown) => {
          assert.ok(NasError.is(e, 'E_CHECKPOINT'), String(e));
          if (!rehash) assert.equal(e.details['file'], path);
          else assert.match(`${e.message} ${String(e.details['pointer'])}`, message!);
          return true;
        });
      }
    });
  }

  it('a tensor with the wrong shape for the spec is refused (weights and spec must agree)', async () => {
    const dir = await run();
    edit(dir, 1, 'network.json', json((d) => ((d['nodes'] as { units?: number }[])[1]!.units = 3)), true);
    await assert.rejects(loadRoundState(dir, 1, { complete: true }), (e: unknown) => NasError.is(e, 'E_CHECKPOINT') && /a\/kernel/.test(e.message));
  });

  it('resumePoint offers the previous intact round for a damaged last one, and --resume-round sets the later ones aside', async () => {
    const dir = await run(2);
    assert.equal(resumePoint(dir), 2);
    edit(dir, 2, 'weights.bin', (t) => `${t.slice(0, -1)}x`, false);
    assert.throws(() => resumePoint(dir), (e: unknown) => NasError.is(e, 'E_CHECKPOINT') && e.details['previousGood'] === 1 && /--resume-round 1/.test(e.message));
    assert.throws(() => resumePoint(dir, 5), (e: unknown) => NasError.is(e, 'E_USAGE') && /no checkpoint of round 5/.test(e.message));
    assert.equal(resumePoint(dir, 1), 1);
    assert.equal(resumePoint(dir), 1);
    assert.ok(readdirSync(join(dir, 'checkpoints')).some((name) => /^\.round-002\.discarded-/.test(name)));
  });
});
