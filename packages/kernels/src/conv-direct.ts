import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import { segments } from './depthwise-conv.js';
import { Scratch, type WasmAlloc } from './simd-rows.js';
import { Code, compiledFor, encodeModule, heapOffset, I32, instantiate, simdSupported, V128, wasmHeapMemory, type WasmMemory } from './wasm-simd.js';

/**
 * Stride-1 convolutions with implicit zero padding, for small channel counts (first layers, small convnets): the
 * forward pass ({@link ConvDirect}) and the filter gradient ({@link ConvFilterGradDirect}), each one generated SIMD
 * pass that reads the tensors in place — no padded copies of the input or the output gradient. Output rows and
 * columns are grouped by the taps that fall inside the input (`segments`, as in the depthwise kernels), so every
 * address is a base plus a constant.
 */

/** Kernel name (wasm only) of the stride-1 convolution with implicit zero padding. */
export const ConvDirect = 'MitosisConvDirect';

/** Kernel name (wasm only) of the stride-1 convolution filter gradient with implicit zero padding. */
export const ConvFilterGradDirect = 'MitosisConvFilterGradDirect';

/** Static geometry of one call of either kernel (stride 1), in elements; the batch is a run-time argument. */
export interface StrideOneShape {
  readonly inHeight: number;
  readonly inWidth: number;
  readonly outHeight: number;
  readonly outWidth: number;
  readonly inChannels: number;
  /** A multiple of 4. */
  readonly outChannels: number;
  readonly filterHeight: number;
  readonly filterWidth: number;
  /** Implicit zero rows above / columns left of the input (≥ 0); bottom and right follow from the sizes. */
  readonly padTop: number;
  readonly padLeft: number;
}

/** The largest Cin·Cout of the forward kernel (beyond it, wasm's own convolution or Winograd). */
const MOST_FORWARD = 1024;
/** The most output channels of the forward kernel: its output tiles are unrolled per row and column segment. */
const MOST_FORWARD_OUT = 64;
/**
 * The largest Cin·Cout (Cout rounded up to 4) of the filter gradient: its output tiles are unrolled per tap and row
 * segment, so the module grows with both, and beyond ≈ 4 tiles a tap the padded-copy path's long streaming products
 * win (64×14×14×12 → 22, 9 tiles: 3.8–4.5 ms here against 2.5–2.8 ms; 8 → 16, 4 tiles: 0.87 against 1.09 ms).
 */
const MOST_FILTER_GRAD = 128;
/** Input channels up to which the per-tap channel loop is unrolled. */
const UNROLLED_CHANNELS = 3;
/** Output pixels of one register tile (times up to 8 output channels: 8 accumulators). */
const PIXELS = 4;

/**
 * Emits `f(x, w, y, batch)`: `y[n, oh, ow, co] = Σ_{i, j, ci} x[n, oh + i − pt, ow + j − pl, ci] · w[i, j, ci, co]` over the
 * taps inside `x` `[batch, H, W, Ci]` (zero padding implicit: no padded copy), `w` `[kh, kw, Ci, Co]`, `y`
 * `[batch, Ho, Wo, Co]`. Output rows and columns are split into runs with the same valid taps (see `segments`);
 * within a run, tiles of 4 pixels × 8 output channels keep their sums in `v128` locals over every tap and input
 * channel (each step: the filter's 8 values as two vectors, one splat per pixel), then a pixel at a time for the
 * run's last columns. The input-channel loop runs at run time (unrolled for up to 3 channels), so the module stays
 * small whatever Cin.
 */
