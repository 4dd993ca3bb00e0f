import { existsSync, readFileSync, realpathSync } from 'node:fs';
import * as nodeModule from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { NasError } from '../errors.js';
import type { SharedPackagesHookData } from './shared-packages-hook.js';

/**
 * The packages of which a plugin and mitosis must use one copy at run time. A second copy of inversify is a
 * second `ContainerModule` class and a second set of decorator metadata; a second copy of `@mitosis/core` brings
 * inversify along with it. Plugins declare them as peer dependencies.
 */
export const SHARED_PACKAGES = ['@mitosis/core', 'inversify', 'reflect-metadata'] as const;
export type SharedPackage = (typeof SHARED_PACKAGES)[number];

/** One installed copy of a package: its folder (real path) and version. */
export interface PackageCopy {
  readonly directory: string;
  readonly version: string;
}

/** Where mitosis and a plugin find one shared package; `null` where none is found. */
export interface SharedPackageCopies {
  readonly name: SharedPackage;
  readonly mitosis: PackageCopy | null;
  readonly plugin: PackageCopy | null;
}

function readVersion(directory: string): string {
  try {
    const doc = JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8')) as { version?: unknown };
    return typeof doc.version === 'string' ? doc.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * The copy of package `name` that a bare `import` from a module in `from` gets, found as Node finds it: the
 * nearest `node_modules/<name>` of `from` or one of its ancestors (real path). `null` when there is none.
 */
export function findPackageCopy(name: string, from: string): PackageCopy | null {
  let dir = resolve(from);
  for (;;) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) {
      const directory = realpathSync(candidate);
      return { directory, version: readVersion(directory) };
    }
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/** The folder of this copy of @mitosis/core (the one running): the nearest package.json above this module. */
function thisCoreDirectory(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return realpathSync(dir);
    const parent = dirname(dir);
    if (parent === dir) return realpathSync(dirname(fileURLToPath(import.meta.url)));
    dir = parent;
  }
}

let mitosisCopies: Record<SharedPackage, PackageCopy | null> | undefined;

/** The copies mitosis itself runs with: this @mitosis/core, and the inversify and reflect-metadata it resolves. */
export function mitosisPackageCopies(): Record<SharedPackage, PackageCopy | null> {
  if (mitosisCopies === undefined) {
    const core = thisCoreDirectory();
    mitosisCopies = {
      '@mitosis/core': { directory: core, version: readVersion(core) },
      inversify: findPackageCopy('inversify', core),
      'reflect-metadata': findPackageCopy('reflect-metadata', core),
    };
  }
  return mitosisCopies;
}

/** For each shared package, mitosis's copy and the one a module in `pluginDirectory` would import. */
export function sharedPackageCopies(pluginDirectory: string): SharedPackageCopies[] {
  const mine = mitosisPackageCopies();
  return SHARED_PACKAGES.map((name) => ({ name, mitosis: mine[name], plugin: findPackageCopy(name, pluginDirectory) }));
}

/** The shared packages of which the plugin has a copy of its own (not mitosis's). */
export function secondCopies(copies: readonly SharedPackageCopies[]): SharedPackageCopies[] {
  return copies.filter((c) => c.plugin !== null && c.mitosis !== null && c.plugin.directory !== c.mitosis.directory);
}

/** `major.minor` for 0.x versions (npm's caret range), `major` otherwise. */
function compatibilityKey(version: string): string | null {
  const m = /^(\d+)\.(\d+)\./.exec(version);
  if (m === null) return null;
  return m[1] === '0' ? `0.${m[2]}` : (m[1] as string);
}

/** Whether code built against @mitosis/core `built` runs on `running` (same major; same minor for 0.x). */
export function coreVersionsCompatible(built: string, running: string): boolean {
  const a = compatibilityKey(built);
  const b = compatibilityKey(running);
  return a === null || b === null || a === b;
}

const describeCopy = (copy: PackageCopy | null): string => (copy === null ? 'none found' : `${copy.version} at ${copy.directory}`);

/** "inversify: mitosis uses 8.2.3 at /a; the plugin's is 8.2.3 at /b" for each package with two copies. */
export function describeSecondCopies(copies: readonly SharedPackageCopies[]): string {
  return copies.map((c) => `${c.name}: mitosis uses ${describeCopy(c.mitosis)}; the plugin's is ${describeCopy(c.plugin)}`).join('; ');
}

/** What to do about a second copy, for error messages. */
export const SECOND_COPY_FIX =
  'Make @mitosis/core, inversify and reflect-metadata peerDependencies of the plugin (never dependencies, never ' +
  'bundled), import DI only from @mitosis/core/di, and run `npm dedupe` where the plugin is installed ' +
  '(docs/plugin-authoring.md, "One copy of inversify")';

/** JSON details naming both copies of each package. */
export function secondCopyDetails(copies: readonly SharedPackageCopies[]): { package: string; mitosis: string | null; plugin: string | null }[] {
  return copies.map((c) => ({ package: c.name, mitosis: c.mitosis?.directory ?? null, plugin: c.plugin?.directory ?? null }));
}

/**
 * Refuses a plugin built against an incompatible @mitosis/core (its own copy's version against the running one,
 * same major, same minor for 0.x): `E_PLUGIN_LOAD` naming both copies.
 */
export function checkCoreVersion(packageName: string, copies: readonly SharedPackageCopies[]): void {
  const core = copies.find((c) => c.name === '@mitosis/core');
  if (core?.plugin == null || core.mitosis === null || coreVersionsCompatible(core.plugin.version, core.mitosis.version)) return;
  throw new NasError(
    'E_PLUGIN_LOAD',
    `Plugin ${packageName} was built against @mitosis/core ${core.plugin.version} (${core.plugin.directory}), but this ` +
      `mitosis runs @mitosis/core ${core.mitosis.version} (${core.mitosis.directory}): install @mitosis/core ` +
      `${core.mitosis.version} in the plugin and rebuild it`,
    { plugin: packageName, copies: secondCopyDetails([core]) },
  );
}

const sharedRoots = new Set<string>();

/**
 * From now on, bare imports of @mitosis/core, inversify and reflect-metadata by modules inside `pluginDirectory`
 * (its own code and its node_modules) resolve to mitosis's copies, through a `node:module` resolution hook: the
 * plugin's own copies, installed to build and test it, are never loaded. Returns false where this Node has no
 * `module.register` (then a second copy is reported when the plugin is checked).
 */
export function shareHostPackages(pluginDirectory: string): boolean {
  const root = `${pathToFileURL(realpathSync(pluginDirectory)).href}/`;
  if (sharedRoots.has(root)) return true;
  const register = (nodeModule as { register?: typeof nodeModule.register }).register;
  if (typeof register !== 'function') return false;
  const data: SharedPackagesHookData = { roots: [root], packages: [...SHARED_PACKAGES], anchor: import.meta.url };
  register(new URL('./shared-packages-hook.js', import.meta.url), { parentURL: import.meta.url, data });
  sharedRoots.add(root);
  return true;
}
