import { NasError, type WeightMap } from '@mitosis/core';
import { exclusiveHeapSpan, heapSpan, type HeapSpan } from '@mitosis/kernels';
import { tf } from '../tf.js';

/** SGD with optional (Nesterov) momentum and L2 weight decay, PyTorch conventions. */
export interface SgdConfig {
  readonly kind: 'sgd';
  readonly momentum?: number;
  readonly nesterov?: boolean;
  /** L2 coefficient added to the gradient (g + λ·w) of every trainable weight. */
  readonly weightDecay?: number;
}
/** Adam (Kingma & Ba 2015) with bias correction; ε added outside the square root. */
export interface AdamConfig {
  readonly kind: 'adam';
  readonly beta1?: number;
  readonly beta2?: number;
  readonly epsilon?: number;
  readonly weightDecay?: number;
}
/** RMSprop (Hinton's lecture 6e, PyTorch form): s ← ρs + (1−ρ)g², w ← w − lr·g/(√s + ε). */
export interface RmsPropConfig {
  readonly kind: 'rmsprop';
  readonly rho?: number;
  readonly epsilon?: number;
  readonly weightDecay?: number;
}
export type OptimizerConfig = SgdConfig | AdamConfig | RmsPropConfig;

/**
 * Everything needed to resume an optimizer exactly: its config, the number of steps taken and its slot
 * tensors keyed `<weight>#<slot>` (`conv1/kernel#momentum`).
 */
export interface OptimizerState {
  readonly config: OptimizerConfig;
  readonly iterations: number;
  readonly slots: WeightMap;
}

/**
 * An optimizer written on tf ops: `applyGradients` updates variables in place with a given learning rate.
 * Slots are created lazily, zero-initialised, on the first step that sees a weight.
 */
export class Optimizer {
  private iterationCount = 0;
  private readonly slots = new Map<string, tf.Variable>();

  constructor(readonly config: OptimizerConfig) {}

  /** Steps taken so far. */
  get iterations(): number {
    return this.iterationCount;
  }

  private slot(key: string, like: tf.Tensor): tf.Variable {
    let v = this.slots.get(key);
    if (v === undefined) {
      const zeros = tf.zerosLike(like);
      v = tf.variable(zeros, false);
      zeros.dispose();
      this.slots.set(key, v);
    }
    return v;
  }

