import { join } from 'node:path';
import type { MitosisModel } from './model-source.js';
import { MODEL_ONNX } from './model-source.js';
import { writeOnnxFile, type OnnxExportOptions } from './onnx/onnx-export.js';
import type { OnnxModelInfo } from './onnx/onnx-model-info.js';
import { checkOnnxAgainstTfjs, type OnnxCheck } from './onnx/onnx-verify.js';

/**
 * The largest |ONNX Runtime − TF.js| an export may show, relative to max(1, largest |output|): float32 kernels
 * that sum in another order differ by a few ulps per layer, far below this.
 */
export const ONNX_CHECK_TOLERANCE = 1e-4;

/** Options of {@link exportModelOnnx}: the graph options; normalisation, task and labels come from the model's folder. */
export interface ModelOnnxOptions extends Omit<OnnxExportOptions, 'normalisation' | 'task' | 'labels' | 'source'> {
  /** Compare the written model with the TF.js model on random inputs (default true). */
  readonly check?: boolean;
  /** ONNX Runtime threads for the check. */
  readonly threads?: number;
}

/** What {@link exportModelOnnx} wrote. */
export interface ModelOnnxResult {
  readonly file: string;
  readonly bytes: number;
  readonly info: OnnxModelInfo;
  /** The comparison with TF.js, unless skipped. */
  readonly check: (OnnxCheck & { readonly withinTolerance: boolean }) | null;
}

/**
 * Exports a loaded model to `file` as ONNX with everything its folder knows: the training normalisation (folded
 * into the graph unless `foldNormalisation: false`), regression vs classification and the class names from
 * `dataset.json`, and where it came from (`mitosis.source`, `mitosis.dataset` metadata). Then, by default, checks
 * the file in ONNX Runtime against the TF.js model.
 */
export async function exportModelOnnx(model: MitosisModel, file: string, options: ModelOnnxOptions = {}): Promise<ModelOnnxResult> {
  const data = model.dataInfo;
  const { check: doCheck, threads, ...graph } = options;
  const { bytes, info } = await writeOnnxFile(file, model.spec, model.weights, {
    ...graph,
    normalisation: model.normalisation,
    task: data?.task ?? 'classification',
    ...(data?.classNames === null || data?.classNames === undefined ? {} : { labels: data.classNames }),
    source: model.source,
    metadata: { ...(graph.metadata ?? {}), 'mitosis.source': model.source, ...(data === null ? {} : { 'mitosis.dataset': data.dataset }) },
  });
  let check: ModelOnnxResult['check'] = null;
  if (doCheck !== false) {
    const c = await checkOnnxAgainstTfjs(bytes, info, model.spec, model.weights, model.normalisation, threads === undefined ? {} : { threads });
    check = { ...c, withinTolerance: c.maxAbsDiff <= ONNX_CHECK_TOLERANCE * Math.max(1, c.maxAbsOutput) };
  }
  return { file, bytes: bytes.length, info, check };
}

/** Where a model folder's ONNX twin goes: `<modelDir>/model.onnx`. */
export function onnxBesideModel(modelDir: string): string {
  return join(modelDir, MODEL_ONNX);
}
