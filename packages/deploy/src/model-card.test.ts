import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { NetworkNode, NetworkSpec } from '@mitosis/core';
import { writeModelDataInfo, writeModelNormalisation } from '@mitosis/data';
import { NetworkModel, exportLayersModel, forward, tf, useBackend } from '@mitosis/engine';
import { initWeights } from '@mitosis/ir';
import { buildModelCard, formatSignificant, modelCardMarkdown, writeModelCard } from './model-card.js';
import { writeOnnxFile } from './onnx/onnx-export.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const LABELS = ['zero', 'one', 'two', 'three', 'four'];

function node(partial: Record<string, unknown>): NetworkNode {
  return partial as unknown as NetworkNode;
}

/** A small convnet with batch norm and swish, 8×8×2 inputs, 5 classes. */
function smallConvnet(): NetworkSpec {
  return {
    format: 'mitosis-network',
    version: 1,
    name: 'card-net',
    nodes: [
      node({ name: 'input', op: 'input', shape: [8, 8, 2] }),
      node({ name: 'conv1', op: 'conv2d', inputs: ['input'], filters: 4, kernelSize: [3, 3], strides: [1, 1], padding: 'same', useBias: false }),
      node({ name: 'bn1', op: 'batchNorm', inputs: ['conv1'], epsilon: 1e-3, momentum: 0.99 }),
      node({ name: 'act1', op: 'activation', inputs: ['bn1'], activation: 'swish' }),
      node({ name: 'pool', op: 'maxPool', inputs: ['act1'], poolSize: [2, 2], strides: [2, 2], padding: 'valid' }),
      node({ name: 'flat', op: 'flatten', inputs: ['pool'] }),
      node({ name: 'logits', op: 'dense', inputs: ['flat'], units: 5, useBias: true }),
    ],
    output: 'logits',
  };
}

describe('model card', () => {
  let dir: string;
  let modelDir: string;
  const spec = smallConvnet();
  const weights = initWeights(spec, 3);
  const norm = { mean: [0.25, 0.5], std: [0.5, 0.25] };

  before(async () => {
    await useBackend('cpu');
    dir = mkdtempSync(join(tmpdir(), 'mitosis-card-'));
    modelDir = join(dir, 'model');
    await exportLayersModel(modelDir, spec, weights);
    writeModelNormalisation(modelDir, norm);
    writeModelDataInfo(modelDir, {
      format: 'mitosis-model-data',
      version: 1,
      dataset: 'toy-images',
      task: 'classification',
      inputShape: [8, 8, 2],
      inputRange: [0, 1],
      outputs: 5,
      classNames: LABELS,
      counts: { train: 10, val: 2, test: 3 },
    });
    await writeOnnxFile(join(modelDir, 'model.onnx'), spec, weights, { normalisation: norm, labels: LABELS });
    // The snippets import packages by name: give the folder the repository's node_modules, as a user's project has its own.
    symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('describes input, output, cost per layer with sources, and the device', async () => {
    const card = await buildModelCard({ modelDir, runDir: null, profile: 'note10-cpu', date: '2026-12-05' });
    assert.deepEqual(card.input.shape, [8, 8, 2]);
    assert.deepEqual(card.input.range, [0, 1]);
    assert.deepEqual(card.input.normalisation, norm);
    assert.equal(card.input.onnx?.normalisationInside, true);
    assert.equal(card.output.kind, 'logits');
    assert.deepEqual(card.output.labels, LABELS);
    assert.equal(card.device?.id, 'note10-cpu');
    assert.notEqual(card.files.onnx, null);
    // Every IR layer is named in the cost table, as a row or as a fused member of one.
    const covered = new Set(card.cost.layers.flatMap((r) => [r.node, ...r.fused]));
    for (const n of ['conv1', 'bn1', 'act1', 'pool', 'logits']) assert.ok(covered.has(n), `${n} in the cost table`);
    const conv = card.cost.layers.find((r) => r.node === 'conv1')!;
    assert.equal(conv.macs, 8 * 8 * 3 * 3 * 2 * 4);
    assert.ok(conv.latencyMs !== null && conv.latencyMs > 0);
    assert.ok(['lut', 'predicted', 'estimated'].includes(conv.latencySource ?? ''));
    assert.equal(card.cost.macs, card.cost.layers.reduce((s, r) => s + r.macs, 0));
    const md = modelCardMarkdown(card);
    assert.match(md, /\*\*logits\*\*/);
    assert.match(md, /\| conv1 \| bn1, act1 \|/);
    assert.doesNotMatch(md, /\| 0 \| (lut|predicted|estimated) \|/, 'no non-zero latency printed as 0');
  });

  it('says why energy is missing for a profile without an energy model, and prices nothing without a profile', async () => {
    const none = await buildModelCard({ modelDir, runDir: null, profile: null });
    assert.equal(none.device, null);
    assert.equal(none.cost.latencyMs, null);
    assert.match(none.cost.notes.join(' '), /no hardware profile/);
    const local = await buildModelCard({ modelDir, runDir: null, profile: 'local' });
    if (local.cost.energyMj === null) assert.match(local.cost.notes.join(' '), /energy/);
  });

  it('formats small numbers with significant digits, never as 0', () => {
    assert.equal(formatSignificant(0.0000123, 3), '0.0000123');
    assert.equal(formatSignificant(0.0412345, 3), '0.0412');
    assert.equal(formatSignificant(0), '0');
    assert.equal(formatSignificant(null), 'n/a');
    assert.equal(formatSignificant(554500), '554,500');
  });

  it('runs both loading snippets exactly as written and they agree with the engine', async () => {
    const card = await buildModelCard({ modelDir, runDir: null, profile: 'note10-cpu' });
    writeModelCard(modelDir, card);
    const md = readFileSync(join(modelDir, 'model-card.md'), 'utf8');
    // The Markdown carries the same code as the JSON.
    assert.ok(md.includes(card.snippets.tfjs.trimEnd()));
    assert.ok(card.snippets.onnxruntime !== null && md.includes(card.snippets.onnxruntime.trimEnd()));
    writeFileSync(join(modelDir, 'predict-onnx.mjs'), card.snippets.onnxruntime);
    writeFileSync(join(modelDir, 'predict-tfjs.mjs'), card.snippets.tfjs);
    // What the snippets compute: the model on one all-zero raw sample, normalised.
    const x = new Float32Array(8 * 8 * 2);
    for (let i = 0; i < x.length; i++) x[i] = (0 - norm.mean[i % 2]!) / norm.std[i % 2]!;
    const model = new NetworkModel(spec, weights);
    const logits = tf.tidy(() => forward(model, tf.tensor(x, [1, 8, 8, 2]), { training: false }).dataSync());
    model.dispose();
    const best = Array.from(logits).indexOf(Math.max(...logits));
    for (const file of ['predict-onnx.mjs', 'predict-tfjs.mjs']) {
      const out = execFileSync(process.execPath, [join(modelDir, file)], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      assert.match(out, new RegExp(`class ${best} ${LABELS[best]}`), `${file} printed: ${out}`);
    }
  });
});


