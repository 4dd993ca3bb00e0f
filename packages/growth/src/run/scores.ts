import {
  NasError,
  notConvergedCount,
  type Dataset,
  type EigenResult,
  type EigenSolverRegistry,
  type MethodLayer,
  type MethodScores,
  type NetworkSpec,
  type ScoreRequest,
  type SplittingOperator,
  type WeightMap,
  unsplittableEigenResult,
} from '@mitosis/core';
import { NetworkModel, batchTensors, computeLoss, forward, tf } from '@mitosis/engine';
import { buildChannelGraph, type ChannelGraph } from '@mitosis/ir';
import { createSplittingOperator } from '@mitosis/splitting';

/** What the loop scores a network on. */
export interface ScoringInput {
  readonly spec: NetworkSpec;
  readonly weights: WeightMap;
  readonly layers: readonly MethodLayer[];
  /** The scoring samples (a seeded subset of the training set). */
  readonly data: Dataset;
  readonly loss: 'ce' | 'mse';
  readonly batchSize: number;
  readonly solvers: EigenSolverRegistry;
  readonly onProgress?: (done: number, total: number, label: string) => void;
  /** Told once per round how the eigen solver's pairs converged (see {@link EigenConvergenceStats}). */
  readonly onConvergence?: (stats: EigenConvergenceStats) => void;
}

/**
 * How the round's eigenpairs converged. Pairs the solver flags as not converged (`convergedMin`/`convergedMax`
 * = 0) are retried once with the `lanczos` solver on those neurons only (unless the solver was lanczos or
 * dense); pairs still flagged are never acted on: their λ_min becomes +∞ (λ_max −∞), as for an unsplittable
 * layer, so no grower selects them this round.
 */
export interface EigenConvergenceStats {
  readonly solver: string;
  /** Neurons scored. */
  readonly neurons: number;
  /** Neurons with a flagged λ_min or λ_max pair from the solver. */
  readonly notConverged: number;
  /** Of those, how many the lanczos retry converged. */
  readonly recovered: number;
  /** Neurons left with a flagged pair (excluded from this round's selection). */
  readonly skipped: number;
}

/**
 * Checks a method's score requests when the run is set up, before any training: known kinds, and for
 * `splitting` an installed eigen solver whose options validate (`E_PLUGIN_UNKNOWN` / `E_OPTIONS_INVALID`).
 */
export function checkScoreRequests(needs: readonly ScoreRequest[], solvers: EigenSolverRegistry, method: string): void {
  for (const need of needs) {
    if (need.kind === 'splitting') solvers.options(need.solver, need.solverOptions ?? {});
    else if (!['weightNorm', 'bnScale', 'taylor', 'gradientNorm'].includes(need.kind)) {
      throw new NasError('E_PLUGIN_UNKNOWN', `Method "${method}" asks for an unknown score "${(need as { kind: string }).kind}"`, { method, score: need });
    }
  }
}

/**
 * Computes, once, every score the method declared, each parallel to `input.layers` (one value per output
 * channel; tied producers add up). Splitting eigenpairs come from the requested EigenSolver plugin over the
 * splitting operator of the layers' splittable producers; a layer without one gets `dim` 0 and λ_min = +∞,
 * λ_max = −∞ (never selected).
 */
export async function computeScores(needs: readonly ScoreRequest[], input: ScoringInput): Promise<MethodScores> {
  const out: {
    splitting?: EigenResult[];
    weightNorm?: Float64Array[];
    bnScale?: (Float64Array | null)[];
    taylor?: Float64Array[];
    gradientNorm?: Float64Array[];
  } = {};
  const splitting = needs.find((n) => n.kind === 'splitting');
  if (splitting !== undefined && splitting.kind === 'splitting') out.splitting = await splittingScores(input, splitting.solver, splitting.solverOptions ?? {});
  const norm = needs.find((n) => n.kind === 'weightNorm');
  if (norm !== undefined && norm.kind === 'weightNorm') out.weightNorm = input.layers.map((l) => weightNorm(input, l, norm.norm));
  if (needs.some((n) => n.kind === 'bnScale')) {
    const graph = buildChannelGraph(input.spec);
    out.bnScale = input.layers.map((l) => bnScale(input, l, graph));
  }
  const wantTaylor = needs.some((n) => n.kind === 'taylor');
  const wantGrad = needs.some((n) => n.kind === 'gradientNorm');
  if (wantTaylor || wantGrad) {
    const g = gradientScores(input);
    if (wantTaylor) out.taylor = g.taylor;
    if (wantGrad) out.gradientNorm = g.gradientNorm;
  }
  return out;
}

