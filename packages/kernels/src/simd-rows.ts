import * as tf from '@tensorflow/tfjs-core';

import { Code, I32, V128, type FunctionDef } from './wasm-simd.js';

/**
 * Shared pieces of the generated row kernels (batch norm + activation, activation curvature terms): tensors with
 * channels on the last axis are processed row by row, four channels per `v128` lane group.
 */

/** Cephes `expf` constants: exp(t) = 2ⁿ·p(r), t = n·ln 2 + r, |r| ≤ ln2/2. */
export const LOG2E = 1.44269504088896341;
export const LN2_HI = 0.693359375;
export const LN2_LO = -2.12194440e-4;
export const EXP_POLY = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];


/**
 * Channels are handled in groups of four lanes: groups g < ⌊C/4⌋ at channel 4g and, when C is not a multiple of
 * 4, one last group over the row's last four channels (overlapping the previous group; elementwise passes write
 * the overlap twice with the same value, sums keep the group apart). `laneChannel` maps lanes to channels.
 */
export function layout(c: number): { groups: number; rowOffset: (v: number) => number; laneChannel: (l: number) => number } {
  const full = Math.floor(c / 4);
  const groups = c % 4 === 0 ? full : full + 1;
  const rowOffset = (v: number): number => (v < full ? v * 16 : (c - 4) * 4);
  const laneChannel = (l: number): number => {
    const v = Math.floor(l / 4);
    return v < full ? l : c - 4 + (l % 4);
  };
  return { groups, rowOffset, laneChannel };
}

/** Locals (v128) that the bodies use, after the parameters. */
export interface Locals {
  /** The local holding `value` in all four lanes (set once on entry: V8 materialises a `v128.const` in several instructions). */
  readonly konst: (value: number) => number;
  readonly Z: number;
  readonly S: number;
  readonly T: number;
  readonly N: number;
  readonly R: number;
  readonly D: number;
  /** Extra v128 locals asked for with `rowFunctions(c, extra)`: `E[0]`, `E[1]`, … */
  readonly E: readonly number[];
}

/** 1.5·2²³ + 127: adding it rounds to an integer n and leaves n + 127 in the low mantissa bits. */
export const MAGIC = 12583039;

/**
 * Pushes nothing; sets `S` = sigmoid(`Z`) = 1 / (1 + exp(−z)), exp by Cephes' range reduction and polynomial:
 * t = clamp(−z), n = round(t·log₂e) by the magic-number addition (whose bits, shifted, are 2ⁿ's), r = t − n·ln 2.
 * Pseudo-min/max and the magic number avoid `f32x4.min`/`max`/`trunc_sat`, which V8 lowers to several
 * instructions each on x64.
 */
export function sigmoid(code: Code, l: Locals): void {
  const k = l.konst;
  code.get(k(1));
  code.zero().get(l.Z).f32x4Sub().get(k(88)).f32x4Pmin().get(k(-87)).f32x4Pmax().set(l.T);
  // N holds the biased float n + MAGIC; its bits << 23 are 2ⁿ.
  code.get(l.T).get(k(LOG2E)).f32x4Mul().get(k(MAGIC)).f32x4Add().set(l.N);
  code.get(l.N).get(k(MAGIC)).f32x4Sub().set(l.D);
  code.get(l.T).get(l.D).get(k(LN2_HI)).f32x4Mul().f32x4Sub().get(l.D).get(k(LN2_LO)).f32x4Mul().f32x4Sub().set(l.R);
  code.get(k(EXP_POLY[0] as number));
  for (const c of EXP_POLY.slice(1)) code.get(l.R).f32x4Mul().get(k(c)).f32x4Add();
  code.get(l.R).get(l.R).f32x4Mul().f32x4Mul().get(l.R).f32x4Add().get(k(1)).f32x4Add();
  code.get(l.N).i32x4Shl(23).f32x4Mul();
  code.get(k(1)).f32x4Add().f32x4Div().set(l.S);
}


