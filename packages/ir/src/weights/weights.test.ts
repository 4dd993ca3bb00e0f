import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { NasError } from '@mitosis/core';
import { initWeights, validateWeights, weightShapes } from './weights.js';
import { getNeuronParams, neuronDim, setNeuronParams } from './neuron-params.js';
import { tinyMobileNetSpec } from '../testing/example-networks.js';

describe('weights', () => {
  const spec = tinyMobileNetSpec();

  it('lists every weight with the TF.js layouts', () => {
    const s = weightShapes(spec);
    assert.deepEqual(s.get('conv1/kernel'), [3, 3, 3, 8]);
    assert.equal(s.has('conv1/bias'), false);
    assert.deepEqual(s.get('dw2/depthwiseKernel'), [3, 3, 8, 1]);
    assert.deepEqual(s.get('dw2/bias'), [8]);
    assert.deepEqual(s.get('bnp2/movingVariance'), [6]);
    assert.deepEqual(s.get('fc/kernel'), [224, 5]);
    assert.deepEqual(s.get('out/bias'), [3]);
  });

  it('initialises deterministically with He/Glorot limits and BN identity', () => {
    const a = initWeights(spec, 7);
    const b = initWeights(spec, 7);
    const c = initWeights(spec, 8);
    assert.deepEqual(a.get('pw1/kernel')!.data, b.get('pw1/kernel')!.data);
    assert.notDeepEqual(a.get('pw1/kernel')!.data, c.get('pw1/kernel')!.data);
    const heLimit = Math.sqrt(6 / 27); // conv1 → bn1 → relu: He, fanIn 3·3·3
    const k = a.get('conv1/kernel')!.data;
    assert.ok(k.every((v) => Math.abs(v) <= heLimit));
    assert.ok(Math.max(...k.map(Math.abs)) > 0.8 * heLimit);
    const glorot = Math.sqrt(6 / (5 + 3)); // out: no activation
    assert.ok(a.get('out/kernel')!.data.every((v) => Math.abs(v) <= glorot));
    assert.ok(a.get('bn1/gamma')!.data.every((v) => v === 1));
    assert.ok(a.get('bn1/movingMean')!.data.every((v) => v === 0));
    assert.ok(a.get('bn1/movingVariance')!.data.every((v) => v === 1));
    assert.ok(a.get('fc/bias')!.data.every((v) => v === 0));
    validateWeights(spec, a, 'init');
  });

  it('names the missing, extra or misshapen key', () => {
    const cases: { edit: (w: ReturnType<typeof initWeights>) => void; key: string; text: RegExp }[] = [
      { edit: (w) => void w.delete('bnp1/beta'), key: 'bnp1/beta', text: /missing/ },
      { edit: (w) => void w.set('pw1/bias', { shape: [8], data: new Float32Array(8) }), key: 'pw1/bias', text: /unexpected/ },
      { edit: (w) => void w.set('fc/kernel', { shape: [5, 224], data: new Float32Array(1120) }), key: 'fc/kernel', text: /\[5, 224\]/ },
      { edit: (w) => void w.set('fc/bias', { shape: [5], data: new Float32Array(4) }), key: 'fc/bias', text: /4 values/ },
    ];
    for (const c of cases) {
      const w = initWeights(spec, 1);
      c.edit(w);
      assert.throws(
        () => validateWeights(spec, w, 'w.bin'),
        (e: unknown) => NasError.is(e, 'E_MODEL_FORMAT') && e.details['key'] === c.key && c.text.test(e.message) && e.details['file'] === 'w.bin',
      );
    }
  });
});

describe('neuron parameters', () => {
  const spec = tinyMobileNetSpec();

  it('has the θ length of growth-plan.ts', () => {
    assert.equal(neuronDim(spec, 'conv1'), 27);
    assert.equal(neuronDim(spec, 'pw2'), 9);
    assert.equal(neuronDim(spec, 'dw2'), 10);
    assert.equal(neuronDim(spec, 'fc'), 225);
    assert.throws(() => neuronDim(spec, 'bn1'), (e: unknown) => NasError.is(e, 'E_SPEC_INVALID'));
  });

  it('reads and writes the kernel column and bias of one neuron', () => {
    const w = initWeights(spec, 3);
    const k = w.get('pw2/kernel')!.data; // [1, 1, 8, 6]
    const theta = getNeuronParams(spec, w, 'pw2', 4);
    for (let c = 0; c < 8; c++) assert.equal(theta[c], k[c * 6 + 4]);
    assert.equal(theta[8], 0);
    const fresh = Array.from({ length: 9 }, (_, i) => i + 0.5);
    setNeuronParams(spec, w, 'pw2', 4, fresh);
    assert.deepEqual(Array.from(getNeuronParams(spec, w, 'pw2', 4)), fresh);
    assert.equal(w.get('pw2/bias')!.data[4], 8.5);
    assert.equal(k[3 * 6 + 4], 3.5);
    const dw = getNeuronParams(spec, w, 'dw2', 2);
    assert.equal(dw[1], w.get('dw2/depthwiseKernel')!.data[1 * 8 + 2]);
    assert.throws(() => getNeuronParams(spec, w, 'pw2', 6), (e: unknown) => NasError.is(e, 'E_SPEC_INVALID'));
    assert.throws(() => setNeuronParams(spec, w, 'pw2', 0, [1]), (e: unknown) => NasError.is(e, 'E_SPEC_INVALID'));
  });
});
