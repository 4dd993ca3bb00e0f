import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NasError, findPackageCopy, mitosisPackageCopies } from '@mitosis/core';

/** The kinds of plugin `mitosis new plugin` can start. */
export const SCAFFOLD_KINDS = ['grower', 'pruner', 'cost-model', 'eigen-solver'] as const;
export type ScaffoldKind = (typeof SCAFFOLD_KINDS)[number];

interface KindInfo {
  /** In prose: "grower", "cost model". */
  readonly label: string;
  /** The manifest's `contributes` key. */
  readonly contributes: string;
  /** Base name of the implementation and test under src/. */
  readonly file: string;
  /** The mitosis packages the code imports: the first (core) is a peer, built and tested against a dev copy. */
  readonly packages: readonly string[];
  readonly description: string;
  /** A command that uses the contribution (run in the plugin's folder). */
  readonly usage: (id: string) => string;
}

const KINDS: Readonly<Record<ScaffoldKind, KindInfo>> = {
  grower: {
    label: 'grower',
    contributes: 'growers',
    file: 'grower',
    packages: ['@mitosis/core', '@mitosis/grower-kit'],
    description: 'split the neurons with the most negative λ_min within the round budget',
    usage: (id) => `mitosis --plugin . grow --grower ${id} --space toy-1d --rounds 1`,
  },
  pruner: {
    label: 'pruner',
    contributes: 'pruners',
    file: 'pruner',
    packages: ['@mitosis/core'],
    description: 'prune the channels of smallest incoming L2 weight norm',
    usage: (id) => `mitosis --plugin . run --method ${id} --space toy-1d --budget 10macs --rounds 1`,
  },
  'cost-model': {
    label: 'cost model',
    contributes: 'costModels',
    file: 'cost-model',
    packages: ['@mitosis/core'],
    description: 'a latency estimate in ms without a hardware profile (per-layer overhead plus MACs at a fixed throughput)',
    usage: () => 'mitosis --plugin . grow --space toy-1d --budget 0.01ms --rounds 1',
  },
  'eigen-solver': {
    label: 'eigen solver',
    contributes: 'eigenSolvers',
    file: 'eigen-solver',
    packages: ['@mitosis/core'],
    description: 'power iteration on explicit splitting matrices',
    usage: (id) => `mitosis --plugin . grow --space toy-1d --grower-options '{"selection":"top-k","k":1,"solver":"${id}"}' --rounds 1`,
  },
};

/** A mitosis package the plugin installs: its name, version and the file `npm pack` makes of it. */
export interface ScaffoldPackage {
  readonly name: string;
  readonly version: string;
  readonly tarball: string;
}

/** What {@link scaffoldPlugin} wrote and what to do next. */
export interface ScaffoldResult {
  readonly directory: string;
  readonly kind: ScaffoldKind;
  readonly id: string;
  readonly package: string;
  /** Paths relative to `directory`. */
  readonly files: string[];
  readonly packages: ScaffoldPackage[];
  /** The mitosis checkout this CLI runs from, where the tarballs can be made; null for an installed CLI. */
  readonly checkout: string | null;
  /** The commands to build, test and use the plugin. */
  readonly next: string[];
}

const ID_PATTERN = /^[a-z][a-z0-9-]*$/;

/** The id `mitosis new plugin` derives from a folder name: kebab-case, without a `mitosis-plugin-` prefix. */
export function defaultPluginId(directory: string): string {
  return basename(resolve(directory))
    .toLowerCase()
    .replace(/^(@[^/]+\/)?mitosis-plugin-/, '')
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .replace(/-+$/, '');
}

/** npm's tarball name of a package: `@mitosis/core` 0.1.0 → `mitosis-core-0.1.0.tgz`. */
export function tarballName(name: string, version: string): string {
  return `${name.replace(/^@/, '').replace(/\//g, '-')}-${version}.tgz`;
}

const templates = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'templates', 'plugin');

function render(text: string, values: Readonly<Record<string, string>>): string {
  return text.replace(/\{\{(\w+)\}\}/g, (whole, key: string) => values[key] ?? whole);
}

/** The mitosis packages a kind installs, with the versions of this mitosis. */
function packagesOf(info: KindInfo): ScaffoldPackage[] {
  const core = mitosisPackageCopies()['@mitosis/core'];
  const coreVersion = core?.version ?? '0.1.0';
  return info.packages.map((name) => {
    const copy = name === '@mitosis/core' ? core : core === null ? null : findPackageCopy(name, core.directory);
    const version = copy?.version ?? coreVersion;
    return { name, version, tarball: tarballName(name, version) };
  });
}

