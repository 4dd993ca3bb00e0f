import { Command, CommanderError, type Option } from 'commander';
import { NasError, exitCodeFor } from '@mitosis/core';
import { registerPluginsCommand } from './commands/plugins.js';
import { registerValidateCommand } from './commands/validate.js';
import { registerTrainCommand } from './commands/train.js';
import { registerBenchCommand } from './commands/bench.js';
import { registerBenchStudyCommand } from './commands/bench-study.js';
import { registerGrowCommand } from './commands/grow.js';
import { registerRunCommand } from './commands/run.js';
import { registerCompareCommands } from './commands/compare.js';
import { registerWorkerCommand } from './commands/worker.js';
import { registerListCommand } from './commands/list.js';
import { registerExportCommand } from './commands/export.js';
import { registerPredictCommand } from './commands/predict.js';
import { registerGenerateCommand } from './commands/generate.js';
import { registerNewCommand } from './commands/new.js';
import { registerBenchProfileCommand, registerCostCommand, registerProfileCommand } from './commands/hardware.js';
import { registerBenchEigenCommand, registerSplitScoresCommand } from './commands/split-scores.js';
import { CommandExit, errorJson, formatError, processIo, type Io } from './io.js';

const VERSION = '0.1.0';

/** Collects a repeatable single-value option: `--plugin a --plugin b` → `['a', 'b']`. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** The options of the program (the root command) shown under "Global Options" in a subcommand's help. */
function globalOptionsOf(command: Command): Option[] {
  let root = command;
  while (root.parent !== null) root = root.parent;
  return root === command ? [] : root.options.filter((o) => !o.hidden && o.long !== '--version');
}

/** Builds the commander program; every command writes through `io`. */
export function buildProgram(io: Io): Command {
  // Commander's own error lines are not printed: runCli reports a parse error like any other usage error.
  const output = { writeOut: (s: string) => io.stdout(s), writeErr: (s: string) => io.stderr(s), outputError: () => undefined };
  const program = new Command('mitosis')
    .description('Grow efficient neural networks by neuron splitting, aware of the hardware they will run on.')
    .version(VERSION)
    .option('--json', 'print one JSON document on stdout')
    .option('--verbose', 'print stack traces and debug detail')
    // One directory per flag: a variadic `<dir...>` would swallow the command name after it.
    .option('--plugin <dir>', 'load a plugin from this directory (repeat the flag for more)', collect)
    .option('--no-discover', 'do not load installed plugins, only --plugin and MITOSIS_PLUGINS directories')
    .configureOutput(output)
    // Every subcommand's help lists mitosis's global options too (commands copy this setting when created); a
    // parent command's own options (bench's --steps) do not apply to its subcommands and are not listed.
    .configureHelp({ showGlobalOptions: true, visibleGlobalOptions: globalOptionsOf })
    .exitOverride();
  registerPluginsCommand(program, io);
  registerValidateCommand(program, io);
  registerTrainCommand(program, io);
  const bench = registerBenchCommand(program, io);
  registerBenchEigenCommand(bench, io);
  registerBenchProfileCommand(bench, io);
  registerBenchStudyCommand(bench, io);
  registerCostCommand(program, io);
  registerProfileCommand(program, io);
  registerSplitScoresCommand(program, io);
  registerRunCommand(program, io);
  registerGrowCommand(program, io);
  registerCompareCommands(program, io);
  registerWorkerCommand(program, io);
  registerListCommand(program, io);
  registerExportCommand(program, io);
  registerPredictCommand(program, io);
  registerGenerateCommand(program, io);
  registerNewCommand(program, io);
  const configure = (command: Command): void => {
    command.exitOverride().configureOutput(output);
    command.commands.forEach(configure);
  };
  program.commands.forEach(configure);
  return program;
}

/**
 * The usage error for a commander parse error: commander's message without its `error: ` prefix; a missing
 * command (commander prints the help and says only "(outputHelp)") is named as such.
 */
export function usageError(error: CommanderError): NasError {
  const message = error.code === 'commander.help' ? 'no command given' : error.message.replace(/^error: /, '');
  return new NasError('E_USAGE', message, { commanderCode: error.code });
}

/**
 * The index of the first operand in `argv` (a command name or argument), skipping the options `command` and its
 * ancestors know and the values of those that take one; -1 when there is none. After `--` everything is an
 * operand.
 */
export function firstOperand(command: Command, argv: readonly string[]): number {
  const options: { long?: string | undefined; short?: string | undefined; required: boolean; optional: boolean }[] = [];
  for (let c: Command | null = command; c !== null; c = c.parent) options.push(...c.options);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') return i + 1 < argv.length ? i + 1 : -1;
    if (!a.startsWith('-') || a === '-') return i;
    if (a.includes('=')) continue;
    const option = options.find((o) => o.long === a || o.short === a);
    if (option !== undefined && (option.required || option.optional)) i += 1;
  }
  return -1;
}

/**
 * An unknown command or subcommand name is a usage error before commander sees the arguments: otherwise
 * `mitosis frobnicate --help` would print the top-level help and exit 0. `help <name>` is checked the same way.
 */
function checkCommandNames(program: Command, argv: readonly string[]): void {
  let command = program;
  let rest = argv;
  let path = '';
  while (command.commands.length > 0) {
    const at = firstOperand(command, rest);
    if (at < 0) return;
    let name = rest[at] as string;
    rest = rest.slice(at + 1);
    if (command === program && name === 'help') {
      // `help [command]`: the named command must exist (its subcommands are not looked at).
      const next = firstOperand(command, rest);
      if (next < 0) return;
      name = rest[next] as string;
      rest = [];
    }
    const known = command.commands.map((c) => c.name()).filter((n) => n !== 'help');
    const sub = command.commands.find((c) => c.name() === name || c.aliases().includes(name));
    if (sub === undefined) {
      // A command with subcommands and arguments of its own may take `name` as an argument.
      if (command !== program && command.registeredArguments.length > 0) return;
      const what = `${path}${name}`;
      throw new NasError('E_USAGE', `unknown command '${what}' (${path === '' ? 'commands' : `subcommands of ${path.trim()}`}: ${known.join(', ')})`, { command: what, known });
    }
    command = sub;
    path += `${sub.name()} `;
  }
}

/**
 * Runs the CLI on `argv` (without the node and script entries) and returns the exit code: 0 on success,
 * 2 for anything typed or configured wrong (an unknown id included), 3 for a broken plugin, 1 for a failed run.
 */
export async function runCli(argv: readonly string[], io: Io = processIo): Promise<number> {
  const program = buildProgram(io);
  const json = argv.includes('--json');
  const verbose = argv.includes('--verbose');
  try {
    checkCommandNames(program, argv);
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommandExit) return error.code;
    if (error instanceof CommanderError) {
      // Help and version exit through here with code 0; a parse error is a usage error.
      if (error.exitCode === 0) return 0;
      const usage = usageError(error);
      if (json) io.stdout(`${JSON.stringify(errorJson(usage), null, 2)}\n`);
      else io.stderr(`${formatError(usage, false).trimEnd()} (see mitosis --help)\n`);
      return 2;
    }
    if (json) io.stdout(`${JSON.stringify(errorJson(error), null, 2)}\n`);
    else io.stderr(formatError(error, verbose));
    if (json && verbose) io.stderr(formatError(error, true));
    return exitCodeFor(error);
  }
}