function emitConv(s: StrideOneShape): Uint8Array {
  const { inHeight, inWidth, outHeight, outWidth, inChannels: ci, outChannels: co, filterWidth: kw } = s;
  const xPixel = ci * 4;
  const yPixel = co * 4;
  // Params x 0, w 1, y 2, batch 3; i32 n 4, rc 5, xImg 6, yImg 7, xRow 8, yRow 9, g 10, p 11, q 12, wp 13, xc 14,
  // cc 15; v128 d0 16, d1 17, s 18, accumulators 19 + 2·pixel + half.
  const [X, W, Y, BATCH, N, RC, XIMG, YIMG, XROW, YROW, G, P, Q, WP, XC, CC, D0, D1, S] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18];
  const acc = (px: number, h: number): number => 19 + px * 2 + h;
  const rowSegs = segments(outHeight, inHeight, s.filterHeight, 1, s.padTop);
  const colSegs = segments(outWidth, inWidth, kw, 1, s.padLeft);
  const tiles: { o0: number; halves: number }[] = [];
  for (let o0 = 0; o0 < co; o0 += 8) tiles.push({ o0, halves: Math.min(2, (co - o0) / 4) });
  const code = new Code();
  /** One tile of `pixels` output pixels at Q (input) and P (output): sums over the segment's taps, then stores. */
  const tile = (c: Code, rs: { lo: number; hi: number }, cs: { lo: number; hi: number }, t: { o0: number; halves: number }, pixels: number): void => {
    for (let px = 0; px < pixels; px++) for (let h = 0; h < t.halves; h++) c.zero().set(acc(px, h));
    for (let i = rs.lo; i <= rs.hi; i++) {
      for (let j = cs.lo; j <= cs.hi; j++) {
        const wOff = ((i * kw + j) * ci * co + t.o0) * 4;
        const xOff = ((i - rs.lo) * inWidth + (j - cs.lo)) * xPixel;
        /** One input channel's step, with the filter and input at constant offsets from WP and XC. */
        const step = (k: Code, wAt: number, xAt: number): void => {
          k.get(WP).load(wAt).set(D0);
          if (t.halves === 2) k.get(WP).load(wAt + 16).set(D1);
          for (let px = 0; px < pixels; px++) {
            k.get(XC).loadSplat(xAt + px * xPixel).set(S);
            for (let h = 0; h < t.halves; h++) k.get(acc(px, h)).get(S).get(h === 0 ? D0 : D1).f32x4Mul().f32x4Add().set(acc(px, h));
          }
        };
        c.get(W).i32(wOff).add().set(WP).get(Q).i32(xOff).add().set(XC);
        if (ci <= UNROLLED_CHANNELS) {
          // Few input channels (first layers): unrolled, no loop per tap.
          for (let k = 0; k < ci; k++) step(c, k * co * 4, k * 4);
        } else {
          c.i32(0).set(CC);
          c.countedLoop(CC, 1, ci, (k) => {
            step(k, 0, 0);
            k.inc(XC, 4).inc(WP, co * 4);
          });
        }
      }
    }
    for (let px = 0; px < pixels; px++) for (let h = 0; h < t.halves; h++) c.get(P).get(acc(px, h)).store(px * yPixel + h * 16);
  };
  code.get(X).set(XIMG).get(Y).set(YIMG).i32(0).set(N);
  code.countedLoopTo(N, 1, BATCH, (k) => {
    for (const rs of rowSegs) {
      // XROW: input row (start + lo − pt), the first valid tap row of the run's first output row (unused without taps).
      const firstRow = rs.lo <= rs.hi ? rs.start + rs.lo - s.padTop : 0;
      k.get(XIMG).i32(firstRow * inWidth * xPixel).add().set(XROW);
      k.get(YIMG).i32(rs.start * outWidth * yPixel).add().set(YROW).i32(0).set(RC);
      k.countedLoop(RC, 1, rs.count, (r) => {
        for (const cs of colSegs) {
          const firstCol = cs.lo <= cs.hi ? cs.start + cs.lo - s.padLeft : 0;
          const groups = Math.floor(cs.count / PIXELS);
          const rest = cs.count % PIXELS;
          for (const t of tiles) {
            r.get(YROW).i32((cs.start * co + t.o0) * 4).add().set(P);
            r.get(XROW).i32(firstCol * xPixel).add().set(Q);
            if (groups > 0) {
              r.i32(0).set(G);
              r.countedLoop(G, 1, groups, (g) => {
                tile(g, rs, cs, t, PIXELS);
                g.inc(P, PIXELS * yPixel).inc(Q, PIXELS * xPixel);
              });
            }
            if (rest > 0) {
              r.i32(0).set(G);
              r.countedLoop(G, 1, rest, (g) => {
                tile(g, rs, cs, t, 1);
                g.inc(P, yPixel).inc(Q, xPixel);
              });
            }
          }
        }
        r.inc(XROW, inWidth * xPixel).inc(YROW, outWidth * yPixel);
      });
    }
    k.inc(XIMG, inHeight * inWidth * xPixel).inc(YIMG, outHeight * outWidth * yPixel);
  });
  return encodeModule([
    {
      name: 'f',
      params: [I32, I32, I32, I32],
      locals: [...new Array<number>(12).fill(I32), V128, V128, V128, ...new Array<number>(PIXELS * 2).fill(V128)],
      body: code,
    },
  ]);
}

