import { existsSync, statSync, type Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { NasError, type NetworkSpec, type WeightMap } from '@mitosis/core';
import { readModelDataInfo, readModelNormalisation, type ModelDataInfo } from '@mitosis/data';
import { CHECKPOINT_JSON, loadCheckpoint, loadModelSource, MODEL_JSON } from '@mitosis/engine';
import { readOnnxModelInfo, type InputNormalisation, type OnnxModelInfo } from './onnx/onnx-model-info.js';

/** The file name of the ONNX model written beside a LayersModel. */
export const MODEL_ONNX = 'model.onnx';
/** A run directory keeps its final model here. */
const RUN_MODEL_DIR = 'model';
const RUN_SUMMARY = 'summary.json';

/** A model mitosis can run with TF.js: its network, weights and the sidecar files of its folder. */
export interface MitosisModel {
  readonly format: 'tfjs';
  readonly spec: NetworkSpec;
  readonly weights: WeightMap;
  /** What was read: the `model.json`, the checkpoint folder or the network spec. */
  readonly source: string;
  /** The folder holding the model and its sidecars (`normalisation.json`, `dataset.json`), or null for a spec file. */
  readonly modelDir: string | null;
  /** The run directory when `--model` named one. */
  readonly runDir: string | null;
  /** The normalisation the model was trained with (`normalisation.json`), or null: it takes raw inputs. */
  readonly normalisation: InputNormalisation | null;
  /** What the model was trained on (`dataset.json`), when its folder says. */
  readonly dataInfo: ModelDataInfo | null;
}

/** An ONNX file and what it takes and returns. */
export interface OnnxModelFile {
  readonly format: 'onnx';
  readonly file: string;
  readonly bytes: Uint8Array;
  readonly info: OnnxModelInfo;
}

function notAModel(path: string, why: string): NasError {
  return new NasError('E_MODEL_FORMAT', `${path}: ${why}`, { file: path });
}

/** The final model folder of a run directory (`<run>/model`), or null when `dir` is not a run. */
function runModelDir(dir: string): string | null {
  const inner = join(dir, RUN_MODEL_DIR);
  return existsSync(join(inner, MODEL_JSON)) && (existsSync(join(dir, RUN_SUMMARY)) || !existsSync(join(dir, MODEL_JSON))) ? inner : null;
}

function statOrFail(path: string): Stats {
  try {
    return statSync(path);
  } catch (error) {
    throw new NasError('E_MODEL_FORMAT', `Cannot read model ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (error as Error).message}`, { file: path }, { cause: error });
  }
}

/** True when `path` names an ONNX file (by its extension). */
export function isOnnxPath(path: string): boolean {
  return path.toLowerCase().endsWith('.onnx');
}

/**
 * Loads any model mitosis can run with TF.js: a TF.js LayersModel folder or its `model.json`, a run directory (its
 * final `model/` folder), a checkpoint folder (its exact network spec and weights), or a mitosis network spec
 * (fresh weights from `seed`). The folder's `normalisation.json` and `dataset.json` come along. Anything else —
 * an ONNX file included, which mitosis writes but does not read back into TF.js — is `E_MODEL_FORMAT` naming it.
 */
export async function loadMitosisModel(path: string, seed = 0): Promise<MitosisModel> {
  if (isOnnxPath(path)) throw notAModel(path, 'an ONNX file cannot be converted back to a TF.js model; export from the LayersModel folder it came from');
  const info = statOrFail(path);
  let runDir: string | null = null;
  let dir: string | null = null;
  if (info.isDirectory()) {
    const inner = runModelDir(path);
    if (inner !== null) {
      runDir = path;
      dir = inner;
    } else dir = path;
    if (existsSync(join(dir, CHECKPOINT_JSON))) {
      const checkpoint = await loadCheckpoint(dir);
      return { format: 'tfjs', spec: checkpoint.spec, weights: checkpoint.weights, source: dir, modelDir: dir, runDir, ...sidecars(dir) };
    }
    if (!existsSync(join(dir, MODEL_JSON))) {
      throw notAModel(path, `no ${MODEL_JSON} here (a TF.js LayersModel folder, a run directory with ${RUN_MODEL_DIR}/${MODEL_JSON}, or a checkpoint folder)`);
    }
  } else if (basename(path) === MODEL_JSON) dir = dirname(path);
  const file = dir !== null && info.isDirectory() ? join(dir, MODEL_JSON) : path;
  const { spec, weights } = await loadModelSource(file, seed);
  // A network spec file has no folder of its own: its weights are fresh and nothing beside it describes them.
  const modelDir = dir;
  return { format: 'tfjs', spec, weights, source: file, modelDir, runDir, ...(modelDir === null ? { normalisation: null, dataInfo: null } : sidecars(modelDir)) };
}

function sidecars(dir: string): { normalisation: InputNormalisation | null; dataInfo: ModelDataInfo | null } {
  return { normalisation: readModelNormalisation(dir), dataInfo: readModelDataInfo(dir) };
}

/**
 * Reads an ONNX model: an `.onnx` file, or the `model.onnx` of a model folder or of a run's final model folder.
 * A missing file or bytes that are not ONNX are `E_MODEL_FORMAT` naming the path.
 */
export async function loadOnnxModel(path: string): Promise<OnnxModelFile> {
  let file = path;
  if (!isOnnxPath(path)) {
    const info = statOrFail(path);
    if (!info.isDirectory()) throw notAModel(path, `not an ONNX file (expected a .onnx file or a folder holding ${MODEL_ONNX})`);
    file = join(runModelDir(path) ?? path, MODEL_ONNX);
    if (!existsSync(file)) throw notAModel(path, `no ${MODEL_ONNX} here (export one with: mitosis export --model ${path} --format onnx --out ${file})`);
  } else if (!statOrFail(path).isFile()) throw notAModel(path, 'not a regular file');
  const bytes = new Uint8Array(await readFile(file));
  return { format: 'onnx', file, bytes, info: readOnnxModelInfo(bytes, file) };
}