/** A view of an operator restricted to some of its blocks (the solver works on those only). */
function restrictOperator(inner: SplittingOperator, keep: readonly number[]): SplittingOperator {
  const blocks = keep.map((b) => inner.blocks[b]!);
  return {
    blocks,
    batchCount: inner.batchCount,
    async multiply(vectors, batch) {
      const products = await inner.multiply(widen(vectors), batch);
      return keep.map((b) => products[b]!);
    },
    ...(inner.multiplyMany === undefined
      ? {}
      : {
          async multiplyMany(sets: readonly (readonly Float64Array[])[], batch?: number) {
            const products = await inner.multiplyMany!(sets.map(widen), batch);
            return products.map((set) => keep.map((b) => set[b]!));
          },
        }),
    matrices: (block) => inner.matrices(keep[block]!),
  };
  /** The inner operator's vector blocks: `vectors` at the kept blocks, zeros (skipped) elsewhere. */
  function widen(vectors: readonly Float64Array[]): Float64Array[] {
    const full: Float64Array[] = inner.blocks.map((b) => new Float64Array(b.neurons * b.dim));
    keep.forEach((b, i) => (full[b] = vectors[i]!));
    return full;
  }
}

async function splittingScores(input: ScoringInput, solverId: string, solverOptions: Readonly<Record<string, unknown>>): Promise<EigenResult[]> {
  const model = new NetworkModel(input.spec, input.weights);
  try {
    const operator = createSplittingOperator(model, input.data, { loss: input.loss, batchSize: input.batchSize });
    try {
      const wanted = input.layers.filter((l) => l.splittable).map((l) => l.node);
      const keep = wanted.map((node) => {
        const b = operator.blocks.findIndex((block) => block.name === node);
        if (b < 0) throw new NasError('E_RUN_FAILED', `Internal: "${node}" has no splitting block (blocks: ${operator.blocks.map((x) => x.name).join(', ')})`, { node });
        return b;
      });
      const solver = input.solvers.create(solverId, solverOptions);
      const restricted = restrictOperator(operator, keep);
      const solved = await solver.solve(restricted, input.onProgress === undefined ? {} : { onProgress: input.onProgress });
      const { results, stats } = await settleConvergence(restricted, solved, input, solverId);
      input.onConvergence?.(stats);
      const byNode = new Map(results.map((r) => [r.block, r]));
      return input.layers.map((layer) => {
        const r = byNode.get(layer.node);
        if (layer.splittable) {
          if (r === undefined || r.neurons !== layer.width) {
            throw new NasError('E_SHAPE_MISMATCH', `Eigen solver "${solverId}" returned no result for "${layer.node}" (${layer.width} neurons)`, { solver: solverId, node: layer.node });
          }
          return r;
        }
        return unsplittableEigenResult(layer.node, layer.width);
      });
    } finally {
      (operator as { dispose?: () => void }).dispose?.();
    }
  } finally {
    model.dispose();
  }
}

/** An operator whose products are zero for the neurons `mask` leaves out (the network operator skips them). */
function maskOperator(inner: SplittingOperator, mask: readonly Uint8Array[]): SplittingOperator {
  return {
    blocks: inner.blocks,
    batchCount: inner.batchCount,
    multiply: (vectors, batch) => inner.multiply(masked(vectors), batch),
    ...(inner.multiplyMany === undefined ? {} : { multiplyMany: (sets: readonly (readonly Float64Array[])[], batch?: number) => inner.multiplyMany!(sets.map(masked), batch) }),
    matrices: (block) => inner.matrices(block),
  };
  function masked(vectors: readonly Float64Array[]): Float64Array[] {
    return vectors.map((v, b) => {
      const { neurons, dim } = inner.blocks[b]!;
      const out = v.slice();
      for (let j = 0; j < neurons; j++) if (mask[b]![j] === 0) out.fill(0, j * dim, (j + 1) * dim);
      return out;
    });
  }
}