/**
 * Emits `f(x, dy, out, batch)`: for every tap (i, j), `out[i, j, ci, co] += Σ_{n, oh, ow} x[n, oh + i − pt, ow + j − pl,
 * ci] · dy[n, oh, ow, co]` over the positions inside `x` `[batch, H, W, Ci]` (zero padding implicit, so neither
 * operand is copied), `dy` `[batch, Ho, Wo, Co]`, `out` `[kh, kw, Ci, Co]` (accumulated into: the caller zeroes it).
 * Loops: image, run of output rows with the same valid tap rows (see `segments`), output row, tap, output tile of
 * up to 4 input × 8 output channels (its accumulators in `v128` locals, loaded from and stored to `out` around the
 * row's run of columns whose tap lies inside `x`), column. One output row's `dy` serves all its taps from cache.
 */
function emitGrad(s: StrideOneShape): Uint8Array {
  const { inHeight, inWidth, outHeight, outWidth, inChannels: ci, outChannels: co, filterHeight: kh, filterWidth: kw } = s;
  const xPixel = ci * 4;
  const dyPixel = co * 4;
  // Params x 0, dy 1, out 2, batch 3; i32 n 4, rc 5, xImg 6, dyImg 7, xRow 8, dyRow 9, cc 10, xp 11, dp 12;
  // v128 d0 13, d1 14, s 15, accumulators 16 + 2r + h.
  const [X, DY, OUT, BATCH, N, RC, XIMG, DYIMG, XROW, DYROW, CC, XP, DP, D0, D1, S] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
  const acc = (r: number, h: number): number => 16 + r * 2 + h;
  const rowSegs = segments(outHeight, inHeight, kh, 1, s.padTop).filter((r) => r.lo <= r.hi);
  // Per tap column j: the output columns whose input column ow + j − pl lies inside x.
  const colRuns = Array.from({ length: kw }, (_, j) => {
    const start = Math.max(0, s.padLeft - j);
    const end = Math.min(outWidth, inWidth + s.padLeft - j);
    return { start, count: end - start };
  });
  // `out` rows are Cout rounded up to 4 wide (the caller compacts them when it is not a multiple of 4): the last
  // vector of dy then also reads the next pixel's first channels, whose sums land in columns nobody reads.
  const coOut = Math.ceil(co / 4) * 4;
  const tiles: { c0: number; rows: number; o0: number; halves: number }[] = [];
  for (let c0 = 0; c0 < ci; c0 += 4) for (let o0 = 0; o0 < co; o0 += 8) tiles.push({ c0, rows: Math.min(4, ci - c0), o0, halves: Math.min(2, (coOut - o0) / 4) });
  const code = new Code();
  code.get(X).set(XIMG).get(DY).set(DYIMG).i32(0).set(N);
  code.countedLoopTo(N, 1, BATCH, (k) => {
    for (const rs of rowSegs) {
      // XROW: input row (rs.start + rs.lo − pt), the first valid tap row of the run's first output row.
      k.get(XIMG).i32((rs.start + rs.lo - s.padTop) * inWidth * xPixel).add().set(XROW);
      k.get(DYIMG).i32(rs.start * outWidth * dyPixel).add().set(DYROW).i32(0).set(RC);
      k.countedLoop(RC, 1, rs.count, (r) => {
        for (let i = rs.lo; i <= rs.hi; i++) {
          for (let j = 0; j < kw; j++) {
            const run = colRuns[j]!;
            if (run.count <= 0) continue;
            const xOff = ((i - rs.lo) * inWidth + run.start + j - s.padLeft) * xPixel;
            const dyOff = run.start * dyPixel;
            const tapOut = (i * kw + j) * ci * coOut * 4;
            for (const t of tiles) {
              const at = (row: number, h: number): number => tapOut + ((t.c0 + row) * coOut + t.o0 + 4 * h) * 4;
              for (let row = 0; row < t.rows; row++) for (let h = 0; h < t.halves; h++) r.get(OUT).load(at(row, h)).set(acc(row, h));
              r.get(XROW).i32(xOff + t.c0 * 4).add().set(XP).get(DYROW).i32(dyOff + t.o0 * 4).add().set(DP).i32(0).set(CC);
              r.countedLoop(CC, 1, run.count, (c) => {
                c.get(DP).load().set(D0);
                if (t.halves === 2) c.get(DP).load(16).set(D1);
                for (let row = 0; row < t.rows; row++) {
                  c.get(XP).loadSplat(row * 4).set(S);
                  for (let h = 0; h < t.halves; h++) c.get(acc(row, h)).get(S).get(h === 0 ? D0 : D1).f32x4Mul().f32x4Add().set(acc(row, h));
                }
                c.inc(XP, xPixel).inc(DP, dyPixel);
              });
              for (let row = 0; row < t.rows; row++) for (let h = 0; h < t.halves; h++) r.get(OUT).get(acc(row, h)).store(at(row, h));
            }
          }
        }
        r.inc(XROW, inWidth * xPixel).inc(DYROW, outWidth * dyPixel);
      });
    }
    k.inc(XIMG, inHeight * inWidth * xPixel).inc(DYIMG, outHeight * outWidth * dyPixel);
  });
  return encodeModule([
    {
      name: 'f',
      params: [I32, I32, I32, I32],
      locals: [I32, I32, I32, I32, I32, I32, I32, I32, I32, V128, V128, V128, ...new Array<number>(8).fill(V128)],
      body: code,
    },
  ]);
}

