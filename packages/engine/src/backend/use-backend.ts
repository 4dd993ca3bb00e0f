import { NasError } from '@mitosis/core';
import { initWasmBackend } from '@mitosis/kernels';
import { tf } from '../tf.js';

/** What the caller asks for: `auto` picks the fastest backend that loads here. */
export type BackendPreference = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

/** The backend now active and a sentence saying why it was chosen. */
export interface BackendChoice {
  /** TF.js backend name: `tensorflow` (tfjs-node / tfjs-node-gpu), `wasm` or `cpu`. */
  readonly backend: 'tensorflow' | 'wasm' | 'cpu';
  /** Human-readable reason, including why faster candidates were skipped. */
  readonly detail: string;
}

const NODE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

/** Why one optional peer could not be used; undefined when it loaded and registered `tensorflow`. */
async function tryNativePackage(name: string): Promise<string | undefined> {
  try {
    // The optional peers are loaded only here, by name, so that nothing requires them at install time.
    await import(name);
  } catch (error) {
    const code = (error as { code?: string }).code;
    return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND'
      ? `${name} is not installed`
      : `${name} failed to load: ${(error as Error).message}`;
  }
  if (tf.findBackendFactory('tensorflow') === null) return `${name} loaded but registered no "tensorflow" backend`;
  return undefined;
}

async function activate(name: 'tensorflow' | 'wasm' | 'cpu'): Promise<boolean> {
  if (name === 'wasm') {
    // Sets the binary path from the installed package and installs the fast gradient kernels.
    await initWasmBackend();
    return tf.getBackend() === 'wasm';
  }
  const ok = await tf.setBackend(name);
  if (ok) await tf.ready();
  return ok && tf.getBackend() === name;
}

/**
 * Selects and initialises a TF.js backend. `auto` tries `@tensorflow/tfjs-node-gpu`, then `@tensorflow/tfjs-node`
 * (optional peers, imported dynamically), then `wasm` (with the fast gradients of `@mitosis/kernels`), then
 * `cpu`. An explicit preference that cannot be honoured throws `E_BACKEND_UNAVAILABLE` with the remedy.
 */
export async function useBackend(pref: BackendPreference): Promise<BackendChoice> {
  const skipped: string[] = [];
  if (pref === 'auto' || pref === 'tensorflow') {
    for (const name of NODE_PACKAGES) {
      const why = await tryNativePackage(name);
      if (why === undefined && (await activate('tensorflow'))) {
        return { backend: 'tensorflow', detail: `${name} (native TensorFlow)` };
      }
      skipped.push(why ?? `${name} loaded but the "tensorflow" backend failed to initialise`);
    }
    if (pref === 'tensorflow') {
      throw new NasError(
        'E_BACKEND_UNAVAILABLE',
        `Backend "tensorflow" is unavailable (${skipped.join('; ')}). Install @tensorflow/tfjs-node@4.22.0 ` +
          `(or -gpu) where its install script can download libtensorflow, or use --backend wasm.`,
        { backend: 'tensorflow', reasons: skipped },
      );
    }
  }
  if (pref === 'auto' || pref === 'wasm') {
    try {
      if (await activate('wasm')) {
        const prefix = skipped.length > 0 ? `${skipped.join('; ')}; ` : '';
        return { backend: 'wasm', detail: `${prefix}using WebAssembly (SIMD, single thread) with mitosis kernels` };
      }
      skipped.push('wasm failed to initialise');
    } catch (error) {
      skipped.push(`wasm failed to initialise: ${(error as Error).message}`);
    }
    if (pref === 'wasm') {
      throw new NasError('E_BACKEND_UNAVAILABLE', `Backend "wasm" is unavailable (${skipped.join('; ')}); use --backend cpu.`, {
        backend: 'wasm',
        reasons: skipped,
      });
    }
  }
  if (!(await activate('cpu'))) {
    throw new NasError('E_BACKEND_UNAVAILABLE', 'Backend "cpu" failed to initialise.', { backend: 'cpu', reasons: skipped });
  }
  const detail = pref === 'cpu' ? 'requested (pure JavaScript)' : `${skipped.join('; ')}; using pure JavaScript`;
  return { backend: 'cpu', detail };
}
