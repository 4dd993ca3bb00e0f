import type { Command } from 'commander';
import { EXTENSION_POINTS, type Contribution, type ContributionKind, type ContributionRegistry } from '@mitosis/core';
import { emit, type GlobalOptions, type Io } from '../io.js';
import { pluginContainer } from '../plugin-context.js';

interface ContributionInfo {
  readonly id: string;
  readonly description: string;
  /** The options with every default filled in; `null` when some option has no default (see `required`). */
  readonly defaults: unknown;
  /** Options the user must give (no default), e.g. a device cost model's `profile`. */
  readonly required: string[];
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
    .description('list installed plugins, the methods by kind (growers, pruners, resizers, shrinkers), cost models and eigen solvers')
    .action(async (_options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const { container, plugins } = await pluginContainer(options, io);
      const registries = new Map<ContributionKind, ContributionRegistry<Contribution>>(EXTENSION_POINTS.map((p) => [p.kind, container.get(p.registry)]));
      const describe = (kind: ContributionKind, id: string): ContributionInfo => {
        const registry = registries.get(kind)!;
        const c: Contribution & { unit?: string } = registry.get(id);
        const schema = c.optionsSchema as { required?: string[]; properties?: Record<string, { default?: unknown }> };
        const required = (schema.required ?? []).filter((k) => schema.properties?.[k]?.default === undefined);
        return {
          id,
          description: c.description,
          defaults: required.length === 0 ? registry.options(id, {}) : null,
          required,
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
      const methods = Object.fromEntries(
        EXTENSION_POINTS.filter((p) => p.method !== undefined).map((p) => [p.method!, registries.get(p.kind)!.ids()]),
      );
      emit(io, options, { methods, plugins: infos }, () => {
        if (infos.length === 0) return 'No mitosis plugins are installed.\n';
        const lines: string[] = ['methods (mitosis run --method <id>):'];
        for (const [kind, ids] of Object.entries(methods)) lines.push(`  ${`${kind}s`.padEnd(10)} ${ids.length > 0 ? ids.join(', ') : 'none'}`);
        lines.push('');
        for (const p of infos) {
          lines.push(`${p.id}  (${p.package}@${p.version})`);
          if (p.description) lines.push(`  ${p.description}`);
          for (const [kind, list] of Object.entries(p.contributes)) {
            for (const c of list ?? []) {
              const needs = c.required.length > 0 ? ` (needs ${c.required.join(', ')})` : '';
              lines.push(`  ${kind.padEnd(13)} ${c.id.padEnd(14)} ${c.description}${needs}`);
            }
          }
        }
        return `${lines.join('\n')}\n`;
      });
    });
}
