import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { NasError } from '@mitosis/core';
import { buildChannelGraph, consumerRows, producerGroup, widenSpec } from './channel-graph.js';
import { tinyMlpSpec, tinyMobileNetSpec } from '../testing/example-networks.js';
import { inferShapes } from '../shape/infer-shapes.js';
import { weightShapes } from '../weights/weights.js';

describe('buildChannelGraph', () => {
  const spec = tinyMobileNetSpec();
  const g = buildChannelGraph(spec);

  it('ties the producers that meet in the residual add', () => {
    const conv1 = g.producers.get('conv1')!;
    assert.deepEqual(conv1.tiedWith, ['pw1']);
    assert.equal(g.producers.get('pw1')!.group, conv1.group);
    const group = producerGroup(g, 'pw1');
    assert.deepEqual(group.producers, ['conv1', 'pw1']);
    assert.equal(group.width, 8);
    assert.ok(group.tensors.includes('add1') && group.tensors.includes('pool') && group.tensors.includes('relud2'));
    assert.deepEqual(
      group.perChannel.map((p) => p.node),
      ['bn1', 'dw1', 'bnd1', 'bnp1', 'dw2', 'bnd2'],
    );
  });

  it('records activation, batchNorm, chain and splittability per producer', () => {
    const conv1 = g.producers.get('conv1')!;
    assert.equal(conv1.activation, 'relu');
    assert.equal(conv1.batchNorm, 'bn1');
    assert.equal(conv1.activationNode, 'relu1');
    assert.ok(conv1.splittable);
    assert.deepEqual(g.producers.get('fc')!.chain, ['relufc', 'drop']);
    assert.ok(g.producers.get('fc')!.splittable);
    const out = g.producers.get('out')!;
    assert.equal(out.activation, null);
    assert.equal(out.splittable, false);
    assert.ok(producerGroup(g, 'out').reachesOutput);
  });

  it('lists consumers with how they read the channel (conv input axis, concat offset, flatten stride)', () => {
    const group = producerGroup(g, 'conv1');
    const byNode = new Map(group.consumers.map((c) => [c.node, c]));
    assert.deepEqual([...byNode.keys()], ['pw1', 'pw2', 'fc']);
    assert.deepEqual(byNode.get('pw1')!.placements, [{ partOffset: 0, spatial: 1, stride: 8, offset: 0 }]);
    // fc reads flatten(concat(relup2 [6], pool [8])) on 4×4 positions: channel c of conv1's group at p·14 + 6 + c.
    const fc = byNode.get('fc')!;
    assert.equal(fc.inputsPerChannel, 16);
    assert.deepEqual(consumerRows(fc, 2).slice(0, 3), [8, 22, 36]);
    const pw2 = producerGroup(g, 'pw2').consumers.find((c) => c.node === 'fc')!;
    assert.deepEqual(consumerRows(pw2, 0).slice(0, 2), [0, 14]);
    assert.equal(fc.inputSize, 224);
  });

  it('keeps the input channels frozen', () => {
    const inputGroup = g.groups.find((x) => x.tensors.includes('x'))!;
    assert.ok(inputGroup.frozen);
    assert.equal(inputGroup.growable, false);
    assert.deepEqual(inputGroup.consumers.map((c) => c.node), ['conv1']);
  });

  it('answers "one more channel" with widenSpec, tied producers included', () => {
    const wide = widenSpec(spec, 'pw1', 1);
    const s = inferShapes(wide);
    assert.deepEqual(s.get('conv1'), [8, 8, 9]);
    assert.deepEqual(s.get('cat'), [4, 4, 15]);
    const before = weightShapes(spec);
    const after = weightShapes(wide);
    assert.deepEqual(after.get('fc/kernel'), [240, 5]);
    assert.deepEqual(after.get('pw2/kernel'), [1, 1, 9, 6]);
    assert.deepEqual(after.get('dw1/depthwiseKernel'), [3, 3, 9, 1]);
    assert.deepEqual(before.get('pw2/kernel'), [1, 1, 8, 6]);
    assert.deepEqual(inferShapes(widenSpec(tinyMlpSpec(), 'h1', -3)).get('h1'), [5]);
    assert.throws(() => widenSpec(spec, 'out', 1), (e: unknown) => NasError.is(e, 'E_SPEC_INVALID') && e.details['node'] === 'out');
    assert.throws(() => widenSpec(spec, 'bn1', 1), (e: unknown) => NasError.is(e, 'E_SPEC_INVALID'));
  });

  it('freezes groups tied through an add to a differently laid out concat', () => {
    const bad = {
      format: 'mitosis-network' as const,
      version: 1 as const,
      nodes: [
        { name: 'x', op: 'input' as const, shape: [4] },
        { name: 'a', op: 'dense' as const, inputs: ['x'], units: 2, useBias: true },
        { name: 'b', op: 'dense' as const, inputs: ['x'], units: 2, useBias: true },
        { name: 'c', op: 'dense' as const, inputs: ['x'], units: 4, useBias: true },
        { name: 'k', op: 'concat' as const, inputs: ['a', 'b'] },
        { name: 's', op: 'add' as const, inputs: ['k', 'c'] },
        { name: 'o', op: 'dense' as const, inputs: ['s'], units: 1, useBias: true },
      ],
      output: 'o',
    };
    const gg = buildChannelGraph(bad);
    for (const p of ['a', 'b', 'c']) assert.equal(producerGroup(gg, p).growable, false);
  });
});
