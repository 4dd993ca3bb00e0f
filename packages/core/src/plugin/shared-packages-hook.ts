// A module-resolution hook (node:module `register`), run on Node's hooks thread. It makes a plugin that carries
// its own copies of @mitosis/core, inversify or reflect-metadata (installed in the plugin's node_modules to build
// and test it) import mitosis's copies instead, as peer dependencies are meant to be resolved. Only bare
// specifiers of those packages imported from inside the registered plugin folders are redirected; everything
// else resolves as usual. Registered by `shareHostPackages` in shared-packages.ts.
import type { InitializeHook, ResolveHook } from 'node:module';

/** What `register` passes: the plugin folders (file URLs ending in `/`), the packages, and where mitosis resolves them from. */
export interface SharedPackagesHookData {
  readonly roots: readonly string[];
  readonly packages: readonly string[];
  /** A file URL inside mitosis's @mitosis/core: bare specifiers are resolved as if imported from there. */
  readonly anchor: string;
}

let data: SharedPackagesHookData = { roots: [], packages: [], anchor: '' };

export const initialize: InitializeHook<SharedPackagesHookData> = (given) => {
  data = given;
};

/** The package name of a bare specifier (`@scope/name/sub` → `@scope/name`, `name/sub` → `name`). */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? '');
}

export const resolve: ResolveHook = (specifier, context, nextResolve) => {
  const parent = context.parentURL;
  if (
    parent !== undefined &&
    data.roots.some((root) => parent.startsWith(root)) &&
    data.packages.includes(packageName(specifier))
  ) {
    return nextResolve(specifier, { ...context, parentURL: data.anchor });
  }
  return nextResolve(specifier, context);
};
