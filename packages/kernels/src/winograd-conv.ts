import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import { transposedProductOnHeap } from './pointwise-filter-grad.js';
import { gemmOnHeap, packTiles } from './pointwise-conv.js';
import { layout, Scratch, type WasmAlloc } from './simd-rows.js';
import { Code, compiledFor, copyRows, encodeModule, heapOffset, I32, instantiate, simdSupported, V128, wasmHeapMemory, type WasmMemory } from './wasm-simd.js';

/**
 * 3×3, stride-1, `same` convolutions (NHWC) by Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray, "Fast
 * Algorithms for Convolutional Neural Networks", 2016): every 2×2 output tile is Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A for
 * its 4×4 input window d, so the multiplications become 16 matrix products [tiles, C]·[C, K] — 2.25× fewer
 * than the direct convolution's — between an input transform and an output transform that only add.
 *
 * On wasm (128-bit SIMD, no fused multiply-add) the direct 3×3 convolutions of the small convnets run at the
 * arithmetic ceiling (≈ 30 GFLOP/s single-threaded); here the products run in the generated 4×8-tile kernel of
 * `pointwise-conv.ts` and the two transforms are generated SIMD passes, four channels per lane group (any channel
 * count from 4: the last group overlaps the one before). The batch goes through transform, products and inverse
 * transform in chunks that stay in cache ({@link CHUNK_BYTES}). Used for the forward convolution, for the input gradient of such layers (a stride-1 `same` convolution of dy
 * with the rotated filter, read rotated by the filter transform) and for the filter gradient (the adjoint of the
 * forward algorithm). Float32 throughout: values and gradients agree with the direct convolution's to about 1e-5
 * relative (tested against it).
 */

/** Kernel names (wasm only). */
export const WinogradConv2D = 'MitosisWinogradConv2D';
export const WinogradConv2DFilterGrad = 'MitosisWinogradConv2DFilterGrad';

/** Bᵀ rows: the input transform's row (then column) combinations. */
const INPUT_ROWS: readonly (readonly [number, number, -1 | 1])[] = [
  [0, 2, -1],
  [1, 2, 1],
  [2, 1, -1],
  [1, 3, -1],
];

type TileFn = (src: number, dst: number, tiles: number) => void;

/**
 * Emits `body` for every 4-channel group of `channels` (≥ 4) with the i32 local `G` at the group's byte offset: the
 * groups of `layout` (simd-rows.ts) — the full ones in a run-time loop (these bodies are too long to unroll), then,
 * when `channels` is not a multiple of 4, the last one on the last four channels. That one overlaps the group before
 * it and writes the same values there again (every output lane depends on its own channel only), so widths such as
 * 23 or 62 need no padded copy of the data.
 */
function forGroups(code: Code, G: number, channels: number, body: (g: Code) => void): void {
  const { groups, rowOffset } = layout(channels);
  const full = Math.floor(channels / 4);
  code.i32(0).set(G);
  code.countedLoop(G, 16, full * 16, body);
  if (groups > full) {
    code.i32(rowOffset(full)).set(G);
    body(code);
  }
}

/** `n` rounded up to a multiple of `m`. */
function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

/**
 * `inT(src, dst, tiles)`: for `tiles` tiles along one tile row, the 16 transformed 4-channel vectors
 * V[ξ] = (Bᵀ d B)[i][j] (ξ = 4i + j) of every channel group, from the 4×4 windows of the zero-padded input
 * (row stride `rowBytes`, C channels a pixel) at `src` (advancing 2 pixels per tile) to planes `planeBytes` apart at
 * `dst` (rows of `cv` ≥ C floats: advancing `cv` per tile).
 */
