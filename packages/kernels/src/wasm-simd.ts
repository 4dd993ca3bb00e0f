import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * A minimal WebAssembly code emitter for small SIMD kernels that run on the wasm backend's own heap.
 * A kernel module imports the backend's `WebAssembly.Memory` (exported by the Emscripten module as
 * `asm.memory`), so it reads and writes tensors in place at their `memoryOffset`; the module is
 * generated at run time from the code below (no binary is shipped), and compiled once per shape.
 * Encoding: the WebAssembly core specification (binary format, §5) and the fixed-width SIMD proposal.
 */

/** The parts of the WebAssembly JS API used here (this project's TypeScript libs do not declare it). */
export interface WasmMemory {
  readonly buffer: ArrayBufferLike;
}
interface WasmApi {
  readonly Memory: abstract new (...args: never[]) => WasmMemory;
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
  validate(bytes: Uint8Array): boolean;
}
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** Value types. */
export const I32 = 0x7f;
export const V128 = 0x7b;

/** Unsigned LEB128. */
function uleb(n: number): number[] {
  const out: number[] = [];
  let v = n >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/** Signed LEB128 (32-bit). */
function sleb(n: number): number[] {
  const out: number[] = [];
  let v = n | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function name(s: string): number[] {
  const bytes = [...new TextEncoder().encode(s)];
  return [...uleb(bytes.length), ...bytes];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

/** Appends instructions to a function body; every method returns `this`. */
export class Code {
  readonly bytes: number[] = [];

  private simd(op: number): this {
    this.bytes.push(0xfd, ...uleb(op));
    return this;
  }

  get(local: number): this {
    this.bytes.push(0x20, ...uleb(local));
    return this;
  }
  set(local: number): this {
    this.bytes.push(0x21, ...uleb(local));
    return this;
  }
  i32(value: number): this {
    this.bytes.push(0x41, ...sleb(value));
    return this;
  }
  add(): this {
    this.bytes.push(0x6a);
    return this;
  }
  sub(): this {
    this.bytes.push(0x6b);
    return this;
  }
  ne(): this {
    this.bytes.push(0x47);
    return this;
  }
  /** `memory.copy` (bulk memory): dst, src, byte count on the stack. */
  memoryCopy(): this {
    this.bytes.push(0xfc, ...uleb(10), 0x00, 0x00);
    return this;
  }
  /** `local += delta` (i32). */
  inc(local: number, delta: number): this {
    return this.get(local).i32(delta).add().set(local);
  }
  /** `loop … end` whose body branches back (`br_if 0`) while `local != end` after `local += step`. */
  countedLoop(local: number, step: number, end: number, body: (c: this) => void): this {
    return this.loopUntil(local, step, () => this.i32(end), body);
  }
  /** {@link countedLoop} up to the value of the i32 local `endLocal` (a run-time bound, ≥ one step). */
  countedLoopTo(local: number, step: number, endLocal: number, body: (c: this) => void): this {
    return this.loopUntil(local, step, () => this.get(endLocal), body);
  }
  private loopUntil(local: number, step: number, pushEnd: () => void, body: (c: this) => void): this {
    this.bytes.push(0x03, 0x40);
    body(this);
    this.inc(local, step).get(local);
    pushEnd();
    this.ne();
    this.bytes.push(0x0d, 0x00, 0x0b);
    return this;
  }
  /** `v128.load` at the address on the stack plus a constant byte `offset` (4-byte alignment hint). */
  load(offset = 0): this {
    this.simd(0x00);
    this.bytes.push(...uleb(2), ...uleb(offset));
    return this;
  }
  /** `v128.load32_splat`: one float at the address on the stack plus `offset`, in all four lanes. */
  loadSplat(offset = 0): this {
    this.simd(0x09);
    this.bytes.push(...uleb(2), ...uleb(offset));
    return this;
  }
  /** `v128.store` (address, value on the stack) at a constant byte `offset`. */
  store(offset = 0): this {
    this.simd(0x0b);
    this.bytes.push(...uleb(2), ...uleb(offset));
    return this;
  }
  zero(): this {
    this.simd(0x0c);
    this.bytes.push(...new Array<number>(16).fill(0));
    return this;
  }
  f32x4Add(): this {
    return this.simd(0xe4);
  }
  f32x4Sub(): this {
    return this.simd(0xe5);
  }
  /** Lane-wise `a > b` as an all-ones / all-zeros mask. */
  f32x4Gt(): this {
    return this.simd(0x44);
  }
  /** Lane-wise `a < b` as an all-ones / all-zeros mask. */
  f32x4Lt(): this {
    return this.simd(0x43);
  }
  and(): this {
    return this.simd(0x4e);
  }
  f32x4Abs(): this {
    return this.simd(0xe0);
  }
  /** `v128.bitselect(a, b, mask)`: bits of `a` where the mask is set, of `b` elsewhere. */
  bitselect(): this {
    return this.simd(0x52);
  }
  /** Lane-wise `a <= b` as an all-ones / all-zeros mask. */
  f32x4Le(): this {
    return this.simd(0x45);
  }
  /** Lane-wise `a == b` as an all-ones / all-zeros mask. */
  f32x4Eq(): this {
    return this.simd(0x41);
  }
  /** `a & ~b`. */
  andNot(): this {
    return this.simd(0x4f);
  }
  or(): this {
    return this.simd(0x50);
  }
  /** `v128.const` with `value` (float32) in all four lanes. */
  f32x4Const(value: number): this {
    this.simd(0x0c);
    const bytes = new Uint8Array(new Float32Array([value, value, value, value]).buffer);
    this.bytes.push(...bytes);
    return this;
  }
  /**
   * `loop … end` run `count` times, `count` a runtime i32 in local `counter` (≥ 1, consumed: it ends
   * at 0).
   */
  repeat(counter: number, body: (c: this) => void): this {
    this.bytes.push(0x03, 0x40);
    body(this);
    this.get(counter).i32(1).sub().set(counter).get(counter);
    this.bytes.push(0x0d, 0x00, 0x0b);
    return this;
  }
  f32x4Mul(): this {
    return this.simd(0xe6);
  }
  f32x4Div(): this {
    return this.simd(0xe7);
  }
  f32x4Min(): this {
    return this.simd(0xe8);
  }
  f32x4Max(): this {
    return this.simd(0xe9);
  }
  /** Pseudo-minimum `b < a ? b : a` (one instruction on x64; `f32x4.min`'s NaN rules cost several). */
  f32x4Pmin(): this {
    return this.simd(0xea);
  }
  /** Pseudo-maximum `a < b ? b : a`. */
  f32x4Pmax(): this {
    return this.simd(0xeb);
  }
  /** Round to nearest, ties to even. */
  f32x4Nearest(): this {
    return this.simd(0x6a);
  }
  /** Float lanes to int32 lanes, truncating (saturating). */
  i32x4TruncSatF32x4S(): this {
    return this.simd(0xf8);
  }
  i32x4Add(): this {
    return this.simd(0xae);
  }
  /** `i32x4.shl` by the constant `bits`. */
  i32x4Shl(bits: number): this {
    this.i32(bits);
    return this.simd(0xab);
  }
  /** `v128.const` with the int32 `value` in all four lanes. */
  i32x4Const(value: number): this {
    this.simd(0x0c);
    const bytes = new Uint8Array(new Int32Array([value, value, value, value]).buffer);
    this.bytes.push(...bytes);
    return this;
  }
}

/** One exported function: its parameter types (all results are void) and extra locals. */
export interface FunctionDef {
  readonly name: string;
  readonly params: readonly number[];
  readonly locals: readonly number[];
  readonly body: Code;
}

/**
 * Encodes a module that imports memory `env.memory` (minimum 0 pages, no maximum: compatible with any
 * non-shared memory) and exports `fns`.
 */
export function encodeModule(fns: readonly FunctionDef[]): Uint8Array {
  const types = vec(fns.map((f) => [0x60, ...vec(f.params.map((t) => [t])), 0x00]));
  const imports = vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x00]]);
  const funcs = vec(fns.map((_, i) => uleb(i)));
  const exports = vec(fns.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]));
  const bodies = vec(
    fns.map((f) => {
      const groups: number[][] = f.locals.map((t) => [1, t]);
      const body = [...vec(groups), ...f.body.bytes, 0x0b];
      return [...uleb(body.length), ...body];
    }),
  );
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, types),
    ...section(2, imports),
    ...section(3, funcs),
    ...section(7, exports),
    ...section(10, bodies),
  ]);
}

