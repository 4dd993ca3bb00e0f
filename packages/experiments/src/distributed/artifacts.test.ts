import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NasError } from '@mitosis/core';
import { trialDone } from '../plan.js';
import { tempDir } from '../testing/fixtures.js';
import { listArtifacts, packArtifacts, safeArtifactPath, unpackArtifacts } from './artifacts.js';

describe('trial artifacts through Redis', () => {
  let root: string;
  let cleanup: () => void;
  let worker: string;
  before(() => {
    ({ dir: root, cleanup } = tempDir('artifacts'));
    worker = join(root, 'worker', 'abc');
    mkdirSync(join(worker, 'model'), { recursive: true });
    mkdirSync(join(worker, 'checkpoints', 'round-1'), { recursive: true });
    writeFileSync(join(worker, 'summary.json'), JSON.stringify({ runDir: worker, model: join(worker, 'model'), log: join(worker, 'events.jsonl'), method: 'm' }));
    writeFileSync(join(worker, 'events.jsonl'), '{"type":"seed","round":0}\n');
    writeFileSync(join(worker, 'trial.log'), 'log\n');
    writeFileSync(join(worker, 'model', 'weights.bin'), Buffer.from([0, 1, 2, 255]));
    writeFileSync(join(worker, 'checkpoints', 'round-1', 'weights.bin'), Buffer.alloc(1000));
    writeFileSync(join(worker, 'run.json.tmp-123'), 'partial');
  });
  after(() => cleanup());

  it('packs the result files and the model, not checkpoints or temporaries, and unpacks them with the paths rewritten', () => {
    assert.deepEqual(listArtifacts(worker), ['events.jsonl', 'model/weights.bin', 'summary.json', 'trial.log']);
    const { files, bytes } = packArtifacts(worker);
    assert.equal(bytes, 4 + readFileSync(join(worker, 'summary.json')).length + 26 + 4);
    const here = join(root, 'study', 'trials', 'abc');
    assert.equal(trialDone(here), false);
    unpackArtifacts(JSON.parse(JSON.stringify(files)), here, worker);
    assert.equal(trialDone(here), true);
    assert.deepEqual([...readFileSync(join(here, 'model', 'weights.bin'))], [0, 1, 2, 255]);
    const summary = JSON.parse(readFileSync(join(here, 'summary.json'), 'utf8')) as Record<string, string>;
    assert.deepEqual(summary, { runDir: here, model: join(here, 'model'), log: join(here, 'events.jsonl'), method: 'm' });
    assert.equal(existsSync(join(here, 'checkpoints')), false);
  });

  it('refuses more than the size bound with a message that names the way out', () => {
    assert.throws(
      () => packArtifacts(worker, 50),
      (e: unknown) => NasError.is(e, 'E_RUN_FAILED') && /over the .* that travel through Redis/.test(e.message) && /--shared-dir/.test(e.message),
    );
    const { files } = packArtifacts(worker);
    assert.throws(() => unpackArtifacts(files, join(root, 'small'), worker, 10), /more than/);
    assert.equal(existsSync(join(root, 'small')), false);
  });

  it('never writes outside the trial directory, and needs a summary', () => {
    for (const p of ['../escape', '/etc/passwd', 'a/../../b', 'a//b', './x', 'a\\b', '']) assert.equal(safeArtifactPath(p), false, p);
    for (const p of ['summary.json', 'model/weights.bin', '.hidden', 'a.b/c-d_e']) assert.equal(safeArtifactPath(p), true, p);
    const target = join(root, 'evil');
    assert.throws(() => unpackArtifacts({ 'summary.json': 'e30=', '../../owned': 'eA==' }, target, ''), (e: unknown) => NasError.is(e, 'E_RUN_FAILED') && /leaves the trial directory/.test(e.message));
    assert.throws(() => unpackArtifacts({ 'summary.json': 'not base64!' }, target, ''), /not base64/);
    assert.throws(() => unpackArtifacts({ 'events.jsonl': 'eA==' }, target, ''), /no summary\.json/);
    assert.throws(() => unpackArtifacts(['x'], target, ''), /not a map/);
    assert.equal(existsSync(join(root, 'owned')), false);
    assert.equal(existsSync(target), false);
  });
});
