import { NasError, type WeightMap } from '@mitosis/core';
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
    tf.tidy(() => {
      for (const [key, rawGrad] of grads) {
        const w = variables.get(key);
        if (w === undefined) throw new Error(`optimizer: gradient for unknown variable ${key}`);
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
