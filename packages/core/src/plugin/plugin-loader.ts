import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Container, ContainerModule } from '../di/shared-inversify.js';
import { NasError } from '../errors.js';
import { checkJsonLimits, problemsFromAjv, createAjv, readBoundedText } from '../config/json-config.js';
import type { ContributionKind } from '../contracts/contribution.js';
import { EXTENSION_POINTS, type ExtensionPoint } from '../contracts/extension-points.js';
import { resolveContainedFile, type ContainedFile } from '../util/contained-file.js';
import { pluginManifestSchemaFor, type PluginManifest } from './plugin-manifest.js';
import {
  SECOND_COPY_FIX,
  checkCoreVersion,
  describeSecondCopies,
  mitosisPackageCopies,
  secondCopies,
  secondCopyDetails,
  shareHostPackages,
  sharedPackageCopies,
  type SharedPackageCopies,
} from './shared-packages.js';

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
  let doc: unknown;
  try {
    doc = JSON.parse(readBoundedText(file, 4 * 1024 * 1024, 'E_PLUGIN_MANIFEST'));
  } catch (cause) {
    throw new NasError('E_PLUGIN_MANIFEST', `Cannot read plugin package ${file}: ${(cause as Error).message}`, {
      plugin: directory,
      file,
    });
  }
  checkJsonLimits(doc, file, 'E_PLUGIN_MANIFEST');
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new NasError('E_PLUGIN_MANIFEST', `Plugin package ${file} is not a JSON object`, { plugin: directory, file });
  }
  return doc as PackageJson;
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

/** The conditions of a conditional `exports` entry that an `import()` under Node matches. */
const IMPORT_CONDITIONS = new Set(['import', 'node', 'default']);

/**
 * The target of an `exports` value for the package root, as Node resolves it for `import()`: a string, the
 * first usable element of an array, the `"."` subpath of a subpath map, or the first matching condition (in
 * key order) of a condition map. `pointer` follows the path taken, for errors.
 */