function emitInput(c: number, cv: number, rowBytes: number, planeBytes: number): Uint8Array {
  const [SRC, DST, CNT, G, SA, DA] = [0, 1, 2, 3, 4, 5];
  const L = (i: number, j: number): number => 6 + i * 4 + j;
  const R = (i: number, j: number): number => 22 + i * 4 + j;
  const code = new Code();
  code.repeat(CNT, (t) => {
    forGroups(t, G, c, (g) => {
      g.get(SRC).get(G).add().set(SA).get(DST).get(G).add().set(DA);
      for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) g.get(SA).load(i * rowBytes + j * c * 4).set(L(i, j));
      // Rows: R = Bᵀ d.
      INPUT_ROWS.forEach(([a, b, sign], i) => {
        for (let j = 0; j < 4; j++) {
          g.get(L(a, j)).get(L(b, j));
          if (sign < 0) g.f32x4Sub();
          else g.f32x4Add();
          g.set(R(i, j));
        }
      });
      // Columns: V = R B, stored plane by plane.
      for (let i = 0; i < 4; i++) {
        INPUT_ROWS.forEach(([a, b, sign], j) => {
          g.get(DA).get(R(i, a)).get(R(i, b));
          if (sign < 0) g.f32x4Sub();
          else g.f32x4Add();
          g.store((i * 4 + j) * planeBytes);
        });
      }
    });
    t.inc(SRC, 2 * c * 4).inc(DST, cv * 4);
  });
  return encodeModule([{ name: 'f', params: [I32, I32, I32], locals: [I32, I32, I32, ...new Array<number>(32).fill(V128)], body: code }]);
}

/**
 * `outT(src, dst, tiles)`: for `tiles` tiles along one tile row, the 2×2 outputs Aᵀ m A of every 4-channel
 * group from the 16 product planes (`planeBytes` apart, rows of `km` ≥ K floats) at `src` (advancing one row per
 * tile) to the output (row stride `rowBytes`, K channels a pixel) at `dst` (advancing 2 pixels per tile).
 */
function emitOutput(k: number, km: number, rowBytes: number, planeBytes: number): Uint8Array {
  const [SRC, DST, CNT, G, SA, DA] = [0, 1, 2, 3, 4, 5];
  const L = (i: number, j: number): number => 6 + i * 4 + j;
  const S = (r: number, j: number): number => 22 + r * 4 + j;
  const code = new Code();
  code.repeat(CNT, (t) => {
    forGroups(t, G, k, (g) => {
      g.get(SRC).get(G).add().set(SA).get(DST).get(G).add().set(DA);
      for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) g.get(SA).load((i * 4 + j) * planeBytes).set(L(i, j));
      // Rows: s0 = m0 + m1 + m2, s1 = m1 − m2 − m3.
      for (let j = 0; j < 4; j++) {
        g.get(L(0, j)).get(L(1, j)).f32x4Add().get(L(2, j)).f32x4Add().set(S(0, j));
        g.get(L(1, j)).get(L(2, j)).f32x4Sub().get(L(3, j)).f32x4Sub().set(S(1, j));
      }
      // Columns, stored: y[r][0] = s_r0 + s_r1 + s_r2, y[r][1] = s_r1 − s_r2 − s_r3.
      for (let r = 0; r < 2; r++) {
        g.get(DA).get(S(r, 0)).get(S(r, 1)).f32x4Add().get(S(r, 2)).f32x4Add().store(r * rowBytes);
        g.get(DA).get(S(r, 1)).get(S(r, 2)).f32x4Sub().get(S(r, 3)).f32x4Sub().store(r * rowBytes + k * 4);
      }
    });
    t.inc(SRC, km * 4).inc(DST, 2 * k * 4);
  });
  return encodeModule([{ name: 'f', params: [I32, I32, I32], locals: [I32, I32, I32, ...new Array<number>(24).fill(V128)], body: code }]);
}

