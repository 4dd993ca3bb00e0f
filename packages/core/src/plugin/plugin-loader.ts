import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Container, ContainerModule } from '../di/shared-inversify.js';
import { NasError } from '../errors.js';
import { problemsFromAjv, createAjv } from '../config/json-config.js';
import type { ContributionKind } from '../contracts/contribution.js';
import { EXTENSION_POINTS, type ExtensionPoint } from '../contracts/extension-points.js';
import { pluginManifestSchemaFor, type PluginManifest } from './plugin-manifest.js';

/** A plugin found on disk whose manifest validated. */
export interface PluginDescriptor {
  /** npm package name. */
  readonly packageName: string;
  readonly version: string;
  readonly description: string;
  /** Directory holding its package.json. */
  readonly directory: string;
  readonly manifest: PluginManifest;
}

/** A plugin whose module was imported and checked against its manifest. */
export interface LoadedPlugin extends PluginDescriptor {
  readonly module: ContainerModule;
}

const validators = new WeakMap<readonly ExtensionPoint[], ReturnType<ReturnType<typeof createAjv>['compile']>>();

function manifestValidator(points: readonly ExtensionPoint[]): ReturnType<ReturnType<typeof createAjv>['compile']> {
  let v = validators.get(points);
  if (v === undefined) {
    v = createAjv().compile(pluginManifestSchemaFor(points));
    validators.set(points, v);
  }
  return v;
}

interface PackageJson {
  name?: unknown;
  version?: unknown;
  description?: unknown;
  main?: unknown;
  exports?: unknown;
  mitosis?: unknown;
}

function readPackageJson(directory: string): PackageJson {
  const file = join(directory, 'package.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as PackageJson;
  } catch (cause) {
    throw new NasError('E_PLUGIN_MANIFEST', `Cannot read plugin package ${file}: ${(cause as Error).message}`, {
      plugin: directory,
      file,
    });
  }
}

/**
 * Reads and validates a plugin's manifest without importing any of its code. Every schema problem is
 * reported with its JSON pointer under `/mitosis`.
 */
export function readPluginDescriptor(directory: string, points: readonly ExtensionPoint[] = EXTENSION_POINTS): PluginDescriptor {
  const validateManifest = manifestValidator(points);
  const dir = resolve(directory);
  const pkg = readPackageJson(dir);
  const file = join(dir, 'package.json');
  const packageName = typeof pkg.name === 'string' ? pkg.name : dir;
  if (pkg.mitosis === undefined) {
    throw new NasError('E_PLUGIN_MANIFEST', `${packageName} (${file}) has no "mitosis" manifest; it is not a mitosis plugin`, {
      plugin: packageName,
      file,
      problems: [{ pointer: '/mitosis', message: 'is required' }],
    });
  }
  if (!validateManifest(pkg.mitosis)) {
    const problems = problemsFromAjv(validateManifest.errors).map((p) => ({
      pointer: `/mitosis${p.pointer === '/' ? '' : p.pointer}`,
      message: p.message,
    }));
    throw new NasError(
      'E_PLUGIN_MANIFEST',
      `Invalid plugin manifest of ${packageName} (${file}): ${problems.map((p) => `${p.pointer} ${p.message}`).join('; ')}`,
      { plugin: packageName, file, problems },
    );
  }
  return {
    packageName,
    version: typeof pkg.version === 'string' ? pkg.version : '0.0.0',
    description: typeof pkg.description === 'string' ? pkg.description : '',
    directory: dir,
    manifest: pkg.mitosis as PluginManifest,
  };
}

function entryFile(descriptor: PluginDescriptor): string {
  const pkg = readPackageJson(descriptor.directory);
  let entry: unknown = pkg.main ?? 'index.js';
  const exp = pkg.exports;
  if (typeof exp === 'string') entry = exp;
  else if (exp !== null && typeof exp === 'object') {
    const dot = (exp as Record<string, unknown>)['.'];
    if (typeof dot === 'string') entry = dot;
    else if (dot !== null && typeof dot === 'object') {
      const d = dot as Record<string, unknown>;
      entry = d['import'] ?? d['default'] ?? entry;
    }
  }
  if (typeof entry !== 'string') {
    throw new NasError('E_PLUGIN_LOAD', `Cannot find the entry module of plugin ${descriptor.packageName}`, {
      plugin: descriptor.packageName,
    });
  }
  return join(descriptor.directory, entry);
}

