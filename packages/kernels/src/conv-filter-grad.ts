import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import { segments } from './depthwise-conv.js';
import { Code, compiledFor, encodeModule, heapOffset, I32, instantiate, simdSupported, V128, wasmHeapMemory, type WasmMemory } from './wasm-simd.js';

/** Kernel name (wasm only) of the stride-1 convolution filter gradient with implicit zero padding. */
export const ConvFilterGradDirect = 'MitosisConvFilterGradDirect';

/** Static geometry of one {@link ConvFilterGradDirect} call (stride 1), in elements; the batch is a run-time argument. */
export interface ConvFilterGradShape {
  readonly inHeight: number;
  readonly inWidth: number;
  readonly outHeight: number;
  readonly outWidth: number;
  readonly inChannels: number;
  /** A multiple of 4. */
  readonly outChannels: number;
  readonly filterHeight: number;
  readonly filterWidth: number;
  /** Implicit zero rows above / columns left of the input (≥ 0). */
  readonly padTop: number;
  readonly padLeft: number;
}

/** The largest Cin·Cout the kernel takes: its output tiles are unrolled per tap, so the module grows with both. */
const MOST_CHANNEL_PRODUCT = 512;

/**
 * Emits `f(x, dy, out, batch)`: for every tap (i, j), `out[i, j, ci, co] += Σ_{n, oh, ow} x[n, oh + i − pt, ow + j − pl,
 * ci] · dy[n, oh, ow, co]` over the positions inside `x` `[batch, H, W, Ci]` (zero padding implicit, so neither
 * operand is copied), `dy` `[batch, Ho, Wo, Co]`, `out` `[kh, kw, Ci, Co]` (accumulated into: the caller zeroes it).
 * Loops: image, run of output rows with the same valid tap rows (see `segments`), output row, tap, output tile of
 * up to 4 input × 8 output channels (its accumulators in `v128` locals, loaded from and stored to `out` around the
 * row's run of columns whose tap lies inside `x`), column. One output row's `dy` serves all its taps from cache.
 */
function emitGrad(s: ConvFilterGradShape): Uint8Array {
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
  const tiles: { c0: number; rows: number; o0: number; halves: number }[] = [];
  for (let c0 = 0; c0 < ci; c0 += 4) for (let o0 = 0; o0 < co; o0 += 8) tiles.push({ c0, rows: Math.min(4, ci - c0), o0, halves: Math.min(2, (co - o0) / 4) });
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
            const tapOut = (i * kw + j) * ci * co * 4;
            for (const t of tiles) {
              const at = (row: number, h: number): number => tapOut + ((t.c0 + row) * co + t.o0 + 4 * h) * 4;
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

type GradFn = (x: number, dy: number, out: number, batch: number) => void;

function gradFn(memory: WasmMemory, shape: ConvFilterGradShape): GradFn {
  return compiledFor(memory, `conv-filter-grad/${JSON.stringify(shape)}`, () => instantiate(emitGrad(shape), memory)['f'] as GradFn);
}

const KEYS: readonly (keyof ConvFilterGradShape)[] = ['inHeight', 'inWidth', 'outHeight', 'outWidth', 'inChannels', 'outChannels', 'filterHeight', 'filterWidth', 'padTop', 'padLeft'];

function gradKernel(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const x = args.inputs['x'];
  const dy = args.inputs['dy'];
  if (x === undefined || dy === undefined) throw new Error(`${ConvFilterGradDirect}: inputs x and dy are required`);
  const s = Object.fromEntries(KEYS.map((k) => [k, args.attrs?.[k] as number])) as unknown as ConvFilterGradShape;
  const n = x.shape[0] as number;
  const expectX = [n, s.inHeight, s.inWidth, s.inChannels];
  const expectDy = [n, s.outHeight, s.outWidth, s.outChannels];
  if (!tf.util.arraysEqual(x.shape, expectX) || !tf.util.arraysEqual(dy.shape, expectDy)) {
    throw new Error(`${ConvFilterGradDirect}: shapes [${x.shape.join(',')}], [${dy.shape.join(',')}] do not match [${expectX.join(',')}], [${expectDy.join(',')}]`);
  }
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') throw new Error(`${ConvFilterGradDirect}: float32 only`);
  const size = s.filterHeight * s.filterWidth * s.inChannels * s.outChannels;
  const out = backend.makeOutput([s.filterHeight, s.filterWidth, s.inChannels, s.outChannels], 'float32');
  // The memory and offsets after makeOutput: an allocation may grow (and replace) the heap.
  const memory = wasmHeapMemory(backend) as WasmMemory;
  const outOff = heapOffset(backend, out);
  new Float32Array(memory.buffer, outOff, size).fill(0);
  if (n > 0) gradFn(memory, s)(heapOffset(backend, x), heapOffset(backend, dy), outOff, n);
  return out;
}

/**
 * Whether {@link convFilterGradDirect} takes a stride-1 convolution with these channel counts on the active backend
 * (registers it): wasm with SIMD, Cout a multiple of 4, Cin·Cout ≤ 512.
 */
export function convFilterGradDirectAvailable(inChannels: number, outChannels: number): boolean {
  if (inChannels < 1 || outChannels < 4 || outChannels % 4 !== 0 || inChannels * outChannels > MOST_CHANNEL_PRODUCT) return false;
  if (tf.getBackend() !== 'wasm' || !simdSupported() || wasmHeapMemory(tf.backend()) === undefined) return false;
  if (tf.getKernel(ConvFilterGradDirect, 'wasm') === undefined) {
    tf.registerKernel({ kernelName: ConvFilterGradDirect, backendName: 'wasm', kernelFunc: gradKernel as unknown as tf.KernelFunc });
  }
  return true;
}

/**
 * The filter gradient `[kh, kw, Cin, Cout]` of a stride-1 convolution of `x` `[N, H, W, Cin]` whose output gradient
 * is `dy` `[N, Ho, Wo, Cout]`, with `padTop`/`padLeft` implicit zero rows and columns, as one generated SIMD pass:
 * neither operand is padded or copied (the padded-copy path costs two full copies, e.g. ≈ 3.3 ms of ≈ 8 ms for a
 * 256×32×32×3 → 8 gradient). Call only when {@link convFilterGradDirectAvailable}.
 */
export function convFilterGradDirect(x: tf.Tensor4D, dy: tf.Tensor4D, filterHeight: number, filterWidth: number, padTop: number, padLeft: number): tf.Tensor4D {
  const shape: ConvFilterGradShape = {
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