/**
 * `dyT(src, dst, tiles)`: for `tiles` 2×2 tiles of an output gradient along one tile row, the 16 planes of
 * A·dY·Aᵀ (4×4, ξ = 4i + j; A = [[1,0],[1,1],[1,−1],[0,−1]], the adjoint of the output transform) of every
 * 4-channel group, from dy (row stride `rowBytes`, K channels a pixel) at `src` (advancing 2 pixels per tile) to
 * planes `planeBytes` apart at `dst` (rows of `km` ≥ K floats: advancing `km` per tile).
 */
function emitOutputGrad(k: number, km: number, rowBytes: number, planeBytes: number): Uint8Array {
  const [SRC, DST, CNT, G, SA, DA] = [0, 1, 2, 3, 4, 5];
  const Y = (i: number, j: number): number => 6 + i * 2 + j;
  const T = (i: number, j: number): number => 10 + i * 2 + j;
  const code = new Code();
  code.repeat(CNT, (t) => {
    forGroups(t, G, k, (g) => {
      g.get(SRC).get(G).add().set(SA).get(DST).get(G).add().set(DA);
      for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) g.get(SA).load(i * rowBytes + j * k * 4).set(Y(i, j));
      // Rows: A·dY = [y0, y0 + y1, y0 − y1, −y1] (T keeps rows 1 and 2; rows 0 and 3 are read from Y).
      for (let j = 0; j < 2; j++) {
        g.get(Y(0, j)).get(Y(1, j)).f32x4Add().set(T(0, j));
        g.get(Y(0, j)).get(Y(1, j)).f32x4Sub().set(T(1, j));
      }
      /** Pushes entry (i, j) of A·dY. */
      const push = (i: number, j: number): void => {
        if (i === 0) g.get(Y(0, j));
        else if (i === 1) g.get(T(0, j));
        else if (i === 2) g.get(T(1, j));
        else g.zero().get(Y(1, j)).f32x4Sub();
      };
      // Columns: (A·dY)·Aᵀ = [u, u + w, u − w, −w] for each row [u, w].
      for (let i = 0; i < 4; i++) {
        const at = (j: number): number => (i * 4 + j) * planeBytes;
        g.get(DA);
        push(i, 0);
        g.store(at(0));
        g.get(DA);
        push(i, 0);
        push(i, 1);
        g.f32x4Add().store(at(1));
        g.get(DA);
        push(i, 0);
        push(i, 1);
        g.f32x4Sub().store(at(2));
        g.get(DA).zero();
        push(i, 1);
        g.f32x4Sub().store(at(3));
      }
    });
    t.inc(SRC, 2 * k * 4).inc(DST, km * 4);
  });
  return encodeModule([{ name: 'f', params: [I32, I32, I32], locals: [I32, I32, I32, ...new Array<number>(8).fill(V128)], body: code }]);
}

function tileFn(memory: WasmMemory, key: string, emit: () => Uint8Array): TileFn {
  return compiledFor(memory, `winograd/${key}`, () => instantiate(emit(), memory)['f'] as TileFn);
}

/**
 * U = G g Gᵀ for every (c, k): `[16, Cp, Kp]` (ξ = 4i + j; rows from C to Cp and columns from K to Kp zero), from the
 * filter `[3, 3, C, K]`; with `rotated`, from a filter `[3, 3, K, C]` turned by 180° with its channel axes swapped
 * (the convolution that gives a layer's input gradient).
 */
