import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SeededRandom, type NetworkSpec, type WeightMap } from '@mitosis/core';
import { writeModelDataInfo, writeModelNormalisation } from '@mitosis/data';
import { onnx, readOnnxModelInfo } from '@mitosis/deploy';
import { exportLayersModel, importLayersModel, saveCheckpoint } from '@mitosis/engine';
import { initWeights, parseNetworkSpec } from '@mitosis/ir';
import type { Io } from '../io.js';
import { captureCli, type CliResult } from '../testing/capture-cli.js';
import { writeRunOnnx } from './export.js';

const root = mkdtempSync(join(tmpdir(), 'mitosis-export-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** Runs the CLI; installed plugins are discovered only when a command needs methods (`run`). */
function cli(...argv: string[]): Promise<CliResult> {
  return captureCli(argv.includes('run') ? argv : ['--no-discover', ...argv]);
}

/** A small image classifier with mitosis's own gaussian activation (TF.js has no such layer). */
function toySpec(): NetworkSpec {
  return parseNetworkSpec(
    {
      format: 'mitosis-network',
      version: 1,
      name: 'toy',
      nodes: [
        { name: 'x', op: 'input', shape: [6, 6, 2] },
        { name: 'c', op: 'conv2d', inputs: ['x'], filters: 3, kernelSize: [3, 3], strides: [2, 2], padding: 'same', useBias: true },
        { name: 'bn', op: 'batchNorm', inputs: ['c'], epsilon: 1e-3, momentum: 0.9 },
        { name: 'g', op: 'activation', inputs: ['bn'], activation: 'gaussian' },
        { name: 'f', op: 'flatten', inputs: ['g'] },
        { name: 'out', op: 'dense', inputs: ['f'], units: 3, useBias: true },
      ],
      output: 'out',
    },
    'toy',
  );
}

function toyWeights(spec: NetworkSpec): WeightMap {
  const w = initWeights(spec, 5);
  const rng = new SeededRandom(6);
  for (const p of ['gamma', 'movingVariance']) w.set(`bn/${p}`, { shape: [3], data: Float32Array.from([0, 1, 2], () => 0.5 + rng.next()) });
  w.set('bn/movingMean', { shape: [3], data: Float32Array.from([0, 1, 2], () => rng.next() - 0.5) });
  return w;
}

const stats = { mean: [0.5, 0.25], std: [0.3, 0.2] };
const dataInfo = {
  format: 'mitosis-model-data' as const,
  version: 1 as const,
  dataset: 'toy.json',
  task: 'classification' as const,
  inputShape: [6, 6, 2],
  inputRange: [0, 1] as [number, number],
  outputs: 3,
  classNames: ['red', 'green', 'blue'],
  counts: { train: 30, val: 0, test: 0 },
};

/** A run directory as `mitosis run` leaves it: `summary.json` and the final model with its sidecars in `model/`. */
async function writeRunDir(dir: string): Promise<void> {
  const spec = toySpec();
  await exportLayersModel(join(dir, 'model'), spec, toyWeights(spec), { allowMitosisActivations: true });
  writeModelNormalisation(join(dir, 'model'), stats);
  writeModelDataInfo(join(dir, 'model'), dataInfo);
  writeFileSync(join(dir, 'summary.json'), '{"format": "mitosis-run-summary"}\n');
}

const runDir = join(root, 'run');
await writeRunDir(runDir);

describe('mitosis export', () => {
  it('exports a run directory to ONNX with the normalisation folded in, labels recorded, and checks it against TF.js', async () => {
    const out = join(root, 'a', 'toy.onnx');
    const r = await cli('--json', 'export', '--model', runDir, '--format', 'onnx', '--out', out, '--backend', 'cpu');
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const doc = JSON.parse(r.stdout) as { format: string; out: string; model: string; onnx: { check: { maxAbsDiff: number; withinTolerance: boolean; samples: number }; info: { batchNorm: string } } };
    assert.equal(doc.format, 'onnx');
    assert.equal(doc.out, out);
    assert.equal(doc.model, join(runDir, 'model', 'model.json'));
    assert.ok(doc.onnx.check.withinTolerance && doc.onnx.check.maxAbsDiff < 1e-5, JSON.stringify(doc.onnx.check));
    assert.equal(doc.onnx.info.batchNorm, 'kept');
    const info = readOnnxModelInfo(readFileSync(out), out);
    assert.deepEqual(info.normalisation, { ...stats, folded: true });
    assert.deepEqual(info.labels, ['red', 'green', 'blue']);
    assert.equal(info.inputLayout, 'NHWC');
    const meta = new Map(onnx.ModelProto.decode(readFileSync(out)).metadataProps.map((p) => [p.key, p.value]));
    assert.equal(meta.get('mitosis.dataset'), 'toy.json');
  });

  it('applies --fold-bn, --softmax, --input-layout nchw and --no-fold-normalisation, writing model.onnx into a folder', async () => {
    const outDir = join(root, 'b');
    mkdirSync(outDir);
    const r = await cli('export', '--model', join(runDir, 'model'), '--out', outDir, '--fold-bn', '--softmax', '--input-layout', 'nchw', '--no-fold-normalisation', '--backend', 'cpu');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /wrote ONNX .*model\.onnx \(opset 17.*input \[batch, 2, 6, 6\] NCHW, normalised by the caller; output \[batch, 3\] probabilities; batch norm folded; ONNX Runtime vs TF\.js: max \|Δ\|/);
    const info = readOnnxModelInfo(readFileSync(join(outDir, 'model.onnx')), 'model.onnx');
    assert.equal(info.outputKind, 'probabilities');
    assert.equal(info.normalisation?.folded, false);
    assert.equal(info.batchNorm, 'folded');
  });

  it('converts a checkpoint folder to a TF.js LayersModel, refusing mitosis-only activations', async () => {
    const spec = toySpec();
    const ckpt = join(root, 'ckpt');
    await saveCheckpoint(ckpt, { spec, weights: toyWeights(spec), epoch: 1, round: 0, rng: { state: 1, spare: null } });
    const refused = await cli('--json', 'export', '--model', ckpt, '--format', 'tfjs', '--out', join(root, 'tfjs-g'));
    assert.equal(refused.code, 2);
    assert.equal((JSON.parse(refused.stdout) as { error: { code: string } }).error.code, 'E_MODEL_FORMAT');
    assert.match(refused.stdout, /gaussian/);
    // The same network with a relu converts; the folder's sidecars travel with it.
    const relu = parseNetworkSpec({ ...spec, nodes: spec.nodes.map((n) => (n.op === 'activation' ? { ...n, activation: 'relu' } : n)) }, 'relu');
    const src = join(root, 'relu-model');
    await exportLayersModel(src, relu, toyWeights(relu));
    writeModelNormalisation(src, stats);
    const r = await cli('export', '--model', src, '--format', 'tfjs', '--out', join(root, 'tfjs'));
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(join(root, 'tfjs', 'normalisation.json')));
    const back = await importLayersModel(join(root, 'tfjs'));
    assert.deepEqual(back.spec.nodes.map((n) => n.op), relu.nodes.map((n) => n.op));
  });

  it('exits 2 with a specific error for bad flags and unreadable models', async () => {
    const cases: [string[], string, RegExp][] = [
      [['export', '--model', runDir, '--format', 'pb', '--out', 'x.onnx'], 'E_USAGE', /--format must be onnx or tfjs/],
      [['export', '--model', runDir, '--out', join(root, 'x.txt')], 'E_USAGE', /\.onnx file or a folder/],
      [['export', '--model', runDir, '--input-layout', 'chwn', '--out', 'x.onnx'], 'E_USAGE', /--input-layout/],
      [['export', '--model', runDir, '--format', 'tfjs', '--softmax', '--out', 'x'], 'E_USAGE', /onnx only/],
      [['export', '--model', join(root, 'nothing'), '--out', 'x.onnx'], 'E_MODEL_FORMAT', /no such file/],
      [['export', '--model', join(root, 'a', 'toy.onnx'), '--format', 'tfjs', '--out', 'x'], 'E_MODEL_FORMAT', /ONNX file cannot be converted back/],
      [['export', '--model', root, '--out', 'x.onnx'], 'E_MODEL_FORMAT', /no model\.json here/],
    ];
    for (const [argv, code, message] of cases) {
      const r = await cli('--json', ...argv);
      assert.equal(r.code, 2, argv.join(' '));
      const doc = JSON.parse(r.stdout) as { error: { code: string; message: string } };
      assert.equal(doc.error.code, code, argv.join(' '));
      assert.match(doc.error.message, message);
    }
  });

  it('writeRunOnnx puts model.onnx beside a run model and only warns when it cannot', async () => {
    let err = '';
    const io: Io = { stdout: () => undefined, stderr: (s) => void (err += s), interactive: false };
    const file = await writeRunOnnx(join(runDir, 'model'), io);
    assert.equal(file, join(runDir, 'model', 'model.onnx'));
    assert.equal(readOnnxModelInfo(readFileSync(file), file).batchNorm, 'folded');
    assert.equal(err, '');
    const broken = join(root, 'broken');
    mkdirSync(broken);
    writeFileSync(join(broken, 'model.json'), '{"modelTopology": {"class_name": "Sequential", "config": []}}');
    assert.equal(await writeRunOnnx(broken, io), null);
    assert.match(err, /^mitosis: warning: no model\.onnx for .*broken: E_MODEL_FORMAT/);
  });
});

describe('mitosis run writes model.onnx beside the final model', () => {
  it('a tiny toy-1d run', async () => {
    const space = JSON.parse(readFileSync(new URL('../../../../search-spaces/toy-1d.json', import.meta.url), 'utf8')) as Record<string, Record<string, unknown>>;
    const quick = { ...space, id: 'toy-1d-quick', training: { ...space['training'], epochs: 20 }, fineTune: { ...space['fineTune'], epochs: 10 } };
    delete (quick as Record<string, unknown>)['$schema'];
    const file = join(root, 'toy-1d-quick.json');
    writeFileSync(file, JSON.stringify(quick));
    const out = join(root, 'toy-run');
    const r = await cli('--json', 'run', '--space', file, '--method', 'width-multiplier', '--method-options', '{"alpha": 2}', '--out', out, '--backend', 'cpu');
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const onnxFile = join(out, 'model', 'model.onnx');
    assert.match(r.stderr, new RegExp(`onnx: ${onnxFile.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
    const info = readOnnxModelInfo(readFileSync(onnxFile), onnxFile);
    assert.equal(info.outputKind, 'values');
    assert.deepEqual(info.sampleShape, [1]);
    // The ONNX twin predicts what the LayersModel predicts.
    const viaOnnx = await cli('--json', 'predict', '--model', onnxFile, '--data', 'toy-1d', '--split', 'all');
    const viaTfjs = await cli('--json', 'predict', '--model', out, '--data', 'toy-1d', '--split', 'all', '--backend', 'cpu');
    assert.equal(viaOnnx.code, 0, viaOnnx.stdout + viaOnnx.stderr);
    assert.equal(viaTfjs.code, 0, viaTfjs.stdout + viaTfjs.stderr);
    const a = JSON.parse(viaOnnx.stdout) as { loss: number; count: number; accuracy: null };
    const b = JSON.parse(viaTfjs.stdout) as { loss: number; count: number };
    assert.equal(a.count, 13);
    assert.equal(b.count, 13);
    assert.equal(a.accuracy, null);
    assert.ok(Math.abs(a.loss - b.loss) < 1e-6, `${a.loss} vs ${b.loss}`);
  });
});
