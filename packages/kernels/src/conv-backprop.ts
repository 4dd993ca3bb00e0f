import * as tf from '@tensorflow/tfjs-core';

import {
  depthwiseConvSimd,
  depthwiseConvSimdAvailable,
  depthwiseInputGradPhasesAvailable,
  depthwiseInputGradPhasesSimd,
} from './depthwise-conv.js';
import { convFilterGradDirect, convFilterGradDirectAvailable } from './conv-direct.js';
import { depthwiseFilterGradSimd, depthwiseSimdAvailable } from './depthwise-filter-grad.js';
import { transposedProductAvailable, transposedProductSimd } from './pointwise-filter-grad.js';
import { columnSums } from './sum-channels.js';
import { slidingRows } from './sliding-rows.js';
import { winogradConv2dApplies, winogradConv2dInputGrad } from './winograd-conv.js';

/** A 1×1, stride-1, unpadded, non-depthwise convolution: its gradients are plain matrix products. */
function isPlainPointwise(g: ReturnType<typeof convGeometry>, kh: number, kw: number, depthwise: boolean): boolean {
  return (
    !depthwise &&
    kh === 1 &&
    kw === 1 &&
    g.strideHeight === 1 &&
    g.strideWidth === 1 &&
    g.padTop === 0 &&
    g.padLeft === 0 &&
    g.outHeight === g.inHeight &&
    g.outWidth === g.inWidth
  );
}

/** Padding as TF.js ops accept it: `'same'`, `'valid'`, a number, or explicit `[[0,0],[t,b],[l,r],[0,0]]`. */
export type ConvPad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;

/** Forward-pass geometry of a 2-D convolution (NHWC, dilation 1), in elements. */
export interface ConvGeometry {
  readonly batch: number;
  readonly inHeight: number;
  readonly inWidth: number;
  readonly outHeight: number;
  readonly outWidth: number;
  readonly filterHeight: number;
  readonly filterWidth: number;
  readonly strideHeight: number;
  readonly strideWidth: number;
  readonly padTop: number;
  readonly padLeft: number;
}

/**
 * Geometry of the forward convolution of an input of `inShape` `[N, H, W, C]` with a filter of
 * `filterShape` (`[kh, kw, inC, outC]`, or `[kh, kw, C, multiplier]` when `depthwise`).
 */
