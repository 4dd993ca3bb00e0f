import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { NasError } from '@mitosis/core';
import { writeModelDataInfo, writeModelNormalisation } from '@mitosis/data';
import {
  exportModelOnnx,
  loadMitosisModel,
  MODEL_ONNX,
  ONNX_CHECK_TOLERANCE,
  onnxBesideModel,
  type MitosisModel,
  type ModelOnnxResult,
  type OnnxInputLayout,
} from '@mitosis/deploy';
import { exportLayersModel, useBackend } from '@mitosis/engine';
import { integerFlag } from '../flags.js';
import { CommandExit, emit, type GlobalOptions, type Io } from '../io.js';
import { backendOption } from './train.js';

interface ExportFlags {
  model: string;
  format: string;
  out: string;
  foldBn?: boolean;
  softmax?: boolean;
  inputLayout: string;
  foldNormalisation: boolean;
  check: boolean;
  seed: string;
  backend: string;
}

/** The result `mitosis export` prints. */
interface ExportResult {
  readonly format: 'onnx' | 'tfjs';
  readonly model: string;
  readonly out: string;
  readonly onnx?: Omit<ModelOnnxResult, 'file'>;
}

function formatOption(value: string): 'onnx' | 'tfjs' {
  if (value === 'onnx' || value === 'tfjs') return value;
  throw new NasError('E_USAGE', `--format must be onnx or tfjs, got "${value}"`, { option: '--format', value });
}

function layoutOption(value: string): OnnxInputLayout {
  if (value === 'nhwc' || value === 'nchw') return value;
  throw new NasError('E_USAGE', `--input-layout must be nhwc or nchw, got "${value}"`, { option: '--input-layout', value });
}

/** `--out` for ONNX: a `.onnx` file, or a folder (existing, or written with a trailing slash) that gets `model.onnx`. */
function onnxTarget(out: string): string {
  if (out.toLowerCase().endsWith('.onnx')) return out;
  if (out.endsWith('/') || (existsSync(out) && statSync(out).isDirectory())) return join(out, MODEL_ONNX);
  throw new NasError('E_USAGE', `--out for --format onnx must be a .onnx file or a folder, got "${out}"`, { option: '--out', value: out });
}

/** One line on what an ONNX export takes and returns, and how it compared with TF.js. */
export function describeOnnxExport(r: ModelOnnxResult): string {
  const i = r.info;
  const input = `input [batch, ${i.onnxInputShape.join(', ')}] ${i.inputLayout}${i.normalisation === null ? '' : i.normalisation.folded ? ', raw (normalisation in the graph)' : ', normalised by the caller'}`;
  const output = `output [batch, ${i.outputShape.join(', ')}] ${i.outputKind}`;
  const check =
    r.check === null
      ? 'not checked'
      : `ONNX Runtime vs TF.js: max |Δ| ${r.check.maxAbsDiff.toExponential(2)} on ${r.check.samples} random inputs${r.check.withinTolerance ? '' : ' — ABOVE TOLERANCE'}`;
  return `${r.file} (opset ${i.opset}, ${(r.bytes / 1024).toFixed(1)} KiB; ${input}; ${output}; batch norm ${i.batchNorm}; ${check})`;
}

/**
 * Writes `model.onnx` beside a run's final LayersModel (batch norm folded, the training normalisation folded in,
 * logits out) and checks it against TF.js. Fails soft: a model that cannot be exported gets a warning on stderr
 * and the run's result stands. Returns the file written, or null.
 */
export async function writeRunOnnx(modelDir: string, io: Io): Promise<string | null> {
  try {
    const model = await loadMitosisModel(modelDir);
    const result = await exportModelOnnx(model, onnxBesideModel(modelDir), { foldBatchNorm: true });
    if (result.check !== null && !result.check.withinTolerance) {
      io.stderr(`mitosis: warning: ${result.file} differs from the TF.js model by up to ${result.check.maxAbsDiff.toExponential(2)}\n`);
    }
    return result.file;
  } catch (error) {
    const why = NasError.is(error) ? `${error.code}: ${error.message}` : (error as Error).message;
    io.stderr(`mitosis: warning: no ${MODEL_ONNX} for ${modelDir}: ${why}\n`);
    return null;
  }
}

