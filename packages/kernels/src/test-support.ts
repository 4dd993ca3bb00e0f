import * as tf from '@tensorflow/tfjs-core';

/** Deterministic pseudo-random values in [-1, 1) (LCG), so cpu and wasm see identical inputs. */
export function seededValues(size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  let s = (seed * 2654435761) >>> 0;
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2147483648 - 1;
  }
  return out;
}

/** A tensor of {@link seededValues} on the active backend. */
export function seeded(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(seededValues(shape.reduce((a, b) => a * b, 1), seed), shape);
}

/** max|a − b| / max|b| (norm-wise relative error); 0 when both are all-zero. */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
    scale = Math.max(scale, Math.abs(b[i] ?? 0));
  }
  return scale === 0 ? diff : diff / scale;
}

/** Runs `f` with `backend` active and returns the flat values of the tensors it returns. */
export async function onBackend(
  backend: string,
  f: () => tf.Tensor[],
): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const outs = tf.tidy(f);
  const values = outs.map((t) => t.dataSync() as Float32Array);
  tf.dispose(outs);
  return values;
}
