import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { NasError } from '@mitosis/core';
import { wasmKernelsInstalled } from '@mitosis/kernels';
import { tf } from '../tf.js';
import { useBackend } from './use-backend.js';

const NATIVE = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];

/** Whether a package resolves from this package (where useBackend imports it), whatever it does on load. */
function resolvable(name: string): boolean {
  try {
    createRequire(import.meta.url).resolve(name);
    return true;
  } catch {
    return false;
  }
}

// These tests hold on a machine with or without the optional native backends: each branch checks what
// useBackend must do given what is installed here.
const installed = NATIVE.filter(resolvable);

describe('useBackend', () => {
  it('honours an explicit tensorflow request when tfjs-node is installed, and otherwise fails naming the remedy', async () => {
    let choice: Awaited<ReturnType<typeof useBackend>> | undefined;
    let failure: unknown;
    try {
      choice = await useBackend('tensorflow');
    } catch (error) {
      failure = error;
    }
    if (installed.length === 0) {
      assert.equal(choice, undefined, 'tensorflow was chosen although no native package resolves');
      assert.ok(NasError.is(failure, 'E_BACKEND_UNAVAILABLE'));
      assert.match(failure.message, /tfjs-node/);
      assert.match(failure.message, /--backend wasm/);
      assert.deepEqual(failure.details['reasons'], NATIVE.map((n) => `${n} is not installed`));
    } else if (choice !== undefined) {
      assert.equal(choice.backend, 'tensorflow');
      assert.equal(tf.getBackend(), 'tensorflow');
      assert.ok(installed.some((n) => choice.detail.startsWith(n)), choice.detail);
    } else {
      // Installed but broken (e.g. libtensorflow missing): the error says why, not "not installed".
      assert.ok(NasError.is(failure, 'E_BACKEND_UNAVAILABLE'));
      const reasons = failure.details['reasons'] as string[];
      for (const n of installed) assert.ok(!reasons.includes(`${n} is not installed`), reasons.join('; '));
    }
  });

  it('auto picks native TensorFlow when it loads, else wasm with the fast kernels, and says why', async () => {
    const choice = await useBackend('auto');
    assert.equal(tf.getBackend(), choice.backend);
    if (choice.backend === 'tensorflow') {
      assert.ok(installed.length > 0);
    } else {
      assert.equal(choice.backend, 'wasm');
      assert.ok(wasmKernelsInstalled());
      for (const n of NATIVE.filter((x) => !installed.includes(x))) assert.match(choice.detail, new RegExp(`${n} is not installed`));
    }
  });

  it('selects cpu on request', async () => {
    assert.deepEqual(await useBackend('cpu'), { backend: 'cpu', detail: 'requested (pure JavaScript)' });
    assert.equal(tf.getBackend(), 'cpu');
  });

  it('does not print the TF.js "install tfjs-node" banner (MITOSIS_TFJS_WARNINGS=1 brings it back)', () => {
    const script = [
      `const { tf } = await import(${JSON.stringify(new URL('../tf.js', import.meta.url).href)});`,
      `const { useBackend } = await import(${JSON.stringify(new URL('./use-backend.js', import.meta.url).href)});`,
      `await useBackend('cpu');`,
      `tf.square(tf.tensor1d([1, 2, 3])).dataSync();`,
    ].join('\n');
    const run = (env: Record<string, string>): string => {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ...env } });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout + r.stderr;
    };
    assert.doesNotMatch(run({ MITOSIS_TFJS_WARNINGS: '0' }), /running TensorFlow\.js in Node\.js/);
    // The control shows the banner would be caught here if it came back.
    assert.match(run({ MITOSIS_TFJS_WARNINGS: '1' }), /running TensorFlow\.js in Node\.js/);
  });
});