async function exportTfjs(model: MitosisModel, out: string): Promise<void> {
  await exportLayersModel(out, model.spec, model.weights);
  // The sidecars travel with the model: whoever loads it must know its normalisation and what its outputs mean.
  if (model.normalisation !== null) writeModelNormalisation(out, { mean: [...model.normalisation.mean], std: [...model.normalisation.std] });
  if (model.dataInfo !== null) writeModelDataInfo(out, model.dataInfo);
}

/** `mitosis export`: converts any model mitosis reads to ONNX or to a TF.js LayersModel. */
export function registerExportCommand(program: Command, io: Io): void {
  program
    .command('export')
    .description('convert a model (LayersModel folder, run directory, checkpoint or network spec) to ONNX or a TF.js LayersModel')
    .requiredOption('--model <path>', 'LayersModel folder or model.json, run directory (its final model), checkpoint folder, or network spec (fresh weights)')
    .requiredOption('--out <path>', 'ONNX: a .onnx file or a folder (gets model.onnx); tfjs: the LayersModel folder to write')
    .option('--format <onnx|tfjs>', 'output format', 'onnx')
    .option('--fold-bn', 'ONNX: fold each batch norm into the conv/dense before it (default: BatchNormalization nodes)')
    .option('--softmax', 'ONNX: append a softmax so the model outputs probabilities (default: logits)')
    .option('--input-layout <nhwc|nchw>', 'ONNX: layout of an image input (nhwc = what the TF.js model takes; nchw = the ONNX convention)', 'nhwc')
    .option('--no-fold-normalisation', "ONNX: leave the model's input normalisation to the caller (recorded in the metadata) instead of putting it in the graph")
    .option('--no-check', 'ONNX: skip the comparison of the written file with the TF.js model in ONNX Runtime')
    .option('--seed <n>', 'weights seed when --model is a network spec', '0')
    .option('--backend <name>', 'TF.js backend for the check: auto | tensorflow | wasm | cpu', 'auto')
    .action(async (flags: ExportFlags, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const format = formatOption(flags.format);
      const inputLayout = layoutOption(flags.inputLayout);
      if (format === 'tfjs' && (flags.foldBn === true || flags.softmax === true || inputLayout !== 'nhwc')) {
        throw new NasError('E_USAGE', '--fold-bn, --softmax and --input-layout apply to --format onnx only', { option: '--format', value: format });
      }
      const model = await loadMitosisModel(flags.model, integerFlag('--seed', flags.seed));
      let result: ExportResult;
      if (format === 'tfjs') {
        await exportTfjs(model, flags.out);
        result = { format, model: model.source, out: flags.out };
      } else {
        const file = onnxTarget(flags.out);
        if (flags.check) await useBackend(backendOption(flags.backend));
        const { file: written, ...onnx } = await exportModelOnnx(model, file, {
          foldBatchNorm: flags.foldBn === true,
          softmax: flags.softmax === true,
          inputLayout,
          foldNormalisation: flags.foldNormalisation,
          check: flags.check,
        });
        result = { format, model: model.source, out: written, onnx };
      }
      emit(io, options, result, () =>
        result.onnx === undefined
          ? `wrote TF.js LayersModel ${result.out} (from ${result.model})\n`
          : `wrote ONNX ${describeOnnxExport({ file: result.out, ...result.onnx })}\n`,
      );
      const check = result.onnx?.check;
      if (check !== null && check !== undefined && !check.withinTolerance) {
        // The file is written and reported; the exit status says it is not to be trusted.
        io.stderr(`mitosis: E_NUMERICAL: ${result.out} differs from the TF.js model by up to ${check.maxAbsDiff} (tolerance ${ONNX_CHECK_TOLERANCE} × max(1, |output|))\n`);
        throw new CommandExit(1);
      }
    });
}
