import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import { Code, compiledFor, encodeModule, heapOffset, I32, instantiate, simdSupported, V128, wasmHeapMemory, type WasmMemory } from './wasm-simd.js';

/**
 * Two elementwise patterns of the splitting pass's chain products, each one pass over memory instead of two or
 * three (on the large tensors of early layers every pass costs ≈ 0.8 ms per 8 MB):
 * - `mulPair(y, a, b)` = [y ⊙ a, y ⊙ b] (y read once);
 * - `mulAdd(c, x, s)` = c + x ⊙ s (no intermediate product tensor).
 * All operands have the same shape; float32 with the same roundings as TF.js's `mul` and `add`.
 */

/** Kernel names (wasm only). */
export const MulPair = 'MitosisMulPair';
export const MulAdd = 'MitosisMulAdd';

type VecFn = (...pointersAndCount: number[]) => void;

/** `f(p0, …, p(k−1), n)`: `n` lanes groups of 4 floats, every pointer advancing 16 bytes per group. */
function emitVec(name: string, pointers: number, body: (c: Code) => void, locals: number): Uint8Array {
  // The count is the parameter after the pointers.
  const code = new Code();
  code.repeat(pointers, (r) => {
    body(r);
    for (let p = 0; p < pointers; p++) r.inc(p, 16);
  });
  return encodeModule([{ name, params: new Array<number>(pointers + 1).fill(I32), locals: new Array<number>(locals).fill(V128), body: code }]);
}

interface Fns {
  /** (y, a, b, ya, yb; groups) */
  readonly pair: VecFn;
  /** (c, x, s, out; groups) */
  readonly fma: VecFn;
}

function fns(memory: WasmMemory): Fns {
  return compiledFor(memory, 'fused-elementwise', () => {
    const Y = 6;
    const pair = instantiate(
      emitVec(
        'f',
        5,
        (c) => {
          c.get(0).load().set(Y);
          c.get(3).get(Y).get(1).load().f32x4Mul().store();
          c.get(4).get(Y).get(2).load().f32x4Mul().store();
        },
        1,
      ),
      memory,
    )['f'] as VecFn;
    const fma = instantiate(
      emitVec(
        'f',
        4,
        (c) => {
          c.get(3).get(0).load().get(1).load().get(2).load().f32x4Mul().f32x4Add().store();
        },
        0,
      ),
      memory,
    )['f'] as VecFn;
    return { pair, fma };
  });
}

interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
}

function inputsOf(args: KernelArgs, kernel: string, names: readonly string[]): tf.TensorInfo[] {
  const ts = names.map((n) => args.inputs[n]);
  const size = ts[0] === undefined ? 0 : tf.util.sizeFromShape(ts[0].shape);
  for (const [i, t] of ts.entries()) {
    if (t === undefined || t.dtype !== 'float32' || tf.util.sizeFromShape(t.shape) !== size) {
      throw new Error(`${kernel}: ${names.join(', ')} must be float32 tensors of one size (${names[i]})`);
    }
  }
  return ts as tf.TensorInfo[];
}

function pairKernel(args: KernelArgs): tf.TensorInfo[] {
  const backend = args.backend as BackendWasm;
  const [y, a, b] = inputsOf(args, MulPair, ['y', 'a', 'b']) as [tf.TensorInfo, tf.TensorInfo, tf.TensorInfo];
  const ya = backend.makeOutput([...y.shape], 'float32');
  const yb = backend.makeOutput([...y.shape], 'float32');
  const memory = wasmHeapMemory(backend) as WasmMemory;
  const size = tf.util.sizeFromShape(y.shape);
  const groups = Math.floor(size / 4);
  const [py, pa, pb, pya, pyb] = [y, a, b, ya, yb].map((t) => heapOffset(backend, t)) as [number, number, number, number, number];
  if (groups > 0) fns(memory).pair(py, pa, pb, pya, pyb, groups);
  const heap = new Float32Array(memory.buffer);
  for (let i = groups * 4; i < size; i++) {
    const v = heap[py / 4 + i] as number;
    heap[pya / 4 + i] = v * (heap[pa / 4 + i] as number);
    heap[pyb / 4 + i] = v * (heap[pb / 4 + i] as number);
  }
  return [ya, yb];
}

function fmaKernel(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const [c, x, s] = inputsOf(args, MulAdd, ['c', 'x', 's']) as [tf.TensorInfo, tf.TensorInfo, tf.TensorInfo];
  const out = backend.makeOutput([...c.shape], 'float32');
  const memory = wasmHeapMemory(backend) as WasmMemory;
  const size = tf.util.sizeFromShape(c.shape);
  const groups = Math.floor(size / 4);
  const [pc, px, ps, po] = [c, x, s, out].map((t) => heapOffset(backend, t)) as [number, number, number, number];
  if (groups > 0) fns(memory).fma(pc, px, ps, po, groups);
  const heap = new Float32Array(memory.buffer);
  // Math.fround after each operation: the float32 roundings of a multiply, then an add.
  for (let i = groups * 4; i < size; i++) heap[po / 4 + i] = Math.fround((heap[pc / 4 + i] as number) + Math.fround((heap[px / 4 + i] as number) * (heap[ps / 4 + i] as number)));
  return out;
}

/** True when the fused kernels run here (wasm with SIMD); registers them. */
export function fusedElementwiseAvailable(): boolean {
  if (tf.getBackend() !== 'wasm' || !simdSupported() || wasmHeapMemory(tf.backend()) === undefined) return false;
  if (tf.getKernel(MulPair, 'wasm') === undefined) {
    tf.registerKernel({ kernelName: MulPair, backendName: 'wasm', kernelFunc: pairKernel as unknown as tf.KernelFunc });
    tf.registerKernel({ kernelName: MulAdd, backendName: 'wasm', kernelFunc: fmaKernel as unknown as tf.KernelFunc });
  }
  return true;
}

/** [y ⊙ a, y ⊙ b] for same-shape float32 tensors: one pass on wasm, two `mul`s elsewhere. Not differentiable. */
export function mulPair(y: tf.Tensor, a: tf.Tensor, b: tf.Tensor): [tf.Tensor, tf.Tensor] {
  if (!fusedElementwiseAvailable() || y.dtype !== 'float32' || a.dtype !== 'float32' || b.dtype !== 'float32' || a.size !== y.size || b.size !== y.size) {
    return [tf.mul(y, a), tf.mul(y, b)];
  }
  const [ya, yb] = tf.engine().runKernel(MulPair, { y, a, b }) as unknown as [tf.Tensor, tf.Tensor];
  return [ya, yb];
}

/** c + x ⊙ s for same-shape float32 tensors: one pass on wasm, `mul` then `add` elsewhere. Not differentiable. */
export function mulAdd(c: tf.Tensor, x: tf.Tensor, s: tf.Tensor): tf.Tensor {
  if (!fusedElementwiseAvailable() || c.dtype !== 'float32' || x.dtype !== 'float32' || s.dtype !== 'float32' || x.size !== c.size || s.size !== c.size) {
    return tf.tidy(() => tf.add(c, tf.mul(x, s)));
  }
  return tf.engine().runKernel(MulAdd, { c, x, s }) as tf.Tensor;
}
