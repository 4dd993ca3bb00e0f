import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SeededRandom } from '@mitosis/core';
import { writeModelNormalisation } from '@mitosis/data';
import { writeOnnxFile } from '@mitosis/deploy';
import { exportLayersModel } from '@mitosis/engine';
import { parseNetworkSpec } from '@mitosis/ir';
import { captureCli, type CliResult } from '../testing/capture-cli.js';

const root = mkdtempSync(join(tmpdir(), 'mitosis-predict-'));
after(() => rmSync(root, { recursive: true, force: true }));

function cli(...argv: string[]): Promise<CliResult> {
  return captureCli(['--no-discover', ...argv]);
}

/**
 * A [2, 2, 1] image classifier that is right by construction: class 0 when the left column is brighter, class 1
 * otherwise. It was "trained" on inputs normalised with mean 0.5, std 0.25, which its folder records.
 */
const spec = parseNetworkSpec(
  {
    format: 'mitosis-network',
    version: 1,
    nodes: [
      { name: 'x', op: 'input', shape: [2, 2, 1] },
      { name: 'f', op: 'flatten', inputs: ['x'] },
      { name: 'out', op: 'dense', inputs: ['f'], units: 2, useBias: true },
    ],
    output: 'out',
  },
  'columns',
);
// Pixels in row-major order: (0,0) left, (0,1) right, (1,0) left, (1,1) right.
const weights = new Map([
  ['out/kernel', { shape: [4, 2], data: Float32Array.of(1, -1, -1, 1, 1, -1, -1, 1) }],
  ['out/bias', { shape: [2], data: Float32Array.of(0, 0) }],
]);
const stats = { mean: [0.5], std: [0.25] };

/** `count` images, with every 4th label wrong on purpose: accuracy 75 %. */
function writeData(file: string, count: number): void {
  const rng = new SeededRandom(4);
  const x: number[][][][] = [];
  const y: number[] = [];
  for (let i = 0; i < count; i++) {
    const left = rng.next();
    const right = rng.next();
    x.push([[[left], [right]], [[left], [right]]]);
    const truth = left > right ? 0 : 1;
    y.push(i % 4 === 3 ? 1 - truth : truth);
  }
  writeFileSync(file, JSON.stringify({ name: 'columns', classes: 2, x, y }));
}

const modelDir = join(root, 'model');
await exportLayersModel(modelDir, spec, weights);
writeModelNormalisation(modelDir, stats);
await writeOnnxFile(join(modelDir, 'model.onnx'), spec, weights, { normalisation: stats, inputLayout: 'nchw' });
const data = join(root, 'columns.json');
writeData(data, 40);

describe('mitosis predict', () => {
  it('runs the LayersModel (TF.js) and the ONNX file (ONNX Runtime) to the same accuracy', async () => {
    const runs = [
      ['--model', modelDir, '--backend', 'cpu'],
      ['--model', join(modelDir, 'model.onnx'), '--threads', '1'],
      ['--model', modelDir, '--format', 'onnx'],
    ];
    const docs = [];
    for (const argv of runs) {
      const r = await cli('--json', 'predict', ...argv, '--data', data, '--split', 'all');
      assert.equal(r.code, 0, r.stdout + r.stderr);
      docs.push(JSON.parse(r.stdout) as { format: string; count: number; accuracy: number; loss: number; model: string; data: { split: string } });
    }
    assert.deepEqual(docs.map((d) => d.format), ['tfjs', 'onnx', 'onnx']);
    for (const d of docs) {
      assert.equal(d.count, 40);
      assert.equal(d.accuracy, 0.75);
      assert.equal(d.data.split, 'all');
      assert.ok(Math.abs(d.loss - (docs[0]?.loss as number)) < 1e-5);
    }
    assert.equal(docs[2]?.model, join(modelDir, 'model.onnx'));
  });

  it('prints a human summary and scores a seeded split', async () => {
    const r = await cli('predict', '--model', join(modelDir, 'model.onnx'), '--data', data);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ONNX Runtime: accuracy \d+\.\d\d%, loss \S+ over \d+ samples\n {2}model: .*model\.onnx \(logits\)\n {2}data: {2}\d+ samples: test split of /);
    const sub = await cli('--json', 'predict', '--model', modelDir, '--data', data, '--split', 'train', '--samples', '5', '--backend', 'cpu');
    assert.equal((JSON.parse(sub.stdout) as { count: number }).count, 5);
  });

  it('exits 2 with a specific error for bad flags, missing models and mismatched data', async () => {
    const empty = join(root, 'empty');
    mkdirSync(empty);
    const wrongShape = join(root, 'wide.json');
    writeFileSync(wrongShape, JSON.stringify({ classes: 2, x: [[1, 2, 3], [4, 5, 6]], y: [0, 1] }));
    const cases: [string[], string, RegExp][] = [
      [['predict', '--model', modelDir, '--data', data, '--split', 'holdout'], 'E_USAGE', /--split/],
      [['predict', '--model', modelDir, '--data', data, '--format', 'pt'], 'E_USAGE', /--format/],
      [['predict', '--model', join(modelDir, 'model.onnx'), '--data', data, '--format', 'tfjs'], 'E_USAGE', /ONNX file/],
      [['predict', '--model', join(root, 'none.onnx'), '--data', data], 'E_MODEL_FORMAT', /no such file/],
      [['predict', '--model', empty, '--data', data, '--format', 'onnx'], 'E_MODEL_FORMAT', /no model\.onnx here/],
      [['predict', '--model', data, '--data', data, '--format', 'onnx'], 'E_MODEL_FORMAT', /not an ONNX file/],
      [['predict', '--model', join(modelDir, 'model.onnx'), '--data', wrongShape, '--split', 'all'], 'E_SHAPE_MISMATCH', /\[2, 2, 1\]/],
      [['predict', '--model', modelDir, '--data', 'no-such-set'], 'E_DATA_READ', /no-such-set/],
    ];
    for (const [argv, code, message] of cases) {
      const r = await cli('--json', ...argv);
      assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stdout}`);
      const doc = JSON.parse(r.stdout) as { error: { code: string; message: string } };
      assert.equal(doc.error.code, code, `${argv.join(' ')}: ${doc.error.message}`);
      assert.match(doc.error.message, message);
    }
  });
});
