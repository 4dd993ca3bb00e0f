import '@tensorflow/tfjs-backend-cpu';
import { tf } from './tf.js';

/** Test helper: selects the float32 `cpu` backend (every kernel, deterministic). */
export async function useCpuBackend(): Promise<void> {
  await tf.setBackend('cpu');
}
