import { NasError, notConvergedCount, type Dataset, type EigenSolver, type EigenSolveOptions, type NetworkSpec, type WeightMap } from '@mitosis/core';
import { importLayersModel, NetworkModel } from '@mitosis/engine';
import { createSplittingOperator, type NetworkSplittingOperator } from './splitting-operator.js';

/** Input of {@link computeSplitScores}: a LayersModel directory, or a spec with its weights. */
export type SplitScoresInput = ({ readonly modelDir: string } | { readonly spec: NetworkSpec; readonly weights: WeightMap }) & {
  /** Scoring data (the CLI resolves `--data <id|path>`). */
  readonly data: Dataset;
  /** `mse`: mean over every element of ½(f−y)²; `ce`: mean softmax cross-entropy over samples. */
  readonly loss: 'mse' | 'ce';
  /** A configured eigen solver (dense, rayleigh, lanczos, …). */
  readonly solver: EigenSolver;
  readonly batchSize?: number;
  readonly maxSamples?: number;
  readonly reluBeta?: number;
} & EigenSolveOptions;

/** One neuron's extreme eigenpairs; vectors are unit, in the θ layout of growth-plan.ts. */
export interface NeuronScore {
  readonly lambdaMin: number;
  readonly lambdaMax: number;
  readonly vMin: number[];
  readonly vMax: number[];
  /** ‖Sv − λv‖/‖S‖ of each pair (‖S‖ = max(|λ_min|, |λ_max|)); null when the solver does not report it. */
  readonly relativeResidualMin: number | null;
  readonly relativeResidualMax: number | null;
  /** Both pairs met the solver's convergence test (true when the solver does not judge). */
  readonly converged: boolean;
}

/** The JSON of `mitosis split-scores --json`. */
export interface SplitScores {
  readonly solver: string;
  /** How S is normalised: the loss and the averaging (samples averaged, conv positions summed). */
  readonly lossConvention: string;
  readonly samples: number;
  /** Neurons with a pair the solver flagged as not converged (never acted on by the run loop; see docs/splitting.md). */
  readonly notConverged: number;
  readonly layers: { readonly name: string; readonly dim: number; readonly notConverged: number; readonly neurons: NeuronScore[] }[];
}

/**
 * Splitting indices of every splittable neuron: S_j = E[g σ''(z) c² x̃x̃ᵀ] with g = ∂L/∂h of the batch-mean loss
 * (eval-mode BN, ReLU through the softplus-β surrogate), then λ_min, λ_max and their unit vectors from `solver`.
 */
export async function computeSplitScores(input: SplitScoresInput): Promise<SplitScores> {
  const loaded = 'modelDir' in input ? await importLayersModel(input.modelDir) : { spec: input.spec, weights: input.weights };
  const model = new NetworkModel(loaded.spec, loaded.weights);
  let op: NetworkSplittingOperator | undefined;
  try {
    op = createSplittingOperator(model, input.data, {
      loss: input.loss,
      ...(input.batchSize !== undefined ? { batchSize: input.batchSize } : {}),
      ...(input.maxSamples !== undefined ? { maxSamples: input.maxSamples } : {}),
      ...(input.reluBeta !== undefined ? { reluBeta: input.reluBeta } : {}),
    });
    if (op.blocks.length === 0) {
      throw new NasError(
        'E_SPEC_INVALID',
        `Network "${loaded.spec.name ?? 'network'}" has no splittable layer (a dense or conv2d followed by a non-identity activation)`,
        {},
      );
    }
    const solveOptions: EigenSolveOptions = {
      ...(input.onProgress !== undefined ? { onProgress: input.onProgress } : {}),
      ...(input.signal !== undefined ? { signal: input.signal } : {}),
    };
    const results = await input.solver.solve(op, solveOptions);
    return {
      solver: input.solver.id,
      lossConvention:
        input.loss === 'mse'
          ? 'L = mean over samples and outputs of ½(f−y)²; S averaged over samples, conv positions summed'
          : 'L = mean over samples of softmax cross-entropy; S averaged over samples, conv positions summed',
      samples: op.sampleCount,
      notConverged: results.reduce((a, r) => a + notConvergedCount(r).either, 0),
      layers: results.map((r) => ({
        name: r.block,
        dim: r.dim,
        notConverged: notConvergedCount(r).either,
        neurons: Array.from({ length: r.neurons }, (_, j) => ({
          lambdaMin: r.lambdaMin[j]!,
          lambdaMax: r.lambdaMax[j]!,
          vMin: Array.from(r.vMin.subarray(j * r.dim, (j + 1) * r.dim)),
          vMax: Array.from(r.vMax.subarray(j * r.dim, (j + 1) * r.dim)),
          relativeResidualMin: r.relativeResidualMin?.[j] ?? null,
          relativeResidualMax: r.relativeResidualMax?.[j] ?? null,
          converged: r.convergedMin?.[j] !== 0 && r.convergedMax?.[j] !== 0,
        })),
      })),
    };
  } finally {
    op?.dispose();
    model.dispose();
  }
}