type StrideOneFn = (x: number, second: number, out: number, batch: number) => void;

function compiled(memory: WasmMemory, kind: 'conv-direct' | 'conv-filter-grad', shape: StrideOneShape): StrideOneFn {
  return compiledFor(memory, `${kind}/${JSON.stringify(shape)}`, () => instantiate(kind === 'conv-direct' ? emitConv(shape) : emitGrad(shape), memory)['f'] as StrideOneFn);
}

const KEYS: readonly (keyof StrideOneShape)[] = ['inHeight', 'inWidth', 'outHeight', 'outWidth', 'inChannels', 'outChannels', 'filterHeight', 'filterWidth', 'padTop', 'padLeft'];

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

/**
 * The call's geometry from its attributes, with `x` `[N, H, W, Cin]` and the second input checked against it: the
 * filter `[kh, kw, Cin, Cout]` (forward) or the output gradient `[N, Ho, Wo, Cout]` (filter gradient); float32.
 */
function checked(kernel: string, args: KernelArgs, second: 'filter' | 'dy'): { s: StrideOneShape; n: number; x: tf.TensorInfo; other: tf.TensorInfo } {
  const x = args.inputs['x'];
  const other = args.inputs[second];
  if (x === undefined || other === undefined) throw new Error(`${kernel}: inputs x and ${second} are required`);
  const s = Object.fromEntries(KEYS.map((k) => [k, args.attrs?.[k] as number])) as unknown as StrideOneShape;
  const n = x.shape[0] as number;
  const expectX = [n, s.inHeight, s.inWidth, s.inChannels];
  const expectOther = second === 'filter' ? [s.filterHeight, s.filterWidth, s.inChannels, s.outChannels] : [n, s.outHeight, s.outWidth, s.outChannels];
  if (!tf.util.arraysEqual(x.shape, expectX) || !tf.util.arraysEqual(other.shape, expectOther)) {
    throw new Error(`${kernel}: shapes [${x.shape.join(',')}], [${other.shape.join(',')}] do not match [${expectX.join(',')}], [${expectOther.join(',')}]`);
  }
  if (x.dtype !== 'float32' || other.dtype !== 'float32') throw new Error(`${kernel}: float32 only`);
  return { s, n, x, other };
}