export interface WasmAlloc {
  _malloc(n: number): number;
  _free(p: number): void;
}

/** Scratch memory on the wasm heap, freed by {@link Scratch.free}; offsets are bytes. */
export class Scratch {
  private readonly pointers: number[] = [];
  constructor(private readonly wasm: WasmAlloc) {}
  alloc(bytes: number): number {
    const p = this.wasm._malloc(Math.max(16, bytes));
    this.pointers.push(p);
    return p;
  }
  free(): void {
    for (const p of this.pointers) this.wasm._free(p);
    this.pointers.length = 0;
  }
}

export interface Geometry {
  readonly m: number;
  readonly c: number;
  readonly groups: number;
  readonly laneChannel: (l: number) => number;
}

export function geometry(x: tf.TensorInfo): Geometry {
  const c = x.shape[x.shape.length - 1] ?? 1;
  const m = c === 0 ? 0 : tf.util.sizeFromShape(x.shape) / c;
  const { groups, laneChannel } = layout(c);
  return { m, c, groups, laneChannel };
}

/** A function of {@link rowFunctions}: pointers, then the row count. */
export type RowFn = (...pointersAndRows: number[]) => void;

/** The body of one row function for lane group `v` at byte offset `o` within the row. */
export type RowBody = (code: Code, v: number, o: number, l: Locals, acc: (k: number, v: number) => number) => void;

/**
 * The row-function builder for `c` channels: `fn(name, rowPointers, fixed, body, sums)` is a function of
 * `rowPointers` row-major tensors and `fixed` other pointers, then `rows`: the body runs once per row and group,
 * the row pointers advance one row per iteration. With `sums` > 0 the function also keeps `sums` accumulators per
 * group in locals (`acc(k, v)`), zeroed on entry and stored on exit at the last fixed pointer, sum k at byte
 * `k·lanes + 16v`. `lanes` is the byte size of one lane-expanded per-channel vector. `extra` more v128 locals are
 * available to the bodies as `l.E`.
 */
export function rowFunctions(c: number, extra = 0): { lanes: number; fn: (name: string, rowPointers: number, fixed: number, body: RowBody, sums?: number) => FunctionDef } {
  const row = c * 4;
  const { groups, rowOffset } = layout(c);
  const lanes = groups * 16;
  const fn = (
    name: string,
    rowPointers: number,
    fixed: number,
    body: RowBody,
    sums = 0,
  ): FunctionDef => {
    const params = rowPointers + fixed + 1;
    const rows = params - 1;
    const constants = new Map<number, number>();
    const firstConst = params + 6 + extra + sums * groups;
    const konst = (value: number): number => {
      const f = Math.fround(value);
      let local = constants.get(f);
      if (local === undefined) {
        local = firstConst + constants.size;
        constants.set(f, local);
      }
      return local;
    };
    const E = Array.from({ length: extra }, (_, i) => params + 6 + i);
    const l: Locals = { konst, Z: params, S: params + 1, T: params + 2, N: params + 3, R: params + 4, D: params + 5, E };
    const acc = (k: number, v: number): number => params + 6 + extra + k * groups + v;
    const code = new Code();
    for (let k = 0; k < sums; k++) for (let v = 0; v < groups; v++) code.zero().set(acc(k, v));
    code.repeat(rows, (r) => {
      for (let v = 0; v < groups; v++) body(r, v, rowOffset(v), l, acc);
      for (let i = 0; i < rowPointers; i++) r.inc(i, row);
    });
    const out = rows - 1;
    for (let k = 0; k < sums; k++) for (let v = 0; v < groups; v++) code.get(out).get(acc(k, v)).store(k * lanes + v * 16);
    const init = new Code();
    for (const [value, local] of constants) init.f32x4Const(value).set(local);
    init.bytes.push(...code.bytes);
    return { name, params: new Array<number>(params).fill(I32), locals: new Array<number>(6 + extra + sums * groups + constants.size).fill(V128), body: init };
  };
  return { lanes, fn };
}
