import type { Command } from 'commander';
import { CostModelRegistry, EigenSolverRegistry, GrowerRegistry, type Contribution, type ContributionKind } from '@mitosis/core';
import { emit, type GlobalOptions, type Io } from '../io.js';
import { pluginContainer } from '../plugin-context.js';

interface ContributionInfo {
  readonly id: string;
  readonly description: string;
  /** The options with every default filled in. */
  readonly defaults: unknown;
  readonly unit?: string;
}

interface PluginInfo {
  readonly id: string;
  readonly package: string;
  readonly version: string;
  readonly description: string;
  readonly directory: string;
  readonly contributes: Partial<Record<ContributionKind, ContributionInfo[]>>;
}

/** `mitosis plugins`: installed plugins and what each contributes, with option defaults. */
export function registerPluginsCommand(program: Command, io: Io): void {
  program
    .command('plugins')
    .description('list installed plugins and their contributions (growers, cost models, eigen solvers)')
    .action(async (_options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const { container, plugins } = await pluginContainer(options);
      const registries = {
        growers: container.get(GrowerRegistry),
        costModels: container.get(CostModelRegistry),
        eigenSolvers: container.get(EigenSolverRegistry),
      };
      const describe = (kind: ContributionKind, id: string): ContributionInfo => {
        const registry = registries[kind];
        const c: Contribution & { unit?: string } = registry.get(id);
        return {
          id,
          description: c.description,
          defaults: registry.options(id, {}),
          ...(c.unit === undefined ? {} : { unit: c.unit }),
        };
      };
      const infos: PluginInfo[] = plugins
        .map((p) => ({
          id: p.manifest.id,
          package: p.packageName,
          version: p.version,
          description: p.description,
          directory: p.directory,
          contributes: Object.fromEntries(
            (Object.entries(p.manifest.contributes) as [ContributionKind, readonly string[]][]).map(([kind, ids]) => [
              kind,
              ids.map((id) => describe(kind, id)),
            ]),
          ),
        }))
        .sort((a, b) => a.id.localeCompare(b.id));
      emit(io, options, { plugins: infos }, () => {
        if (infos.length === 0) return 'No mitosis plugins are installed.\n';
        const lines: string[] = [];
        for (const p of infos) {
          lines.push(`${p.id}  (${p.package}@${p.version})`);
          if (p.description) lines.push(`  ${p.description}`);
          for (const [kind, list] of Object.entries(p.contributes)) {
            for (const c of list ?? []) lines.push(`  ${kind.padEnd(13)} ${c.id.padEnd(14)} ${c.description}`);
          }
        }
        return `${lines.join('\n')}\n`;
      });
    });
}