function transformFilter(filter: Float32Array, c: number, k: number, cp: number, kp: number, rotated = false): Float32Array {
  const u = new Float32Array(16 * cp * kp);
  const plane = c * k;
  const uPlane = cp * kp;
  const g = new Float64Array(9);
  const gg = new Float64Array(12);
  for (let ci = 0; ci < c; ci++) {
    for (let ki = 0; ki < k; ki++) {
      if (rotated) for (let t = 0; t < 9; t++) g[t] = filter[(8 - t) * plane + ki * c + ci] as number;
      else for (let t = 0; t < 9; t++) g[t] = filter[t * plane + ci * k + ki] as number;
      // G g (4 × 3): rows g0, (g0+g1+g2)/2, (g0−g1+g2)/2, g2 of the filter's rows.
      for (let b = 0; b < 3; b++) {
        const [g0, g1, g2] = [g[b] as number, g[3 + b] as number, g[6 + b] as number];
        gg[b] = g0;
        gg[3 + b] = 0.5 * (g0 + g1 + g2);
        gg[6 + b] = 0.5 * (g0 - g1 + g2);
        gg[9 + b] = g2;
      }
      // (G g) Gᵀ (4 × 4), the same combinations along each row.
      for (let i = 0; i < 4; i++) {
        const [a0, a1, a2] = [gg[i * 3] as number, gg[i * 3 + 1] as number, gg[i * 3 + 2] as number];
        const o = ci * kp + ki;
        u[(i * 4) * uPlane + o] = a0;
        u[(i * 4 + 1) * uPlane + o] = 0.5 * (a0 + a1 + a2);
        u[(i * 4 + 2) * uPlane + o] = 0.5 * (a0 - a1 + a2);
        u[(i * 4 + 3) * uPlane + o] = a2;
      }
    }
  }
  return u;
}

/** Whether the Winograd path takes this convolution: see {@link winogradConv2dApplies}. */
function applies(xShape: readonly number[], filterShape: readonly number[]): boolean {
  const [, h, w, c] = xShape as [number, number, number, number];
  const [kh, kw, fc, k] = filterShape as [number, number, number, number];
  // Channels: at least one group of 4 each side, C·K ≥ 64. Until the transforms ran in cache-sized chunks they cost
  // more than they saved below 16 input channels (32×32×8 → 64 0.92× the direct convolution's speed); measured since
  // (wasm, batch 64, forward and both gradients against XNNPACK and the direct kernels): 28×28×8 → 32 32.1 → 21.0
  // ms, 28×28×4 → 16 10.6 → 10.5, 14×14×8 → 8 3.0 → 1.6–1.9, 14×14×16 → 8 3.6 → 3.1, 2×2×32 → 64 2.3 → 1.9. Widths
  // that are not multiples of 4 (C) and 8 (K) run padded to those in the products (see {@link Tiling}) when that
  // wastes at most a quarter of them.
  // Images of no pixels go elsewhere (the generated tile loops run at least once).
  const shapeOk = kh === 3 && kw === 3 && fc === c && h > 0 && w > 0 && h % 2 === 0 && w % 2 === 0;
  return shapeOk && c >= 4 && k >= 4 && c * k >= 64 && c * k >= 0.75 * roundUp(c, 4) * roundUp(k, 8);
}

/**
 * Tile geometry of a convolution of `x` `[N, H, W, C]` (H, W even) to K channels, and its chunks. The batch is a
 * sequence of N·H/2 tile rows (each W/2 tiles); they go in chunks of `per` tile rows, across image boundaries, so
 * that a chunk's transformed planes and products stay in the processor's cache between the transform that writes
 * them and the products that read them.
 */
interface Tiling {
  readonly n: number;
  readonly h: number;
  readonly w: number;
  readonly c: number;
  readonly k: number;
  /**
   * C and K as the products take them: rounded up to multiples of 4 and 8. The transformed input planes have rows of
   * Cp floats (columns C to Cp zero in the forward pass, where they meet U's zero rows), the products and the
   * transformed output gradient rows of Kp; the transforms read and write the C or K channels of each pixel in
   * groups of 4, the last one overlapping (see {@link forGroups}).
   */
  readonly cp: number;
  readonly kp: number;
  readonly th: number;
  readonly tw: number;
  /** Width of the zero-padded input (one pixel each side). */
  readonly wp: number;
  /** Tile rows in the batch, and per chunk. */
  readonly tileRows: number;
  readonly per: number;
  /** Rows of a full chunk's product planes: its tiles rounded up to a multiple of 4. */
  readonly rows: number;
  /**
   * Byte strides of the 16 planes of C channels (the transformed input) and of K channels (products, transformed
   * output gradient): `rows` rows, plus one cache line where that makes an even number of lines, so that the
   * transforms' 16 streams fall in different cache sets (a stride of a multiple of 4 KiB put them all in one set:
   * the full convnet's step took 42 ms instead of 36 with chunks of 18 tile rows).
   */
  readonly vPlane: number;
  readonly mPlane: number;
  /** Bytes of a chunk's padded input rows. */
  readonly xpBytes: number;
}

