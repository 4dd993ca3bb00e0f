import type { Dataset, NetworkSpec, WeightMap } from '@mitosis/core';
import { NetworkModel } from '@mitosis/engine';
import { applyGrowthPlan, getNeuronParams, referenceForward } from '@mitosis/ir';
import { symmetricEigen, symmetricExtremeEigen } from '@mitosis/linalg';
import { createSplittingOperator, type SplittingOperatorOptions } from './splitting-operator.js';

/**
 * An independent float64 oracle of the splitting matrix, for tests and reports: the second derivative of the
 * loss after the actual surgery (`applyGrowthPlan`, two offspring θ ± εv with outgoing weights ½), with respect to
 * ε, by finite differences of ir's float64 `referenceForward`. The surgery gives the structure (which channels
 * and per-channel parameters are copied, which consumer columns are halved); the offspring's parameters are then
 * written in float64, so no float32 rounding enters. Nothing here uses the TF.js operator.
 */

/** Mean over every element of ½(f − y)² (`mse`) or mean softmax cross-entropy (`ce`), in float64. */
export function loss64(spec: NetworkSpec, weights: WeightMap, data: Dataset, loss: 'mse' | 'ce'): number {
  const out = referenceForward(spec, weights, Float64Array.from(data.x), data.count);
  if (loss === 'mse') {
    let acc = 0;
    for (let i = 0; i < out.length; i++) acc += 0.5 * (out[i]! - data.y[i]!) ** 2;
    return acc / out.length;
  }
  const k = out.length / data.count;
  let acc = 0;
  for (let n = 0; n < data.count; n++) {
    let max = -Infinity;
    for (let c = 0; c < k; c++) max = Math.max(max, out[n * k + c]!);
    let sum = 0;
    for (let c = 0; c < k; c++) sum += Math.exp(out[n * k + c]! - max);
    acc += Math.log(sum) + max - out[n * k + data.y[n]!]!;
  }
  return acc / data.count;
}

function float64Copy(weights: WeightMap): WeightMap {
  const out: WeightMap = new Map();
  for (const [key, t] of weights) out.set(key, { shape: [...t.shape], data: Float64Array.from(t.data) as unknown as Float32Array });
  return out;
}

/** The network after a symmetric split of `node`[`neuron`], with the offspring's θ settable in float64. */
export class SplitProbe {
  readonly dim: number;
  private readonly spec: NetworkSpec;
  private readonly weights: WeightMap;
  private readonly theta: Float64Array;
  private readonly outs: number;
  private readonly child: number;
  readonly base: number;

  constructor(
    spec: NetworkSpec,
    weights: WeightMap,
    private readonly data: Dataset,
    private readonly node: string,
    private readonly neuron: number,
    private readonly loss: 'mse' | 'ce' = 'mse',
  ) {
    this.theta = getNeuronParams(spec, weights, node, neuron);
    this.dim = this.theta.length;
    const zero = new Array<number>(this.dim).fill(0);
    const split = applyGrowthPlan(spec, weights, {
      action: 'grow',
      method: 'oracle',
      round: 0,
      epsilon: 0,
      entries: [
        {
          node,
          neuron,
          offspring: [
            { weight: 0.5, direction: zero },
            { weight: 0.5, direction: zero },
          ],
          scheme: 'oracle',
          score: 0,
          predictedDeltaLoss: null,
          cost: null,
        },
      ],
      predictedDeltaLoss: null,
    });
    this.spec = split.spec;
    this.weights = float64Copy(split.weights);
    const kernel = this.weights.get(`${node}/kernel`)!;
    this.outs = kernel.shape[kernel.shape.length - 1]!;
    this.child = this.outs - 1;
    this.base = loss64(spec, float64Copy(weights), data, loss);
  }

  private write(column: number, theta: Float64Array): void {
    const kernel = this.weights.get(`${this.node}/kernel`)!.data;
    const bias = this.weights.get(`${this.node}/bias`)?.data;
    const fanIn = kernel.length / this.outs;
    for (let r = 0; r < fanIn; r++) kernel[r * this.outs + column] = theta[r]!;
    if (bias !== undefined) bias[column] = theta[fanIn]!;
  }

  /** L(split with offspring θ ± εv) − L(unsplit), in float64. */
  deltaLoss(v: ArrayLike<number>, epsilon: number): number {
    const plus = this.theta.map((t, i) => t + epsilon * v[i]!);
    const minus = this.theta.map((t, i) => t - epsilon * v[i]!);
    this.write(this.neuron, plus);
    this.write(this.child, minus);
    const l = loss64(this.spec, this.weights, this.data, this.loss);
    this.write(this.neuron, this.theta);
    this.write(this.child, this.theta);
    return l - this.base;
  }

  /**
   * vᵀSv = d²L(split)/dε² at 0 (the loss is even in ε): D(h) = 2ΔL(h)/h², Richardson-extrapolated
   * (4D(h/2) − D(h))/3, which cancels the h² term.
   */
  quadratic(v: ArrayLike<number>, h = 1e-2): number {
    const d = (e: number): number => (2 * this.deltaLoss(v, e)) / (e * e);
    return (4 * d(h / 2) - d(h)) / 3;
  }

