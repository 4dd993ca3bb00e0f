import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NasError } from '@mitosis/core';
import { opMacs } from '../ops/op-features.js';
import { parseCanonicalKey } from '../ops/op-key.js';
import { convertFbnetKey, convertOfaKey, importHwNasBenchFbnet, importOfaTables } from './lut-importers.js';

describe('OFA / ProxylessNAS key import', () => {
  it('reads expand as an absolute width in OFA tables and as a ratio in ProxylessNAS', () => {
    const ofa = 'expanded_conv-input:112x112x24-output:56x56x32-expand:144-kernel:3-stride:2-idskip:0-se:0-hs:0';
    assert.equal(convertOfaKey(ofa, 'ofa'), 'mbconv-input:112x112x24-output:56x56x32-mid:144-kernel:3-stride:2-skip:0-se:0-hs:0');
    const px = 'expanded_conv-input:112x112x16-output:56x56x24-expand:6-kernel:3-stride:2-idskip:0';
    assert.equal(convertOfaKey(px, 'proxyless'), 'mbconv-input:112x112x16-output:56x56x24-mid:96-kernel:3-stride:2-skip:0-se:0-hs:0');
  });

  it('maps the head ops and keeps the MACs the source README derives', () => {
    // Values from shared/data: Conv 8,128,512; Conv_1 10,838,016; Conv_2 1,769,472; Logits 1,536,000 MACs.
    for (const [key, macs] of [
      ['Conv-input:224x224x3-output:112x112x24', 8_128_512],
      ['Conv_1-input:7x7x192-output:7x7x1152', 10_838_016],
      ['Conv_2-input:1x1x1152-output:1x1x1536', 1_769_472],
      ['Logits-input:1x1x1536-output:1000', 1_536_000],
      ['AvgPool2D-input:7x7x1152-output:1x1x1152', 0],
    ] as const) {
      assert.equal(opMacs(parseCanonicalKey(convertOfaKey(key, 'ofa'))), macs, key);
    }
    assert.equal(convertOfaKey('Logits-input:7x7x1280-output:1000', 'proxyless'), 'classifier-input:7x7x1280-output:1000');
  });

  it('pools duplicated keys and keeps exact per-resolution overrides', () => {
    const k = 'Logits-input:1x1x1536-output:1000';
    const { table, resolutionOverrides } = importOfaTables(
      { '160': { [k]: { mean: 1, std: 0, count: 1 } }, '224': { [k]: { mean: 3, std: 0, count: 3 } } },
      'ofa',
    );
    const c = 'dense-input:1536-output:1000';
    assert.equal(table[c]!.mean, 2.5);
    assert.equal(table[c]!.count, 4);
    assert.ok(Math.abs(table[c]!.std! - Math.sqrt(0.75)) < 1e-12);
    assert.equal(resolutionOverrides['160']![c]!.mean, 1);
    assert.equal(resolutionOverrides['224']![c]!.mean, 3);
  });

  it('rejects unknown ops with the key', () => {
    assert.throws(() => convertOfaKey('Pool-input:1x1x1-output:1x1x1', 'ofa'), (e: unknown) => NasError.is(e, 'E_PROFILE_INVALID') && e.details['key'] === 'Pool-input:1x1x1-output:1x1x1');
  });
});

describe('HW-NAS-Bench FBNet key import', () => {
  it('converts every key family and keeps the derived MACs of fbnet_lut_keys.json', () => {
    // MACs from shared/data/hw-nas-bench/fbnet_lut_keys.json (cifar100, layer 0).
    for (const [key, macs] of [
      ['ConvNorm_H32_W32_Cin3_Cout16_kernel3_stride1_group1', 442_368],
      ['ConvBlock_H32_W32_Cin16_Cout16_exp1_kernel3_stride1_group1', 671_744],
      ['ConvBlock_H32_W32_Cin16_Cout16_exp1_kernel3_stride1_group2', 409_600],
      ['ConvBlock_H32_W32_Cin16_Cout16_exp6_kernel5_stride1_group1', 5_603_328],
      ['Skip_H32_W32_Cin16_Cout16_stride1', 0],
    ] as const) {
      assert.equal(opMacs(parseCanonicalKey(convertFbnetKey(key))), macs, key);
    }
    assert.equal(convertFbnetKey('Skip_H32_W32_Cin16_Cout24_stride2'), 'conv2d-input:32x32x16-output:16x16x24-kernel:1-stride:2');
    assert.equal(convertFbnetKey('FC_Cin1504_Cout100'), 'dense-input:1504-output:100');
    assert.equal(convertFbnetKey('AvgP_H4_W4_Cin1504_Cout1504_kernel4_stride1'), 'gap-input:4x4x1504-output:1504');
  });

  it('imports a metric dictionary and rejects negative values', () => {
    const t = importHwNasBenchFbnet({ FC_Cin1504_Cout100: 0.5 });
    assert.deepEqual(t, { 'dense-input:1504-output:100': { mean: 0.5 } });
    assert.throws(() => importHwNasBenchFbnet({ FC_Cin1504_Cout100: -1 }), (e: unknown) => NasError.is(e, 'E_PROFILE_INVALID'));
    assert.throws(() => convertFbnetKey('Conv_H1'), (e: unknown) => NasError.is(e, 'E_PROFILE_INVALID'));
  });
});
