import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NasError } from '@mitosis/core';
import { canonicalKey, parseCanonicalKey, makeDivisible, type OpDescriptor } from './op-key.js';
import { opMacs } from './op-features.js';

describe('canonicalKey', () => {
  const ops: OpDescriptor[] = [
    { kind: 'conv2d', input: [224, 224, 3], output: [112, 112, 24], attrs: { kernel: 3, stride: 2, groups: 1 } },
    { kind: 'conv2d', input: [32, 32, 16], output: [32, 32, 16], attrs: { kernel: 1, stride: 1, groups: 2 } },
    { kind: 'dense', input: [1536], output: [1000], attrs: {} },
    { kind: 'activation', input: [8, 8, 4], output: [], attrs: { act: 'relu6' } },
    {
      kind: 'mbconv',
      input: [112, 112, 24],
      output: [56, 56, 32],
      attrs: { mid: 144, kernel: 3, stride: 2, groups: 1, skip: 0, se: 0, hs: 0 },
    },
  ];

  it('round-trips through parseCanonicalKey', () => {
    for (const op of ops) assert.deepEqual(parseCanonicalKey(canonicalKey(op)), { ...op, attrs: { ...op.attrs } });
  });

  it('writes the documented form and omits default groups', () => {
    assert.equal(canonicalKey(ops[0]!), 'conv2d-input:224x224x3-output:112x112x24-kernel:3-stride:2');
    assert.equal(canonicalKey(ops[1]!), 'conv2d-input:32x32x16-output:32x32x16-kernel:1-stride:1-groups:2');
    assert.equal(canonicalKey(ops[4]!), 'mbconv-input:112x112x24-output:56x56x32-mid:144-kernel:3-stride:2-skip:0-se:0-hs:0');
  });

  for (const [bad, why] of [
    ['conv3d-input:1x1x1-output:1x1x1-kernel:1-stride:1', /unknown op "conv3d"/],
    ['conv2d-input:224x224-output:112x112x24-kernel:3-stride:2', /HxWxC/],
    ['conv2d-input:224x224x3-output:112x112x24-stride:2-kernel:3', /expected field "kernel"/],
    ['dense-input:10-output:0', /positive integers/],
    ['dense-input:10-output:5-extra:1', /unexpected field "extra"/],
    ['conv2d-input:4x4x3-output:4x4x3-kernel:3-stride:1-groups:1', /not in canonical form/],
  ] as const) {
    it(`rejects ${bad}`, () => {
      assert.throws(
        () => parseCanonicalKey(bad),
        (e: unknown) => NasError.is(e, 'E_PROFILE_INVALID') && why.test(e.message) && e.details['key'] === bad,
      );
    });
  }

  it('counts MBConv MACs like the OFA converter (SE width makeDivisible(mid // 4, 8))', () => {
    // 112×112×24 → 56×56×32, mid 144, k3: 24·144·112² + 9·144·56² + 144·32·56² = 61.9M (hardware.md §2.1).
    assert.equal(opMacs(ops[4]!), 24 * 144 * 112 * 112 + 9 * 144 * 56 * 56 + 144 * 32 * 56 * 56);
    assert.equal(makeDivisible(144 / 4), 40);
    assert.equal(makeDivisible(10), 16);
  });
});
