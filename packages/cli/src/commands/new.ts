import { Argument, Option, type Command } from 'commander';
import { emit, type GlobalOptions, type Io } from '../io.js';
import { SCAFFOLD_KINDS, scaffoldPlugin, type ScaffoldResult } from '../plugin-scaffold.js';

function human(result: ScaffoldResult): string {
  const lines = [
    `created ${result.package} (${result.kind} "${result.id}") in ${result.directory}:`,
    ...result.files.map((f) => `  ${f}`),
    '',
    'next:',
    ...result.next.map((c) => `  ${c}`),
    '',
    `(README.md has the same steps; docs/plugin-authoring.md explains every file)`,
  ];
  return `${lines.join('\n')}\n`;
}

/** `mitosis new plugin --kind <kind> <dir> [--id <id>]`: a plugin project that builds and tests on its own. */
export function registerNewCommand(program: Command, io: Io): void {
  program
    .command('new')
    .description('start a plugin project outside the repository: a grower, pruner, cost model or eigen solver that builds and tests on its own')
    .addArgument(new Argument('<what>', 'what to create').choices(['plugin']))
    .argument('<dir>', 'the new folder (must not exist, or be empty)')
    .addOption(new Option('--kind <kind>', 'what the plugin contributes').choices(SCAFFOLD_KINDS).makeOptionMandatory())
    .option('--id <id>', 'plugin and contribution id, kebab-case (default: from the folder name)')
    .action((_what: string, dir: string, local: { kind: string; id?: string }, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const result = scaffoldPlugin(local.kind, dir, local.id);
      emit(io, options, result, () => human(result));
    });
}