  /** The whole matrix, `dim × dim` row-major, by polarisation: S_ab = (q(e_a + e_b) − q(e_a − e_b))/4. */
  matrix(h = 1e-2): Float64Array {
    const n = this.dim;
    const s = new Float64Array(n * n);
    const v = new Float64Array(n);
    for (let a = 0; a < n; a++) {
      v.fill(0);
      v[a] = 1;
      s[a * n + a] = this.quadratic(v, h);
      for (let b = a + 1; b < n; b++) {
        v.fill(0);
        v[a] = 1;
        v[b] = 1;
        const p = this.quadratic(v, h);
        v[b] = -1;
        const m = this.quadratic(v, h);
        s[a * n + b] = s[b * n + a] = (p - m) / 4;
      }
    }
    return s;
  }
}

/** One neuron compared with the oracle; errors are relative to the spectral radius ρ of the exact matrix. */
export interface OracleCheck {
  readonly node: string;
  readonly neuron: number;
  /** max |S − S_exact| / ρ. */
  readonly matrixErr: number;
  /** ‖S·v − S_exact·v‖∞ / (ρ‖v‖) for a random v, from the fast product. */
  readonly productErr: number;
  /** max(|Δλ_min|, |Δλ_max|) / ρ of the dense eigenpairs of S against those of S_exact. */
  readonly lambdaErr: number;
  readonly cosMin: number;
  readonly cosMax: number;
  /** Measured ΔL of the split along the operator's v_min at ε = 1e-3 over ε²/2·vᵀSv (S from the operator). */
  readonly deltaRatio: number;
  readonly lambdaMin: number;
  readonly exactLambdaMin: number;
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>, n: number): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < n; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return Math.abs(ab) / Math.sqrt(aa * bb);
}

function quadratic(s: Float64Array, v: ArrayLike<number>, dim: number, offset = 0): number {
  let acc = 0;
  for (let r = 0; r < dim; r++) for (let c = 0; c < dim; c++) acc += v[r]! * s[offset + r * dim + c]! * v[c]!;
  return acc;
}

/**
 * Every neuron of every block of the TF.js operator on (`spec`, `weights`, `data`) against the float64 oracle
 * (explicit matrices, one fast product per block, dense extreme eigenpairs, the ΔL of a split at ε = 1e-3).
 * `neurons` limits the neurons checked per block (default all). Small networks only: the oracle costs
 * O(dim²) float64 forwards per neuron.
 */
export async function compareWithOracle(
  spec: NetworkSpec,
  weights: WeightMap,
  data: Dataset,
  options: SplittingOperatorOptions & { readonly seed?: number; readonly neurons?: number },
): Promise<OracleCheck[]> {
  const model = new NetworkModel(spec, weights);
  const checks: OracleCheck[] = [];
  try {
    const op = createSplittingOperator(model, data, options);
    let state = (options.seed ?? 1) + 3;
    const rnd = (): number => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
    const vectors = op.blocks.map((b) => Float64Array.from({ length: b.neurons * b.dim }, rnd));
    const products = await op.multiply(vectors);
    for (let k = 0; k < op.blocks.length; k++) {
      const { name, neurons, dim } = op.blocks[k]!;
      const matrices = await op.matrices(k);
      for (let j = 0; j < Math.min(neurons, options.neurons ?? neurons); j++) {
        const probe = new SplitProbe(spec, weights, data, name, j, options.loss);
        const exact = probe.matrix();
        const all = symmetricEigen(exact, dim).values;
        const rho = Math.max(Math.abs(all[0]!), Math.abs(all[dim - 1]!));
        let matrixErr = 0;
        for (let i = 0; i < dim * dim; i++) matrixErr = Math.max(matrixErr, Math.abs(matrices[j * dim * dim + i]! - exact[i]!));
        const v = vectors[k]!.subarray(j * dim, (j + 1) * dim);
        let productErr = 0;
        let vNorm = 0;
        for (let r = 0; r < dim; r++) {
          let sv = 0;
          for (let c = 0; c < dim; c++) sv += exact[r * dim + c]! * v[c]!;
          productErr = Math.max(productErr, Math.abs(products[k]![j * dim + r]! - sv));
          vNorm += v[r]! * v[r]!;
        }
        const mine = symmetricExtremeEigen(matrices, dim, j * dim * dim);
        const truth = symmetricExtremeEigen(exact, dim);
        const lambdaErr = Math.max(Math.abs(mine.values[0]! - truth.values[0]!), Math.abs(mine.values[dim - 1]! - truth.values[dim - 1]!)) / rho;
        const eps = 1e-3;
        const pred = ((eps * eps) / 2) * quadratic(matrices, mine.vMin, dim, j * dim * dim);
        checks.push({
          node: name,
          neuron: j,
          matrixErr: matrixErr / rho,
          productErr: productErr / (rho * Math.sqrt(vNorm)),
          lambdaErr,
          cosMin: cosine(mine.vMin, truth.vMin, dim),
          cosMax: cosine(mine.vMax, truth.vMax, dim),
          deltaRatio: probe.deltaLoss(mine.vMin, eps) / pred,
          lambdaMin: mine.values[0]!,
          exactLambdaMin: truth.values[0]!,
        });
      }
    }
    op.dispose();
  } finally {
    model.dispose();
  }
  return checks;
}