/** The workspace checkout the running @mitosis/core belongs to (`<root>/packages/core`), if any. */
function mitosisCheckout(): string | null {
  const core = mitosisPackageCopies()['@mitosis/core'];
  if (core === null) return null;
  const root = resolve(core.directory, '..', '..');
  try {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces?: unknown };
    return Array.isArray(pkg.workspaces) ? root : null;
  } catch {
    return null;
  }
}

/**
 * Writes a plugin project of `kind` into `directory` (created; it must not exist or be empty): package.json with
 * the manifest and build/test scripts, a standalone tsconfig.json, a working implementation and its node:test
 * test under src/, a README and a .gitignore. `id` names the plugin and its one contribution (default: from the
 * folder name). Bad input is `E_USAGE`.
 */
export function scaffoldPlugin(kind: string, directory: string, id: string = defaultPluginId(directory)): ScaffoldResult {
  if (!(SCAFFOLD_KINDS as readonly string[]).includes(kind)) {
    throw new NasError('E_USAGE', `Unknown plugin kind "${kind}" (one of ${SCAFFOLD_KINDS.join(', ')})`, { kind, known: [...SCAFFOLD_KINDS] });
  }
  const info = KINDS[kind as ScaffoldKind];
  if (!ID_PATTERN.test(id)) {
    throw new NasError(
      'E_USAGE',
      `"${id}" cannot be a plugin id: use lower-case letters, digits and dashes, starting with a letter (pass --id)`,
      { id, pattern: ID_PATTERN.source },
    );
  }
  const dir = resolve(directory);
  if (existsSync(dir) && (!statSync(dir).isDirectory() || readdirSync(dir).length > 0)) {
    throw new NasError('E_USAGE', `${dir} already exists and is not an empty folder; choose a new one`, { directory: dir });
  }
  const packages = packagesOf(info);
  const core = packages[0] as ScaffoldPackage;
  const packageName = `mitosis-plugin-${id}`;
  const installCommands = packages.map((p, i) => `npm install ${i === 0 ? '--save-dev ' : ''}../${p.tarball}`);
  const values: Record<string, string> = {
    id,
    kind,
    kindLabel: info.label,
    description: info.description,
    package: packageName,
    file: info.file,
    self: '.',
    parent: dirname(dir),
    packFlags: packages.map((p) => `-w ${p.name}`).join(' '),
    tarballs: packages.map((p) => p.tarball).join(', '),
    installCommands: installCommands.join('\n'),
    usage: info.usage(id),
  };
  const manifest = {
    name: packageName,
    version: '0.1.0',
    description: `mitosis ${info.label} "${id}": ${info.description}`,
    type: 'module',
    exports: { '.': { types: './dist/index.d.ts', default: './dist/index.js' } },
    types: './dist/index.d.ts',
    files: ['dist', '!dist/**/*.test.*'],
    engines: { node: '>=20.19' },
    scripts: { build: 'tsc -p tsconfig.json', test: 'tsc -p tsconfig.json && node --test dist/' },
    mitosis: { apiVersion: 1, id, contributes: { [info.contributes]: [id] } },
    peerDependencies: { '@mitosis/core': `^${core.version}` },
    devDependencies: { '@types/node': '^20.19.0', typescript: '~6.0.3' },
  };
  const files: [string, string][] = [
    ['package.json', `${JSON.stringify(manifest, null, 2)}\n`],
    ['tsconfig.json', readFileSync(join(templates, 'common', 'tsconfig.json'), 'utf8')],
    ['.gitignore', readFileSync(join(templates, 'common', 'gitignore'), 'utf8')],
    ['README.md', render(readFileSync(join(templates, 'common', 'README.md'), 'utf8'), values)],
    ...['index.ts', `${info.file}.ts`, `${info.file}.test.ts`].map(
      (name): [string, string] => [`src/${name}`, render(readFileSync(join(templates, kind, 'src', name), 'utf8'), values)],
    ),
  ];
  mkdirSync(join(dir, 'src'), { recursive: true });
  for (const [name, text] of files) writeFileSync(join(dir, name), text, { flag: 'wx' });
  const checkout = mitosisCheckout();
  const next = [
    `${checkout === null ? '(in a mitosis checkout) ' : `cd ${checkout} && `}npm pack ${values['packFlags']} --pack-destination ${dirname(dir)}`,
    `cd ${dir}`,
    ...installCommands,
    'npm test',
    `mitosis --plugin . plugins`,
    info.usage(id),
  ];
  return { directory: dir, kind: kind as ScaffoldKind, id, package: packageName, files: files.map(([name]) => name), packages, checkout, next };
}