/** Retries flagged pairs with lanczos on those neurons only, then hides what is still flagged (see {@link EigenConvergenceStats}). */
async function settleConvergence(
  operator: SplittingOperator,
  solved: EigenResult[],
  input: ScoringInput,
  solverId: string,
): Promise<{ results: EigenResult[]; stats: EigenConvergenceStats }> {
  const neurons = solved.reduce((a, r) => a + r.neurons, 0);
  const notConverged = solved.reduce((a, r) => a + notConvergedCount(r).either, 0);
  let results = solved;
  let recovered = 0;
  if (notConverged > 0 && solverId !== 'lanczos' && solverId !== 'dense' && input.solvers.has('lanczos')) {
    const mask = solved.map((r) => Uint8Array.from({ length: r.neurons }, (_, j) => (r.convergedMin?.[j] === 0 || r.convergedMax?.[j] === 0 ? 1 : 0)));
    const retry = await input.solvers.create('lanczos', { restarts: 2 }).solve(maskOperator(operator, mask));
    results = solved.map((r, b) => {
      const again = retry[b]!;
      const m = mask[b]!;
      if (!m.some((x) => x === 1)) return r;
      const copy = {
        ...r,
        lambdaMin: r.lambdaMin.slice(),
        lambdaMax: r.lambdaMax.slice(),
        vMin: r.vMin.slice(),
        vMax: r.vMax.slice(),
        residualMin: r.residualMin.slice(),
        residualMax: r.residualMax.slice(),
        convergedMin: (r.convergedMin ?? new Uint8Array(r.neurons).fill(1)).slice(),
        convergedMax: (r.convergedMax ?? new Uint8Array(r.neurons).fill(1)).slice(),
        relativeResidualMin: (r.relativeResidualMin ?? new Float64Array(r.neurons)).slice(),
        relativeResidualMax: (r.relativeResidualMax ?? new Float64Array(r.neurons)).slice(),
      };
      for (let j = 0; j < r.neurons; j++) {
        if (m[j] === 0) continue;
        const ok = again.convergedMin?.[j] !== 0 && again.convergedMax?.[j] !== 0;
        if (!ok) continue;
        recovered++;
        copy.lambdaMin[j] = again.lambdaMin[j]!;
        copy.lambdaMax[j] = again.lambdaMax[j]!;
        copy.vMin.set(again.vMin.subarray(j * r.dim, (j + 1) * r.dim), j * r.dim);
        copy.vMax.set(again.vMax.subarray(j * r.dim, (j + 1) * r.dim), j * r.dim);
        copy.residualMin[j] = again.residualMin[j]!;
        copy.residualMax[j] = again.residualMax[j]!;
        copy.convergedMin[j] = 1;
        copy.convergedMax[j] = 1;
        copy.relativeResidualMin[j] = again.relativeResidualMin?.[j] ?? 0;
        copy.relativeResidualMax[j] = again.relativeResidualMax?.[j] ?? 0;
      }
      return copy;
    });
  }
  // Never act on a flagged pair: score it like an unsplittable neuron for this round.
  let skipped = 0;
  results = results.map((r) => {
    if (notConvergedCount(r).either === 0) return r;
    const lambdaMin = r.lambdaMin.slice();
    const lambdaMax = r.lambdaMax.slice();
    for (let j = 0; j < r.neurons; j++) {
      const a = r.convergedMin?.[j] === 0;
      const b = r.convergedMax?.[j] === 0;
      if (a) lambdaMin[j] = Number.POSITIVE_INFINITY;
      if (b) lambdaMax[j] = Number.NEGATIVE_INFINITY;
      if (a || b) skipped++;
    }
    return { ...r, lambdaMin, lambdaMax };
  });
  return { results, stats: { solver: solverId, neurons, notConverged, recovered, skipped } };
}

function tensorOf(weights: WeightMap, key: string): { shape: readonly number[]; data: Float32Array } {
  const t = weights.get(key);
  if (t === undefined) throw new NasError('E_MODEL_FORMAT', `Weights lack "${key}"`, { key });
  return t as { shape: readonly number[]; data: Float32Array };
}

/** Σ over the layer's producers of f(column c of the kernel, bias c), per channel. */
function perChannel(input: ScoringInput, layer: MethodLayer, f: (values: number[]) => number): Float64Array {
  const out = new Float64Array(layer.width);
  for (const producer of layer.producers) {
    const k = tensorOf(input.weights, `${producer}/kernel`);
    const outs = k.shape[k.shape.length - 1]!;
    const bias = input.weights.get(`${producer}/bias`);
    for (let c = 0; c < outs; c++) {
      const values: number[] = [];
      for (let i = c; i < k.data.length; i += outs) values.push(k.data[i]!);
      if (bias !== undefined) values.push(bias.data[c]!);
      out[c] = out[c]! + f(values);
    }
  }
  return out;
}

function weightNorm(input: ScoringInput, layer: MethodLayer, norm: 1 | 2): Float64Array {
  return perChannel(input, layer, (v) =>
    norm === 1 ? v.reduce((s, x) => s + Math.abs(x), 0) / v.length : Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length),
  );
}

function bnScale(input: ScoringInput, layer: MethodLayer, graph: ChannelGraph): Float64Array | null {
  let out: Float64Array | null = null;
  for (const producer of layer.producers) {
    const bn = graph.producers.get(producer)?.batchNorm ?? null;
    if (bn === null) continue;
    const gamma = tensorOf(input.weights, `${bn}/gamma`);
    out ??= new Float64Array(layer.width);
    for (let c = 0; c < layer.width; c++) out[c] = out[c]! + Math.abs(gamma.data[c]!);
  }
  return out;
}

