import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { captureCli, type CliResult } from '../testing/capture-cli.js';

function cli(...argv: string[]): Promise<CliResult> {
  return captureCli(argv);
}

/** A 3×3×2-input conv (tanh) → global average pool → dense(3) network spec (fresh weights from the seed). */
const spec = {
  format: 'mitosis-network',
  version: 1,
  name: 'tiny-conv',
  nodes: [
    { name: 'input', op: 'input', shape: [3, 3, 2] },
    { name: 'conv', op: 'conv2d', inputs: ['input'], filters: 3, kernelSize: [3, 3], strides: [1, 1], padding: 'same', useBias: true },
    { name: 'conv_tanh', op: 'activation', inputs: ['conv'], activation: 'tanh' },
    { name: 'gap', op: 'globalAvgPool', inputs: ['conv_tanh'] },
    { name: 'logits', op: 'dense', inputs: ['gap'], units: 3, useBias: true },
  ],
  output: 'logits',
};

/** 46 samples of nested [3][3][2] inputs and one-hot labels of 3 classes, as numpy's tolist() writes them. */
function nestedOneHot(): { x: number[][][][]; y: number[][] } {
  const x = Array.from({ length: 46 }, (_, i) =>
    [0, 1, 2].map((h) => [0, 1, 2].map((w) => [0, 1].map((c) => Math.sin(1 + i * 0.7 + h * 1.3 + w * 0.4 + c * 2.1)))),
  );
  const y = Array.from({ length: 46 }, (_, i) => [0, 1, 2].map((k) => (k === i % 3 ? 1 : 0)));
  return { x, y };
}

describe('mitosis split-scores on data as given', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mitosis-split-scores-'));
    writeFileSync(join(dir, 'net.json'), JSON.stringify(spec));
    writeFileSync(join(dir, 'nested.json'), JSON.stringify(nestedOneHot()));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('averages over every sample of a file with nested x and one-hot y, and says so', async () => {
    const r = await cli('--json', 'split-scores', '--model', join(dir, 'net.json'), '--data', join(dir, 'nested.json'), '--backend', 'cpu');
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const doc = JSON.parse(r.stdout) as { samples: number; data: { split: string; samples: number; available: number; total: number; description: string }; layers: { name: string; neurons: unknown[] }[] };
    assert.equal(doc.samples, 46, 'the splitting matrices average over all 46 samples');
    assert.deepEqual([doc.data.split, doc.data.samples, doc.data.available, doc.data.total], ['all', 46, 46, 46]);
    assert.match(doc.data.description, /^46 samples: all samples of .*nested\.json$/);
    assert.deepEqual(doc.layers.map((l) => [l.name, l.neurons.length]), [['conv', 3]]);
  });

  it('uses the seeded train split with --split train, and prints what it used', async () => {
    const r = await cli('split-scores', '--model', join(dir, 'net.json'), '--data', join(dir, 'nested.json'), '--split', 'train', '--backend', 'cpu');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^data: 32 samples: train split of .*nested\.json: train 32, val 5, test 9 of 46 samples/);
    assert.match(r.stdout, /splitting eigenpairs \(dense, 32 samples;/);
    const bad = await cli('split-scores', '--model', join(dir, 'net.json'), '--data', join(dir, 'nested.json'), '--split', 'everything');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--split must be all, train, val or test/);
  });
});
