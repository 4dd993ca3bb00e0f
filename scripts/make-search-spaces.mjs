#!/usr/bin/env node
// Writes the shipped search spaces (search-spaces/*.json) and their JSON Schema from one description, so the
// MobileNet seeds stay consistent. Run after `npx tsc -b packages/growth`:
//   node scripts/make-search-spaces.mjs [outDir=search-spaces]
// (test/src/contract/spaces-profiles.test.ts regenerates into a temporary directory and compares.)
import { mkdirSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { searchSpaceSchema } from '../packages/growth/dist/index.js';
import { studySchema } from '../packages/experiments/dist/index.js';

const out = process.argv[2] === undefined ? new URL('../search-spaces/', import.meta.url) : pathToFileURL(`${resolve(process.argv[2])}/`);
mkdirSync(new URL('schema/', out), { recursive: true });
writeFileSync(new URL('schema/search-space.schema.json', out), `${JSON.stringify(searchSpaceSchema, null, 2)}\n`);
writeFileSync(new URL('schema/study.schema.json', out), `${JSON.stringify(studySchema, null, 2)}\n`);

/** A small builder for network specs. */
class Net {
  constructor(shape) {
    this.nodes = [{ name: 'input', op: 'input', shape }];
    this.last = 'input';
  }
  add(node) {
    this.nodes.push({ inputs: [this.last], ...node });
    this.last = node.name;
    return node.name;
  }
  conv(name, filters, k, s, act, bn = true) {
    this.add({ name, op: 'conv2d', filters, kernelSize: [k, k], strides: [s, s], padding: 'same', useBias: !bn });
    if (bn) this.add({ name: `${name}_bn`, op: 'batchNorm', epsilon: 1e-3, momentum: 0.9 });
    if (act) this.add({ name: `${name}_${act}`, op: 'activation', activation: act });
    return this.last;
  }
  dw(name, k, s, act) {
    this.add({ name, op: 'depthwiseConv2d', kernelSize: [k, k], strides: [s, s], padding: 'same', useBias: false });
    this.add({ name: `${name}_bn`, op: 'batchNorm', epsilon: 1e-3, momentum: 0.9 });
    if (act) this.add({ name: `${name}_${act}`, op: 'activation', activation: act });
    return this.last;
  }
  dense(name, units, act, bn = false) {
    this.add({ name, op: 'dense', units, useBias: !bn });
    if (bn) this.add({ name: `${name}_bn`, op: 'batchNorm', epsilon: 1e-3, momentum: 0.9 });
    if (act) this.add({ name: `${name}_${act}`, op: 'activation', activation: act });
    return this.last;
  }
  spec(name) {
    return { format: 'mitosis-network', version: 1, name, nodes: this.nodes, output: this.last };
  }
}

const phase = (p) => ({ momentum: 0.9, nesterov: false, weightDecay: 0, warmupEpochs: 0, ...p });
const spaces = [];

// §9 C: one tanh neuron on a two-step staircase; S2D escapes the 1-neuron local minimum by splitting.
{
  const n = new Net([1]);
  n.dense('hidden', 1, 'tanh');
  n.dense('out', 1, null);
  spaces.push({
    id: 'toy-1d',
    description: 'One-hidden-layer tanh network on the 1-D staircase of algorithms.md §9 C (13 points, ½-MSE); the seed has one neuron.',
    seed: n.spec('toy-1d'),
    layers: { hidden: { cap: 8, group: 'all' } },
    data: { dataset: 'toy-1d', options: {}, normalise: false },
    loss: 'mse',
    training: phase({ epochs: 3000, batchSize: 13, learningRate: 0.02, optimizer: 'adam', schedule: 'constant' }),
    fineTune: phase({ epochs: 3000, batchSize: 13, learningRate: 0.02, optimizer: 'adam', schedule: 'cosine' }),
    scoring: { samples: 13, batchSize: 13 },
    // One neuron: the reference's 30 % quantile selects nothing (floor(0.3·1) = 0), so split the best one.
    defaults: {
      grower: 's2d',
      rounds: 1,
      seed: 0,
      growerOptions: {
        s2d: { selection: 'top-k', k: 1 },
        'random-split': { selection: 'top-k', k: 1 },
        'random-neuron': { selection: 'top-k', k: 1 },
        signed: { selection: 'top-k', k: 1 },
      },
    },
  });
}

// A batch-normed tanh MLP on the embedded MNIST digits (tanh so that S is the true splitting matrix).
{
  const n = new Net([28, 28, 1]);
  n.add({ name: 'flatten', op: 'flatten' });
  n.dense('fc1', 16, 'tanh', true);
  n.dense('logits', 10, null);
  spaces.push({
    id: 'mlp-mnist',
    description: 'MLP 784→16→10 with batch norm and tanh on the embedded MNIST digits; fc1 grows up to 128 neurons.',
    seed: n.spec('mlp-mnist'),
    layers: { fc1: { cap: 128, group: 'all' } },
    data: { dataset: 'mnist', options: { limit: { train: 4000, val: 500, test: 1000 } }, normalise: false },
    loss: 'ce',
    training: phase({ epochs: 3, batchSize: 64, learningRate: 0.05, optimizer: 'sgd', schedule: 'cosine' }),
    fineTune: phase({ epochs: 1, batchSize: 64, learningRate: 0.02, optimizer: 'sgd', schedule: 'cosine' }),
    scoring: { samples: 512, batchSize: 128 },
    defaults: { grower: 's2d', rounds: 3, seed: 0 },
  });
}

// A small swish convnet on MNIST: the README's main job.
{
  const n = new Net([28, 28, 1]);
  n.conv('conv1', 8, 3, 1, 'swish');
  n.add({ name: 'pool1', op: 'maxPool', poolSize: [2, 2], strides: [2, 2], padding: 'valid' });
  n.conv('conv2', 16, 3, 1, 'swish');
  n.add({ name: 'pool2', op: 'maxPool', poolSize: [2, 2], strides: [2, 2], padding: 'valid' });
  n.add({ name: 'gap', op: 'globalAvgPool' });
  n.dense('fc', 32, 'swish', true);
  n.dense('logits', 10, null);
  spaces.push({
    id: 'convnet-mnist',
    description: 'Two swish conv layers (8, 16 filters) with batch norm, pooling and a 32-unit swish layer on the embedded MNIST digits.',
    seed: n.spec('convnet-mnist'),
    layers: { conv1: { cap: 32, min: 4, group: 'early' }, conv2: { cap: 64, min: 8, group: 'late' }, fc: { cap: 128, min: 16, group: 'late' } },
    // All 10 000 embedded digits: 7000 train / 1000 val / 2000 test.
    data: { dataset: 'mnist', options: {}, normalise: false },
    loss: 'ce',
    training: phase({ epochs: 4, batchSize: 64, learningRate: 0.1, optimizer: 'sgd', schedule: 'cosine' }),
    fineTune: phase({ epochs: 2, batchSize: 64, learningRate: 0.05, optimizer: 'sgd', schedule: 'cosine' }),
    scheduleSpan: 'run',
    scoring: { samples: 512, batchSize: 64 },
    defaults: { grower: 'energy-aware', rounds: 3, profile: 'note10-cpu', seed: 0 },
  });
}

// The same convnet on real Fashion-MNIST (Debian package dataset-fashion-mnist), for method comparisons: MNIST
// is too easy to separate methods. Sized so that a trial (4 epochs of seed training + 3 rounds × 2 epochs of
// fine-tuning = 10 epochs) takes a minute or two on one core: 10 000 training images (a seeded subset of the
// 60 000), 2 000 validation images, and the whole official test set. The -quick variant is a smoke-test toy.
for (const [id, limit, training, fineTune, note] of [
  ['convnet-fashion', { train: 10000, val: 2000, test: 10000 }, 4, 2, '10 000 of the 60 000 training images (2 000 for validation), all 10 000 test images'],
  ['convnet-fashion-quick', { train: 512, val: 256, test: 512 }, 1, 1, 'a 512/256/512 toy subset for smoke tests and the quick study'],
]) {
  const n = new Net([28, 28, 1]);
  n.conv('conv1', 8, 3, 1, 'swish');
  n.add({ name: 'pool1', op: 'maxPool', poolSize: [2, 2], strides: [2, 2], padding: 'valid' });
  n.conv('conv2', 16, 3, 1, 'swish');
  n.add({ name: 'pool2', op: 'maxPool', poolSize: [2, 2], strides: [2, 2], padding: 'valid' });
  n.add({ name: 'gap', op: 'globalAvgPool' });
  n.dense('fc', 32, 'swish', true);
  n.dense('logits', 10, null);
  spaces.push({
    id,
    description: `Two swish conv layers (8, 16 filters) with batch norm, pooling and a 32-unit swish layer on Fashion-MNIST: ${note}.`,
    seed: n.spec(id),
    layers: { conv1: { cap: 32, min: 4, group: 'early' }, conv2: { cap: 64, min: 8, group: 'late' }, fc: { cap: 128, min: 16, group: 'late' } },
    data: { dataset: 'fashion-mnist', options: { limit }, normalise: true },
    loss: 'ce',
    training: phase({ epochs: training, batchSize: 64, learningRate: 0.1, optimizer: 'sgd', schedule: 'cosine' }),
    fineTune: phase({ epochs: fineTune, batchSize: 64, learningRate: 0.05, optimizer: 'sgd', schedule: 'cosine' }),
    // One cosine schedule over the run's epochs (docs/splitting-ablations.md: restarting the rate at every
    // fine-tune cost splitting 0.9 points on this space, 3 seeds).
    scheduleSpan: 'run',
    scoring: { samples: 512, batchSize: 64 },
    defaults: { grower: 'energy-aware', rounds: 3, profile: 'note10-cpu', seed: 0 },
  });
}

// MobileNetV1 for 32×32 inputs with the energy-aware splitting seed and caps (algorithms.md §3.4).
{
  const seed = [8, 8, 8, 8, 16, 16, 24, 24, 24, 24, 24, 24, 32, 32];
  const caps = [32, 64, 128, 128, 320, 320, 640, 640, 640, 640, 640, 640, 1280, 1280];
  const strides = [1, 1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1]; // CIFAR variant: stem stride 1
  const n = new Net([32, 32, 3]);
  const layers = {};
  n.conv('conv0', seed[0], 3, strides[0], 'swish');
  layers.conv0 = { cap: caps[0], group: 'early' };
  for (let i = 1; i < 14; i++) {
    n.dw(`dw${i}`, 3, strides[i], 'swish');
    n.conv(`pw${i}`, seed[i], 1, 1, 'swish');
    layers[`pw${i}`] = { cap: caps[i], group: i < 7 ? 'early' : 'late' };
  }
  n.add({ name: 'gap', op: 'globalAvgPool' });
  n.dense('logits', 10, null);
  spaces.push({
    id: 'mobilenetv1-cifar',
    description: 'MobileNetV1 (CIFAR strides) seeded with the energy-aware splitting widths 8…32 and caps 32…1280, swish. Pass CIFAR-10 binary batches with --data; the default data are synthetic images.',
    seed: n.spec('mobilenetv1-cifar'),
    layers,
    data: { dataset: 'synthetic-images', options: { height: 32, width: 32, channels: 3, classes: 10, count: 2000 }, normalise: true },
    loss: 'ce',
    training: phase({ epochs: 2, batchSize: 64, learningRate: 0.1, optimizer: 'sgd', schedule: 'cosine', weightDecay: 1e-4 }),
    fineTune: phase({ epochs: 1, batchSize: 64, learningRate: 0.05, optimizer: 'sgd', schedule: 'cosine', weightDecay: 1e-4 }),
    scoring: { samples: 256, batchSize: 64 },
    defaults: { grower: 'energy-aware', rounds: 3, profile: 'pixel1-cpu', seed: 0 },
  });
}

// MobileNetV2 for 32×32 inputs at ~¼ width, caps 1.25× the standard widths; residual channels grow tied.
{
  const cfg = [
    [1, 16, 1, 1],
    [6, 24, 2, 1],
    [6, 32, 3, 2],
    [6, 64, 4, 2],
    [6, 96, 3, 1],
    [6, 160, 3, 2],
    [6, 320, 1, 1],
  ];
  const quarter = (c) => Math.max(4, Math.round(c / 4));
  const n = new Net([32, 32, 3]);
  const layers = {};
  n.conv('stem', quarter(32), 3, 1, 'relu6');
  layers.stem = { cap: 40, group: 'early' };
  let cin = 32;
  let b = 0;
  for (const [t, c, reps, s] of cfg) {
    for (let r = 0; r < reps; r++) {
      const stride = r === 0 ? s : 1;
      const blockIn = n.last;
      const id = `b${b}`;
      if (t !== 1) {
        n.conv(`${id}_expand`, quarter(cin * t), 1, 1, 'relu6');
        layers[`${id}_expand`] = { cap: Math.round(cin * t * 1.25), group: b < 7 ? 'early' : 'late' };
      }
      n.dw(`${id}_dw`, 3, stride, 'relu6');
      n.conv(`${id}_project`, quarter(c), 1, 1, null);
      if (stride === 1 && cin === c) {
        n.nodes.push({ name: `${id}_add`, op: 'add', inputs: [blockIn, n.last] });
        n.last = `${id}_add`;
      }
      cin = c;
      b += 1;
    }
  }
  n.conv('head', quarter(1280), 1, 1, 'relu6');
  layers.head = { cap: 1600, group: 'late' };
  n.add({ name: 'gap', op: 'globalAvgPool' });
  n.dense('logits', 10, null);
  spaces.push({
    id: 'mobilenetv2-cifar',
    description: 'MobileNetV2 (CIFAR strides) at about a quarter of the standard widths, caps 1.25× standard, relu6; projection layers are linear and do not split. Pass CIFAR-10 with --data; the default data are synthetic images.',
    seed: n.spec('mobilenetv2-cifar'),
    layers,
    data: { dataset: 'synthetic-images', options: { height: 32, width: 32, channels: 3, classes: 10, count: 2000 }, normalise: true },
    loss: 'ce',
    training: phase({ epochs: 2, batchSize: 64, learningRate: 0.1, optimizer: 'sgd', schedule: 'cosine', weightDecay: 4e-5 }),
    fineTune: phase({ epochs: 1, batchSize: 64, learningRate: 0.05, optimizer: 'sgd', schedule: 'cosine', weightDecay: 4e-5 }),
    scoring: { samples: 256, batchSize: 64 },
    defaults: { grower: 'energy-aware', rounds: 3, profile: 'note10-cpu', seed: 0 },
  });
}

// refnet-32, the engine benchmark network, as a space whose layers may double.
{
  const n = new Net([32, 32, 3]);
  const layers = {};
  n.conv('conv0', 32, 3, 1, 'relu');
  layers.conv0 = { cap: 64, group: 'all' };
  const blocks = [[64, 1], [128, 2], [128, 1], [256, 2]];
  blocks.forEach(([c, s], i) => {
    n.dw(`dw${i + 1}`, 3, s, 'relu');
    n.conv(`pw${i + 1}`, c, 1, 1, 'relu');
    layers[`pw${i + 1}`] = { cap: 2 * c, group: 'all' };
  });
  n.add({ name: 'gap', op: 'globalAvgPool' });
  n.dense('logits', 10, null);
  spaces.push({
    id: 'refnet-32',
    description: 'The engine benchmark network refnet-32 (conv 3→32, four depthwise-separable blocks to 256, ReLU) on 32×32×3 inputs; every layer may double.',
    seed: n.spec('refnet-32'),
    layers,
    data: { dataset: 'synthetic-images', options: { height: 32, width: 32, channels: 3, classes: 10, count: 2000 }, normalise: true },
    loss: 'ce',
    training: phase({ epochs: 2, batchSize: 64, learningRate: 0.1, optimizer: 'sgd', schedule: 'cosine' }),
    fineTune: phase({ epochs: 1, batchSize: 64, learningRate: 0.05, optimizer: 'sgd', schedule: 'cosine' }),
    scoring: { samples: 256, batchSize: 64 },
    defaults: { grower: 'energy-aware', rounds: 2, profile: 'note10-cpu', seed: 0 },
  });
}

// Cell spaces for AutoShrink (docs/autoshrink.md): a stem, a stack of cells sharing one DAG topology over N
// operation nodes (fully connected at the start), global pooling and a linear classifier. The seed (growers,
// resizers) has half the filters of the full network (AutoShrink and pruners start there), so every kind of
// method can run on the same space under one budget. The quick variant is sized so that a shrink run with the
// quick options (k = 3, 1 proxy epoch; `defaults.growerOptions.autoshrink`) takes about a minute on 2 cores.
for (const [id, limit, nodes, stem, stages, training, fineTune, quick, note] of [
  [
    'cell-fashion-quick',
    { train: 2000, val: 500, test: 1000 },
    ['conv3x3', 'sepconv3x3', 'conv1x1', 'conv3x3'],
    { filters: 8, kernelSize: 3, stride: 2 },
    [{ cells: 1, filters: 8, stride: 1 }, { cells: 1, filters: 16, stride: 2 }],
    2,
    1,
    { k: 3, proxyEpochs: 1 },
    'a 2000/500/1000 subset for smoke tests and the quick study (1 proxy epoch on 512 images is chance level, hence not the 512-image toy of convnet-fashion-quick); 4 nodes, 14 edges',
  ],
  [
    'cell-fashion',
    { train: 10000, val: 2000, test: 10000 },
    ['conv3x3', 'sepconv3x3', 'conv1x1', 'sepconv5x5', 'conv3x3', 'maxpool3x3'],
    { filters: 16, kernelSize: 3, stride: 2 },
    [{ cells: 1, filters: 16, stride: 1 }, { cells: 1, filters: 32, stride: 2 }],
    4,
    2,
    { k: 3, proxyEpochs: 1, proxySamples: 2000 },
    '10 000 of the 60 000 training images (2 000 for validation), all 10 000 test images; 6 nodes, 27 edges',
  ],
]) {
  spaces.push({
    id,
    description: `A stack of cells (one DAG topology, adds where edges meet, relu) on Fashion-MNIST: ${note}. The seed has half the filters of the full network.`,
    cell: { input: [28, 28, 1], nodes, merge: 'add', activation: 'relu', stem, stages, classes: 10, seedScale: 0.5 },
    data: { dataset: 'fashion-mnist', options: { limit }, normalise: true },
    loss: 'ce',
    training: phase({ epochs: training, batchSize: 64, learningRate: 0.1, optimizer: 'sgd', schedule: 'cosine' }),
    fineTune: phase({ epochs: fineTune, batchSize: 64, learningRate: 0.05, optimizer: 'sgd', schedule: 'cosine' }),
    scheduleSpan: 'run',
    scoring: { samples: 512, batchSize: 64 },
    defaults: { method: 'autoshrink', grower: 'energy-aware', rounds: 3, seed: 0, growerOptions: { autoshrink: quick } },
  });
}

// AutoShrink's CIFAR-10 proxy: N = 8 nodes, three stages (algorithms.md §6.1). Pass CIFAR-10 binary batches with
// --data; the default data are synthetic images.
spaces.push({
  id: 'cell-cifar',
  description: "AutoShrink's CIFAR-10 proxy shape: 8 operation nodes (44 edges), three stages of one cell (16, 32, 64 filters), adds where edges meet, relu. Pass CIFAR-10 binary batches with --data; the default data are synthetic images.",
  cell: {
    input: [32, 32, 3],
    nodes: ['conv3x3', 'sepconv3x3', 'conv1x1', 'sepconv5x5', 'conv3x3', 'maxpool3x3', 'sepconv3x3', 'conv1x1'],
    merge: 'add',
    activation: 'relu',
    stem: { filters: 16, kernelSize: 3, stride: 1 },
    stages: [{ cells: 1, filters: 16, stride: 1 }, { cells: 1, filters: 32, stride: 2 }, { cells: 1, filters: 64, stride: 2 }],
    classes: 10,
    seedScale: 0.5,
  },
  data: { dataset: 'synthetic-images', options: { height: 32, width: 32, channels: 3, classes: 10, count: 2000 }, normalise: true },
  loss: 'ce',
  training: phase({ epochs: 4, batchSize: 64, learningRate: 0.1, optimizer: 'sgd', schedule: 'cosine' }),
  fineTune: phase({ epochs: 2, batchSize: 64, learningRate: 0.05, optimizer: 'sgd', schedule: 'cosine' }),
  scheduleSpan: 'run',
  scoring: { samples: 512, batchSize: 64 },
  defaults: { method: 'autoshrink', grower: 'energy-aware', rounds: 3, seed: 0, growerOptions: { autoshrink: { k: 3, proxyEpochs: 1, proxySamples: 1000 } } },
});

for (const s of spaces) {
  const doc = { $schema: './schema/search-space.schema.json', format: 'mitosis-search-space', version: 1, ...s };
  writeFileSync(new URL(`${s.id}.json`, out), `${JSON.stringify(doc, null, 1)}\n`);
}

// Variants of convnet-fashion for the splitting ablations (search-spaces/studies/fashion-ablations.json): each
// changes one thing, so a study arm can run a method on it. They are files, not shipped ids.
const fashion = spaces.find((s) => s.id === 'convnet-fashion');
const variants = [
  ['phase', 'each training phase restarts its own cosine schedule (the seed at lr 0.1, every fine-tune at 0.05)', { scheduleSpan: 'phase' }],
  ['run', 'one cosine schedule of the seed phase (lr 0.1) over all 10 epochs, each phase taking its slice', { scheduleSpan: 'run' }],
  [
    'early-run',
    'grow early: 2 seed epochs, 3 rounds × 1 fine-tune epoch, 5 final epochs, one cosine schedule over the run',
    { scheduleSpan: 'run', finalEpochs: 5, training: { ...fashion.training, epochs: 2 }, fineTune: { ...fashion.fineTune, epochs: 1 } },
  ],
  [
    'small-run',
    'a seed half as wide (4, 8 filters, 16 units; minimum widths 2/4/8) grown to the same budget, one cosine schedule over the run',
    {
      scheduleSpan: 'run',
      seed: JSON.parse(JSON.stringify(fashion.seed, (k, v) => (k === 'filters' || k === 'units' ? ({ 8: 4, 16: 8, 32: 16 })[v] ?? v : v))),
      layers: { conv1: { ...fashion.layers.conv1, min: 2 }, conv2: { ...fashion.layers.conv2, min: 4 }, fc: { ...fashion.layers.fc, min: 8 } },
    },
  ],
  [
    'long-run',
    'the reference regime scaled down: 8 seed epochs and 8 fine-tune epochs per round (32 in all), one cosine schedule over the run',
    { scheduleSpan: 'run', training: { ...fashion.training, epochs: 8 }, fineTune: { ...fashion.fineTune, epochs: 8 } },
  ],
  [
    'ea-arch',
    "energy-aware's final architecture at 450k MACs (conv 8, conv 27, dense 128) as the seed, to train from scratch",
    { scheduleSpan: 'run', seed: JSON.parse(JSON.stringify(fashion.seed, (k, v) => (k === 'filters' && v === 16 ? 27 : k === 'units' && v === 32 ? 128 : v))) },
  ],
  [
    'rs-arch',
    "random-split's final architecture at 450k MACs, seed 0 (conv 10, conv 21, dense 71) as the seed, to train from scratch",
    { scheduleSpan: 'run', seed: JSON.parse(JSON.stringify(fashion.seed, (k, v) => (k === 'filters' && v === 8 ? 10 : k === 'filters' && v === 16 ? 21 : k === 'units' && v === 32 ? 71 : v))) },
  ],
  [
    'retrain',
    'splitting as architecture search inside the same 10 epochs: 1 seed epoch, 3 rounds × 1 fine-tune epoch, then the found architecture re-initialised and trained from scratch for the 6 epochs left (finalPhase retrain); a resizer trains 10 epochs from scratch as before',
    { scheduleSpan: 'run', finalEpochs: 6, finalPhase: 'retrain', training: { ...fashion.training, epochs: 1 }, fineTune: { ...fashion.fineTune, epochs: 1 } },
  ],
  [
    'retrain-9',
    'splitting as a 1-epoch architecture search: 1 seed epoch, 3 rounds without fine-tuning, then the found architecture re-initialised and trained from scratch for the 9 epochs left (finalPhase retrain); a resizer trains 10 epochs from scratch as before',
    { scheduleSpan: 'run', finalEpochs: 9, finalPhase: 'retrain', training: { ...fashion.training, epochs: 1 }, fineTune: { ...fashion.fineTune, epochs: 0 } },
  ],
  [
    'run-fc48',
    'the run-long schedule with the dense layer capped at 48 units (energy-aware otherwise fills it to 128)',
    { scheduleSpan: 'run', layers: { ...fashion.layers, fc: { ...fashion.layers.fc, cap: 48 } } },
  ],
];
mkdirSync(new URL('studies/spaces/', out), { recursive: true });
for (const [suffix, what, patch] of variants) {
  const id = `convnet-fashion-${suffix}`;
  const doc = { $schema: '../../schema/search-space.schema.json', format: 'mitosis-search-space', version: 1, ...fashion, ...patch, id, description: `${fashion.description} Variant: ${what}.` };
  writeFileSync(new URL(`studies/spaces/${id}.json`, out), `${JSON.stringify(doc, null, 1)}\n`);
}
console.log(`wrote ${spaces.length} search spaces and ${variants.length} ablation variants`);