/** The wasm backend's heap memory, or undefined when it cannot be imported (not wasm, shared memory, no SIMD). */
export function wasmHeapMemory(backend: tf.KernelBackend): WasmMemory | undefined {
  const mod = (backend as Partial<BackendWasm>).wasm as unknown as { asm?: { memory?: unknown } } | undefined;
  const memory = mod?.asm?.memory;
  if (!(memory instanceof wasmApi.Memory)) return undefined;
  if (typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer) return undefined;
  return memory;
}

let simdOk: boolean | undefined;

/** True when this runtime validates WebAssembly SIMD (a module using one `v128` op). */
export function simdSupported(): boolean {
  if (simdOk === undefined) {
    const body = new Code().zero().store(0);
    body.bytes.unshift(0x41, 0x00);
    try {
      simdOk = wasmApi.validate(encodeModule([{ name: 'f', params: [], locals: [], body }]));
    } catch {
      simdOk = false;
    }
  }
  return simdOk === true;
}

/** Instantiates `bytes` against `memory`; returns its exports. */
export function instantiate(bytes: Uint8Array, memory: WasmMemory): Record<string, unknown> {
  const module = new wasmApi.Module(bytes);
  return new wasmApi.Instance(module, { env: { memory } }).exports;
}

/** Byte offset of a tensor's data in the wasm heap. */
export function heapOffset(backend: BackendWasm, info: tf.TensorInfo): number {
  const offset = backend.dataIdMap.get(info.dataId)?.memoryOffset;
  if (offset === undefined) throw new Error('tensor is not on the wasm heap');
  return offset;
}