/** `bytes` (a multiple of 64) made an odd number of 64-byte cache lines. */
function oddLines(bytes: number): number {
  return (bytes / 64) % 2 === 1 ? bytes : bytes + 64;
}

/**
 * Bytes of product planes (the transformed input and the products, or the transformed output gradient) one chunk
 * may take. Measured on the full convnet-mnist step (conv 14×14×32 → 64, batch 64; 1 MiB of L2 per core): 41.7–42.6
 * ms with the whole batch at once (every plane went out to memory and back), 36.1–36.2 ms at 1 MiB, 35.2–37.4 ms
 * anywhere from 512 KiB to 2 MiB.
 */
const CHUNK_BYTES = 1024 * 1024;

function tiling(xShape: readonly number[], k: number): Tiling {
  const [n, h, w, c] = xShape as [number, number, number, number];
  const [th, tw] = [h / 2, w / 2];
  const tileRows = n * th;
  const [cp, kp] = [roundUp(c, 4), roundUp(k, 8)];
  const per = Math.max(1, Math.min(tileRows, Math.floor(CHUNK_BYTES / (16 * tw * (cp + kp) * 4))));
  const rows = Math.ceil((per * tw) / 4) * 4;
  // A chunk's tile rows lie in at most ⌈per/th⌉ + 1 images; each image's run of r tile rows reads 2r + 2 padded rows.
  const xpRows = 2 * per + 2 * (Math.ceil(per / th) + 1);
  const [vPlane, mPlane] = [oddLines(rows * cp * 4), oddLines(rows * kp * 4)];
  return { n, h, w, c, k, cp, kp, th, tw, wp: w + 2, tileRows, per, rows, vPlane, mPlane, xpBytes: xpRows * (w + 2) * c * 4 };
}

/** Calls `each(b, ty, i)` for the tile rows [r0, r1) of the batch: image b, tile row ty in it, i-th in the chunk. */
function forTileRows(t: Tiling, r0: number, r1: number, each: (b: number, ty: number, i: number) => void): void {
  for (let r = r0; r < r1; r++) each(Math.floor(r / t.th), r % t.th, r - r0);
}

/**
 * The input transform of the tile rows [r0, r1) of `x` (at heap byte offset `xOff`): the padded rows they read, image
 * by image, into `xp` (zeros outside the image), then the 16 planes V[ξ] (`t.vPlane` bytes apart) into `v`; the rows from
 * the last tile to the next multiple of 4 are zeroed (the products run on them: the filter gradient sums them).
 */
