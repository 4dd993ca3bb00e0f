import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import { Code, compiledFor, encodeModule, heapOffset, I32, instantiate, simdSupported, wasmHeapMemory, type WasmMemory } from './wasm-simd.js';

type RowsFn = (src: number, dst: number, rows: number) => void;

/** `rows(src, dst, n)`: for r < n, the four floats at src + 4r are copied to dst + 16r (one unaligned v128 each). */
function rowsFn(memory: WasmMemory): RowsFn {
  return compiledFor(memory, 'sliding-rows', () => {
    const code = new Code();
    code.repeat(2, (r) => {
      r.get(1).get(0).load(0).store(0);
      r.inc(0, 4).inc(1, 16);
    });
    return instantiate(encodeModule([{ name: 'rows', params: [I32, I32, I32], locals: [], body: code }]), memory)['rows'] as RowsFn;
  });
}

/** Kernel name (wasm only) of {@link slidingRows}. */
export const SlidingRows = 'MitosisSlidingRows';

function slidingRowsKernel(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const x = args.inputs['x'];
  const width = args.attrs?.['width'] as number;
  if (x === undefined || x.dtype !== 'float32' || x.shape.length !== 1) throw new Error(`${SlidingRows}: x must be a float32 vector`);
  const n = x.shape[0] as number;
  const out = backend.makeOutput([n, width], 'float32');
  const memory = wasmHeapMemory(backend);
  if (memory === undefined) throw new Error(`${SlidingRows}: the wasm heap memory is not importable`);
  const src = new Float32Array(memory.buffer, heapOffset(backend, x), n);
  const dst = new Float32Array(memory.buffer, heapOffset(backend, out), n * width);
  // The last width − 1 rows run past the end of x: they are written below, with zeros.
  const full = Math.max(0, n - width + 1);
  let done = 0;
  if (width === 4 && full > 0 && simdSupported()) {
    rowsFn(memory)(heapOffset(backend, x), heapOffset(backend, out), full);
    done = full;
  }
  for (let r = done; r < n; r++) for (let c = 0; c < width; c++) dst[r * width + c] = r + c < n ? (src[r + c] as number) : 0;
  return out;
}

/**
 * `[N, width]` rows of `width` consecutive values of the vector `x`: row r is `x[r … r + width)`, zeros past the
 * end. On wasm one JavaScript pass over the heap (registered on first use); elsewhere `width` shifted slices,
 * stacked.
 */
export function slidingRows(x: tf.Tensor1D, width: number): tf.Tensor2D {
  if (tf.getBackend() === 'wasm' && wasmHeapMemory(tf.backend()) !== undefined && x.dtype === 'float32') {
    if (tf.getKernel(SlidingRows, 'wasm') === undefined) {
      tf.registerKernel({ kernelName: SlidingRows, backendName: 'wasm', kernelFunc: slidingRowsKernel as unknown as tf.KernelFunc });
    }
    return tf.engine().runKernel(SlidingRows, { x }, { width }) as tf.Tensor2D;
  }
  return tf.tidy(() => {
    const n = x.shape[0];
    const padded = tf.pad(x, [[0, width]]);
    return tf.stack(Array.from({ length: width }, (_, c) => tf.slice(padded, [c], [n])), 1) as tf.Tensor2D;
  });
}