function exportsTarget(value: unknown, pointer: string): { reference: unknown; pointer: string } | undefined {
  if (typeof value === 'string') return { reference: value, pointer };
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) {
      const found = exportsTarget(v, `${pointer}/${i}`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const map = value as Record<string, unknown>;
  const keys = Object.keys(map);
  if (keys.some((k) => k.startsWith('.'))) return '.' in map ? exportsTarget(map['.'], `${pointer}/.`) : undefined;
  for (const k of keys) {
    if (!IMPORT_CONDITIONS.has(k)) continue;
    const found = exportsTarget(map[k], `${pointer}/${k}`);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * The plugin's entry module: the root entry of `exports` if it names one, else `main`, else `index.js`. It
 * must be a regular file inside the plugin's folder (real paths compared, so no `..`, absolute path or
 * symbolic link leads out); otherwise `E_PLUGIN_LOAD` naming the package.json and the field
 * (`details.pointer`, e.g. `/main` or `/exports/./import`). Nothing is imported.
 */
export function pluginEntryFile(descriptor: PluginDescriptor): ContainedFile {
  const pkg = readPackageJson(descriptor.directory);
  const fromExports = pkg.exports === undefined || pkg.exports === null ? undefined : exportsTarget(pkg.exports, '/exports');
  const { reference, pointer } = fromExports ?? { reference: pkg.main ?? 'index.js', pointer: '/main' };
  return resolveContainedFile(descriptor.directory, reference, {
    code: 'E_PLUGIN_LOAD',
    file: join(descriptor.directory, 'package.json'),
    pointer,
    folderLabel: `folder of plugin ${descriptor.packageName}`,
    details: { plugin: descriptor.packageName },
    missingHint: '(is the plugin built?)',
  });
}

/** Options of {@link importPlugin}. */
export interface ImportPluginOptions {
  /**
   * When the plugin has copies of its own of @mitosis/core, inversify or reflect-metadata (installed in its
   * node_modules to build and test it), resolve its imports of them to mitosis's copies instead (default true;
   * see `shareHostPackages`). With false, such a plugin fails with `E_PLUGIN_LOAD` naming both copies.
   */
  readonly shareHostPackages?: boolean;
}

/** A default export that is an inversify ContainerModule, though not of mitosis's copy of inversify. */
function looksLikeContainerModule(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { constructor?: { name?: unknown }; load?: unknown };
  return v.constructor?.name === 'ContainerModule' || (typeof v.load === 'function' && 'id' in v);
}

/** The error for a default export that is not mitosis's ContainerModule, naming a second copy of inversify where there is one. */
function notAContainerModule(descriptor: PluginDescriptor, file: string, value: unknown, unshared: readonly SharedPackageCopies[]): NasError {
  const details = { plugin: descriptor.packageName, file };
  if (!looksLikeContainerModule(value)) {
    return new NasError('E_PLUGIN_LOAD', `Plugin ${descriptor.packageName}: the default export of ${file} must be a ContainerModule from @mitosis/core/di`, details);
  }
  if (unshared.length > 0) {
    return new NasError(
      'E_PLUGIN_LOAD',
      `Plugin ${descriptor.packageName}: the default export of ${file} is a ContainerModule of a second copy of inversify, ` +
        `which mitosis cannot load. Two copies are installed: ${describeSecondCopies(unshared)}. ${SECOND_COPY_FIX}`,
      { ...details, copies: secondCopyDetails(unshared) },
    );
  }
  const inversify = mitosisPackageCopies().inversify;
  return new NasError(
    'E_PLUGIN_LOAD',
    `Plugin ${descriptor.packageName}: the default export of ${file} is a ContainerModule of another copy of inversify than ` +
      `mitosis's (${inversify === null ? 'inversify' : `inversify ${inversify.version} at ${inversify.directory}`}), ` +
      `probably one bundled into the plugin's code. ${SECOND_COPY_FIX}`,
    { ...details, copies: [{ package: 'inversify', mitosis: inversify?.directory ?? null, plugin: file }] },
  );
}

/**
 * Imports a validated plugin; its default export must be a ContainerModule. The entry module is checked by
 * {@link pluginEntryFile} before anything is imported. A plugin with copies of its own of the shared packages
 * (see `SHARED_PACKAGES`) is refused when its @mitosis/core is of an incompatible version, and otherwise made to
 * import mitosis's copies (unless `options.shareHostPackages` is false); a default export that is a
 * ContainerModule of another copy of inversify is `E_PLUGIN_LOAD` naming both copies and the fix.
 */
export async function importPlugin(descriptor: PluginDescriptor, options: ImportPluginOptions = {}): Promise<LoadedPlugin> {
  const file = pluginEntryFile(descriptor).path;
  const copies = sharedPackageCopies(descriptor.directory);
  checkCoreVersion(descriptor.packageName, copies);
  const own = secondCopies(copies);
  const shared = own.length > 0 && options.shareHostPackages !== false && shareHostPackages(descriptor.directory);
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
  if (!(imported.default instanceof ContainerModule)) throw notAContainerModule(descriptor, file, imported.default, shared ? [] : own);
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

/** Entries of `dir`, or none when it cannot be listed (discovery never fails on an unreadable folder). */
function listDirectory(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * The `node_modules` folder of the project `from` belongs to: when `from` lies inside a `node_modules` folder
 * (an installed CLI), the innermost one holding it; otherwise the nearest `node_modules` folder of `from` or of
 * one of its ancestors (a workspace checkout). Null when there is none.
 */
export function projectNodeModules(from: string): string | null {
  const abs = resolve(from);
  const parts = abs.split(sep);
  const inside = parts.lastIndexOf('node_modules');
  if (inside > 0) return parts.slice(0, inside + 1).join(sep) || sep;
  let dir = abs;
  for (;;) {
    const nm = join(dir, 'node_modules');
    if (existsSync(nm)) return nm;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/**
 * Finds installed plugins: every package under `node_modules/@mitosis/plugin-*` or `node_modules/mitosis-plugin-*`
 * of the project `from` belongs to (see {@link projectNodeModules}) — one folder, not every ancestor's, so a
 * stray package higher up the tree is never imported. Only directories are listed (no plugin code or manifest is
 * read), and a folder that cannot be listed is passed over.
 */
export function discoverPluginDirectories(from: string): string[] {
  const nm = projectNodeModules(from);
  if (nm === null) return [];
  const found: string[] = [];
  const candidates: string[] = [];
  const scoped = join(nm, '@mitosis');
  for (const name of listDirectory(scoped)) if (name.startsWith('plugin-')) candidates.push(join(scoped, name));
  for (const name of listDirectory(nm)) if (name.startsWith('mitosis-plugin-')) candidates.push(join(nm, name));
  for (const c of candidates) {
    if (!existsSync(join(c, 'package.json'))) continue;
    try {
      found.push(realpathSync(c));
    } catch {
      // vanished between the listing and now: nothing to load
    }
  }
  return [...new Set(found)].sort();
}

/** A discovered plugin that {@link loadPlugins} passed over, and why. */
export interface SkippedPlugin {
  /** Its directory, as passed to `loadPlugins`. */
  readonly directory: string;
  /** Why: a manifest, entry, import, binding or id-conflict error. */
  readonly error: NasError;
}

/** Options of {@link loadPlugins}. */
export interface LoadPluginsOptions {
  /**
   * Directories (among those passed) that discovery found rather than the user named. Such a plugin that
   * cannot be read, validated, imported or checked — or whose id another plugin also uses — is skipped and
   * reported to `onSkip` instead of failing the load. A plugin the user named stays fatal when broken, and wins
   * an id conflict against discovered ones.
   */
  readonly discovered?: readonly string[];
  /** Told about each skipped plugin as it is skipped (the CLI prints a warning on stderr). */
  readonly onSkip?: (skipped: SkippedPlugin) => void;
  /** See {@link ImportPluginOptions.shareHostPackages} (default true). */
  readonly shareHostPackages?: boolean;
}

function asPluginError(error: unknown, directory: string): NasError {
  if (NasError.is(error)) return error;
  return new NasError('E_PLUGIN_LOAD', `Plugin ${directory} failed to load: ${(error as Error).message}`, { plugin: directory }, { cause: error });
}

function conflictError(id: string, plugins: readonly string[]): NasError {
  return new NasError('E_PLUGIN_CONFLICT', `Plugin id "${id}" is used by both ${plugins[0]} and ${plugins[1]}`, { id, plugins: [...plugins] });
}

/** Imports a plugin and checks what its module binds; a module that throws while binding is `E_PLUGIN_LOAD`. */
async function importAndCheck(descriptor: PluginDescriptor, points: readonly ExtensionPoint[], options: ImportPluginOptions): Promise<LoadedPlugin> {
  const plugin = await importPlugin(descriptor, options);
  try {
    checkPluginContributions(plugin, points);
  } catch (cause) {
    if (NasError.is(cause)) throw cause;
    // Decorators of a second copy of inversify leave metadata mitosis's copy does not read.
    const own = options.shareHostPackages === false ? secondCopies(sharedPackageCopies(descriptor.directory)) : [];
    const copies = own.length > 0 ? ` Two copies are installed: ${describeSecondCopies(own)}. ${SECOND_COPY_FIX}` : '';
    throw new NasError(
      'E_PLUGIN_LOAD',
      `Plugin ${descriptor.packageName}: its module failed while binding: ${(cause as Error).message}${copies}`,
      { plugin: descriptor.packageName, directory: descriptor.directory, ...(own.length > 0 ? { copies: secondCopyDetails(own) } : {}) },
      { cause },
    );
  }
  return plugin;
}

/**
 * Validates, imports and checks plugins, then loads them all into one container with the core registries.
 * Plugin ids must be unique; contribution ids are checked by the registries when they are first resolved.
 * Any failure is thrown, except for the directories listed in `options.discovered`, which are skipped and
 * returned in `skipped` (see {@link LoadPluginsOptions}).
 */
export async function loadPlugins(
  directories: readonly string[],
  points: readonly ExtensionPoint[] = EXTENSION_POINTS,
  options: LoadPluginsOptions = {},
): Promise<{ container: Container; plugins: LoadedPlugin[]; skipped: SkippedPlugin[] }> {
  const lenient = new Set((options.discovered ?? []).map((d) => resolve(d)));
  const skipped: SkippedPlugin[] = [];
  const skip = (directory: string, error: unknown): void => {
    const entry = { directory, error: asPluginError(error, directory) };
    skipped.push(entry);
    options.onSkip?.(entry);
  };
  const descriptors: { directory: string; descriptor: PluginDescriptor }[] = [];
  for (const directory of directories) {
    try {
      descriptors.push({ directory, descriptor: readPluginDescriptor(directory, points) });
    } catch (error) {
      if (!lenient.has(resolve(directory))) throw error;
      skip(directory, error);
    }
  }
  // Id conflicts: two named plugins are fatal; a discovered plugin sharing an id with any other is skipped.
  const byId = new Map<string, { directory: string; descriptor: PluginDescriptor }[]>();
  for (const d of descriptors) byId.set(d.descriptor.manifest.id, [...(byId.get(d.descriptor.manifest.id) ?? []), d]);
  const dropped = new Set<string>();
  for (const [id, group] of byId) {
    if (group.length < 2) continue;
    const named = group.filter((d) => !lenient.has(d.descriptor.directory));
    if (named.length > 1) throw conflictError(id, named.slice(0, 2).map((d) => d.descriptor.packageName));
    for (const d of group) {
      if (named.includes(d)) continue;
      const other = group.find((o) => o !== d) as (typeof group)[number];
      skip(d.directory, conflictError(id, [other.descriptor.packageName, d.descriptor.packageName]));
      dropped.add(d.descriptor.directory);
    }
  }
  const plugins: LoadedPlugin[] = [];
  for (const { directory, descriptor } of descriptors) {
    if (dropped.has(descriptor.directory)) continue;
    try {
      plugins.push(await importAndCheck(descriptor, points, { shareHostPackages: options.shareHostPackages !== false }));
    } catch (error) {
      if (!lenient.has(descriptor.directory)) throw error;
      skip(directory, error);
    }
  }
  const container = createCoreContainer(points);
  container.load(...plugins.map((p) => p.module));
  return { container, plugins, skipped };
}