/**
 * Taylor importance and gradient norms from one pass over the scoring data in inference mode (batch norm uses
 * its running statistics, so the scores do not depend on the batch order). Per minibatch, a channel's Taylor
 * term is (Σ w·∂L/∂w)² over its batch norm's γ, β when it has one, else over its incoming weights and bias;
 * the terms are averaged over minibatches and added over tied producers. The gradient norm is ‖mean ∂L/∂θ‖₂ of
 * the incoming weights and bias.
 */
function gradientScores(input: ScoringInput): { taylor: Float64Array[]; gradientNorm: Float64Array[] } {
  const graph = buildChannelGraph(input.spec);
  const model = new NetworkModel(input.spec, input.weights);
  const taylor = input.layers.map((l) => new Float64Array(l.width));
  const gradSum = new Map<string, Float64Array>();
  const keysOfLayer = input.layers.map((layer) =>
    layer.producers.map((p) => {
      const bn = graph.producers.get(p)?.batchNorm ?? null;
      return {
        producer: p,
        kernel: `${p}/kernel`,
        bias: input.weights.has(`${p}/bias`) ? `${p}/bias` : null,
        gamma: bn === null || !input.weights.has(`${bn}/gamma`) ? null : `${bn}/gamma`,
        beta: bn === null || !input.weights.has(`${bn}/beta`) ? null : `${bn}/beta`,
      };
    }),
  );
  const wanted = new Set<string>();
  for (const ks of keysOfLayer) for (const k of ks) for (const key of [k.kernel, k.bias, k.gamma, k.beta]) if (key !== null) wanted.add(key);
  const lossKind = input.loss === 'ce' ? 'softmaxCrossEntropy' : 'mse';
  const n = input.data.count;
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const batches = Math.ceil(n / input.batchSize);
  try {
    if (n === 0) throw new NasError('E_DATA_INVALID', 'Cannot compute Taylor or gradient scores on an empty scoring set', { samples: 0 });
    const vars = [...wanted].map((key) => {
      const v = model.variables.get(key);
      if (v === undefined || !v.trainable) throw new NasError('E_MODEL_FORMAT', `Gradient scores need the trainable weight "${key}", which the network does not have`, { weight: key });
      return [key, v] as const;
    });
    const values = new Map(vars.map(([key, v]) => [key, v.dataSync() as Float32Array]));
    for (let b = 0; b < batches; b++) {
      const { x, y } = batchTensors(input.data, order, b * input.batchSize, Math.min(n, (b + 1) * input.batchSize));
      try {
        const grads = tf.tidy(() => {
          const { grads: g } = tf.variableGrads(() => computeLoss(lossKind, forward(model, x, { training: false }), y), vars.map(([, v]) => v));
          return vars.map(([key, v]) => {
            const grad = g[v.name];
            if (grad === undefined || grad === null) throw new NasError('E_RUN_FAILED', `The loss has no gradient with respect to "${key}"`, { weight: key });
            return [key, tf.keep(grad)] as const;
          });
        });
        const host = new Map(grads.map(([key, t]) => [key, t.dataSync() as Float32Array]));
        tf.dispose(grads.map(([, t]) => t));
        for (const [key, g] of host) {
          let s = gradSum.get(key);
          if (s === undefined) gradSum.set(key, (s = new Float64Array(g.length)));
          for (let i = 0; i < g.length; i++) s[i] = s[i]! + g[i]!;
        }
        keysOfLayer.forEach((ks, l) => {
          const t = taylor[l]!;
          for (const k of ks) {
            const parts: [string, string | null][] = k.gamma !== null ? [[k.gamma, k.gamma], [k.beta!, k.beta]] : [[k.kernel, k.kernel], [k.bias ?? '', k.bias]];
            const sums = new Float64Array(t.length);
            for (const [, key] of parts) {
              if (key === null) continue;
              const w = values.get(key)!;
              const g = host.get(key)!;
              const outs = t.length;
              for (let i = 0; i < w.length; i++) sums[i % outs] = sums[i % outs]! + w[i]! * g[i]!;
            }
            for (let c = 0; c < t.length; c++) t[c] = t[c]! + (sums[c]! * sums[c]!) / batches;
          }
        });
      } finally {
        tf.dispose([x, y]);
      }
    }
  } finally {
    model.dispose();
  }
  const gradientNorm = keysOfLayer.map((ks, l) => {
    const out = new Float64Array(input.layers[l]!.width);
    for (const k of ks) {
      for (const key of [k.kernel, k.bias]) {
        if (key === null) continue;
        const s = gradSum.get(key)!;
        const outs = out.length;
        for (let i = 0; i < s.length; i++) {
          const mean = s[i]! / batches;
          out[i % outs] = out[i % outs]! + mean * mean;
        }
      }
    }
    return out.map(Math.sqrt);
  });
  return { taylor, gradientNorm };
}