  /**
   * One update of every variable in `grads` (keys as in `variables`). `lr` is the learning rate of this step.
   * Does not dispose `grads`.
   */
  applyGradients(variables: ReadonlyMap<string, tf.Variable>, grads: ReadonlyMap<string, tf.Tensor>, lr: number): void {
    this.iterationCount += 1;
    const t = this.iterationCount;
    const c = this.config;
    for (const key of grads.keys()) {
      if (!variables.has(key)) throw new Error(`optimizer: gradient for unknown variable ${key}`);
    }
    tf.tidy(() => {
      for (const [key, rawGrad] of grads) {
        const w = variables.get(key) as tf.Variable;
        if (this.updateInPlace(key, w, rawGrad, lr, t)) continue;
        const g = c.weightDecay ? tf.add(rawGrad, tf.mul(w, c.weightDecay)) : rawGrad;
        switch (c.kind) {
          case 'sgd': {
            const mu = c.momentum ?? 0;
            if (mu === 0) {
              w.assign(tf.sub(w, tf.mul(g, lr)));
              break;
            }
            const buf = this.slot(`${key}#momentum`, w);
            // PyTorch: the first step sets the buffer to g (zero buffer gives μ·0 + g, the same thing).
            const v = tf.add(tf.mul(buf, mu), g);
            buf.assign(v);
            const step = c.nesterov ? tf.add(g, tf.mul(v, mu)) : v;
            w.assign(tf.sub(w, tf.mul(step, lr)));
            break;
          }
          case 'adam': {
            const b1 = c.beta1 ?? 0.9;
            const b2 = c.beta2 ?? 0.999;
            const eps = c.epsilon ?? 1e-8;
            const m = this.slot(`${key}#m`, w);
            const v = this.slot(`${key}#v`, w);
            const m1 = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1));
            const v1 = tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2));
            m.assign(m1);
            v.assign(v1);
            const mHat = tf.div(m1, 1 - b1 ** t);
            const vHat = tf.div(v1, 1 - b2 ** t);
            w.assign(tf.sub(w, tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), eps)), lr)));
            break;
          }
          case 'rmsprop': {
            const rho = c.rho ?? 0.9;
            const eps = c.epsilon ?? 1e-8;
            const s = this.slot(`${key}#meanSquare`, w);
            const s1 = tf.add(tf.mul(s, rho), tf.mul(tf.square(g), 1 - rho));
            s.assign(s1);
            w.assign(tf.sub(w, tf.mul(tf.div(g, tf.add(tf.sqrt(s1), eps)), lr)));
            break;
          }
        }
      }
    });
  }

  /**
   * On `wasm`, one JavaScript pass over the heap per weight, every operation rounded to float32 exactly as the
   * tensor ops below round it (both paths give the same bits), instead of some six kernels: the slots are updated
   * in place and the weight is written to a fresh buffer that the variable then takes (XNNPACK caches packed
   * filters by buffer). Only when the weight, its slots and the gradient are float32 and the slots hold their
   * buffers alone. Returns false when it did nothing.
   */
  private updateInPlace(key: string, w: tf.Variable, grad: tf.Tensor, lr: number, t: number): boolean {
    if (tf.getBackend() !== 'wasm' || w.size !== grad.size || w.dtype !== 'float32') return false;
    const c = this.config;
    const names = c.kind === 'sgd' ? ((c.momentum ?? 0) === 0 ? [] : ['momentum']) : c.kind === 'adam' ? ['m', 'v'] : ['meanSquare'];
    // Slots are made first: an allocation may grow (and replace) the heap that the spans index.
    const slots = names.map((n) => this.slot(`${key}#${n}`, w));
    // The weight gets a fresh buffer: wasm's XNNPACK convolutions and matrix products cache their packed filter
    // by buffer, so a weight changed in place would be read stale. Slots are updated in place.
    const next = tf.engine().makeTensorFromTensorInfo(
      (tf.backend() as unknown as { makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo }).makeOutput([...w.shape], 'float32'),
    );
    const ws = heapSpan(w);
    const gs = heapSpan(grad);
    const ns = exclusiveHeapSpan(next);
    const ss = slots.map((v) => exclusiveHeapSpan(v));
    if (ws === undefined || gs === undefined || ns === undefined || ss.some((x) => x === undefined || x.size !== w.size)) {
      next.dispose();
      return false;
    }
    try {
      this.updateSpans(ws, gs, ns, ss as HeapSpan[], lr, t);
      w.assign(next);
    } finally {
      next.dispose();
    }
    return true;
  }

  /** The update of {@link updateInPlace}: reads the weight at `ws`, the gradient at `gs`, writes the weight at `ns`. */
  private updateSpans(ws: HeapSpan, gs: HeapSpan, ns: HeapSpan, spans: HeapSpan[], lr: number, t: number): void {
    const c = this.config;
    const f = Math.fround;
    const heap = ws.heap;
    const n = ws.size;
    const wi = ws.index;
    const gi = gs.index;
    const oi = ns.index;
    const wd = f(c.weightDecay ?? 0);
    const decay = c.weightDecay !== undefined && c.weightDecay !== 0;
    const lr32 = f(lr);
    switch (c.kind) {
      case 'sgd': {
        const mu = f(c.momentum ?? 0);
        if (spans.length === 0) {
          for (let i = 0; i < n; i++) {
            const wv = heap[wi + i] as number;
            const g = decay ? f((heap[gi + i] as number) + f(wv * wd)) : (heap[gi + i] as number);
            heap[oi + i] = f(wv - f(g * lr32));
          }
          return;
        }
        const bi = (spans[0] as HeapSpan).index;
        const nesterov = c.nesterov === true;
        for (let i = 0; i < n; i++) {
          const wv = heap[wi + i] as number;
          const g = decay ? f((heap[gi + i] as number) + f(wv * wd)) : (heap[gi + i] as number);
          const v = f(f((heap[bi + i] as number) * mu) + g);
          heap[bi + i] = v;
          const step = nesterov ? f(g + f(v * mu)) : v;
          heap[oi + i] = f(wv - f(step * lr32));
        }
        return;
      }
      case 'adam': {
        const b1 = c.beta1 ?? 0.9;
        const b2 = c.beta2 ?? 0.999;
        const eps = f(c.epsilon ?? 1e-8);
        const [b1f, b2f, c1, c2] = [f(b1), f(b2), f(1 - b1), f(1 - b2)];
        const [bc1, bc2] = [f(1 - b1 ** t), f(1 - b2 ** t)];
        const mi = (spans[0] as HeapSpan).index;
        const vi = (spans[1] as HeapSpan).index;
        for (let i = 0; i < n; i++) {
          const wv = heap[wi + i] as number;
          const g = decay ? f((heap[gi + i] as number) + f(wv * wd)) : (heap[gi + i] as number);
          const m1 = f(f((heap[mi + i] as number) * b1f) + f(g * c1));
          const v1 = f(f((heap[vi + i] as number) * b2f) + f(f(g * g) * c2));
          heap[mi + i] = m1;
          heap[vi + i] = v1;
          const mHat = f(m1 / bc1);
          const vHat = f(v1 / bc2);
          heap[oi + i] = f(wv - f(f(mHat / f(f(Math.sqrt(vHat)) + eps)) * lr32));
        }
        return;
      }
      case 'rmsprop': {
        const rho = c.rho ?? 0.9;
        const eps = f(c.epsilon ?? 1e-8);
        const [rhof, c1] = [f(rho), f(1 - rho)];
        const si = (spans[0] as HeapSpan).index;
        for (let i = 0; i < n; i++) {
          const wv = heap[wi + i] as number;
          const g = decay ? f((heap[gi + i] as number) + f(wv * wd)) : (heap[gi + i] as number);
          const s1 = f(f((heap[si + i] as number) * rhof) + f(f(g * g) * c1));
          heap[si + i] = s1;
          heap[oi + i] = f(wv - f(f(g / f(f(Math.sqrt(s1)) + eps)) * lr32));
        }
        return;
      }
    }
  }

  /** A serialisable copy of the state (slot values are copied out of TF.js). */
  getState(): OptimizerState {
    const slots: WeightMap = new Map();
    for (const [key, v] of this.slots) {
      slots.set(key, { shape: [...v.shape], data: Float32Array.from(v.dataSync() as Float32Array) });
    }
    return { config: this.config, iterations: this.iterationCount, slots };
  }

  /** Rebuilds an optimizer from {@link getState}'s output. */
  static fromState(state: OptimizerState): Optimizer {
    const opt = new Optimizer(validateOptimizerConfig(state.config, 'optimizer state'));
    opt.iterationCount = state.iterations;
    for (const [key, w] of state.slots) {
      const initial = tf.tensor(w.data, [...w.shape], 'float32');
      opt.slots.set(key, tf.variable(initial, false));
      initial.dispose();
    }
    return opt;
  }

  /** Frees the slot variables. */
  dispose(): void {
    for (const v of this.slots.values()) v.dispose();
    this.slots.clear();
  }
}

/** Checks an optimizer config read from a file; throws `E_CONFIG_INVALID` naming `source`. */
export function validateOptimizerConfig(config: unknown, source: string): OptimizerConfig {
  const c = config as Record<string, unknown> | null;
  const kind = c?.['kind'];
  if (typeof c !== 'object' || c === null || (kind !== 'sgd' && kind !== 'adam' && kind !== 'rmsprop')) {
    throw new NasError('E_CONFIG_INVALID', `${source}: optimizer kind must be "sgd", "adam" or "rmsprop"`, {
      file: source,
      problems: [{ pointer: '/kind', message: 'must be one of sgd, adam, rmsprop' }],
    });
  }
  for (const [field, value] of Object.entries(c)) {
    if (field === 'kind' || field === 'nesterov') continue;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new NasError('E_CONFIG_INVALID', `${source}: optimizer field "${field}" must be a non-negative number`, {
        file: source,
        problems: [{ pointer: `/${field}`, message: 'must be a non-negative number' }],
      });
    }
  }
  return c as unknown as OptimizerConfig;
}
