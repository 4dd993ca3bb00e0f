/**
 * The update core of the stochastic Rayleigh-quotient eigen-solver (algorithms.md §3.2), kept free of I/O
 * so that check F can test it exactly.
 */

/**
 * R(v) = vᵀSv / vᵀv and its gradient ∇R = 2(Sv‖v‖² − v·vᵀSv)/‖v‖⁴ for the `dim`-long rows at `off` of `v`
 * and `sv` (= S·v, or a minibatch estimate of it). Writes ∇R into `grad` at `off` and returns R. A zero `v`
 * gives R = 0 and a zero gradient.
 */
export function rayleighGradient(v: Float64Array, sv: Float64Array, grad: Float64Array, dim: number, off = 0): number {
  let vv = 0;
  let vsv = 0;
  for (let i = 0; i < dim; i++) {
    const x = v[off + i] as number;
    vv += x * x;
    vsv += x * (sv[off + i] as number);
  }
  if (vv === 0) {
    grad.fill(0, off, off + dim);
    return 0;
  }
  const a = 2 / vv;
  const b = (2 * vsv) / (vv * vv);
  for (let i = 0; i < dim; i++) grad[off + i] = a * (sv[off + i] as number) - b * (v[off + i] as number);
  return vsv / vv;
}

/** RMSprop hyper-parameters, with PyTorch's semantics (`torch.optim.RMSprop`, centered = false). */
export interface RmsPropSettings {
  readonly momentum: number;
  /** Smoothing constant of the squared-gradient average. */
  readonly alpha: number;
  /** Added to √(average) before dividing. */
  readonly epsilon: number;
}

/**
 * RMSprop with momentum over a flat parameter vector:
 * a ← α·a + (1−α)·g²; b ← μ·b + g / (√a + ε); p ← p − lr·b (the update `torch.optim.RMSprop` makes, which
 * the fast-splitting code uses with lr 1e-3, μ = 0.9, α = 0.9).
 */
export class RmsProp {
  private readonly square: Float64Array;
  private readonly buffer: Float64Array;

  constructor(
    size: number,
    private readonly settings: RmsPropSettings,
  ) {
    this.square = new Float64Array(size);
    this.buffer = new Float64Array(size);
  }

  /**
   * One step on `params` (in place) with gradient `grad` (a descent step; negate `grad` to ascend), on the
   * entries `[from, to)` only (default all; the others and their optimiser state are left as they are).
   */
  step(params: Float64Array, grad: Float64Array, lr: number, from = 0, to = params.length): void {
    const { momentum, alpha, epsilon } = this.settings;
    const sq = this.square;
    const buf = this.buffer;
    for (let i = from; i < to; i++) {
      const g = grad[i] as number;
      const a = alpha * (sq[i] as number) + (1 - alpha) * g * g;
      sq[i] = a;
      const m = momentum * (buf[i] as number) + g / (Math.sqrt(a) + epsilon);
      buf[i] = m;
      params[i] = (params[i] as number) - lr * m;
    }
  }
}
