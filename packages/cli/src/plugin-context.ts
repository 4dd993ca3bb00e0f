import { existsSync, realpathSync } from 'node:fs';
import { delimiter, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CostModelRegistry,
  EigenSolverRegistry,
  GrowerRegistry,
  NasError,
  PrunerRegistry,
  ResizerRegistry,
  ShrinkerRegistry,
  discoverPluginDirectories,
  loadPlugins,
  type LoadedPlugin,
  type SkippedPlugin,
} from '@mitosis/core';
import type { RunServices } from '@mitosis/growth';
import type { Container } from '@mitosis/core/di';
import { processIo, type GlobalOptions, type Io } from './io.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Where this invocation's plugins come from. */
export interface PluginSources {
  /** Installed plugins found by discovery: a broken one is reported and skipped. */
  readonly discovered: string[];
  /** `MITOSIS_PLUGINS` and `--plugin` directories, as real paths: a broken one is an error. */
  readonly named: string[];
}

const realPath = (dir: string): string => (existsSync(dir) ? realpathSync(dir) : resolve(dir));

/**
 * Plugin directories for this invocation: every installed `@mitosis/plugin-*` / `mitosis-plugin-*` package
 * visible from `discoverFrom` (the CLI's own folder) unless `--no-discover`, then the directories in
 * `MITOSIS_PLUGINS` (path-delimited) and each `--plugin <dir>`. A directory both discovered and named counts as
 * named.
 */
export function pluginSources(options: GlobalOptions, env: NodeJS.ProcessEnv = process.env, discoverFrom: string = here): PluginSources {
  const fromEnv = (env['MITOSIS_PLUGINS'] ?? '').split(delimiter).filter((d) => d.length > 0);
  const named = [...new Set([...fromEnv, ...(options.plugin ?? [])].map(realPath))];
  const discovered = options.discover === false ? [] : discoverPluginDirectories(discoverFrom).filter((d) => !named.includes(d));
  return { discovered, named };
}

/** Every plugin directory of this invocation, discovered first (see {@link pluginSources}). */
export function pluginDirectories(options: GlobalOptions, env: NodeJS.ProcessEnv = process.env): string[] {
  const { discovered, named } = pluginSources(options, env);
  return [...discovered, ...named];
}

/** The warning printed for a discovered plugin that was skipped. */
export function skippedPluginWarning(skipped: SkippedPlugin): string {
  return `mitosis: warning: skipping the installed plugin in ${skipped.directory}: ${skipped.error.code}: ${skipped.error.message}\n`;
}

/**
 * Loads plugins from `sources`: a broken discovered plugin is reported on `io.stderr` and skipped, a broken
 * named one fails the load.
 */
export function loadPluginSources(sources: PluginSources, io: Io): Promise<{ container: Container; plugins: LoadedPlugin[]; skipped: SkippedPlugin[] }> {
  return loadPlugins([...sources.discovered, ...sources.named], undefined, {
    discovered: sources.discovered,
    onSkip: (skipped) => io.stderr(skippedPluginWarning(skipped)),
  });
}

let cache: { key: string; value: Promise<{ container: Container; plugins: LoadedPlugin[] }> } | undefined;

/**
 * Loads (once per set of directories) the plugins into a container with the core registries; warnings about
 * skipped discovered plugins go to `io.stderr` when they are first loaded.
 */
export function pluginContainer(options: GlobalOptions, io: Io = processIo): Promise<{ container: Container; plugins: LoadedPlugin[] }> {
  const sources = pluginSources(options);
  // A named directory that does not exist is a path typed wrong (exit 2), not a broken plugin (exit 3).
  const missing = sources.named.filter((d) => !existsSync(d));
  if (missing.length > 0) {
    return Promise.reject(
      new NasError('E_USAGE', `No plugin directory ${missing.join(', ')} (from --plugin or MITOSIS_PLUGINS)`, { directories: missing }),
    );
  }
  const key = JSON.stringify(sources);
  if (cache?.key !== key) cache = { key, value: loadPluginSources(sources, io) };
  const value = cache.value;
  value.catch(() => {
    if (cache?.value === value) cache = undefined;
  });
  return value;
}

/** The registries a run needs, from a loaded plugin container. */
export function runServices(container: Container): RunServices {
  return {
    growers: container.get(GrowerRegistry),
    pruners: container.get(PrunerRegistry),
    resizers: container.get(ResizerRegistry),
    shrinkers: container.get(ShrinkerRegistry),
    costModels: container.get(CostModelRegistry),
    eigenSolvers: container.get(EigenSolverRegistry),
  };
}