function transformInput(memory: WasmMemory, t: Tiling, r0: number, r1: number, xOff: number, xp: number, v: number): void {
  const { h, w, c, cp, th, tw, wp, vPlane } = t;
  const heap = new Float32Array(memory.buffer);
  const row = wp * c;
  const inT = tileFn(memory, `in/${c}/${cp}/${wp}/${vPlane}`, () => emitInput(c, cp, wp * c * 4, vPlane));
  let seg = xp / 4;
  for (let r = r0; r < r1; ) {
    const [b, ty0] = [Math.floor(r / th), r % th];
    const ty1 = Math.min(th, ty0 + (r1 - r));
    // Padded rows 2·ty0 … 2·ty1 + 1 (padded row p is the image's row p − 1).
    const first = 2 * ty0;
    const count = 2 * (ty1 - ty0) + 2;
    const lo = Math.max(first, 1);
    const hi = Math.min(first + count, h + 1);
    for (let p = first; p < first + count; p++) {
      const at = seg + (p - first) * row;
      if (p < lo || p >= hi) heap.fill(0, at, at + row);
      else {
        heap.fill(0, at, at + c);
        heap.fill(0, at + row - c, at + row);
      }
    }
    copyRows(memory, xOff + ((b * h + lo - 1) * w) * c * 4, (seg + (lo - first) * row + c) * 4, hi - lo, w * c * 4, w * c * 4, row * 4);
    for (let ty = ty0; ty < ty1; ty++) inT((seg + 2 * (ty - ty0) * row) * 4, v + (r - r0 + ty - ty0) * tw * cp * 4, tw);
    seg += count * row;
    r += ty1 - ty0;
  }
  const tiles = (r1 - r0) * tw;
  const used = Math.ceil(tiles / 4) * 4;
  if (used > tiles) for (let p = 0; p < 16; p++) heap.fill(0, (v + p * vPlane) / 4 + tiles * cp, (v + p * vPlane) / 4 + used * cp);
}

function winogradConv2dKernel(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const x = args.inputs['x'];
  const filter = args.inputs['filter'];
  if (x === undefined || filter === undefined || x.dtype !== 'float32' || filter.dtype !== 'float32') {
    throw new Error(`${WinogradConv2D}: float32 x and filter are required`);
  }
  // `rotated`: filter [3, 3, K, C] used turned by 180° with its channel axes swapped (an input gradient).
  const rotated = args.attrs?.['rotated'] === true;
  const convFilter = rotated ? [3, 3, filter.shape[3] as number, filter.shape[2] as number] : filter.shape;
  if (!applies(x.shape, convFilter)) throw new Error(`${WinogradConv2D}: unsupported shapes [${x.shape.join(',')}], [${filter.shape.join(',')}]`);
  const k = convFilter[3] as number;
  const t = tiling(x.shape, k);
  const { n, h, w, c, cp, kp, tw, tileRows, per, vPlane, mPlane } = t;
  const out = backend.makeOutput([n, h, w, k], 'float32');
  const scratch = new Scratch(backend.wasm as unknown as WasmAlloc);
  try {
    const xp = scratch.alloc(t.xpBytes);
    const v = scratch.alloc(16 * vPlane);
    const m = scratch.alloc(16 * mPlane);
    const up = scratch.alloc(16 * cp * kp * 4);
    // Offsets and views after every allocation (an allocation may grow the heap).
    const memory = wasmHeapMemory(backend) as WasmMemory;
    const heap = new Float32Array(memory.buffer);
    const fOff = heapOffset(backend, filter) / 4;
    const u = transformFilter(heap.subarray(fOff, fOff + 9 * c * k), c, k, cp, kp, rotated);
    const uPlane = cp * kp;
    for (let p = 0; p < 16; p++) packTiles(u.subarray(p * uPlane, (p + 1) * uPlane), heap.subarray(up / 4 + p * uPlane, up / 4 + (p + 1) * uPlane), cp, kp);
    // The planes' columns C to Cp, which no transform writes, meet U's zero rows: zeros, not whatever was there.
    if (cp > c) heap.fill(0, v / 4, v / 4 + 4 * vPlane);
    const [xOff, yOff] = [heapOffset(backend, x), heapOffset(backend, out)];
    const outT = tileFn(memory, `out/${k}/${kp}/${w}/${mPlane}`, () => emitOutput(k, kp, w * k * 4, mPlane));
    for (let r0 = 0; r0 < tileRows; r0 += per) {
      const r1 = Math.min(tileRows, r0 + per);
      transformInput(memory, t, r0, r1, xOff, xp, v);
      const used = Math.ceil(((r1 - r0) * tw) / 4) * 4;
      for (let p = 0; p < 16; p++) gemmOnHeap(memory, v + p * vPlane, up + p * uPlane * 4, m + p * mPlane, used, cp, kp);
      forTileRows(t, r0, r1, (b, ty, i) => outT(m + i * tw * kp * 4, yOff + (b * h + 2 * ty) * w * k * 4, tw));
    }
  } finally {
    scratch.free();
  }
  return out;
}

