import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import { transposedProductOnHeap } from './pointwise-filter-grad.js';
import { gemmOnHeap, packTiles } from './pointwise-conv.js';
import { Scratch, type WasmAlloc } from './simd-rows.js';
import { Code, compiledFor, copyRows, encodeModule, heapOffset, I32, instantiate, simdSupported, V128, wasmHeapMemory, type WasmMemory } from './wasm-simd.js';

/**
 * 3×3, stride-1, `same` convolutions (NHWC) by Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray, "Fast
 * Algorithms for Convolutional Neural Networks", 2016): every 2×2 output tile is Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A for
 * its 4×4 input window d, so the multiplications become 16 matrix products [tiles, C]·[C, K] — 2.25× fewer
 * than the direct convolution's — between an input transform and an output transform that only add.
 *
 * On wasm (128-bit SIMD, no fused multiply-add) the direct 3×3 convolutions of the small convnets run at the
 * arithmetic ceiling (≈ 30 GFLOP/s single-threaded); here the products run in the generated 4×8-tile kernel of
 * `pointwise-conv.ts` and the two transforms are generated SIMD passes, four channels per lane group.
 * Used for the forward convolution, for the input gradient of such layers (a stride-1 `same` convolution of dy
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
 * `inT(src, dst, tiles)`: for `tiles` tiles along one tile row, the 16 transformed 4-channel vectors
 * V[ξ] = (Bᵀ d B)[i][j] (ξ = 4i + j) of every channel group, from the 4×4 windows of the zero-padded input
 * (row stride `rowBytes`) at `src` (advancing 2 pixels per tile) to planes `planeBytes` apart at `dst`
 * (advancing one row of C per tile).
 */
