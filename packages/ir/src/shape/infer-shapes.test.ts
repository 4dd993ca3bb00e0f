import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { NasError, type NetworkNode, type NetworkSpec } from '@mitosis/core';
import { inferShapes, outputLength, padBefore } from './infer-shapes.js';
import { tinyMobileNetSpec } from '../testing/example-networks.js';

function net(shape: number[], ...nodes: NetworkNode[]): NetworkSpec {
  return {
    format: 'mitosis-network',
    version: 1,
    nodes: [{ name: 'x', op: 'input', shape }, ...nodes],
    output: nodes[nodes.length - 1]!.name,
  };
}

describe('inferShapes', () => {
  it('infers the MobileNet-like example', () => {
    const s = inferShapes(tinyMobileNetSpec());
    assert.deepEqual(s.get('conv1'), [8, 8, 8]);
    assert.deepEqual(s.get('dw2'), [4, 4, 8]);
    assert.deepEqual(s.get('pool'), [4, 4, 8]);
    assert.deepEqual(s.get('cat'), [4, 4, 14]);
    assert.deepEqual(s.get('flat'), [224]);
    assert.deepEqual(s.get('out'), [3]);
  });

  it("follows TF's same/valid output-size rules", () => {
    assert.equal(outputLength(7, 3, 2, 'same'), 4);
    assert.equal(outputLength(7, 3, 2, 'valid'), 3);
    assert.equal(outputLength(8, 3, 2, 'valid'), 3);
    assert.equal(outputLength(5, 1, 1, 'valid'), 5);
    assert.equal(padBefore(7, 3, 2, 'same'), 1);
    assert.equal(padBefore(8, 3, 2, 'same'), 0); // total 1: the extra row goes to the bottom
    assert.equal(padBefore(8, 4, 1, 'same'), 1); // total 3
    const s = inferShapes(
      net(
        [7, 9, 2],
        { name: 'c', op: 'conv2d', inputs: ['x'], filters: 5, kernelSize: [3, 2], strides: [2, 3], padding: 'valid', useBias: true },
        { name: 'p', op: 'avgPool', inputs: ['c'], poolSize: [2, 2], strides: [1, 1], padding: 'same' },
        { name: 'g', op: 'globalAvgPool', inputs: ['p'] },
      ),
    );
    assert.deepEqual(s.get('c'), [3, 3, 5]);
    assert.deepEqual(s.get('p'), [3, 3, 5]);
    assert.deepEqual(s.get('g'), [5]);
  });

  const bad: { what: string; spec: NetworkSpec; node: string; shapes: number[][] }[] = [
    {
      what: 'dense on a rank-3 input',
      spec: net([4, 4, 2], { name: 'd', op: 'dense', inputs: ['x'], units: 3, useBias: true }),
      node: 'd',
      shapes: [[4, 4, 2]],
    },
    {
      what: 'add of unequal shapes',
      spec: net(
        [6],
        { name: 'a', op: 'dense', inputs: ['x'], units: 3, useBias: true },
        { name: 's', op: 'add', inputs: ['a', 'x'] },
      ),
      node: 's',
      shapes: [[3], [6]],
    },
    {
      what: 'concat of different spatial sizes',
      spec: net(
        [4, 4, 2],
        { name: 'p', op: 'maxPool', inputs: ['x'], poolSize: [2, 2], strides: [2, 2], padding: 'valid' },
        { name: 'k', op: 'concat', inputs: ['x', 'p'] },
      ),
      node: 'k',
      shapes: [[4, 4, 2], [2, 2, 2]],
    },
    {
      what: 'a valid window larger than the input',
      spec: net([2, 2, 1], { name: 'c', op: 'conv2d', inputs: ['x'], filters: 1, kernelSize: [3, 3], strides: [1, 1], padding: 'valid', useBias: false }),
      node: 'c',
      shapes: [[2, 2, 1]],
    },
    {
      what: 'conv2d on a rank-1 input',
      spec: net([5], { name: 'c', op: 'conv2d', inputs: ['x'], filters: 1, kernelSize: [1, 1], strides: [1, 1], padding: 'valid', useBias: false }),
      node: 'c',
      shapes: [[5]],
    },
  ];
  for (const c of bad) {
    it(`reports ${c.what} naming the node and its inputs' shapes`, () => {
      assert.throws(
        () => inferShapes(c.spec),
        (e: unknown) => {
          assert.ok(NasError.is(e, 'E_SHAPE_MISMATCH'));
          assert.equal(e.details['node'], c.node);
          assert.deepEqual((e.details['inputs'] as { shape: number[] }[]).map((i) => i.shape), c.shapes);
          assert.match(e.message, new RegExp(`"${c.node}"`));
          return true;
        },
      );
    });
  }
});