export function convGeometry(
  inShape: readonly number[],
  filterShape: readonly number[],
  strides: number | [number, number],
  pad: ConvPad,
  dimRoundingMode: 'floor' | 'round' | 'ceil' | undefined,
  depthwise: boolean,
): ConvGeometry {
  const info = tf.backend_util.computeConv2DInfo(
    inShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    depthwise,
  );
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/**
 * Transposes a `[L, C]` matrix to `[C, L]`. For L a multiple of 64 this goes through two blocked
 * 4-D transposes (`[L/64, 64, C] → [L/64, C, 64] → [C, L/64, 64]`): wasm's 2-D `Transpose` is
 * cache-hostile when L is a power of two (≈ 22 ms for 65536×64, the blocked form ≈ 6 ms).
 */
export function transpose2d(x: tf.Tensor2D): tf.Tensor2D {
  const [l, c] = x.shape;
  const block = 64;
  if (l % block !== 0 || l < 16 * block) return tf.transpose(x);
  return tf.tidy(() => {
    const g = l / block;
    const a = tf.transpose(tf.reshape(x, [g, block, c, 1]), [0, 2, 1, 3]);
    const b = tf.transpose(tf.reshape(a, [g, c, block, 1]), [1, 0, 2, 3]);
    return tf.reshape(b, [c, l]);
  });
}

/**
 * Zero-dilates `x` `[N, H, W, C]` to `[N, H·sh, W·sw, C]`, with `x[n,i,j,c]` at `[n, i·sh, j·sw, c]`
 * and zeros elsewhere. Built from one 6-D pad (no strided slices, which are slow on wasm).
 */
export function zeroDilate(x: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  if (sh === 1 && sw === 1) return x;
  const [n, h, w, c] = x.shape;
  return tf.tidy(() => {
    const r = tf.reshape(x, [n, h, 1, w, 1, c]);
    const p = tf.pad(r, [
      [0, 0],
      [0, 0],
      [0, sh - 1],
      [0, 0],
      [0, sw - 1],
      [0, 0],
    ]);
    return tf.reshape(p, [n, h * sh, w * sw, c]);
  });
}

/**
 * Pads (positive amounts) or crops (negative amounts) the two spatial axes of `x` `[N, H, W, C]`.
 */
export function padOrCrop(
  x: tf.Tensor4D,
  top: number,
  bottom: number,
  left: number,
  right: number,
): tf.Tensor4D {
  return tf.tidy(() => {
    let y = x;
    if (top < 0 || bottom < 0 || left < 0 || right < 0) {
      const [n, h, w, c] = y.shape;
      const t0 = Math.max(0, -top);
      const l0 = Math.max(0, -left);
      const hh = h - t0 - Math.max(0, -bottom);
      const ww = w - l0 - Math.max(0, -right);
      y = tf.slice(y, [0, t0, l0, 0], [n, hh, ww, c]);
    }
    const pt = Math.max(0, top);
    const pb = Math.max(0, bottom);
    const pl = Math.max(0, left);
    const pr = Math.max(0, right);
    if (pt + pb + pl + pr > 0) {
      y = tf.pad(y, [
        [0, 0],
        [pt, pb],
        [pl, pr],
        [0, 0],
      ]);
    }
    return y;
  });
}

/**
 * Gradient of a convolution's loss with respect to its input, as a stride-1 `valid` convolution of
 * the zero-dilated, padded output gradient with the spatially rotated filter (in/out channels swapped
 * for a full convolution). Cost ≈ one forward convolution at input resolution, instead of wasm's
 * `conv2dTranspose` (≈ 10× slower).
 *
 * @param dy output gradient `[N, Ho, Wo, outC]` (`[N, Ho, Wo, C·m]` when depthwise)
 * @param filter `[kh, kw, inC, outC]` (`[kh, kw, C, m]` when depthwise)
 * @param inShape the forward input shape `[N, H, W, inC]`
 * @returns the input gradient `[N, H, W, inC]`
 */
export function convBackpropInput(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inShape: readonly [number, number, number, number],
  strides: number | [number, number],
  pad: ConvPad,
  dimRoundingMode: 'floor' | 'round' | 'ceil' | undefined,
  depthwise: boolean,
): tf.Tensor4D {
  const g = convGeometry(inShape, filter.shape, strides, pad, dimRoundingMode, depthwise);
  const [kh, kw, inC, outC] = filter.shape;
  return tf.tidy(() => {
    if (isPlainPointwise(g, kh, kw, depthwise)) {
      // Pointwise: dx = dy · Wᵀ as a forward 1×1 convolution with the (small) filter transposed
      // explicitly (≈ 20 % faster on wasm than the same product through matMul).
      const wT = tf.reshape(tf.transpose(tf.reshape(filter, [inC, outC])), [1, 1, outC, inC]);
      return tf.conv2d(dy, wT as tf.Tensor4D, 1, 'valid');
    }
    if (depthwise && outC === 1 && (g.strideHeight > 1 || g.strideWidth > 1) && g.batch > 0) {
      const attrs = {
        inHeight: g.inHeight,
        inWidth: g.inWidth,
        strideHeight: g.strideHeight,
        strideWidth: g.strideWidth,
        padTop: g.padTop,
        padLeft: g.padLeft,
      };
      // Strided: one stride-1 SIMD correlation per output phase, no zero-dilated gradient.
      if (depthwiseInputGradPhasesAvailable(dy.shape, filter.shape, attrs)) return depthwiseInputGradPhasesSimd(dy, filter, attrs);
    }
    const dilated = zeroDilate(dy, g.strideHeight, g.strideWidth);
    const top = kh - 1 - g.padTop;
    const left = kw - 1 - g.padLeft;
    const bottom = g.inHeight + g.padTop - g.outHeight * g.strideHeight;
    const right = g.inWidth + g.padLeft - g.outWidth * g.strideWidth;
    if (!depthwise && kh === 3 && kw === 3 && g.strideHeight === 1 && g.strideWidth === 1 && top === 1 && bottom === 1 && left === 1 && right === 1 && winogradConv2dApplies(dy.shape, [3, 3, outC, inC])) {
      // Winograd reads the filter rotated and transposed itself: no reversed copy.
      return winogradConv2dInputGrad(dy, filter);
    }
    const rotated = tf.reverse(filter, [0, 1]);
    let src: tf.Tensor4D = dilated;
    let convPad: ConvPad = 'valid';
    if (top >= 0 && bottom >= 0 && left >= 0 && right >= 0) {
      convPad = [
        [0, 0],
        [top, bottom],
        [left, right],
        [0, 0],
      ];
    } else {
      src = padOrCrop(dilated, top, bottom, left, right);
    }
    if (!depthwise) {
      const swapped = tf.transpose(rotated, [0, 1, 3, 2]) as tf.Tensor4D;
      return tf.conv2d(src, swapped, 1, convPad);
    }
    const mult = outC;
    if (mult === 1 && top >= 0 && left >= 0 && depthwiseConvSimdAvailable()) {
      // The generated SIMD depthwise kernel, padding (or cropping) the dilated gradient itself.
      return depthwiseConvSimd(dilated, rotated, 1, 1, { top, bottom, left, right });
    }
    if (mult === 1) return tf.depthwiseConv2d(src, rotated, 1, convPad);
    // Channel multiplier m: convolve every (c, q) output channel with its own tap set, sum over q.
    const perChannel = tf.reshape(rotated, [kh, kw, inC * mult, 1]) as tf.Tensor4D;
    const out = tf.depthwiseConv2d(src, perChannel, 1, convPad);
    const [n, h, w] = out.shape;
    return tf.sum(tf.reshape(out, [n, h, w, inC, mult]), 4) as tf.Tensor4D;
  });
}

/**
 * Gradient of a convolution's loss with respect to its filter.
 *
 * Pointwise stride-1 convolutions use `xᵀ · dy` (or `(dyᵀ · x)ᵀ`) with an explicit transpose of the
 * wider operand (wasm's `matMul` with `transposeA` is ≈ 6× slower, and packing a wide right operand
 * costs more than transposing it). Other cases use a "flat shift": `x` is padded
 * and split into its `sh·sw` stride phases `x[:, a::sh, b::sw, :]` (one heap-gathering
 * `StridedSlice` each on wasm; none for stride 1), each `[N, Hq, Wq, C]`; the output gradient is
 * padded to the same `[N, Hq, Wq]` grid; tap `(i, j)` is then a contiguous 1-D slice of phase
 * `(i mod sh, j mod sw)`, flattened, at offset `(⌊i/sh⌋·Wq + ⌊j/sw⌋)·C`. All work is at output
 * resolution. Full convolutions transpose each phase to channel-major `[inC, ·]` once and contract
 * every tap `[inC, L]` with the same `dy [L, outC]` (stacked into one `matMul` when the taps are
 * few rows); depthwise convolutions multiply and reduce with `columnSums`.
 *
 * @param x forward input `[N, H, W, inC]`
 * @param dy output gradient `[N, Ho, Wo, outC]`
 * @param filterShape `[kh, kw, inC, outC]` (`[kh, kw, C, m]` when depthwise)
 * @returns the filter gradient, of `filterShape`
 */
export function convBackpropFilter(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: readonly [number, number, number, number],
  strides: number | [number, number],
  pad: ConvPad,
  dimRoundingMode: 'floor' | 'round' | 'ceil' | undefined,
  depthwise: boolean,
): tf.Tensor4D {
  const g = convGeometry(x.shape, filterShape, strides, pad, dimRoundingMode, depthwise);
  const [kh, kw, inC, outC] = filterShape;
  // No output positions (an empty batch): nothing to sum. Said here because wasm's matMul with an inner size of 0
  // returns uninitialised memory.
  if (g.batch === 0 || g.outHeight === 0 || g.outWidth === 0) return tf.zeros([...filterShape]);
  return tf.tidy(() => {
    if (isPlainPointwise(g, kh, kw, depthwise)) {
      const m = g.batch * g.inHeight * g.inWidth;
      const x2 = tf.reshape(x, [m, inC]);
      const dy2 = tf.reshape(dy, [m, outC]);
      if (transposedProductAvailable(inC, outC)) {
        return tf.reshape(transposedProductSimd(x2 as tf.Tensor2D, dy2 as tf.Tensor2D), [...filterShape]) as tf.Tensor4D;
      }
      // wasm packs matMul's right operand on every call, which costs more than transposing:
      // transpose the wider operand, pack the narrower one.
      const dw =
        inC <= outC
          ? tf.transpose(tf.matMul(transpose2d(dy2 as tf.Tensor2D), x2))
          : tf.matMul(transpose2d(x2 as tf.Tensor2D), dy2);
      return tf.reshape(dw, [...filterShape]) as tf.Tensor4D;
    }
    if (depthwise && outC === 1 && depthwiseSimdAvailable()) {
      // One SIMD pass over the padded input and the output gradient (see depthwise-filter-grad.ts).
      return depthwiseFilterGradSimd(x, dy, g);
    }
    if (
      !depthwise &&
      g.strideHeight === 1 &&
      g.strideWidth === 1 &&
      convFilterGradDirectAvailable(inC, outC, kh, kw)
    ) {
      // Small channel counts at stride 1 (a single input channel too: 1.99 -> 1.38 ms for 64×28×28×1 → 32 against
      // the sliding rows below, which need a padded copy of dy): one pass with implicit padding, no copies.
      return convFilterGradDirect(x, dy, kh, kw, g.padTop, g.padLeft);
    }
    const { batch, inHeight, inWidth, outHeight, outWidth, strideHeight: sh, strideWidth: sw } = g;
    // Polyphase: tap i = a + sh·p reads phase a (rows a, a+sh, …) shifted by p phase rows.
    const pMax = Math.floor((kh - 1) / sh);
    const qMax = Math.floor((kw - 1) / sw);
    const hq = Math.max(outHeight + pMax, Math.ceil((inHeight + g.padTop) / sh));
    const wq = Math.max(outWidth + qMax, Math.ceil((inWidth + g.padLeft) / sw));
    const hp = hq * sh;
    const wp = wq * sw;
    // One extra all-zero image at the end, so every tap window of length N·Hq·Wq stays in bounds
    // (taps of zero output-gradient rows read zeros or are multiplied by zero).
    // Full convolutions on wasm: channels padded to the SIMD kernel's multiples (4 in, 8 out).
    const cp = Math.ceil(inC / 4) * 4;
    const op = Math.ceil(outC / 8) * 8;
    const simdFull = !depthwise && transposedProductAvailable(cp, op);
    if (simdFull && inC === 1 && sh === 1 && sw === 1 && kw <= 4) {
      return singleChannelFilterGrad(x, dy, g, filterShape, hq, wq);
    }
    const xC = simdFull ? cp : inC;
    const xp = tf.pad(x, [
      [0, 1],
      [g.padTop, hp - inHeight - g.padTop],
      [g.padLeft, wp - inWidth - g.padLeft],
      [0, xC - inC],
    ]);
    const dyC = dy.shape[3];
    const dyq = padOrCrop(dy, 0, hq - outHeight, 0, wq - outWidth);
    const len = batch * hq * wq;
    const dyL = tf.reshape(dyq, [len, dyC]);
    if (simdFull) {
      // Tap (i, j) = x phase (i mod sh, j mod sw) shifted by ⌊i/sh⌋·Wq + ⌊j/sw⌋ rows, times dyL: one
      // kernel call per phase with that phase's tap offsets.
      const dyP = (op === outC ? dyL : tf.pad(dyL, [[0, 0], [0, op - outC]])) as tf.Tensor2D;
      if (sh === 1 && sw === 1 && cp === inC && op === outC) {
        // One product [kh·kw·inC, outC] in tap order: already the filter gradient's layout.
        const offsets: number[] = [];
        for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) offsets.push(i * wq + j);
        const rowsX = xp.size / cp;
        return tf.reshape(transposedProductSimd(tf.reshape(xp, [rowsX, cp]) as tf.Tensor2D, dyP, offsets), [...filterShape]) as tf.Tensor4D;
      }
      const byTap: tf.Tensor[] = new Array<tf.Tensor>(kh * kw);
      for (let a = 0; a < Math.min(sh, kh); a++) {
        for (let b = 0; b < Math.min(sw, kw); b++) {
          const taps: [number, number][] = [];
          for (let i = a; i < kh; i += sh) for (let j = b; j < kw; j += sw) taps.push([i, j]);
          const sub =
            sh === 1 && sw === 1 ? xp : tf.stridedSlice(xp, [0, a, b, 0], [batch + 1, hp, wp, cp], [1, sh, sw, 1]);
          const rowsX = sub.size / cp;
          const offsets = taps.map(([i, j]) => Math.floor(i / sh) * wq + Math.floor(j / sw));
          const prod = transposedProductSimd(tf.reshape(sub, [rowsX, cp]) as tf.Tensor2D, dyP, offsets);
          taps.forEach(([i, j], t) => {
            byTap[i * kw + j] = tf.slice(prod, [t * cp, 0], [inC, outC]);
          });
        }
      }
      return tf.reshape(tf.stack(byTap), [...filterShape]) as tf.Tensor4D;
    }
    const phases = new Map<number, tf.Tensor1D>();
    const phase = (a: number, b: number): tf.Tensor1D => {
      const key = a * sw + b;
      let flat = phases.get(key);
      if (flat === undefined) {
        const sub =
          sh === 1 && sw === 1
            ? xp
            : tf.stridedSlice(xp, [0, a, b, 0], [batch + 1, hp, wp, inC], [1, sh, sw, 1]);
        flat = tf.reshape(sub, [-1]) as tf.Tensor1D;
        phases.set(key, flat);
      }
      return flat;
    };
    const tap = (i: number, j: number): tf.Tensor2D => {
      const offset = (Math.floor(i / sh) * wq + Math.floor(j / sw)) * inC;
      return tf.reshape(tf.slice(phase(i % sh, j % sw), [offset], [len * inC]), [len, inC]);
    };
    const parts: tf.Tensor[] = [];
    if (!depthwise) {
      // Channel-major phases [inC, (N+1)·Hq·Wq]: a tap is then an inner-axis slice [inC, L] (inC
      // contiguous runs), and every tap multiplies the same right operand dyL [L, outC], which wasm
      // packs once.
      const phasesT = new Map<number, tf.Tensor2D>();
      const tapT = (i: number, j: number): tf.Tensor2D => {
        const key = (i % sh) * sw + (j % sw);
        let t = phasesT.get(key);
        if (t === undefined) {
          t = transpose2d(tf.reshape(phase(i % sh, j % sw), [-1, inC]) as tf.Tensor2D);
          phasesT.set(key, t);
        }
        const offset = Math.floor(i / sh) * wq + Math.floor(j / sw);
        return tf.slice(t, [0, offset], [inC, len]);
      };
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) parts.push(tapT(i, j));
      }
      if (kh * kw * inC <= 256) {
        // Few rows per tap (a first layer): one product of the stacked taps [kh·kw·inC, L].
        return tf.reshape(tf.matMul(tf.concat(parts, 0), dyL), [...filterShape]) as tf.Tensor4D;
      }
      const products = parts.map((t) => tf.matMul(t, dyL)); // each [inC, outC]
      return tf.reshape(tf.stack(products), [...filterShape]) as tf.Tensor4D;
    }
    const mult = outC;
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const xs = tap(i, j);
        const prod =
          mult === 1
            ? tf.mul(xs, dyL)
            : tf.reshape(
                tf.mul(tf.reshape(xs, [len, inC, 1]), tf.reshape(dyL, [len, inC, mult])),
                [len, inC * mult],
              );
        parts.push(tf.reshape(columnSums(prod as tf.Tensor2D), [1, inC * mult]));
      }
    }
    return tf.reshape(tf.concat(parts, 0), [...filterShape]) as tf.Tensor4D;
  });
}

