import { delimiter, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { discoverPluginDirectories, loadPlugins, type LoadedPlugin } from '@mitosis/core';
import type { Container } from '@mitosis/core/di';
import type { GlobalOptions } from './io.js';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Plugin directories for this invocation: every installed `@mitosis/plugin-*` / `mitosis-plugin-*` package
 * visible from the CLI, the directories in `MITOSIS_PLUGINS` (path-delimited), and each `--plugin <dir>`.
 */
export function pluginDirectories(options: GlobalOptions, env: NodeJS.ProcessEnv = process.env): string[] {
  const dirs = options.discover === false ? [] : discoverPluginDirectories(here);
  const fromEnv = (env['MITOSIS_PLUGINS'] ?? '').split(delimiter).filter((d) => d.length > 0);
  return [...new Set([...dirs, ...fromEnv, ...(options.plugin ?? [])])];
}

let cache: { key: string; value: Promise<{ container: Container; plugins: LoadedPlugin[] }> } | undefined;

/** Loads (once per set of directories) the plugins into a container with the core registries. */
export function pluginContainer(options: GlobalOptions): Promise<{ container: Container; plugins: LoadedPlugin[] }> {
  const dirs = pluginDirectories(options);
  const key = dirs.join('\n');
  if (cache?.key !== key) cache = { key, value: loadPlugins(dirs) };
  const value = cache.value;
  value.catch(() => {
    if (cache?.value === value) cache = undefined;
  });
  return value;
}