/**
 * The filter gradient of the same convolution, the adjoint of the forward algorithm: with U = G g Gᵀ,
 * ∂L/∂U = Σ_tiles (A dY Aᵀ) ⊙ (Bᵀ d B) — 16 products V[ξ]ᵀ·D[ξ] `[C, K]` summed over the tiles, chunk by chunk — and
 * ∂L/∂g = Gᵀ (∂L/∂U) G.
 */
function winogradFilterGradKernel(args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const x = args.inputs['x'];
  const dy = args.inputs['dy'];
  if (x === undefined || dy === undefined || x.dtype !== 'float32' || dy.dtype !== 'float32') {
    throw new Error(`${WinogradConv2DFilterGrad}: float32 x and dy are required`);
  }
  const k = dy.shape[3] as number;
  if (!applies(x.shape, [3, 3, x.shape[3] as number, k]) || dy.shape.slice(0, 3).some((d, i) => d !== x.shape[i])) {
    throw new Error(`${WinogradConv2DFilterGrad}: unsupported shapes [${x.shape.join(',')}], [${dy.shape.join(',')}]`);
  }
  const t = tiling(x.shape, k);
  const { h, w, c, cp, kp, tw, tileRows, per, vPlane, mPlane } = t;
  const out = backend.makeOutput([3, 3, c, k], 'float32');
  const scratch = new Scratch(backend.wasm as unknown as WasmAlloc);
  try {
    const xp = scratch.alloc(t.xpBytes);
    const v = scratch.alloc(16 * vPlane);
    const d = scratch.alloc(16 * mPlane);
    const mm = scratch.alloc(16 * cp * kp * 4);
    const memory = wasmHeapMemory(backend) as WasmMemory;
    const heap = new Float32Array(memory.buffer);
    const [xOff, dyOff] = [heapOffset(backend, x), heapOffset(backend, dy)];
    const dyT = tileFn(memory, `dy/${k}/${kp}/${w}/${mPlane}`, () => emitOutputGrad(k, kp, w * k * 4, mPlane));
    if (tileRows === 0) heap.fill(0, mm / 4, mm / 4 + 16 * cp * kp);
    for (let r0 = 0; r0 < tileRows; r0 += per) {
      const r1 = Math.min(tileRows, r0 + per);
      transformInput(memory, t, r0, r1, xOff, xp, v);
      const tiles = (r1 - r0) * tw;
      const used = Math.ceil(tiles / 4) * 4;
      if (used > tiles) for (let p = 0; p < 16; p++) heap.fill(0, (d + p * mPlane) / 4 + tiles * kp, (d + p * mPlane) / 4 + used * kp);
      forTileRows(t, r0, r1, (b, ty, i) => dyT(dyOff + (b * h + 2 * ty) * w * k * 4, d + i * tw * kp * 4, tw));
      // Summed over the chunks: the first overwrites, the others add. Rows from C and columns from K of the sums
      // (the planes' padding) are not read.
      for (let p = 0; p < 16; p++) transposedProductOnHeap(memory, v + p * vPlane, d + p * mPlane, mm + p * cp * kp * 4, used, cp, kp, r0 > 0);
    }
    // ∂L/∂g = Gᵀ M G per (c, k), G = [[1,0,0],[½,½,½],[½,−½,½],[0,0,1]].
    const plane = c * k;
    const mPlaneFloats = cp * kp;
    const m0 = mm / 4;
    const o = heapOffset(backend, out) / 4;
    const p = new Float64Array(12);
    for (let e = 0; e < plane; e++) {
      const at = m0 + Math.floor(e / k) * kp + (e % k);
      for (let i = 0; i < 4; i++) {
        const [a0, a1, a2, a3] = [0, 1, 2, 3].map((j) => heap[at + (i * 4 + j) * mPlaneFloats] as number) as [number, number, number, number];
        p[i * 3] = a0 + 0.5 * (a1 + a2);
        p[i * 3 + 1] = 0.5 * (a1 - a2);
        p[i * 3 + 2] = 0.5 * (a1 + a2) + a3;
      }
      for (let b = 0; b < 3; b++) {
        const [q0, q1, q2, q3] = [p[b] as number, p[3 + b] as number, p[6 + b] as number, p[9 + b] as number];
        heap[o + b * plane + e] = q0 + 0.5 * (q1 + q2);
        heap[o + (3 + b) * plane + e] = 0.5 * (q1 - q2);
        heap[o + (6 + b) * plane + e] = 0.5 * (q1 + q2) + q3;
      }
    }
  } finally {
    scratch.free();
  }
  return out;
}

