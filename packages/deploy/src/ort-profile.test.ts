import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRandom } from '@mitosis/core';
import { LatencyCostModel, blocksFromSpec, canonicalKey, sampleSmallSpace } from '@mitosis/hardware';
import { runOrtProfiler, specNodeOfKernel, timeOnnxSpecs, validateOrtProfile } from './ort-profile.js';

describe('ONNX Runtime profile', () => {
  it('maps ORT kernel names to the IR nodes the exporter named them after', () => {
    const names = ['conv1', 'conv1_bn', 'conv1_swish', 'conv2', 'fc', 'logits'];
    assert.equal(specNodeOfKernel('conv1', names), 'conv1');
    assert.equal(specNodeOfKernel('conv1_bn', names), 'conv1_bn');
    assert.equal(specNodeOfKernel('conv1_swish/sigmoid', names), 'conv1_swish');
    assert.equal(specNodeOfKernel('conv2_bn_nchwc', names), 'conv2');
    assert.equal(specNodeOfKernel('conv1_swish/QuickGeluFusion/', names), 'conv1_swish');
    assert.equal(specNodeOfKernel('ReorderOutput_token_8', names), null);
    assert.equal(specNodeOfKernel('fcx', names), null);
  });

  it('measures every row of the sampled architectures, records threads, and predicts whole networks from the rows', async () => {
    const rng = new SeededRandom(5);
    const space = Array.from({ length: 3 }, (_, i) => sampleSmallSpace(rng, `t-${i}`));
    const profile = await runOrtProfiler({ deviceId: 'ort-test', space, warmup: 1, repeats: 3, threads: 1 });
    assert.equal(profile.measurement.threads, 1);
    assert.match(profile.runtime.name, /onnxruntime/);
    const keys = new Set(space.flatMap((s) => blocksFromSpec(s).filter((b) => b.op.kind !== 'identity').map((b) => canonicalKey(b.op))));
    for (const k of keys) {
      const e = profile.table[k];
      assert.ok(e !== undefined, `row ${k} measured`);
      assert.ok(e.mean > 0 && Number.isFinite(e.mean));
    }
    // Rows of a profiled network add up to about its measured time (the overhead is shared out per kernel).
    const [wall] = await timeOnnxSpecs([space[0]!], 2, 9);
    const sorted = [...wall!].sort((a, b) => a - b);
    const measured = sorted[4]!;
    const predicted = new LatencyCostModel({ profile }).estimate(space[0]!).total!;
    assert.ok(predicted > measured / 3 && predicted < measured * 3, `predicted ${predicted} ms vs measured ${measured} ms`);
    const check = await validateOrtProfile({ profile, count: 4, warmup: 1, repeats: 3 });
    assert.equal(check.nets.length, 4);
    assert.ok(check.nets.every((n) => Number.isFinite(n.predictedMs) && n.measuredMs > 0));
  });
});