/**
 * The filter gradient of a stride-1 convolution of a single input channel (a first layer on grey images), kernel
 * width ≤ 4: the padded image, flattened, becomes `[L, 4]` rows of four horizontal neighbours
 * (`slidingRows`), so one SIMD product per kernel row (`transposedProductSimd` at row offset `i·Wq`) yields every
 * tap of that row: kh products of 4 channels instead of kh·kw products of the single channel padded to 4 (a
 * third of the work for 3×3).
 */
function singleChannelFilterGrad(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  g: ConvGeometry,
  filterShape: readonly [number, number, number, number],
  hq: number,
  wq: number,
): tf.Tensor4D {
  const [kh, kw, , outC] = filterShape;
  const op = Math.ceil(outC / 8) * 8;
  // One extra all-zero image at the end, so every shifted window of N·Hq·Wq rows stays in bounds.
  const xp = tf.pad(x, [
    [0, 1],
    [g.padTop, hq - g.inHeight - g.padTop],
    [g.padLeft, wq - g.inWidth - g.padLeft],
    [0, 0],
  ]);
  const rows = slidingRows(tf.reshape(xp, [-1]) as tf.Tensor1D, 4);
  const dyq = padOrCrop(dy, 0, hq - g.outHeight, 0, wq - g.outWidth);
  const dyL = tf.reshape(dyq, [g.batch * hq * wq, outC]) as tf.Tensor2D;
  const dyP = (op === outC ? dyL : tf.pad(dyL, [[0, 0], [0, op - outC]])) as tf.Tensor2D;
  const offsets = Array.from({ length: kh }, (_, i) => i * wq);
  const prod = transposedProductSimd(rows, dyP, offsets); // [kh·4, op]: row i·4 + j is tap (i, j)
  const taps = tf.reshape(tf.slice(prod, [0, 0], [kh * 4, outC]), [kh, 4, outC]);
  return tf.reshape(tf.slice(taps, [0, 0, 0], [kh, kw, outC]), [...filterShape]) as tf.Tensor4D;
}
