import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';

import { NasError } from '@mitosis/core';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

import { installWasmKernels } from './install-wasm-kernels.js';
// Imported for its effect: TF.js's "install tfjs-node" banner and other console warnings stay off.
import './tfjs-warnings.js';

let pathsSet = false;

/**
 * The folder (with a trailing separator) that holds the installed `tfjs-backend-wasm*.wasm` binaries,
 * resolved from the installed `@tensorflow/tfjs-backend-wasm` package rather than from the current
 * working directory.
 */
export function wasmBinaryDirectory(): string {
  const require = createRequire(import.meta.url);
  const main = require.resolve('@tensorflow/tfjs-backend-wasm');
  // `main` is `<pkg>/dist/tf-backend-wasm.node.js`; the binaries sit beside it.
  return join(dirname(main), sep);
}

/**
 * Makes `wasm` the active TF.js backend under Node and installs the fast gradient kernels
 * ({@link installWasmKernels}). The binary folder is set with `setWasmPaths` from the installed
 * package before the backend first initialises (it cannot change afterwards). Idempotent.
 *
 * @throws NasError `E_BACKEND_UNAVAILABLE` when the wasm backend cannot be initialised.
 */
export async function initWasmBackend(): Promise<void> {
  installWasmKernels();
  if (tf.getBackend() === 'wasm') return;
  if (!pathsSet && !('wasm' in tf.engine().registry)) {
    setWasmPaths(wasmBinaryDirectory());
    pathsSet = true;
  }
  let ok = false;
  try {
    ok = await tf.setBackend('wasm');
  } catch (cause) {
    throw new NasError(
      'E_BACKEND_UNAVAILABLE',
      `TF.js backend "wasm" failed to initialise (binaries looked up in ${wasmBinaryDirectory()})`,
      { backend: 'wasm' },
      { cause },
    );
  }
  if (!ok) {
    throw new NasError(
      'E_BACKEND_UNAVAILABLE',
      `TF.js backend "wasm" failed to initialise (binaries looked up in ${wasmBinaryDirectory()})`,
      { backend: 'wasm' },
    );
  }
}
