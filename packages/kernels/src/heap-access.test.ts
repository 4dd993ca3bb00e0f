import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';

import * as tf from '@tensorflow/tfjs-core';

import { heapSpan, reserveWasmHeap } from './heap-access.js';
import { initWasmBackend } from './wasm-backend.js';

function heapBytes(): number {
  return (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;
}

describe('reserveWasmHeap', () => {
  before(async () => {
    await initWasmBackend();
  });

  it('grows the heap once by what is asked for; the room then serves tensors without growing it again', () => {
    const before = heapBytes();
    const ask = before + 64 * 2 ** 20;
    assert.equal(reserveWasmHeap(ask), true);
    const after = heapBytes();
    assert.ok(after >= ask && after > before, `${before} → ${after} bytes`);
    const t = tf.zeros([Math.floor(ask / 4 / 2)]);
    assert.equal(heapBytes(), after, 'a tensor of half the reserved size fits without growing the heap');
    assert.ok(heapSpan(t) !== undefined);
    t.dispose();
  });

  it('does nothing for a size ≤ 0, or off wasm', async () => {
    assert.equal(reserveWasmHeap(0), false);
    assert.equal(reserveWasmHeap(-5), false);
    await tf.setBackend('cpu');
    try {
      assert.equal(reserveWasmHeap(1024), false);
    } finally {
      await tf.setBackend('wasm');
    }
  });
});
