import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { NasError, SeededRandom, type Dataset, type NetworkSpec, type WeightMap } from '@mitosis/core';
import { initWeights, parseNetworkSpec } from '@mitosis/ir';
import { useBackend, type BackendPreference } from '../backend/use-backend.js';
import { exportLayersModel } from '../interchange/export-layers-model.js';
import { layersModelToSpec } from '../interchange/import-layers-model.js';
import { readLayersModelFiles } from '../interchange/model-artifacts-io.js';
import { NetworkModel } from '../model/network-model.js';
import { evaluate } from '../train/evaluate.js';
import type { OptimizerConfig } from '../train/optimizers.js';
import type { ScheduleConfig } from '../train/schedules.js';
import { train, type EpochMetrics } from '../train/train.js';

/** Options of {@link runTraining} (what `mitosis train` passes). */
export interface RunTrainingOptions {
  /** A LayersModel directory, its `model.json`, or a mitosis network spec JSON file; or a model already loaded
   * with {@link loadModelSource}. */
  readonly model: string | { readonly spec: NetworkSpec; readonly weights: WeightMap };
  /** Data already loaded by the caller (`@mitosis/data`). */
  readonly data: { readonly train: Dataset; readonly val?: Dataset; readonly test?: Dataset };
  readonly epochs: number;
  /** When given, the trained model is exported to `<out>/model/`. */
  readonly out?: string;
  /** Default `auto`. */
  readonly backend?: BackendPreference;
  /** Default 32. */
  readonly batchSize?: number;
  /** Default 0.01. */
  readonly learningRate?: number;
  /** Default SGD with momentum 0.9. */
  readonly optimizer?: OptimizerConfig;
  readonly schedule?: ScheduleConfig;
  /** Seeds weight initialisation (spec files), shuffling and dropout. Default 0. */
  readonly seed?: number;
  /** Machine-readable output: no progress bars. */
  readonly json?: boolean;
}

/** Final metrics of {@link runTraining}. */
export interface RunTrainingResult {
  readonly backend: string;
  readonly backendDetail: string;
  readonly epochs: number;
  readonly history: readonly EpochMetrics[];
  readonly trainLoss: number;
  readonly trainAccuracy?: number;
  readonly valLoss?: number;
  readonly valAccuracy?: number;
  readonly testLoss?: number;
  readonly testAccuracy?: number;
  /** Where the trained LayersModel was written. */
  readonly modelDir?: string;
}

/**
 * Loads a model from a LayersModel directory / `model.json` (trained weights) or from a network spec (fresh
 * weights from `seed`). Anything else throws `E_MODEL_FORMAT` naming the file.
 */
export async function loadModelSource(path: string, seed: number): Promise<{ spec: NetworkSpec; weights: WeightMap }> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    throw new NasError('E_MODEL_FORMAT', `Cannot read model ${path}: ${(error as Error).message}`, { file: path }, { cause: error });
  }
  const file = info.isDirectory() ? join(path, 'model.json') : path;
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new NasError('E_MODEL_FORMAT', `${file}: cannot read as JSON (${(error as Error).message})`, { file }, { cause: error });
  }
  const obj = json as Record<string, unknown> | null;
  if (typeof obj === 'object' && obj !== null && 'modelTopology' in obj) {
    const stored = await readLayersModelFiles(file);
    return layersModelToSpec(stored.modelJson, stored.weights, file);
  }
  if (typeof obj === 'object' && obj !== null && obj['format'] === 'mitosis-network') {
    const spec = parseNetworkSpec(obj, file);
    return { spec, weights: initWeights(spec, seed) };
  }
  throw new NasError('E_MODEL_FORMAT', `${file} is neither a TF.js LayersModel (modelTopology) nor a mitosis network spec (format "mitosis-network")`, {
    file,
  });
}

/**
 * The library side of `mitosis train`: selects the backend, loads the model, trains for `epochs` (reporting
 * each epoch to `onProgress`), evaluates on `data.test` and exports the trained model to `<out>/model/`.
 */
export async function runTraining(
  options: RunTrainingOptions,
  callbacks: { onProgress?: (metrics: EpochMetrics) => void | Promise<void> } = {},
): Promise<RunTrainingResult> {
  const choice = await useBackend(options.backend ?? 'auto');
  const seed = options.seed ?? 0;
  const { spec, weights } = typeof options.model === 'string' ? await loadModelSource(options.model, seed) : options.model;
  const rng = new SeededRandom(seed);
  const model = new NetworkModel(spec, weights, { rng });
  const batchSize = options.batchSize ?? 32;
  try {
    const result = await train(
      model,
      { train: options.data.train, ...(options.data.val !== undefined ? { val: options.data.val } : {}) },
      {
        epochs: options.epochs,
        batchSize,
        learningRate: options.learningRate ?? 0.01,
        optimizer: options.optimizer ?? { kind: 'sgd', momentum: 0.9 },
        ...(options.schedule !== undefined ? { schedule: options.schedule } : {}),
        rng,
        progress: { json: options.json ?? false },
      },
      { ...(callbacks.onProgress !== undefined ? { onEpochEnd: callbacks.onProgress } : {}) },
    );
    result.optimizer.dispose();
    const last = result.history[result.history.length - 1];
    const test = options.data.test !== undefined && options.data.test.count > 0 ? evaluate(model, options.data.test, batchSize) : undefined;
    let modelDir: string | undefined;
    if (options.out !== undefined) {
      modelDir = join(options.out, 'model');
      await exportLayersModel(modelDir, spec, model.toWeightMap());
    }
    return {
      backend: choice.backend,
      backendDetail: choice.detail,
      epochs: options.epochs,
      history: result.history,
      trainLoss: last?.loss ?? Number.NaN,
      ...(last?.accuracy !== undefined ? { trainAccuracy: last.accuracy } : {}),
      ...(last?.valLoss !== undefined ? { valLoss: last.valLoss } : {}),
      ...(last?.valAccuracy !== undefined ? { valAccuracy: last.valAccuracy } : {}),
      ...(test !== undefined ? { testLoss: test.loss } : {}),
      ...(test?.accuracy !== undefined ? { testAccuracy: test.accuracy } : {}),
      ...(modelDir !== undefined ? { modelDir } : {}),
    };
  } finally {
    model.dispose();
  }
}
