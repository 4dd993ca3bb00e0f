import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import { copyRows, wasmHeapMemory } from './wasm-simd.js';

/**
 * A constant `PadV2` kernel for wasm (float32 and int32) that works inside the heap from JavaScript: the output
 * is filled with the constant, then every contiguous run of the input (everything from the last padded axis
 * inwards) is copied to its place, each block of runs by one call into wasm (`copyRows`: a `copyWithin` per
 * run cost ≈ 5 ms for a 256×32×32×8 batch, most of it the calls), else with `copyWithin` for long runs and an
 * element loop for short ones. wasm
 * 4.22's own kernel takes ≈ 3.7 ns per output element (≈ 0.9 ms for a 64×28×28×1 image batch padded to
 * 65×30×30×4, which the convolution filter gradients do every step); this one ≈ 0.1 ms. Other dtypes go to
 * `fallback`.
 */
export function wasmPadKernel(fallback: () => tf.KernelFunc | undefined): tf.KernelFunc {
  return (args) => {
    const backend = args.backend as BackendWasm;
    const x = args.inputs['x'];
    if (x === undefined) throw new Error('PadV2: input "x" is missing');
    const paddings = (args.attrs?.['paddings'] ?? []) as [number, number][];
    const constant = (args.attrs?.['constantValue'] ?? 0) as number;
    if ((x.dtype !== 'float32' && x.dtype !== 'int32') || paddings.length !== x.shape.length || paddings.some(([a, b]) => a < 0 || b < 0)) {
      const f = fallback();
      if (f === undefined) throw new Error(`PadV2: no kernel for ${x.dtype} tensors`);
      return f(args);
    }
    const rank = x.shape.length;
    const outShape = x.shape.map((d, i) => (paddings[i]?.[0] ?? 0) + d + (paddings[i]?.[1] ?? 0));
    const out = backend.makeOutput(outShape, x.dtype);
    const total = tf.util.sizeFromShape(outShape);
    if (total === 0) return out;
    // After makeOutput: an allocation may grow (and replace) the heap.
    const mod = backend.wasm as unknown as { HEAPF32: Float32Array; HEAP32: Int32Array };
    const heap: Float32Array | Int32Array = x.dtype === 'float32' ? mod.HEAPF32 : mod.HEAP32;
    const xOff = (backend.dataIdMap.get(x.dataId)?.memoryOffset ?? -1) / 4;
    const oOff = (backend.dataIdMap.get(out.dataId)?.memoryOffset ?? -1) / 4;
    if (xOff < 0 || oOff < 0) throw new Error('PadV2: tensor not on the wasm heap');
    heap.fill(constant, oOff, oOff + total);
    // Rows copied by one call into wasm when the heap memory can be imported (int32 and float32 alike: bytes).
    const memory = wasmHeapMemory(backend);
    const size = tf.util.sizeFromShape(x.shape);
    if (size === 0) return out;
    const outStrides = [...tf.util.computeStrides(outShape), 1];
    // k: the last padded axis; runs of x.shape[k..] are contiguous in both tensors.
    let k = rank - 1;
    while (k > 0 && (paddings[k]?.[0] ?? 0) === 0 && (paddings[k]?.[1] ?? 0) === 0) k--;
    let run = 1;
    for (let a = k; a < rank; a++) run *= x.shape[a] ?? 1;
    const lead = (paddings[k]?.[0] ?? 0) * (outStrides[k] ?? 1);
    if (k === 0) {
      heap.copyWithin(oOff + lead, xOff, xOff + run);
      return out;
    }
    // Axis k − 1 is the tight loop; axes 0 … k − 2 form the outer multi-index.
    const j = k - 1;
    const inner = x.shape[j] ?? 1;
    const jStride = outStrides[j] ?? 1;
    const outer = size / (run * inner);
    const idx = new Array<number>(j).fill(0);
    let src = xOff;
    for (let r = 0; r < outer; r++) {
      let dst = oOff + lead + (paddings[j]?.[0] ?? 0) * jStride;
      for (let a = 0; a < j; a++) dst += ((idx[a] ?? 0) + (paddings[a]?.[0] ?? 0)) * (outStrides[a] ?? 1);
      if (memory !== undefined) {
        copyRows(memory, src * 4, dst * 4, inner, run * 4, run * 4, jStride * 4);
        src += run * inner;
      } else if (run >= 16) {
        for (let i = 0; i < inner; i++, src += run, dst += jStride) heap.copyWithin(dst, src, src + run);
      } else {
        for (let i = 0; i < inner; i++, src += run, dst += jStride) {
          for (let e = 0; e < run; e++) heap[dst + e] = heap[src + e] as number;
        }
      }
      for (let a = j - 1; a >= 0; a--) {
        const v = (idx[a] ?? 0) + 1;
        if (v < (x.shape[a] ?? 1)) {
          idx[a] = v;
          break;
        }
        idx[a] = 0;
      }
    }
    return out;
  };
}
