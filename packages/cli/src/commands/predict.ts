import type { Command } from 'commander';
import { NasError } from '@mitosis/core';
import { loadSamples, type SampleSelection } from '@mitosis/data';
import { isOnnxPath, loadMitosisModel, loadOnnxModel, predictOnnx, predictTfjs, type PredictionReport } from '@mitosis/deploy';
import { useBackend } from '@mitosis/engine';
import { integerFlag } from '../flags.js';
import { emit, type GlobalOptions, type Io } from '../io.js';
import { backendOption } from './train.js';

interface PredictFlags {
  model: string;
  data: string;
  split: string;
  samples?: string;
  format?: string;
  batchSize: string;
  seed: string;
  backend: string;
  threads?: string;
}

/** What `mitosis predict` prints (`outputs` are never printed). */
export interface PredictResult extends Omit<PredictionReport, 'outputs'> {
  /** The file that ran: the `.onnx` file or the `model.json`. */
  readonly model: string;
  readonly data: { readonly ref: string; readonly split: SampleSelection; readonly description: string };
}

/** `mitosis predict`: runs a TF.js LayersModel or an ONNX model on data and reports accuracy and sample count. */
export function registerPredictCommand(program: Command, io: Io): void {
  program
    .command('predict')
    .description('run a model (TF.js LayersModel or ONNX, in ONNX Runtime) on a data set and report accuracy, loss and sample count')
    .requiredOption('--model <path>', '.onnx file, LayersModel folder or model.json, run directory, or checkpoint folder')
    .requiredOption('--data <id|path>', 'embedded data set id (mnist, blobs, …) or a path (IDX / CIFAR directory, .json, .npy/.npz)')
    .option('--split <test|val|train|all>', 'which samples: a seeded split as `train` and `run` make it, or all samples as given', 'test')
    .option('--samples <n>', 'score a seeded random subset of at most n of those samples')
    .option('--format <onnx|tfjs>', 'for a folder: run its model.onnx (onnx) or its LayersModel (tfjs, the default); a .onnx file is always onnx')
    .option('--batch-size <n>', 'samples per batch', '256')
    .option('--seed <n>', 'seed of the data split', '0')
    .option('--backend <name>', 'TF.js backend for a LayersModel: auto | tensorflow | wasm | cpu', 'auto')
    .option('--threads <n>', 'ONNX Runtime intra-op threads (default: one per core)')
    .action(async (flags: PredictFlags, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      if (!['all', 'train', 'val', 'test'].includes(flags.split)) {
        throw new NasError('E_USAGE', `--split must be test, val, train or all, got "${flags.split}"`, { option: '--split', value: flags.split });
      }
      if (flags.format !== undefined && flags.format !== 'onnx' && flags.format !== 'tfjs') {
        throw new NasError('E_USAGE', `--format must be onnx or tfjs, got "${flags.format}"`, { option: '--format', value: flags.format });
      }
      if (flags.format === 'tfjs' && isOnnxPath(flags.model)) {
        throw new NasError('E_USAGE', `${flags.model} is an ONNX file: it runs in ONNX Runtime (drop --format tfjs, or give the LayersModel folder)`, { option: '--format', value: flags.format });
      }
      const onnx = isOnnxPath(flags.model) || flags.format === 'onnx';
      const batchSize = integerFlag('--batch-size', flags.batchSize, 1);
      const seed = integerFlag('--seed', flags.seed);
      const threads = flags.threads === undefined ? undefined : integerFlag('--threads', flags.threads, 1);
      const samples = flags.samples === undefined ? undefined : integerFlag('--samples', flags.samples, 1);
      const split = flags.split as SampleSelection;
      const select = (inputShape: readonly number[]) =>
        loadSamples(flags.data, { seed, split, inputShape: [...inputShape], ...(samples === undefined ? {} : { samples }) });

      let result: PredictResult;
      if (onnx) {
        const model = await loadOnnxModel(flags.model);
        const selected = await select(model.info.sampleShape);
        const { outputs: _, ...report } = await predictOnnx(model.bytes, selected.data, model.file, { batchSize, ...(threads === undefined ? {} : { threads }) });
        result = { model: model.file, data: { ref: flags.data, split, description: selected.description }, ...report };
      } else {
        const model = await loadMitosisModel(flags.model, seed);
        const input = model.spec.nodes.find((n) => n.op === 'input');
        const selected = await select(input?.op === 'input' ? input.shape : []);
        await useBackend(backendOption(flags.backend));
        const { outputs: _, ...report } = predictTfjs(model.spec, model.weights, selected.data, model.normalisation, { batchSize });
        result = { model: model.source, data: { ref: flags.data, split, description: selected.description }, ...report };
      }
      emit(io, options, result, () => {
        const score = result.accuracy === null ? `loss (½·MSE) ${result.loss.toPrecision(4)}` : `accuracy ${(100 * result.accuracy).toFixed(2)}%, loss ${result.loss.toPrecision(4)}`;
        return `${result.format === 'onnx' ? 'ONNX Runtime' : 'TF.js'}: ${score} over ${result.count} samples\n  model: ${result.model} (${result.outputKind})\n  data:  ${result.data.description}\n`;
      });
    });
}