/** Imports a validated plugin; its default export must be a ContainerModule. */
export async function importPlugin(descriptor: PluginDescriptor): Promise<LoadedPlugin> {
  const file = entryFile(descriptor);
  if (!existsSync(file)) {
    throw new NasError('E_PLUGIN_LOAD', `Plugin ${descriptor.packageName}: entry ${file} does not exist (is it built?)`, {
      plugin: descriptor.packageName,
      file,
    });
  }
  let imported: { default?: unknown };
  try {
    imported = (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (cause) {
    throw new NasError(
      'E_PLUGIN_LOAD',
      `Plugin ${descriptor.packageName} failed to import: ${(cause as Error).message}`,
      { plugin: descriptor.packageName, file },
      { cause },
    );
  }
  if (!(imported.default instanceof ContainerModule)) {
    throw new NasError(
      'E_PLUGIN_LOAD',
      `Plugin ${descriptor.packageName}: the default export of ${file} must be a ContainerModule from @mitosis/core/di`,
      { plugin: descriptor.packageName, file },
    );
  }
  return { ...descriptor, module: imported.default };
}

/** Binds the registry of every extension point; plugin modules then add contributions. */
export function createCoreContainer(points: readonly ExtensionPoint[] = EXTENSION_POINTS): Container {
  const container = new Container({ defaultScope: 'Singleton' });
  for (const point of points) container.bind(point.registry).toSelf();
  return container;
}

/** The contribution ids a module binds, by kind, probed in a throw-away container. */
export function contributionsOf(module: ContainerModule, points: readonly ExtensionPoint[] = EXTENSION_POINTS): Record<ContributionKind, string[]> {
  const probe = createCoreContainer(points);
  probe.load(module);
  const out: Record<ContributionKind, string[]> = {};
  for (const point of points) {
    const bound = probe.isBound(point.token) ? probe.getAll<{ id: string }>(point.token) : [];
    out[point.kind] = bound.map((c) => c.id).sort();
  }
  return out;
}

/** Checks that a module binds exactly what its manifest declares (`E_PLUGIN_MISMATCH` otherwise). */
export function checkPluginContributions(plugin: LoadedPlugin, points: readonly ExtensionPoint[] = EXTENSION_POINTS): void {
  const actual = contributionsOf(plugin.module, points);
  const problems: { pointer: string; message: string }[] = [];
  for (const kind of points.map((p) => p.kind)) {
    const declared = [...(plugin.manifest.contributes[kind] ?? [])].sort();
    const bound = actual[kind] ?? [];
    const missing = declared.filter((id) => !bound.includes(id));
    const undeclared = bound.filter((id) => !declared.includes(id));
    if (missing.length > 0) problems.push({ pointer: `/mitosis/contributes/${kind}`, message: `declares ${missing.join(', ')} but the module does not bind it` });
    if (undeclared.length > 0) problems.push({ pointer: `/mitosis/contributes/${kind}`, message: `does not declare ${undeclared.join(', ')}, which the module binds` });
  }
  if (problems.length > 0) {
    throw new NasError(
      'E_PLUGIN_MISMATCH',
      `Plugin ${plugin.packageName}: manifest and module disagree: ${problems.map((p) => `${p.pointer} ${p.message}`).join('; ')}`,
      { plugin: plugin.packageName, problems },
    );
  }
}

/**
 * Finds installed plugins: every package under a `node_modules/@mitosis/plugin-*` or
 * `node_modules/mitosis-plugin-*` directory on the resolution path of `from`.
 */
export function discoverPluginDirectories(from: string): string[] {
  const found = new Map<string, string>();
  let dir = resolve(from);
  for (;;) {
    const nm = join(dir, 'node_modules');
    if (existsSync(nm)) {
      const candidates: string[] = [];
      const scoped = join(nm, '@mitosis');
      if (existsSync(scoped)) {
        for (const name of readdirSync(scoped)) if (name.startsWith('plugin-')) candidates.push(join(scoped, name));
      }
      for (const name of readdirSync(nm)) if (name.startsWith('mitosis-plugin-')) candidates.push(join(nm, name));
      for (const c of candidates) {
        const key = c.slice(nm.length);
        if (!found.has(key) && existsSync(join(c, 'package.json'))) found.set(key, realpathSync(c));
      }
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return [...found.values()].sort();
}

/**
 * Validates, imports and checks plugins, then loads them all into one container with the core registries.
 * Plugin ids must be unique; contribution ids are checked by the registries when they are first resolved.
 */
export async function loadPlugins(
  directories: readonly string[],
  points: readonly ExtensionPoint[] = EXTENSION_POINTS,
): Promise<{ container: Container; plugins: LoadedPlugin[] }> {
  const descriptors = directories.map((d) => readPluginDescriptor(d, points));
  const seen = new Map<string, string>();
  for (const d of descriptors) {
    const other = seen.get(d.manifest.id);
    if (other !== undefined) {
      throw new NasError('E_PLUGIN_CONFLICT', `Plugin id "${d.manifest.id}" is used by both ${other} and ${d.packageName}`, {
        id: d.manifest.id,
        plugins: [other, d.packageName],
      });
    }
    seen.set(d.manifest.id, d.packageName);
  }
  const plugins: LoadedPlugin[] = [];
  for (const d of descriptors) {
    const plugin = await importPlugin(d);
    checkPluginContributions(plugin, points);
    plugins.push(plugin);
  }
  const container = createCoreContainer(points);
  container.load(...plugins.map((p) => p.module));
  return { container, plugins };
}
