import type { Command } from 'commander';
import { EigenSolverRegistry, NasError } from '@mitosis/core';
import { loadDataset, normaliseSplits, readModelNormalisation } from '@mitosis/data';
import { useBackend } from '@mitosis/engine';
import { benchmarkEigen, computeSplitScores, formatEigenBench } from '@mitosis/splitting';
import { integerFlag, jsonFlag } from '../flags.js';
import { emit, type GlobalOptions, type Io } from '../io.js';
import { pluginContainer } from '../plugin-context.js';
import { backendOption } from './train.js';

interface ScoreFlags {
  model: string;
  data: string;
  loss: string;
  solver: string;
  solverOptions?: string;
  samples?: string;
  backend: string;
  seed: string;
}

/** `mitosis split-scores`: every neuron's extreme splitting eigenpairs, layer by layer. */
export function registerSplitScoresCommand(program: Command, io: Io): void {
  program
    .command('split-scores')
    .description('λ_min, λ_max, v_min, v_max of every neuron of every splittable layer of a trained model')
    .requiredOption('--model <dir>', 'TF.js LayersModel directory (or a mitosis network spec, fresh weights)')
    .requiredOption('--data <id|path>', 'data set the splitting matrices average over (its training split)')
    .option('--loss <mse|ce>', 'mse: mean of ½(f−y)² over samples and outputs; ce: mean softmax cross-entropy', 'ce')
    .option('--solver <id>', 'eigen solver: dense | rayleigh | lanczos (see `mitosis plugins`)', 'dense')
    .option('--solver-options <json>', 'options of the solver, validated against its schema')
    .option('--samples <n>', 'use at most n training samples')
    .option('--backend <name>', 'auto | tensorflow | wasm | cpu', 'auto')
    .option('--seed <n>', 'seed of the data split', '0')
    .action(async (flags: ScoreFlags, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      if (flags.loss !== 'mse' && flags.loss !== 'ce') throw new NasError('E_USAGE', `--loss must be mse or ce, got "${flags.loss}"`, { loss: flags.loss });
      const { container } = await pluginContainer(options, io);
      const solver = container.get(EigenSolverRegistry).create(flags.solver, jsonFlag('--solver-options', flags.solverOptions));
      await useBackend(backendOption(flags.backend));
      const samples = flags.samples === undefined ? undefined : integerFlag('--samples', flags.samples, 1);
      const data = await loadDataset(flags.data, { seed: integerFlag('--seed', flags.seed), ...(samples === undefined ? {} : { limit: { train: samples } }) });
      const stats = readModelNormalisation(flags.model);
      const train = stats === null ? data.train : normaliseSplits(data, stats).splits.train;
      const scores = await computeSplitScores({ modelDir: flags.model, data: train, loss: flags.loss, solver });
      emit(io, options, scores, () => {
        const lines = [`splitting eigenpairs (${scores.solver}, ${scores.samples} samples; ${scores.lossConvention})`];
        for (const layer of scores.layers) {
          const mins = layer.neurons.map((n) => n.lambdaMin);
          const negative = mins.filter((l) => l < 0).length;
          lines.push(`${layer.name}: ${layer.neurons.length} neurons of dim ${layer.dim}; λ_min ∈ [${Math.min(...mins).toExponential(3)}, ${Math.max(...mins).toExponential(3)}], ${negative} negative`);
          for (const [j, n] of layer.neurons.entries()) lines.push(`  ${String(j).padStart(4)}  λ_min ${n.lambdaMin.toExponential(4)}  λ_max ${n.lambdaMax.toExponential(4)}`);
        }
        return `${lines.join('\n')}\n`;
      });
    });
}

/** `mitosis bench eigen`: each solver's time and accuracy against `dense` at d = 288 and 576. */
export function registerBenchEigenCommand(bench: Command, io: Io): void {
  bench
    .command('eigen')
    .description('eigen-solver speed and accuracy vs dense on trained 3×3 conv layers (d = 288, 576)')
    .option('--solvers <ids>', 'comma-separated solver ids (dense is always run as the reference)', 'dense,rayleigh,lanczos')
    .option('--samples <n>', 'scoring/training samples', '128')
    .option('--data <mnist|synthetic>', 'train the benched layer on the embedded MNIST digits or on i.i.d. Gaussian inputs', 'mnist')
    .option('--channels <list>', 'input channels of the 3×3 layer (d = 9·channels)', '32,64')
    .option('--repeats <n>', 'solves per solver (the best time is reported)', '1')
    .option('--backend <name>', 'auto | tensorflow | wasm | cpu', 'auto')
    .action(async (flags: { solvers: string; samples: string; data: string; channels: string; repeats: string; backend: string }, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const { container } = await pluginContainer(options, io);
      const registry = container.get(EigenSolverRegistry);
      const ids = [...new Set(['dense', ...flags.solvers.split(',').map((s) => s.trim()).filter((s) => s.length > 0)])];
      const solvers = ids.map((id) => registry.create(id));
      const backend = await useBackend(backendOption(flags.backend));
      if (flags.data !== 'mnist' && flags.data !== 'synthetic') throw new NasError('E_USAGE', `--data must be mnist or synthetic, got "${flags.data}"`, { data: flags.data });
      const report = await benchmarkEigen({
        solvers,
        samples: integerFlag('--samples', flags.samples, 8),
        data: flags.data,
        inputChannels: flags.channels.split(',').map((c) => integerFlag('--channels', c.trim(), 1)),
        repeats: integerFlag('--repeats', flags.repeats, 1),
      });
      emit(io, options, { backend: backend.backend, ...report }, () => `eigen solvers on ${backend.backend}\n${formatEigenBench(report)}\n`);
    });
}
