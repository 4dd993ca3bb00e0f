import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NasError, SeededRandom } from '@mitosis/core';
import { syntheticImages } from '@mitosis/data';
import { NetworkModel, evaluate, train, useBackend } from '@mitosis/engine';
import { MacsCostModel, ParamsCostModel } from '@mitosis/hardware';
import { buildChannelGraph, inferShapes, initWeights } from '@mitosis/ir';
import {
  cellProblems,
  compileCell,
  fullMask,
  isConnected,
  liveEdges,
  liveVertices,
  maskEdges,
  removableEdges,
  removeEdge,
  type CellArchitecture,
} from './cell-space.js';
import { fullNetwork, parseSearchSpace } from './search-space.js';

const cell = (patch: Partial<CellArchitecture> = {}): CellArchitecture => ({
  input: [8, 8, 1],
  nodes: ['conv3x3', 'sepconv3x3', 'conv1x1'],
  merge: 'add',
  activation: 'relu',
  stem: { filters: 4, kernelSize: 3, stride: 1 },
  stages: [{ cells: 1, filters: 4, stride: 1 }, { cells: 1, filters: 8, stride: 2 }],
  classes: 3,
  seedScale: 1,
  ...patch,
});

const spaceDoc = (cellDoc: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  format: 'mitosis-search-space',
  version: 1,
  id: 'tiny-cell',
  description: 'test',
  cell: cellDoc,
  data: { dataset: 'synthetic-images', options: { height: 8, width: 8, channels: 1, classes: 3, count: 64 } },
  loss: 'ce',
  ...extra,
});

const problemsOf = (fn: () => unknown): { pointer: string; message: string }[] => {
  try {
    fn();
  } catch (error) {
    assert.ok(NasError.is(error, 'E_CONFIG_INVALID'), String(error));
    return (error.details as { problems: { pointer: string; message: string }[] }).problems;
  }
  assert.fail('expected E_CONFIG_INVALID');
};

describe('cell masks', () => {
  it('the fully connected mask has N(N−1)/2 + 2N edges and no input → output edge', () => {
    for (const n of [1, 3, 4, 8]) {
      const m = fullMask(n);
      assert.equal(maskEdges(m).length, (n * (n - 1)) / 2 + 2 * n);
      assert.equal(m[0]![n + 1], 0);
      assert.ok(isConnected(m));
    }
  });

  it('prunes dead nodes: a node cut from the output loses its incoming edges too', () => {
    // 3 nodes; node 2 feeds only node 3… remove 2→3 and 2→4: node 2 is dead, so 0→2 and 1→2 go as well.
    let m = fullMask(3);
    m = removeEdge(m, { from: 2, to: 3 });
    assert.equal(liveEdges(m).length, 8);
    m = removeEdge(m, { from: 2, to: 4 });
    assert.deepEqual(liveVertices(m), [true, true, false, true, true]);
    assert.deepEqual(
      liveEdges(m).map((e) => `${e.from}-${e.to}`),
      ['0-1', '0-3', '1-3', '1-4', '3-4'],
    );
  });

  it('offers only removals that keep the output connected', () => {
    // A single path 0 → 1 → 4 plus a shortcut 1 → 2 → 4: every edge of the one-node path is a bridge.
    const m = fullMask(3).map((row) => row.map(() => 0));
    m[0]![1] = 1;
    m[1]![4] = 1;
    m[1]![2] = 1;
    m[2]![4] = 1;
    assert.deepEqual(
      removableEdges(m).map((e) => `${e.from}-${e.to}`),
      ['1-2', '1-4', '2-4'],
    );
    assert.ok(!isConnected(removeEdge(m, { from: 0, to: 1 })));
  });
});

describe('cell validation', () => {
  it('accepts a cell space, compiles its seed, and reads back its own run.json form unchanged', () => {
    const space = parseSearchSpace(spaceDoc({ ...cell() }), 'tiny.json');
    assert.equal(space.seed.output, 'logits');
    assert.equal(space.full, undefined);
    const again = parseSearchSpace(JSON.parse(JSON.stringify(space)), 'run.json#/searchSpace');
    assert.deepEqual(again.seed, space.seed);
    // A seed that differs from the compiled one is refused.
    const tampered = JSON.parse(JSON.stringify(space)) as { seed: { nodes: { filters?: number }[] } };
    tampered.seed.nodes[1]!.filters = 5;
    assert.deepEqual(problemsOf(() => parseSearchSpace(tampered, 'x.json')).map((p) => p.pointer), ['/seed']);
  });

  it('compiles a half-width seed and a full network with seedScale 0.5', () => {
    const space = parseSearchSpace(spaceDoc({ ...cell(), seedScale: 0.5 }), 'tiny.json');
    const filters = (s: typeof space.seed, name: string): number => (s.nodes.find((n) => n.name === name) as { filters: number }).filters;
    assert.equal(filters(space.seed, 'c1_n1'), 4);
    assert.equal(filters(fullNetwork(space), 'c1_n1'), 8);
  });

  it('reports schema problems and mask problems with JSON pointers', () => {
    assert.deepEqual(
      problemsOf(() => parseSearchSpace(spaceDoc({ ...cell(), nodes: ['conv3x3', 'conv7x7'] }), 'x.json')).map((p) => p.pointer),
      ['/cell/nodes/1'],
    );
    const missing = spaceDoc(undefined);
    delete missing['cell'];
    assert.deepEqual(problemsOf(() => parseSearchSpace(missing, 'x.json')).map((p) => p.pointer), ['/seed']);
    const wrongSize = { ...cell(), mask: fullMask(2) };
    assert.deepEqual(problemsOf(() => parseSearchSpace(spaceDoc(wrongSize), 'x.json')).map((p) => p.pointer), ['/cell/mask']);
    const backwards = fullMask(3);
    backwards[2]![1] = 1;
    backwards[0]![4] = 1;
    assert.deepEqual(
      problemsOf(() => parseSearchSpace(spaceDoc({ ...cell(), mask: backwards }), 'x.json')).map((p) => p.pointer),
      ['/cell/mask/2/1', '/cell/mask/0/4'],
    );
    // Nothing reaches the output: an error, not an empty cell.
    const cut = fullMask(3);
    for (let i = 0; i < 4; i++) cut[i]![4] = 0;
    const problems = problemsOf(() => parseSearchSpace(spaceDoc({ ...cell(), mask: cut }), 'x.json'));
    assert.deepEqual(problems.map((p) => p.pointer), ['/cell/mask']);
    assert.match(problems[0]!.message, /disconnects the cell output/);
    assert.deepEqual(cellProblems(cell({ stages: [{ cells: 1, filters: 4, stride: 2 }], input: [1, 1, 1], stem: { filters: 4, kernelSize: 3, stride: 2 } })), []);
  });
});