function convKernel(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const { s, n, x, other: filter } = checked(ConvDirect, args, 'filter');
  const out = backend.makeOutput([n, s.outHeight, s.outWidth, s.outChannels], 'float32');
  // The memory and offsets after makeOutput: an allocation may grow (and replace) the heap.
  if (n > 0 && s.outHeight > 0 && s.outWidth > 0) {
    compiled(wasmHeapMemory(backend) as WasmMemory, 'conv-direct', s)(heapOffset(backend, x), heapOffset(backend, filter), heapOffset(backend, out), n);
  }
  return out;
}

function gradKernel(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const { s, n, x, other: dy } = checked(ConvFilterGradDirect, args, 'dy');
  const rows = s.filterHeight * s.filterWidth * s.inChannels;
  const out = backend.makeOutput([s.filterHeight, s.filterWidth, s.inChannels, s.outChannels], 'float32');
  const coOut = Math.ceil(s.outChannels / 4) * 4;
  const ragged = coOut !== s.outChannels;
  const scratch = new Scratch(backend.wasm as unknown as WasmAlloc);
  // Cout not a multiple of 4: sums into rows Cout rounded up to 4 wide, and dy read from a copy with room for the
  // last pixel's vector to run 12 bytes past its end (see emitGrad).
  const dyBytes = n * s.outHeight * s.outWidth * s.outChannels * 4;
  const wide = ragged ? scratch.alloc(rows * coOut * 4) : 0;
  const dyCopy = ragged ? scratch.alloc(dyBytes + 16) : 0;
  try {
    // The memory and offsets after every allocation: one may grow (and replace) the heap.
    const memory = wasmHeapMemory(backend) as WasmMemory;
    const outOff = heapOffset(backend, out);
    const sums = ragged ? wide : outOff;
    new Float32Array(memory.buffer, sums, rows * coOut).fill(0);
    let dyOff = heapOffset(backend, dy);
    if (ragged) {
      new Uint8Array(memory.buffer).copyWithin(dyCopy, dyOff, dyOff + dyBytes);
      dyOff = dyCopy;
    }
    if (n > 0) compiled(memory, 'conv-filter-grad', s)(heapOffset(backend, x), dyOff, sums, n);
    if (ragged) {
      const heap = new Float32Array(memory.buffer);
      for (let r = 0; r < rows; r++) heap.copyWithin(outOff / 4 + r * s.outChannels, sums / 4 + r * coOut, sums / 4 + r * coOut + s.outChannels);
    }
  } finally {
    scratch.free();
  }
  return out;
}

/**
 * Filters up to 5×5: the generated code holds every tap of every run of rows and columns with the same taps, so it
 * grows with the fourth power of the filter size.
 */
function smallFilter(filterHeight: number, filterWidth: number): boolean {
  return filterHeight >= 1 && filterWidth >= 1 && filterHeight <= MOST_FILTER_SIZE && filterWidth <= MOST_FILTER_SIZE;
}
const MOST_FILTER_SIZE = 5;

/** Channel counts within `most` (Cout a multiple of 4) on wasm with SIMD; registers `kernelName` on first use. */
function available(kernelName: string, kernelFunc: (args: KernelArgs) => tf.TensorInfo, inChannels: number, outChannels: number, most: number, mostOut = Infinity): boolean {
  if (inChannels < 1 || outChannels < 4 || outChannels % 4 !== 0 || inChannels * outChannels > most || outChannels > mostOut) return false;
  if (tf.getBackend() !== 'wasm' || !simdSupported() || wasmHeapMemory(tf.backend()) === undefined) return false;
  if (tf.getKernel(kernelName, 'wasm') === undefined) {
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  }
  return true;
}

