import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { NasError, SeededRandom } from '@mitosis/core';
import { initWeights } from '@mitosis/ir';
import { useBackend } from '../backend/use-backend.js';
import { NetworkModel } from '../model/network-model.js';
import { everyOpSpec, randomClassification } from '../testing/synthetic-data.js';
import { tf } from '../tf.js';
import { Optimizer } from '../train/optimizers.js';
import { train } from '../train/train.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { writeDirectoryAtomically } from './model-artifacts-io.js';

await useBackend('wasm');
const root = await mkdtemp(join(tmpdir(), 'mitosis-engine-ckpt-'));
after(() => rm(root, { recursive: true, force: true }));

describe('checkpoints', () => {
  it('round-trip spec (gaussian included), weights, optimizer state, counters and RNG, and resume identically', async () => {
    const spec = everyOpSpec();
    const data = randomClassification(12, [7, 7, 3], 3, 1);
    const config = { batchSize: 6, learningRate: 0.01, optimizer: { kind: 'adam' } as const, progress: false as const };

    // reference: 2 epochs in one go
    const whole = new NetworkModel(spec, initWeights(spec, 1));
    const r = await train(whole, { train: data }, { ...config, epochs: 2, rng: new SeededRandom(5) });
    r.optimizer.dispose();

    // 1 epoch, checkpoint, restore, 1 more epoch
    const first = new NetworkModel(spec, initWeights(spec, 1));
    const rng = new SeededRandom(5);
    const r1 = await train(first, { train: data }, { ...config, epochs: 1, rng });
    const dir = join(root, 'ckpt');
    await saveCheckpoint(dir, { spec, weights: first.toWeightMap(), optimizerState: r1.optimizer.getState(), epoch: 1, round: 3, rng: rng.snapshot() });
    r1.optimizer.dispose();
    first.dispose();

    const ck = await loadCheckpoint(dir);
    assert.deepEqual(ck.spec, spec);
    assert.deepEqual([ck.epoch, ck.round], [1, 3]);
    assert.equal(ck.optimizerState?.iterations, 2);
    const resumed = new NetworkModel(ck.spec, ck.weights);
    const r2 = await train(
      resumed,
      { train: data },
      { ...config, epochs: 1, startEpoch: 1, optimizer: Optimizer.fromState(ck.optimizerState!), rng: SeededRandom.restore(ck.rng) },
    );
    r2.optimizer.dispose();
    const a = whole.toWeightMap();
    const b = resumed.toWeightMap();
    for (const [k, w] of a) assert.deepEqual(b.get(k)!.data, w.data, k);
    whole.dispose();
    resumed.dispose();
    assert.equal(tf.memory().numTensors, 0);
  });

  it('replaces an existing checkpoint atomically and leaves no temporary directories', async () => {
    const spec = everyOpSpec();
    const dir = join(root, 'replace');
    const rng = { state: 1, spare: null };
    await saveCheckpoint(dir, { spec, weights: initWeights(spec, 1), epoch: 1, round: 0, rng });
    await saveCheckpoint(dir, { spec, weights: initWeights(spec, 2), epoch: 2, round: 0, rng });
    assert.equal((await loadCheckpoint(dir)).epoch, 2);
    // a save that dies while writing leaves the previous checkpoint untouched
    await assert.rejects(
      writeDirectoryAtomically(dir, async (tmp) => {
        await writeFile(join(tmp, 'model.json'), '{"half":');
        throw new Error('killed');
      }),
      /killed/,
    );
    const ck = await loadCheckpoint(dir);
    assert.equal(ck.epoch, 2);
    assert.deepEqual(ck.weights.get('c1/kernel')!.data, initWeights(spec, 2).get('c1/kernel')!.data);
    assert.deepEqual((await readdir(root)).filter((n) => n.startsWith('.')), []);
    // a kill after the previous checkpoint was moved aside but before the new one was renamed in
    await rename(dir, join(root, '.replace.old-123'));
    assert.equal((await loadCheckpoint(dir)).epoch, 2);
  });

  it('reports a damaged checkpoint with E_CHECKPOINT naming the file', async () => {
    const spec = everyOpSpec();
    const dir = join(root, 'damaged');
    await saveCheckpoint(dir, { spec, weights: initWeights(spec, 1), epoch: 1, round: 0, rng: { state: 1, spare: null } });
    const file = join(dir, 'checkpoint.json');
    const sidecar = JSON.parse(await readFile(file, 'utf8'));
    await writeFile(file, JSON.stringify({ ...sidecar, epoch: -1 }));
    // the checksums name the edited file
    await assert.rejects(loadCheckpoint(dir), (e: unknown) => NasError.is(e, 'E_CHECKPOINT') && e.details['file'] === file && /checksums\.json/.test(e.message));
    await rm(join(dir, 'checksums.json'));
    await assert.rejects(loadCheckpoint(dir), (e: unknown) => NasError.is(e, 'E_CHECKPOINT') && e.details['file'] === file && e.details['pointer'] === '/epoch');
    await rm(file);
    await assert.rejects(loadCheckpoint(dir), (e: unknown) => NasError.is(e, 'E_CHECKPOINT') && e.details['file'] === file);
  });

  it('refuses weight and optimizer files that lead outside the checkpoint folder or do not match their manifests', async () => {
    const spec = everyOpSpec();
    const weights = initWeights(spec, 1);
    const kernel = weights.get('c1/kernel')!;
    const optimizerState = { config: { kind: 'adam' as const }, iterations: 1, slots: new Map([['c1/kernel/m', { shape: [...kernel.shape], data: new Float32Array(kernel.data.length) }]]) };
    const save = async (name: string): Promise<string> => {
      const dir = join(root, name);
      await saveCheckpoint(dir, { spec, weights, optimizerState, epoch: 1, round: 0, rng: { state: 1, spare: null } });
      // These are the checks under the checksums (which refuse every edit below on their own).
      await rm(join(dir, 'checksums.json'));
      return dir;
    };
    const outside = join(root, 'outside.bin');
    await writeFile(outside, await readFile(join(await save('ck-source'), 'weights.bin')));

    // the model's weights.bin replaced by a symbolic link to an identical file outside
    const linked = await save('ck-linked');
    await rm(join(linked, 'weights.bin'));
    await symlink(outside, join(linked, 'weights.bin'));
    await assert.rejects(loadCheckpoint(linked), (e: unknown) => NasError.is(e, 'E_MODEL_FORMAT') && e.details['pointer'] === '/weightsManifest/0/paths/0' && e.details['file'] === join(linked, 'model.json'));

    // optimizer slot paths that climb out, and slot data with trailing bytes
    const climbing = await save('ck-climbing');
    const sidecarFile = join(climbing, 'checkpoint.json');
    const sidecar = JSON.parse(await readFile(sidecarFile, 'utf8'));
    await writeFile(sidecarFile, JSON.stringify({ ...sidecar, optimizer: { ...sidecar.optimizer, paths: ['../outside.bin'] } }));
    await assert.rejects(loadCheckpoint(climbing), (e: unknown) => NasError.is(e, 'E_CHECKPOINT') && e.details['pointer'] === '/optimizer/paths/0' && e.details['file'] === sidecarFile);
    const trailing = await save('ck-trailing');
    const optBin = join(trailing, 'optimizer.bin');
    await writeFile(optBin, Buffer.concat([await readFile(optBin), Buffer.alloc(4)]));
    await assert.rejects(loadCheckpoint(trailing), (e: unknown) => NasError.is(e, 'E_CHECKPOINT') && e.details['file'] === optBin && e.details['actualBytes'] === kernel.data.length * 4 + 4);
    assert.equal((await loadCheckpoint(await save('ck-fine'))).optimizerState?.slots.size, 1);
  });
});
