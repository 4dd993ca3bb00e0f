import type { Command } from 'commander';
import { NasError, readJsonFile } from '@mitosis/core';
import { documentKinds } from '../document-kinds.js';
import { emit, type GlobalOptions, type Io } from '../io.js';

/** `mitosis validate <file>`: checks any mitosis JSON document against its schema. */
export function registerValidateCommand(program: Command, io: Io): void {
  program
    .command('validate')
    .description('validate a network spec, search space, hardware profile, run config or plugin manifest')
    .argument('<file>', 'the JSON file to check')
    .option('--kind <kind>', `document kind (default: detected; one of ${documentKinds.map((k) => k.id).join(', ')})`)
    .action(async (file: string, local: { kind?: string }, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const doc = readJsonFile(file);
      const kind =
        local.kind === undefined
          ? documentKinds.find((k) => k.detect(doc, file))
          : documentKinds.find((k) => k.id === local.kind);
      if (kind === undefined) {
        const known = documentKinds.map((k) => k.id);
        throw new NasError(
          'E_USAGE',
          local.kind === undefined
            ? `Cannot tell what kind of document ${file} is; pass --kind (one of ${known.join(', ')})`
            : `Unknown document kind "${local.kind}" (known: ${known.join(', ')})`,
          { file, known },
        );
      }
      await kind.validate(doc, file);
      emit(io, options, { file, kind: kind.id, valid: true }, () => `${file}: valid ${kind.id}\n`);
    });
}
