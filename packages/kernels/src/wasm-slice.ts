import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * A `Slice` kernel for wasm that copies straight inside the wasm heap (`copyWithin`, one call per
 * contiguous run). wasm 4.22's own `Slice` first copies the whole input out of the heap with
 * `readSync` (≈ 15 ms for a 2.4 M-element contiguous slice); this one costs one memmove of the
 * output (element copies for runs shorter than 16 values, e.g. a window of a 3-channel image). `fallback` handles string tensors.
 */
export function wasmSliceKernel(fallback: () => tf.KernelFunc | undefined): tf.KernelFunc {
  return (args) => {
    const { inputs, attrs } = args;
    const backend = args.backend as BackendWasm;
    const x = inputs['x'];
    if (x === undefined) throw new Error('Slice: input "x" is missing');
    if (x.dtype === 'string') {
      const f = fallback();
      if (f === undefined) throw new Error('Slice: no kernel for string tensors');
      return f(args);
    }
    const [begin, size] = tf.slice_util.parseSliceParams(
      x as tf.Tensor,
      attrs?.['begin'] as number | number[],
      attrs?.['size'] as number | number[],
    ) as [number[], number[]];
    const out = backend.makeOutput(size, x.dtype);
    const total = tf.util.sizeFromShape(size);
    if (total === 0) return out;
    const bpe = tf.util.bytesPerElement(x.dtype);
    // Read offsets and the heap after makeOutput: an allocation may grow (and replace) the heap.
    const xOff = backend.dataIdMap.get(x.dataId)?.memoryOffset;
    const oOff = backend.dataIdMap.get(out.dataId)?.memoryOffset;
    if (xOff === undefined || oOff === undefined) throw new Error('Slice: tensor not on the wasm heap');
    const heap = (backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8;
    const shape = x.shape;
    const rank = shape.length;
    const strides = tf.util.computeStrides(shape);
    // Innermost axis `j` such that every axis after it is taken whole: runs of size[j]·stride[j].
    let j = rank - 1;
    while (j > 0 && begin[j] === 0 && size[j] === shape[j]) j--;
    const stride = (a: number): number => (a === rank - 1 ? 1 : (strides[a] ?? 1));
    const run = (size[j] ?? 1) * stride(j);
    const outer = total / run;
    const mod = backend.wasm as unknown as { HEAPF32: Float32Array; HEAP32: Int32Array };
    const words = bpe !== 4 ? undefined : x.dtype === 'float32' ? mod.HEAPF32 : mod.HEAP32;
    if (words !== undefined && run < 16 && j > 0) {
      // Short runs (a few channels): element copies, with axis j − 1 as the tight loop.
      const inner = size[j - 1] ?? 1;
      const innerStride = stride(j - 1);
      const idx = new Array<number>(j - 1).fill(0);
      let d = oOff / 4;
      for (let r = 0; r < outer / inner; r++) {
        let src = xOff / 4 + (begin[j] ?? 0) * stride(j) + (begin[j - 1] ?? 0) * innerStride;
        for (let a = 0; a < j - 1; a++) src += ((begin[a] ?? 0) + (idx[a] ?? 0)) * stride(a);
        for (let i = 0; i < inner; i++, src += innerStride) for (let e = 0; e < run; e++) words[d++] = words[src + e] as number;
        for (let a = j - 2; a >= 0; a--) {
          const v = (idx[a] ?? 0) + 1;
          if (v < (size[a] ?? 1)) {
            idx[a] = v;
            break;
          }
          idx[a] = 0;
        }
      }
      return out;
    }
    const idx = new Array<number>(j).fill(0);
    let dst = oOff;
    for (let r = 0; r < outer; r++) {
      let src = (begin[j] ?? 0) * stride(j);
      for (let a = 0; a < j; a++) src += ((begin[a] ?? 0) + (idx[a] ?? 0)) * stride(a);
      const from = xOff + src * bpe;
      heap.copyWithin(dst, from, from + run * bpe);
      dst += run * bpe;
      for (let a = j - 1; a >= 0; a--) {
        const v = (idx[a] ?? 0) + 1;
        if (v < (size[a] ?? 1)) {
          idx[a] = v;
          break;
        }
        idx[a] = 0;
      }
    }
    return out;
  };
}

/**
 * An `Identity` kernel for wasm that shares the input's buffer (reference-counted, as wasm's own
 * `Reshape` and the cpu backend's `Identity` do) instead of copying it. TF.js clones every tensor
 * it saves for the backward pass through `Identity`, so wasm's copying version costs a full memory
 * copy per saved tensor (≈ 150 ms per refnet-32 step). Buffers are never written in place.
 */
export function wasmIdentityKernel(fallback: () => tf.KernelFunc | undefined): tf.KernelFunc {
  return (args) => {
    const x = args.inputs['x'];
    if (x === undefined) throw new Error('Identity: input "x" is missing');
    if (x.dtype === 'string') {
      const f = fallback();
      if (f === undefined) throw new Error('Identity: no kernel for string tensors');
      return f(args);
    }
    (args.backend as BackendWasm).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}

/**
 * Copies the strided box `begin + k·strides` (`k < outShape`, per axis) of `x` into a new wasm
 * tensor of `outShape`, straight inside the heap: one `copyWithin` per innermost run when the last
 * axis has stride 1, element by element otherwise.
 */
function heapStridedCopy(
  backend: BackendWasm,
  x: tf.TensorInfo,
  begin: readonly number[],
  strides: readonly number[],
  outShape: number[],
): tf.TensorInfo {
  const out = backend.makeOutput(outShape, x.dtype);
  const total = tf.util.sizeFromShape(outShape);
  if (total === 0) return out;
  const bpe = tf.util.bytesPerElement(x.dtype);
  const xOff = backend.dataIdMap.get(x.dataId)?.memoryOffset;
  const oOff = backend.dataIdMap.get(out.dataId)?.memoryOffset;
  if (xOff === undefined || oOff === undefined) throw new Error('StridedSlice: tensor not on the wasm heap');
  const heap = (backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8;
  const rank = x.shape.length;
  const xStrides = [...tf.util.computeStrides(x.shape), 1];
  const last = rank - 1;
  const innerStep = strides[last] ?? 1;
  const inner = outShape[last] ?? 1;
  const outer = total / inner;
  const idx = new Array<number>(last).fill(0);
  let dst = oOff;
  const runBytes = inner * bpe;
  for (let r = 0; r < outer; r++) {
    let src = begin[last] ?? 0;
    for (let a = 0; a < last; a++) src += ((begin[a] ?? 0) + (idx[a] ?? 0) * (strides[a] ?? 1)) * (xStrides[a] ?? 1);
    if (innerStep === 1) {
      const from = xOff + src * bpe;
      heap.copyWithin(dst, from, from + runBytes);
    } else {
      for (let e = 0; e < inner; e++) {
        const from = xOff + (src + e * innerStep) * bpe;
        heap.copyWithin(dst + e * bpe, from, from + bpe);
      }
    }
    dst += runBytes;
    for (let a = last - 1; a >= 0; a--) {
      const v = (idx[a] ?? 0) + 1;
      if (v < (outShape[a] ?? 1)) {
        idx[a] = v;
        break;
      }
      idx[a] = 0;
    }
  }
  return out;
}

/**
 * A `StridedSlice` kernel for wasm that gathers inside the heap ({@link heapStridedCopy}); wasm
 * 4.22's own takes ≈ 160 ms for a stride-2 slice of a 64×32×32×64 tensor and, for simple slices,
 * goes through its copying `Slice`. `fallback` handles string tensors.
 */
export function wasmStridedSliceKernel(fallback: () => tf.KernelFunc | undefined): tf.KernelFunc {
  return (args) => {
    const backend = args.backend as BackendWasm;
    const x = args.inputs['x'];
    if (x === undefined) throw new Error('StridedSlice: input "x" is missing');
    if (x.dtype === 'string') {
      const f = fallback();
      if (f === undefined) throw new Error('StridedSlice: no kernel for string tensors');
      return f(args);
    }
    const a = args.attrs ?? {};
    const info = tf.slice_util.sliceInfo(
      x.shape,
      a['begin'] as number[],
      a['end'] as number[],
      a['strides'] as number[],
      a['beginMask'] as number,
      a['endMask'] as number,
      a['ellipsisMask'] as number,
      a['newAxisMask'] as number,
      a['shrinkAxisMask'] as number,
    );
    if (info.isIdentity) {
      backend.incRef(x.dataId);
      return { dataId: x.dataId, shape: info.finalShape, dtype: x.dtype };
    }
    const size = tf.slice_util.computeOutShape(info.begin, info.end, info.strides);
    const out = heapStridedCopy(backend, x, info.begin, info.strides, size);
    out.shape = info.finalShape;
    return out;
  };
}