/**
 * True when {@link winogradConv2d} takes a convolution of `x` `[N, H, W, C]` with `filter` `[3, 3, C, K]` here
 * (stride 1, `same` padding and dilation 1 are the caller's to check): wasm with SIMD, H and W even, C and K at least 4,
 * C·K ≥ 64, and at most a quarter of the products spent on padding C to a multiple of 4 and K of 8. Registers the kernels. The batch goes in chunks of tile rows
 * whose planes take about 1 MiB (see {@link CHUNK_BYTES}).
 */
export function winogradConv2dApplies(xShape: readonly number[], filterShape: readonly number[]): boolean {
  if (!applies(xShape, filterShape) || tf.getBackend() !== 'wasm' || !simdSupported() || wasmHeapMemory(tf.backend()) === undefined) return false;
  if (tf.getKernel(WinogradConv2D, 'wasm') === undefined) {
    tf.registerKernel({ kernelName: WinogradConv2D, backendName: 'wasm', kernelFunc: winogradConv2dKernel as unknown as tf.KernelFunc });
  }
  if (tf.getKernel(WinogradConv2DFilterGrad, 'wasm') === undefined) {
    tf.registerKernel({ kernelName: WinogradConv2DFilterGrad, backendName: 'wasm', kernelFunc: winogradFilterGradKernel as unknown as tf.KernelFunc });
  }
  return true;
}

/**
 * The 3×3, stride-1, `same` convolution of `x` with `filter` by F(2×2, 3×3); only when {@link winogradConv2dApplies}.
 */
export function winogradConv2d(x: tf.Tensor4D, filter: tf.Tensor4D): tf.Tensor4D {
  return tf.engine().runKernel(WinogradConv2D, { x, filter }) as tf.Tensor4D;
}

/**
 * The input gradient `[N, H, W, C]` of a 3×3, stride-1, `same` convolution with `filter` `[3, 3, C, K]`, for the
 * output gradient `dy` `[N, H, W, K]`: the convolution of dy with the filter turned by 180° and its channel axes
 * swapped, which the filter transform reads directly (no rotated copy). Only when
 * {@link winogradConv2dApplies}(dy.shape, [3, 3, K, C]).
 */
export function winogradConv2dInputGrad(dy: tf.Tensor4D, filter: tf.Tensor4D): tf.Tensor4D {
  return tf.engine().runKernel(WinogradConv2D, { x: dy, filter }, { rotated: true }) as tf.Tensor4D;
}

/**
 * The filter gradient `[3, 3, C, K]` of that convolution for input `x` and output gradient `dy` `[N, H, W, K]`;
 * only when {@link winogradConv2dApplies}(x.shape, [3, 3, C, K]).
 */
export function winogradConv2dFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D): tf.Tensor4D {
  return tf.engine().runKernel(WinogradConv2DFilterGrad, { x, dy }) as tf.Tensor4D;
}