function emitInput(c: number, rowBytes: number, planeBytes: number): Uint8Array {
  const [SRC, DST, CNT, G, SA, DA] = [0, 1, 2, 3, 4, 5];
  const L = (i: number, j: number): number => 6 + i * 4 + j;
  const R = (i: number, j: number): number => 22 + i * 4 + j;
  const code = new Code();
  code.repeat(CNT, (t) => {
    t.i32(0).set(G);
    t.countedLoop(G, 16, c * 4, (g) => {
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
    t.inc(SRC, 2 * c * 4).inc(DST, c * 4);
  });
  return encodeModule([{ name: 'f', params: [I32, I32, I32], locals: [I32, I32, I32, ...new Array<number>(32).fill(V128)], body: code }]);
}

/**
 * `outT(src, dst, tiles)`: for `tiles` tiles along one tile row, the 2×2 outputs Aᵀ m A of every 4-channel
 * group from the 16 product planes (`planeBytes` apart) at `src` (advancing one row of K per tile) to the
 * output (row stride `rowBytes`) at `dst` (advancing 2 pixels per tile).
 */
function emitOutput(k: number, rowBytes: number, planeBytes: number): Uint8Array {
  const [SRC, DST, CNT, G, SA, DA] = [0, 1, 2, 3, 4, 5];
  const L = (i: number, j: number): number => 6 + i * 4 + j;
  const S = (r: number, j: number): number => 22 + r * 4 + j;
  const code = new Code();
  code.repeat(CNT, (t) => {
    t.i32(0).set(G);
    t.countedLoop(G, 16, k * 4, (g) => {
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
    t.inc(SRC, k * 4).inc(DST, 2 * k * 4);
  });
  return encodeModule([{ name: 'f', params: [I32, I32, I32], locals: [I32, I32, I32, ...new Array<number>(24).fill(V128)], body: code }]);
}

/**
 * `dyT(src, dst, tiles)`: for `tiles` 2×2 tiles of an output gradient along one tile row, the 16 planes of
 * A·dY·Aᵀ (4×4, ξ = 4i + j; A = [[1,0],[1,1],[1,−1],[0,−1]], the adjoint of the output transform) of every
 * 4-channel group, from dy (row stride `rowBytes`) at `src` (advancing 2 pixels per tile) to planes
 * `planeBytes` apart at `dst` (advancing one row of K per tile).
 */
function emitOutputGrad(k: number, rowBytes: number, planeBytes: number): Uint8Array {
  const [SRC, DST, CNT, G, SA, DA] = [0, 1, 2, 3, 4, 5];
  const Y = (i: number, j: number): number => 6 + i * 2 + j;
  const T = (i: number, j: number): number => 10 + i * 2 + j;
  const code = new Code();
  code.repeat(CNT, (t) => {
    t.i32(0).set(G);
    t.countedLoop(G, 16, k * 4, (g) => {
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
    t.inc(SRC, 2 * k * 4).inc(DST, k * 4);
  });
  return encodeModule([{ name: 'f', params: [I32, I32, I32], locals: [I32, I32, I32, ...new Array<number>(8).fill(V128)], body: code }]);
}

function tileFn(memory: WasmMemory, key: string, emit: () => Uint8Array): TileFn {
  return compiledFor(memory, `winograd/${key}`, () => instantiate(emit(), memory)['f'] as TileFn);
}

/**
 * U = G g Gᵀ for every (c, k): `[16, C, K]` (ξ = 4i + j), from the filter `[3, 3, C, K]`; with `rotated`, from a
 * filter `[3, 3, K, C]` turned by 180° with its channel axes swapped (the convolution that gives a layer's input
 * gradient).
 */
function transformFilter(filter: Float32Array, c: number, k: number, rotated = false): Float32Array {
  const u = new Float32Array(16 * c * k);
  const plane = c * k;
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
        const o = ci * k + ki;
        u[(i * 4) * plane + o] = a0;
        u[(i * 4 + 1) * plane + o] = 0.5 * (a0 + a1 + a2);
        u[(i * 4 + 2) * plane + o] = 0.5 * (a0 - a1 + a2);
        u[(i * 4 + 3) * plane + o] = a2;
      }
    }
  }
  return u;
}

/** Whether the Winograd path takes this convolution: see {@link winogradConv2dApplies}. */
function applies(xShape: readonly number[], filterShape: readonly number[]): boolean {
  const [, h, w, c] = xShape as [number, number, number, number];
  const [kh, kw, fc, k] = filterShape as [number, number, number, number];
  // Small channel counts: the transforms' memory traffic outweighs the saved multiplications (measured on wasm,
  // batch 64: 32×32×8 → 64 0.92× the direct convolution's speed, 16×16×16 → 32 0.97×, 28×28×16 → 32 1.33×,
  // 14×14×32 → 64 1.75×, 14×14×64 → 128 2.15×).
  return kh === 3 && kw === 3 && fc === c && h % 2 === 0 && w % 2 === 0 && c % 4 === 0 && k % 8 === 0 && c >= 16 && c * k >= 512;
}

/** Tile geometry of a convolution of `x` `[N, H, W, C]` (H, W even). */
interface Tiles {
  readonly n: number;
  readonly h: number;
  readonly w: number;
  readonly c: number;
  readonly th: number;
  readonly tw: number;
  /** Tiles, and the rows of the product planes (tiles rounded up to a multiple of 4). */
  readonly tiles: number;
  readonly rows: number;
  /** Height and width of the zero-padded input. */
  readonly hp: number;
  readonly wp: number;
}

/** Bytes of product planes (V and the products or D) one chunk of images may take: the heap stays bounded. */
const CHUNK_BYTES = 24 * 1024 * 1024;

/** Images per chunk for a convolution of C → K channels at `th`×`tw` tiles per image (at least 1). */
function imagesPerChunk(n: number, th: number, tw: number, c: number, k: number): number {
  return Math.max(1, Math.min(n, Math.floor(CHUNK_BYTES / (16 * th * tw * (c + k) * 4))));
}

function tilesOf(xShape: readonly number[]): Tiles {
  const [n, h, w, c] = xShape as [number, number, number, number];
  const [th, tw] = [h / 2, w / 2];
  const tiles = n * th * tw;
  return { n, h, w, c, th, tw, tiles, rows: Math.ceil(tiles / 4) * 4, hp: h + 2, wp: w + 2 };
}

/**
 * How a convolution of `x` `[N, H, W, C]` to K channels goes in chunks of images: the whole batch's tiles, the images
 * per chunk, the largest chunk's tiles, and the byte sizes of its padded input and its 16 transformed planes.
 */
function chunking(xShape: readonly number[], k: number): Tiles & { per: number; most: Tiles; xpBytes: number; vBytes: number } {
  const all = tilesOf(xShape);
  const per = imagesPerChunk(all.n, all.th, all.tw, all.c, k);
  const most = tilesOf([per, all.h, all.w, all.c]);
  return { ...all, per, most, xpBytes: per * most.hp * most.wp * all.c * 4, vBytes: 16 * most.rows * all.c * 4 };
}

/**
 * The input transform: `x` (at heap byte offset `xOff`) zero-padded by one pixel into `xp`, then the 16 planes
 * V[ξ] `[rows, C]` into `v` (rows past the last tile zeroed: the products run on them, no result reads them).
 */
function transformInput(memory: WasmMemory, t: Tiles, xOff: number, xp: number, v: number): void {
  const { n, h, w, c, th, tw, tiles, rows, hp, wp } = t;
  const heap = new Float32Array(memory.buffer);
  // Only the one-pixel border is zeroed: the copy fills the interior.
  const row = wp * c;
  for (let b = 0; b < n; b++) {
    const image = xp / 4 + b * hp * row;
    heap.fill(0, image, image + row);
    heap.fill(0, image + (hp - 1) * row, image + hp * row);
    for (let y = 1; y < hp - 1; y++) {
      heap.fill(0, image + y * row, image + y * row + c);
      heap.fill(0, image + (y + 1) * row - c, image + (y + 1) * row);
    }
  }
  for (let b = 0; b < n; b++) copyRows(memory, xOff + b * h * w * c * 4, xp + ((b * hp + 1) * wp + 1) * c * 4, h, w * c * 4, w * c * 4, wp * c * 4);
  if (rows > tiles) for (let p = 0; p < 16; p++) heap.fill(0, v / 4 + (p * rows + tiles) * c, v / 4 + (p + 1) * rows * c);
  const inT = tileFn(memory, `in/${c}/${wp}/${rows}`, () => emitInput(c, wp * c * 4, rows * c * 4));
  for (let b = 0; b < n; b++) {
    for (let ty = 0; ty < th; ty++) inT(xp + (b * hp + 2 * ty) * wp * c * 4, v + (b * th + ty) * tw * c * 4, tw);
  }
}

/**
 * Input transforms kept by forward convolutions that asked (training: one batch in one chunk), for the filter
 * gradients of the same inputs: the backward pass then skips transforming them again. Keyed by the input's data id
 * (tensors are immutable, and an input saved for the gradient shares its data id); each is freed when used, when
 * its input is found disposed at the next keep, and the oldest when more than {@link KEPT_MOST} or
 * {@link KEPT_BYTES} are held.
 */
interface Kept {
  readonly key: string;
  readonly v: number;
  readonly bytes: number;
  readonly wasm: WasmAlloc;
}
const kept = new Map<object, Kept>();
const KEPT_MOST = 8;
const KEPT_BYTES = 64 * 1024 * 1024;

/** Input transforms held for filter gradients still to come (see {@link Kept}): for tests and diagnostics. */
export function winogradKeptInputs(): number {
  return kept.size;
}

function dropKept(dataId: object): void {
  const e = kept.get(dataId);
  if (e !== undefined) e.wasm._free(e.v);
  kept.delete(dataId);
}

function keep(dataId: object, entry: Kept, backend: BackendWasm): void {
  dropKept(dataId);
  // Inputs disposed since (a pass whose backward never asked for their filter gradient, e.g. a gradient with
  // respect to the input only) free their transforms here.
  for (const id of [...kept.keys()]) if (!backend.dataIdMap.has(id)) dropKept(id);
  kept.set(dataId, entry);
  let bytes = 0;
  for (const e of kept.values()) bytes += e.bytes;
  for (const [id, e] of kept) {
    if (kept.size <= KEPT_MOST && bytes <= KEPT_BYTES) break;
    bytes -= e.bytes;
    dropKept(id);
  }
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
  const { n, h, w, c, th, tw, per, most, xpBytes, vBytes } = chunking(x.shape, k);
  const keepV = args.attrs?.['keepInput'] === true && per >= n;
  const out = backend.makeOutput([n, h, w, k], 'float32');
  const wasm = backend.wasm as unknown as WasmAlloc;
  const scratch = new Scratch(wasm);
  let kept_: number | null = null;
  try {
    const xp = scratch.alloc(xpBytes);
    const v = keepV ? (kept_ = wasm._malloc(vBytes)) : scratch.alloc(vBytes);
    const m = scratch.alloc(16 * most.rows * k * 4);
    const up = scratch.alloc(16 * c * k * 4);
    // Offsets and views after every allocation (an allocation may grow the heap).
    const memory = wasmHeapMemory(backend) as WasmMemory;
    const heap = new Float32Array(memory.buffer);
    const fOff = heapOffset(backend, filter) / 4;
    const u = transformFilter(heap.subarray(fOff, fOff + 9 * c * k), c, k, rotated);
    for (let p = 0; p < 16; p++) packTiles(u.subarray(p * c * k, (p + 1) * c * k), heap.subarray(up / 4 + p * c * k, up / 4 + (p + 1) * c * k), c, k);
    const [xOff, yOff] = [heapOffset(backend, x), heapOffset(backend, out)];
    // Chunks of images, so that the product planes stay within CHUNK_BYTES whatever the batch and image size.
    for (let b0 = 0; b0 < n; b0 += per) {
      const t = tilesOf([Math.min(per, n - b0), h, w, c]);
      transformInput(memory, t, xOff + b0 * h * w * c * 4, xp, v);
      for (let p = 0; p < 16; p++) gemmOnHeap(memory, v + p * t.rows * c * 4, up + p * c * k * 4, m + p * t.rows * k * 4, t.rows, c, k);
      const outT = tileFn(memory, `out/${k}/${w}/${t.rows}`, () => emitOutput(k, w * k * 4, t.rows * k * 4));
      for (let b = 0; b < t.n; b++) {
        for (let ty = 0; ty < th; ty++) outT(m + (b * th + ty) * tw * k * 4, yOff + ((b0 + b) * h + 2 * ty) * w * k * 4, tw);
      }
    }
    if (kept_ !== null) {
      keep(x.dataId as object, { key: x.shape.join(','), v: kept_, bytes: vBytes, wasm }, backend);
      kept_ = null;
    }
  } finally {
    if (kept_ !== null) wasm._free(kept_);
    scratch.free();
  }
  return out;
}

/**
 * The filter gradient of the same convolution, the adjoint of the forward algorithm: with U = G g Gᵀ,
 * ∂L/∂U = Σ_tiles (A dY Aᵀ) ⊙ (Bᵀ d B) — 16 products V[ξ]ᵀ·D[ξ] `[C, K]` summed over the tiles — and
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
  const { n, h, w, c, th, tw, per, most, xpBytes, vBytes } = chunking(x.shape, k);
  const out = backend.makeOutput([3, 3, c, k], 'float32');
  const scratch = new Scratch(backend.wasm as unknown as WasmAlloc);
  try {
    const xp = scratch.alloc(xpBytes);
    const v = scratch.alloc(vBytes);
    const d = scratch.alloc(16 * most.rows * k * 4);
    const mm = scratch.alloc(16 * c * k * 4);
    const memory = wasmHeapMemory(backend) as WasmMemory;
    const heap = new Float32Array(memory.buffer);
    const [xOff, dyOff] = [heapOffset(backend, x), heapOffset(backend, dy)];
    // The forward pass's input transform of this very input, when it kept it.
    const entry = kept.get(x.dataId as object);
    const reuse = per >= n && entry !== undefined && entry.key === x.shape.join(',') ? entry.v : null;
    for (let b0 = 0; b0 < n; b0 += per) {
      const t = tilesOf([Math.min(per, n - b0), h, w, c]);
      if (reuse === null) transformInput(memory, t, xOff + b0 * h * w * c * 4, xp, v);
      if (t.rows > t.tiles) for (let p = 0; p < 16; p++) heap.fill(0, d / 4 + (p * t.rows + t.tiles) * k, d / 4 + (p + 1) * t.rows * k);
      const dyT = tileFn(memory, `dy/${k}/${w}/${t.rows}`, () => emitOutputGrad(k, w * k * 4, t.rows * k * 4));
      for (let b = 0; b < t.n; b++) {
        for (let ty = 0; ty < th; ty++) dyT(dyOff + ((b0 + b) * h + 2 * ty) * w * k * 4, d + (b * th + ty) * tw * k * 4, tw);
      }
      // Summed over the chunks: the first overwrites, the others add.
      const planes = reuse ?? v;
      for (let p = 0; p < 16; p++) transposedProductOnHeap(memory, planes + p * t.rows * c * 4, d + p * t.rows * k * 4, mm + p * c * k * 4, t.rows, c, k, b0 > 0);
    }
    if (reuse !== null) dropKept(x.dataId as object);
    // ∂L/∂g = Gᵀ M G per (c, k), G = [[1,0,0],[½,½,½],[½,−½,½],[0,0,1]].
    const plane = c * k;
    const m0 = mm / 4;
    const o = heapOffset(backend, out) / 4;
    const p = new Float64Array(12);
    for (let e = 0; e < plane; e++) {
      for (let i = 0; i < 4; i++) {
        const [a0, a1, a2, a3] = [0, 1, 2, 3].map((j) => heap[m0 + (i * 4 + j) * plane + e] as number) as [number, number, number, number];
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
 * (stride 1, `same` padding and dilation 1 are the caller's to check): wasm with SIMD, H and W even, C a multiple
 * of 4 and at least 16, K a multiple of 8, C·K ≥ 512. Registers the kernels. Batches go in chunks of images so that
 * the scratch memory stays near 24 MiB.
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
 * `keepInput`: keep the input's transform for the filter gradient of the same input (a training forward pass).
 */
export function winogradConv2d(x: tf.Tensor4D, filter: tf.Tensor4D, keepInput = false): tf.Tensor4D {
  return tf.engine().runKernel(WinogradConv2D, { x, filter }, { keepInput }) as tf.Tensor4D;
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