/**
 * Whether {@link convDirect} can run a stride-1 convolution with these channel counts and filter size on the
 * active backend (registers it): wasm with SIMD, Cout a multiple of 4 and at most 64, Cin·Cout ≤ 1024, up to 5×5. It runs at ≈ 8 GMAC/s on
 * this machine whatever the channels, so it beats wasm's own (XNNPACK) convolution only where that one is slow:
 * `Conv2D` on wasm routes a layer here with a single input channel or fewer output than input channels
 * (install-wasm-kernels.ts).
 */
export function convDirectAvailable(inChannels: number, outChannels: number, filterHeight = 3, filterWidth = 3): boolean {
  return smallFilter(filterHeight, filterWidth) && available(ConvDirect, convKernel, inChannels, outChannels, MOST_FORWARD, MOST_FORWARD_OUT);
}

/**
 * Whether {@link convFilterGradDirect} takes a stride-1 convolution with these channel counts and filter size on the
 * active backend (registers it): wasm with SIMD, up to 5×5, Cout ≥ 4, Cin·Cout ≤ 128 with Cout rounded up to 4 (grown widths too: Cout not
 * a multiple of 4 costs a copy of dy).
 */
export function convFilterGradDirectAvailable(inChannels: number, outChannels: number, filterHeight = 3, filterWidth = 3): boolean {
  return smallFilter(filterHeight, filterWidth) && available(ConvFilterGradDirect, gradKernel, inChannels, Math.ceil(outChannels / 4) * 4, MOST_FILTER_GRAD) && outChannels >= 4;
}

/**
 * A stride-1 convolution of `x` `[N, H, W, Cin]` with `filter` `[kh, kw, Cin, Cout]` to `[N, outHeight, outWidth,
 * Cout]`, `padTop`/`padLeft` implicit zero rows and columns (bottom and right: whatever the sizes leave), as one
 * generated SIMD pass. Not differentiable by itself: `Conv2D` on wasm routes layers here and keeps TF.js's gradients.
 * Call only when {@link convDirectAvailable}.
 */
export function convDirect(x: tf.Tensor4D, filter: tf.Tensor4D, outHeight: number, outWidth: number, padTop: number, padLeft: number): tf.Tensor4D {
  const [, inHeight, inWidth, inChannels] = x.shape;
  const [filterHeight, filterWidth, , outChannels] = filter.shape;
  const shape: StrideOneShape = { inHeight, inWidth, outHeight, outWidth, inChannels, outChannels, filterHeight, filterWidth, padTop, padLeft };
  return tf.engine().runKernel(ConvDirect, { x, filter }, shape as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

/**
 * The filter gradient `[kh, kw, Cin, Cout]` of a stride-1 convolution of `x` `[N, H, W, Cin]` whose output gradient
 * is `dy` `[N, Ho, Wo, Cout]`, with `padTop`/`padLeft` implicit zero rows and columns, as one generated SIMD pass:
 * neither operand is padded or copied (the padded-copy path costs two full copies, e.g. ≈ 3.3 ms of ≈ 8 ms for a
 * 256×32×32×3 → 8 gradient). Call only when {@link convFilterGradDirectAvailable}.
 */
export function convFilterGradDirect(x: tf.Tensor4D, dy: tf.Tensor4D, filterHeight: number, filterWidth: number, padTop: number, padLeft: number): tf.Tensor4D {
  const shape: StrideOneShape = {
    inHeight: x.shape[1],
    inWidth: x.shape[2],
    outHeight: dy.shape[1],
    outWidth: dy.shape[2],
    inChannels: x.shape[3],
    outChannels: dy.shape[3],
    filterHeight,
    filterWidth,
    padTop,
    padLeft,
  };
  return tf.engine().runKernel(ConvFilterGradDirect, { x, dy }, shape as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}
