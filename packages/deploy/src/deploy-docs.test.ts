import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { makeFixtureRoot } from '@mitosis/core/testing';
import { writeModelNormalisation } from '@mitosis/data';
import { exportLayersModel, forward, NetworkModel, tf, useBackend } from '@mitosis/engine';
import { initWeights, parseNetworkSpec } from '@mitosis/ir';
import { exportModelOnnx, onnxBesideModel } from './export-model.js';
import { loadMitosisModel } from './model-source.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..', '..');
// Inside the repository, so that the snippets' imports resolve from its node_modules as a user's would.
const { root, cleanup } = makeFixtureRoot(here);
after(cleanup);
await useBackend('cpu');

/** The code blocks of docs/deploy.md marked `<!-- run: <name> -->`, by name. */
function runnableSnippets(): Map<string, string> {
  const markdown = readFileSync(join(repo, 'docs', 'deploy.md'), 'utf8');
  const out = new Map<string, string>();
  const re = /<!-- run: (\S+) -->\n```js\n([\s\S]*?)```/g;
  for (let m = re.exec(markdown); m !== null; m = re.exec(markdown)) out.set(m[1] as string, m[2] as string);
  return out;
}

describe('docs/deploy.md: the loading snippets run as written', () => {
  const spec = parseNetworkSpec(
    {
      format: 'mitosis-network',
      version: 1,
      nodes: [
        { name: 'image', op: 'input', shape: [28, 28, 1] },
        { name: 'conv', op: 'conv2d', inputs: ['image'], filters: 4, kernelSize: [3, 3], strides: [2, 2], padding: 'same', useBias: true },
        { name: 'bn', op: 'batchNorm', inputs: ['conv'], epsilon: 1e-3, momentum: 0.9 },
        { name: 'relu', op: 'activation', inputs: ['bn'], activation: 'relu' },
        { name: 'gap', op: 'globalAvgPool', inputs: ['relu'] },
        { name: 'logits', op: 'dense', inputs: ['gap'], units: 10, useBias: true },
      ],
      output: 'logits',
    },
    'snippet-net',
  );
  const weights = initWeights(spec, 3);
  // Non-zero biases so that an all-zero image has one clear class.
  weights.set('conv/bias', { shape: [4], data: Float32Array.of(0.3, -0.2, 0.5, 0.1) });
  weights.set('logits/bias', { shape: [10], data: Float32Array.from({ length: 10 }, (_, i) => 0.05 * ((i * 7) % 10)) });
  const stats = { mean: [0.13], std: [0.31] };

  /** The class the network gives an all-zero raw image, normalised as it was trained (or not). */
  function classOfZeros(normalised: boolean): number {
    const model = new NetworkModel(spec, weights);
    const zeros = normalised ? (0 - (stats.mean[0] as number)) / (stats.std[0] as number) : 0;
    const y = tf.tidy(() => forward(model, tf.fill([1, 28, 28, 1], zeros), { training: false }));
    const logits = Array.from(y.dataSync());
    y.dispose();
    model.dispose();
    return logits.indexOf(Math.max(...logits));
  }

  it('ONNX Runtime and TF.js load a run-style model folder and agree with mitosis', async () => {
    const snippets = runnableSnippets();
    assert.deepEqual([...snippets.keys()].sort(), ['onnxruntime', 'tfjs']);
    const modelDir = join(root, 'model');
    mkdirSync(root, { recursive: true });
    await exportLayersModel(modelDir, spec, weights);
    writeModelNormalisation(modelDir, stats);
    // What a run writes beside its LayersModel.
    await exportModelOnnx(await loadMitosisModel(modelDir), onnxBesideModel(modelDir), { foldBatchNorm: true, check: false });
    const want = classOfZeros(true);
    // A snippet that skipped the normalisation would print another class.
    assert.notEqual(classOfZeros(false), want);
    for (const [name, code] of snippets) {
      const file = join(root, `${name}.mjs`);
      writeFileSync(file, code);
      const { stdout } = await promisify(execFile)(process.execPath, [file], { cwd: root });
      assert.equal(stdout.trim(), `class ${want}`, `${name} snippet`);
    }
  });
});