const compiledByMemory = new WeakMap<WasmMemory, Map<string, unknown>>();
/** Compiled kernels kept per heap memory; the oldest is dropped past this many. */
const MAX_COMPILED = 512;

/**
 * The compiled kernel for `key` on `memory`, built by `build` (instantiating a generated module) the first time.
 * One cache for every generated kernel of the package: keys start with the kernel's own prefix
 * (e.g. `gemm/32x64`), and a new heap memory (a re-initialised backend) starts afresh.
 */
export function compiledFor<T>(memory: WasmMemory, key: string, build: () => T): T {
  let cache = compiledByMemory.get(memory);
  if (cache === undefined) {
    cache = new Map();
    compiledByMemory.set(memory, cache);
  }
  let hit = cache.get(key) as T | undefined;
  if (hit === undefined) {
    hit = build();
    if (cache.size >= MAX_COMPILED) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
    cache.set(key, hit);
  }
  return hit;
}

type RowCopyFn = (src: number, dst: number, rows: number, rowBytes: number, srcStride: number, dstStride: number) => void;

/**
 * Copies `rows` runs of `rowBytes` bytes inside the heap, the source advancing `srcStride` and the destination
 * `dstStride` bytes per run, in one call into wasm (`memory.copy` per run): JavaScript's `copyWithin` costs a
 * native call per run, which dominates for the many short rows of an image batch.
 */
export function copyRows(memory: WasmMemory, src: number, dst: number, rows: number, rowBytes: number, srcStride: number, dstStride: number): void {
  if (rows <= 0 || rowBytes <= 0) return;
  const fn = compiledFor(memory, 'copy-rows', () => {
    const [SRC, DST, ROWS, BYTES, SS, DS] = [0, 1, 2, 3, 4, 5];
    const code = new Code();
    code.repeat(ROWS, (r) => {
      r.get(DST).get(SRC).get(BYTES).memoryCopy();
      r.get(SRC).get(SS).add().set(SRC).get(DST).get(DS).add().set(DST);
    });
    return instantiate(encodeModule([{ name: 'f', params: [I32, I32, I32, I32, I32, I32], locals: [], body: code }]), memory)['f'] as RowCopyFn;
  });
  fn(src, dst, rows, rowBytes, srcStride, dstStride);
}
