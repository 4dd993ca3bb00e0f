import type { Command } from 'commander';
import { EigenSolverRegistry, NasError } from '@mitosis/core';
import { loadSamples, normalise, readModelNormalisation, type SampleSelection } from '@mitosis/data';
import { loadModelSource, useBackend } from '@mitosis/engine';
import { benchmarkEigen, computeSplitScores, formatEigenBench } from '@mitosis/splitting';
import { integerFlag, jsonFlag, sharedOption } from '../flags.js';
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
  split: string;
  backend: string;
  seed: string;
}

/** `mitosis split-scores`: every neuron's extreme splitting eigenpairs, layer by layer. */
export function registerSplitScoresCommand(program: Command, io: Io): void {
  program
    .command('split-scores')
    .description('λ_min, λ_max, v_min, v_max of every neuron of every splittable layer of a trained model')
    .requiredOption('--model <dir>', 'TF.js LayersModel directory (or a mitosis network spec, fresh weights)')
    .requiredOption('--data <id|path>', 'data the splitting matrices average over (every sample unless --split)')
    .option('--loss <mse|ce>', 'mse: mean of ½(f−y)² over samples and outputs; ce: mean softmax cross-entropy', 'ce')
    .option('--solver <id>', 'eigen solver: dense | rayleigh | lanczos (see `mitosis plugins`)', 'dense')
    .option('--solver-options <json>', 'options of the solver, validated against its schema')
    .option('--split <all|train|val|test>', 'all: every sample as given (a file\'s own test split too); train|val|test: the seeded split `train` and `run` use', 'all')
    .option('--samples <n>', 'use a seeded random subset of at most n of those samples')
    .option('--backend <name>', 'auto | tensorflow | wasm | cpu', 'auto')
    .option('--seed <n>', 'seed of the data splits and of --samples (and of a spec\'s fresh weights)', '0')
    .action(async (flags: ScoreFlags, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      if (flags.loss !== 'mse' && flags.loss !== 'ce') throw new NasError('E_USAGE', `--loss must be mse or ce, got "${flags.loss}"`, { loss: flags.loss });
      if (!['all', 'train', 'val', 'test'].includes(flags.split)) throw new NasError('E_USAGE', `--split must be all, train, val or test, got "${flags.split}"`, { split: flags.split });
      const { container } = await pluginContainer(options, io);
      const solver = container.get(EigenSolverRegistry).create(flags.solver, jsonFlag('--solver-options', flags.solverOptions));
      await useBackend(backendOption(flags.backend));
      const samples = flags.samples === undefined ? undefined : integerFlag('--samples', flags.samples, 1);
      const seed = integerFlag('--seed', flags.seed);
      const model = await loadModelSource(flags.model, seed);
      const input = model.spec.nodes.find((n) => n.op === 'input');
      // The data as given: every sample (or the split asked for), fitted to the network's input shape.
      const selected = await loadSamples(flags.data, {
        seed,
        split: flags.split as SampleSelection,
        ...(samples === undefined ? {} : { samples }),
        ...(input?.op === 'input' ? { inputShape: input.shape } : {}),
      });
      const stats = readModelNormalisation(flags.model);
      const data = stats === null ? selected.data : normalise(selected.data, stats);
      const scored = await computeSplitScores({ spec: model.spec, weights: model.weights, data, loss: flags.loss, solver });
      const scores = { ...scored, data: { ref: flags.data, split: selected.split, samples: selected.samples, available: selected.available, total: selected.total, description: selected.description } };
      emit(io, options, scores, () => {
        const lines = [`data: ${selected.description}`, `splitting eigenpairs (${scores.solver}, ${scores.samples} samples; ${scores.lossConvention})`];
        for (const layer of scores.layers) {
          const mins = layer.neurons.map((n) => n.lambdaMin);
          const negative = mins.filter((l) => l < 0).length;
          const flagged = layer.notConverged > 0 ? `, ${layer.notConverged} not converged` : '';
          lines.push(`${layer.name}: ${layer.neurons.length} neurons of dim ${layer.dim}; λ_min ∈ [${Math.min(...mins).toExponential(3)}, ${Math.max(...mins).toExponential(3)}], ${negative} negative${flagged}`);
          for (const [j, n] of layer.neurons.entries()) lines.push(`  ${String(j).padStart(4)}  λ_min ${n.lambdaMin.toExponential(4)}  λ_max ${n.lambdaMax.toExponential(4)}${n.converged ? '' : '  (not converged)'}`);
        }
        const total = scores.layers.reduce((a, l) => a + l.neurons.length, 0);
        lines.push(`${scores.notConverged} of ${total} neurons not converged${scores.notConverged > 0 ? ' (approximate pairs: try --solver lanczos or dense; a run retries them with lanczos and skips what stays flagged)' : ''}`);
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
      const backend = await useBackend(backendOption(String(sharedOption(command, 'backend'))));
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
