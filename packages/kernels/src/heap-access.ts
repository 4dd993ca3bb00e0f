import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** Where a float32 tensor's values sit in the wasm heap: `heap[index … index + size)`. */
export interface HeapSpan {
  readonly heap: Float32Array;
  readonly index: number;
  readonly size: number;
}

/**
 * The heap span of `t` when the active backend is `wasm`, `t` is float32 and it is the only tensor holding its
 * buffer (reference count 1: no reshape, clone or variable shares it), so that writing the span in place changes
 * `t` alone; otherwise undefined. The span is valid until the next tensor allocation (which may grow, and
 * replace, the heap).
 */
export function exclusiveHeapSpan(t: tf.Tensor): HeapSpan | undefined {
  const span = heapSpan(t);
  return span !== undefined && (tf.backend() as BackendWasm).refCount(t.dataId) === 1 ? span : undefined;
}

/** Like {@link exclusiveHeapSpan} but for reading: any float32 tensor on the wasm heap, shared or not. */
export function heapSpan(t: tf.Tensor): HeapSpan | undefined {
  if (t.dtype !== 'float32' || t.isDisposed || tf.getBackend() !== 'wasm') return undefined;
  const backend = tf.backend() as BackendWasm;
  const data = backend.dataIdMap.get(t.dataId);
  const heap = (backend.wasm as unknown as { HEAPF32?: Float32Array }).HEAPF32;
  if (data === undefined || heap === undefined || data.memoryOffset % 4 !== 0) return undefined;
  return { heap, index: data.memoryOffset / 4, size: t.size };
}

/**
 * Grows the wasm heap, when the active backend is `wasm`, so that about `bytes` more can be allocated without
 * growing it again: one `malloc` of that size, freed at once (the block stays with the allocator for the
 * tensors that follow). Emscripten grows the heap by 20 % at a time, and in V8 each growth adjusts the external
 * memory that the garbage collector paces itself by: a pass that needs a few hundred MB more than the heap holds
 * otherwise pays for some ten growths and full collections. Pages are still only touched when written.
 * Returns whether it reserved anything.
 */
export function reserveWasmHeap(bytes: number): boolean {
  if (!(bytes > 0) || tf.getBackend() !== 'wasm') return false;
  const wasm = (tf.backend() as unknown as { wasm?: { _malloc?: (n: number) => number; _free?: (p: number) => void } }).wasm;
  if (wasm?._malloc === undefined || wasm._free === undefined) return false;
  const p = wasm._malloc(Math.min(Math.ceil(bytes), 2 ** 31 - 2 ** 16));
  if (p === 0) return false;
  wasm._free(p);
  return true;
}
