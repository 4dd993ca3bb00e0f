import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { captureCli } from '../testing/capture-cli.js';

/** conv 3×3 (4) → BN → swish → maxPool → global average pool → dense 3, on 8×8×1 inputs. */
const spec = {
  format: 'mitosis-network',
  version: 1,
  name: 'tiny-bench',
  nodes: [
    { name: 'input', op: 'input', shape: [8, 8, 1] },
    { name: 'conv', op: 'conv2d', inputs: ['input'], filters: 4, kernelSize: [3, 3], strides: [1, 1], padding: 'same', useBias: false },
    { name: 'bn', op: 'batchNorm', inputs: ['conv'], epsilon: 1e-3, momentum: 0.9 },
    { name: 'act', op: 'activation', inputs: ['bn'], activation: 'swish' },
    { name: 'pool', op: 'maxPool', inputs: ['act'], poolSize: [2, 2], strides: [2, 2], padding: 'valid' },
    { name: 'gap', op: 'globalAvgPool', inputs: ['pool'] },
    { name: 'logits', op: 'dense', inputs: ['gap'], units: 3, useBias: true },
  ],
  output: 'logits',
};

interface Result {
  network: string;
  parameters: number;
  steps: number;
  batchSize: number;
  imagesPerSecond: number;
  bestImagesPerSecond: number;
  stepMs: number;
  phases: { dataMs: number; forwardMs: number; backwardMs: number; optimizerMs: number };
  peakRssMb: number;
}

describe('mitosis bench train', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mitosis-bench-train-'));
    writeFileSync(join(dir, 'net.json'), JSON.stringify(spec));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('measures a spec file: throughput, phases that add up to the step, parameters, RSS', async () => {
    const r = await captureCli(['--json', 'bench', 'train', '--network', join(dir, 'net.json'), '--steps', '6', '--warmup', '1', '--batch', '8']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const doc = JSON.parse(r.stdout) as { results: Result[]; phases: Record<string, string> };
    assert.equal(doc.results.length, 1);
    const [res] = doc.results as [Result];
    assert.equal(res.network, 'tiny-bench');
    // conv 3·3·1·4 + γ, β 2·4 + dense 4·3 + 3
    assert.equal(res.parameters, 36 + 8 + 12 + 3);
    assert.deepEqual([res.steps, res.batchSize], [6, 8]);
    assert.ok(res.imagesPerSecond > 0 && res.bestImagesPerSecond >= res.imagesPerSecond * 0.999);
    const phases = res.phases.dataMs + res.phases.forwardMs + res.phases.backwardMs + res.phases.optimizerMs;
    assert.ok(phases > 0 && phases <= res.stepMs * 1.001, `phases ${phases} vs step ${res.stepMs}`);
    assert.ok(Object.values(res.phases).every((v) => v >= 0));
    assert.ok(res.peakRssMb > 0);
    assert.deepEqual(Object.keys(doc.phases), ['data', 'forward', 'backward', 'optimizer']);
  });

  it('measures a shipped space’s seed and full network by name and explains the phases', async () => {
    const r = await captureCli(['bench', 'train', '--space', 'toy-1d', '--network', 'both', '--steps', '2', '--warmup', '0', '--batch', '4']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /toy-1d seed/);
    assert.match(r.stdout, /toy-1d full/);
    assert.match(r.stdout, /forward: forward pass in training mode/);
  });

  it('rejects a missing --space and an unreadable --network with usage errors', async () => {
    const noSpace = await captureCli(['bench', 'train', '--network', 'seed']);
    assert.equal(noSpace.code, 2);
    assert.match(noSpace.stderr, /--space/);
    const bad = await captureCli(['bench', 'train', '--network', join(dir, 'missing.json')]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /E_USAGE/);
  });
});
