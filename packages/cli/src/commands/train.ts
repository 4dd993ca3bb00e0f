import { existsSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { NasError } from '@mitosis/core';
import { loadDatasetWithInfo, normaliseSplits, readModelNormalisation } from '@mitosis/data';
import { loadModelSource, runTraining, type BackendPreference } from '@mitosis/engine';
import { integerFlag, positiveFlag } from '../flags.js';
import { emit, type GlobalOptions, type Io } from '../io.js';

interface TrainFlags {
  model: string;
  data: string;
  epochs: string;
  out?: string;
  backend: string;
  batchSize: string;
  lr: string;
  seed: string;
  limit?: string;
}

const BACKENDS = ['auto', 'tensorflow', 'wasm', 'cpu'];

export function backendOption(text: string): BackendPreference {
  if (!BACKENDS.includes(text)) throw new NasError('E_USAGE', `--backend must be one of ${BACKENDS.join(', ')}, got "${text}"`, { backend: text });
  return text as BackendPreference;
}

/** `mitosis train`: trains a LayersModel or a network spec on a data set and exports the result. */
export function registerTrainCommand(program: Command, io: Io): void {
  program
    .command('train')
    .description('train a model (TF.js LayersModel directory or mitosis network spec) on a data set')
    .requiredOption('--model <dir|spec.json>', 'LayersModel directory / model.json, or a mitosis network spec')
    .requiredOption('--data <id|path>', 'embedded data set id (mnist, blobs, …) or a path (.json, .npz, .npy directory, IDX / CIFAR directory); trains on its train split, reports val and test (the file\'s own test split, else a seeded 20 % / 10 % cut)')
    .option('--epochs <n>', 'epochs', '1')
    .option('--out <dir>', 'write the trained model to <dir>/model/')
    .option('--backend <name>', 'auto | tensorflow | wasm | cpu', 'auto')
    .option('--batch-size <n>', 'batch size', '32')
    .option('--lr <rate>', 'learning rate (SGD, momentum 0.9)', '0.01')
    .option('--seed <n>', 'seed for initialisation, splits and shuffling', '0')
    .option('--limit <n>', 'use at most n samples per split (quick runs)')
    .action(async (flags: TrainFlags, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const seed = integerFlag('--seed', flags.seed);
      const model = await loadModelSource(flags.model, seed);
      const input = model.spec.nodes.find((n) => n.op === 'input');
      const { splits: raw, info } = await loadDatasetWithInfo(flags.data, {
        seed,
        ...(flags.limit === undefined ? {} : { limit: integerFlag('--limit', flags.limit, 1) }),
        ...(input?.op === 'input' ? { inputShape: input.shape } : {}),
      });
      if (options.json !== true) io.stderr(`data: ${info.description}\n`);
      // A model grown on normalised inputs carries its statistics; apply them so it sees what it was trained on.
      const stats = existsSync(flags.model) && statSync(flags.model).isDirectory() ? readModelNormalisation(flags.model) : null;
      const data = stats === null ? raw : normaliseSplits(raw, stats).splits;
      const result = await runTraining(
        {
          model,
          data,
          epochs: integerFlag('--epochs', flags.epochs, 1),
          backend: backendOption(flags.backend),
          batchSize: integerFlag('--batch-size', flags.batchSize, 1),
          learningRate: positiveFlag('--lr', flags.lr),
          seed,
          json: options.json === true || !io.interactive,
          ...(flags.out === undefined ? {} : { out: flags.out }),
        },
        {
          onProgress: (m) => {
            if (options.json === true) return;
            const acc = m.accuracy === undefined ? '' : ` acc ${(100 * m.accuracy).toFixed(2)}%`;
            const val = m.valAccuracy === undefined ? '' : ` val acc ${(100 * m.valAccuracy).toFixed(2)}%`;
            io.stderr(`epoch ${m.epoch + 1}: loss ${m.loss.toFixed(4)}${acc}${val} (${m.imagesPerSecond.toFixed(0)} img/s)\n`);
          },
        },
      );
      const dataReport = { ref: flags.data, ...info.counts, total: info.total, method: info.method, description: info.description };
      emit(io, options, { ...result, data: dataReport }, () => {
        const test = result.testAccuracy === undefined ? '' : `test accuracy ${(100 * result.testAccuracy).toFixed(2)}%, `;
        return `trained ${result.epochs} epoch(s) on ${result.backend}: ${test}train loss ${result.trainLoss.toFixed(4)}${result.modelDir ? `\nmodel: ${result.modelDir}` : ''}\n`;
      });
    });
}
