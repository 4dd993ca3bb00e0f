import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NasError } from '@mitosis/core';
import { wasmKernelsInstalled } from '@mitosis/kernels';
import { tf } from '../tf.js';
import { useBackend } from './use-backend.js';

describe('useBackend', () => {
  it('fails for an explicit tensorflow request when tfjs-node is not installed, naming the remedy', async () => {
    await assert.rejects(useBackend('tensorflow'), (e: unknown) => {
      assert.ok(NasError.is(e, 'E_BACKEND_UNAVAILABLE'));
      assert.match(e.message, /tfjs-node/);
      assert.match(e.message, /--backend wasm/);
      assert.deepEqual(e.details['reasons'], ['@tensorflow/tfjs-node-gpu is not installed', '@tensorflow/tfjs-node is not installed']);
      return true;
    });
  });

  it('auto falls back to wasm with the fast kernels and says why', async () => {
    const choice = await useBackend('auto');
    assert.equal(choice.backend, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
    assert.ok(wasmKernelsInstalled());
    assert.match(choice.detail, /tfjs-node is not installed/);
  });

  it('selects cpu on request', async () => {
    assert.deepEqual(await useBackend('cpu'), { backend: 'cpu', detail: 'requested (pure JavaScript)' });
    assert.equal(tf.getBackend(), 'cpu');
  });
});
