import type { Command } from 'commander';
import type { Io } from '../io.js';
import { executeRun, withRunFlags, type RunFlags } from './run.js';

/** `mitosis grow`: the grower shortcut of `mitosis run` (checkpointed every round and resumable). */
export function registerGrowCommand(program: Command, io: Io): void {
  withRunFlags(
    program
      .command('grow')
      .description('grow a network from a seed by splitting neurons, against the cost of a device')
      .option('--grower <id>', "growth method (default: the space's; see `mitosis plugins`)")
      .option('--grower-options <json>', 'grower options as JSON, validated against its schema'),
  ).action(async (flags: RunFlags & { grower?: string; growerOptions?: string }, command: Command) => {
    await executeRun(flags, command, io, flags.grower ?? undefined, flags.growerOptions, '--grower-options', 'grower');
  });
}