describe('compiling a cell', () => {
  it('gives a valid network whose shapes, channel groups and MACs follow the cell', () => {
    const c = cell();
    const spec = compileCell(c, fullMask(3));
    const shapes = inferShapes(spec);
    assert.deepEqual(shapes.get('c0_out'), [8, 8, 4]);
    assert.deepEqual(shapes.get('c1_in_act'), [4, 4, 8]);
    assert.deepEqual(shapes.get('logits'), [3]);
    // Adds tie every node of a cell (and its input projection) into one channel group.
    const graph = buildChannelGraph(spec);
    assert.equal(graph.producers.get('c1_n1')!.group, graph.producers.get('c1_in')!.group);
    // MACs by hand: stem 64·9·1·4; cell 0 (8×8, 4 ch): conv3x3 64·36·4, sep 64·9·4 + 64·4·4, conv1x1 64·4·4;
    // cell 1: projection 16·4·8, then at 4×4 with 8 ch: 16·72·8, 16·9·8 + 16·8·8, 16·8·8; logits 8·3.
    const expected = 64 * 9 * 4 + (64 * 36 * 4 + 64 * 9 * 4 + 64 * 16 + 64 * 16) + 16 * 4 * 8 + (16 * 72 * 8 + 16 * 9 * 8 + 16 * 64 + 16 * 64) + 8 * 3;
    assert.equal(new MacsCostModel().estimate(spec).total, expected);
    // Removing the only edges into the 3×3 conv (node 1) kills it: its MACs go, the others stay.
    const without = removeEdge(fullMask(3), { from: 0, to: 1 });
    const smaller = compileCell(c, without);
    assert.equal(smaller.nodes.some((n) => n.name === 'c0_n1'), false);
    assert.equal(new MacsCostModel().estimate(smaller).total, expected - 64 * 36 * 4 - 16 * 72 * 8);
    assert.ok(new ParamsCostModel().estimate(smaller).total! < new ParamsCostModel().estimate(spec).total!);
  });

  it('concatenates where edges meet with merge "concat" (the next conv reads every channel)', () => {
    const spec = compileCell(cell({ merge: 'concat', nodes: ['conv1x1', 'maxpool3x3', 'conv1x1'] }), fullMask(3));
    const shapes = inferShapes(spec);
    // Node 2 (a pool) reads the cell input and node 1: 4 + 4 channels; node 3 reads 4 + 4 + 8.
    assert.deepEqual(shapes.get('c0_n2'), [8, 8, 8]);
    assert.deepEqual(shapes.get('c0_n3_merge'), [8, 8, 16]);
    // The cell output concatenates nodes 1, 2, 3: 4 + 8 + 4 channels.
    assert.deepEqual(shapes.get('c0_out'), [8, 8, 16]);
  });

  it('trains: one epoch on synthetic images lowers the loss of a compiled cell', async () => {
    await useBackend('cpu');
    const spec = compileCell(cell(), fullMask(3));
    const data = syntheticImages({ height: 8, width: 8, channels: 1, classes: 3, count: 96, seed: 1 });
    const model = new NetworkModel(spec, initWeights(spec, 3));
    try {
      const before = evaluate(model, data, 32, 'softmaxCrossEntropy').loss;
      const result = await train(model, { train: data }, { epochs: 3, batchSize: 16, learningRate: 0.05, optimizer: { kind: 'adam' }, loss: 'softmaxCrossEntropy', rng: new SeededRandom(2), progress: false });
      result.optimizer.dispose();
      const after = evaluate(model, data, 32, 'softmaxCrossEntropy').loss;
      assert.ok(Number.isFinite(after) && after < before, `${before} → ${after}`);
    } finally {
      model.dispose();
    }
  });
});
