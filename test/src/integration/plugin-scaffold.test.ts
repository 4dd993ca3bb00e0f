import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { secondCopies, sharedPackageCopies } from '@mitosis/core';
import { repoRoot, tempDir } from './growth-helpers.js';

/**
 * The out-of-repo plugin workflow of docs/plugin-authoring.md, run as written: `mitosis new plugin --kind grower`
 * in a temporary folder outside the repository, then the commands it prints: `npm pack` of the mitosis packages
 * in this checkout, `npm install` of the tarballs in the plugin's folder, `npm test` (build + the plugin's own
 * tests), `mitosis --plugin . plugins` and a one-round `mitosis --plugin . grow` on toy-1d with the new grower.
 *
 * Offline: npm runs with `--offline` and an empty cache of its own. The registry packages the mitosis packages
 * and the scaffold need (inversify, reflect-metadata, ajv, typescript, @types/node and their dependencies) are
 * packed from this checkout's node_modules and added to the first `npm install`, standing in for the registry.
 * Skipped, saying so, where npm cannot be run.
 */

const npmVersion = spawnSync('npm', ['--version'], { encoding: 'utf8' });
const npmMissing = npmVersion.status === 0 ? null : `npm cannot be run here (${npmVersion.error?.message ?? npmVersion.stderr}); the workflow needs npm`;

/** The environment of the workflow's commands: not this process's npm or test-runner settings; an npm cache of its own, offline. */
function workflowEnv(tmp: string, bin: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  // NODE_TEST_CONTEXT would make the plugin's own `node --test` report to this test runner instead of its stdout.
  const own = new Set(['MITOSIS_PLUGINS', 'NODE_TEST_CONTEXT']);
  for (const [k, v] of Object.entries(process.env)) if (!k.toLowerCase().startsWith('npm_') && !own.has(k)) env[k] = v;
  return {
    ...env,
    PATH: `${bin}:${env['PATH'] ?? ''}`,
    npm_config_cache: join(tmp, 'npm-cache'),
    npm_config_offline: 'true',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
  };
}

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

function sh(command: string, cwd: string, env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<Ran> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', command], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => void (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, seconds: (performance.now() - start) / 1000 }));
  });
}

/** The registry packages needed offline: `roots` and their dependencies and peers, from the checkout's lock file. */
function registryClosure(roots: readonly string[]): string[] {
  const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dependencies?: Record<string, string>; peerDependencies?: Record<string, string>; peerDependenciesMeta?: Record<string, { optional?: boolean }> }>;
  };
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    const entry = lock.packages[`node_modules/${name}`];
    assert.ok(entry !== undefined, `${name} is not installed in the checkout`);
    seen.add(name);
    for (const dep of Object.keys(entry.dependencies ?? {})) visit(dep);
    for (const peer of Object.keys(entry.peerDependencies ?? {})) if (entry.peerDependenciesMeta?.[peer]?.optional !== true) visit(peer);
  };
  roots.forEach(visit);
  return [...seen].sort();
}

const workflowSection = (): string => {
  const doc = readFileSync(join(repoRoot, 'docs', 'plugin-authoring.md'), 'utf8');
  const at = doc.indexOf('## Start a plugin outside the repository');
  assert.ok(at >= 0, 'docs/plugin-authoring.md has no "Start a plugin outside the repository" section');
  return doc.slice(at);
};

describe('docs/plugin-authoring.md: the files of the grower scaffold', () => {
  it('quotes each file exactly as `mitosis new plugin --kind grower ~/my-grower` writes it', () => {
    const { dir, cleanup } = tempDir('scaffold-doc');
    try {
      const made = join(dir, 'my-grower');
      const r = spawnSync(process.execPath, [join(repoRoot, 'packages', 'cli', 'dist', 'main.js'), 'new', 'plugin', '--kind', 'grower', made], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const doc = readFileSync(join(repoRoot, 'docs', 'plugin-authoring.md'), 'utf8');
      const quoted = [...doc.matchAll(/<!-- scaffold: grower (\S+) -->\n```\w*\n([\s\S]*?)```/g)];
      assert.deepEqual(quoted.map((m) => m[1]).sort(), ['package.json', 'src/grower.test.ts', 'src/grower.ts', 'src/index.ts', 'tsconfig.json']);
      for (const [, file, text] of quoted) assert.equal(text, readFileSync(join(made, file as string), 'utf8'), `docs/plugin-authoring.md quotes an old ${file}`);
    } finally {
      cleanup();
    }
  });
});

describe('mitosis new plugin: the other kinds build and pass their own tests against this checkout', () => {
  it('pruner, cost-model and eigen-solver', { timeout: 120_000 }, async () => {
    const { dir, cleanup } = tempDir('scaffold-kinds');
    try {
      const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
      const env = { ...process.env };
      delete env['NODE_TEST_CONTEXT'];
      await Promise.all(
        ['pruner', 'cost-model', 'eigen-solver'].map(async (kind) => {
          const made = join(dir, `my-${kind}`);
          const cli = join(repoRoot, 'packages', 'cli', 'dist', 'main.js');
          const r = await sh(`"${process.execPath}" "${cli}" new plugin --kind ${kind} ${made}`, dir, env);
          assert.equal(r.code, 0, r.stderr);
          // The checkout's packages, as `npm install <checkout>/packages/core` would link them.
          symlinkSync(join(repoRoot, 'node_modules'), join(made, 'node_modules'));
          const built = await sh(`"${process.execPath}" "${tsc}" -p tsconfig.json && "${process.execPath}" --test dist/`, made, env);
          assert.equal(built.code, 0, `${kind}:\n${built.stdout.slice(-3000)}\n${built.stderr.slice(-2000)}`);
          assert.match(built.stdout, /# pass [1-9]/);
          assert.match(built.stdout, /# fail 0/);
        }),
      );
    } finally {
      cleanup();
    }
  });
});

describe('a grower plugin built outside the repository, as docs/plugin-authoring.md says', { skip: npmMissing ?? false }, () => {
  const { dir: tmp, cleanup } = tempDir('plugin-e2e');
  after(cleanup);
  const bin = join(tmp, 'bin');
  const pluginDir = join(tmp, 'my-grower');
  const env = workflowEnv(tmp, bin);
  const times: Record<string, number> = {};
  let next: string[] = [];

  before(() => {
    assert.ok(existsSync(join(repoRoot, 'packages', 'cli', 'dist', 'main.js')), 'build the checkout first (npx tsc -b)');
    assert.ok(!tmp.startsWith(`${repoRoot}/`), `${tmp} must lie outside the checkout`);
    // `mitosis` on the PATH is this checkout's CLI, as the guide sets it up.
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'mitosis'), `#!/bin/sh\nexec "${process.execPath}" "${join(repoRoot, 'packages', 'cli', 'dist', 'main.js')}" "$@"\n`);
    chmodSync(join(bin, 'mitosis'), 0o755);
  });

  it('scaffolds the plugin with `mitosis new plugin --kind grower`', async () => {
    const r = await sh(`mitosis --json new plugin --kind grower ${pluginDir}`, tmp, env);
    times['scaffold'] = r.seconds;
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as { id: string; next: string[] };
    assert.equal(result.id, 'my-grower');
    next = result.next;
    // The guide lists the same commands (with ~ for the folder holding the plugin and <checkout> for this checkout).
    const section = workflowSection();
    for (const command of next) {
      const general = command.replaceAll(repoRoot, '<checkout>').replaceAll(pluginDir, '~/my-grower').replaceAll(tmp, '~');
      assert.ok(section.includes(general), `docs/plugin-authoring.md does not show the step: ${general}`);
    }
  });

  it('packs, installs offline, builds, tests, lists and runs the plugin', { timeout: 240_000 }, async (t: TestContext) => {
    assert.ok(next.length > 0, 'the scaffold step failed');
    // Stand-ins for the registry: the packages whose copies matter (inversify, reflect-metadata, ajv) packed from
    // the checkout's node_modules (no install scripts run); the compiler and Node's types linked from there.
    const offline = join(tmp, 'offline');
    mkdirSync(offline);
    const packedNames = registryClosure(['inversify', 'reflect-metadata', 'ajv']);
    const packed = await sh(`npm pack --ignore-scripts --pack-destination ${offline} ${packedNames.map((n) => join(repoRoot, 'node_modules', n)).join(' ')}`, tmp, env);
    times['pack registry stand-ins'] = packed.seconds;
    assert.equal(packed.code, 0, packed.stderr);
    const linked = registryClosure(['typescript', '@types/node']).map((n) => join(repoRoot, 'node_modules', n));
    const standIns = [...readdirSync(offline).map((f) => join(offline, f)), ...linked];
    assert.equal(standIns.length, packedNames.length + linked.length);

    let cwd = tmp;
    let firstInstall = true;
    for (const command of next) {
      let step = command;
      const cd = /^cd (\S+)(?: && (.*))?$/.exec(command);
      if (cd !== null && cd[2] === undefined) {
        cwd = cd[1] as string;
        continue;
      }
      if (command.startsWith('npm install') && firstInstall) {
        step = `${command} ${standIns.join(' ')}`;
        firstInstall = false;
      }
      const r = await sh(step, cwd, env);
      const label = command.replace(/^cd \S+ && /, '').replace(/ --pack-destination .*/, '');
      times[label] = r.seconds;
      assert.equal(r.code, 0, `${command} failed (exit ${r.code}):\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
      if (command === 'npm test') assert.match(r.stdout, /# pass [1-9]/);
      if (command === 'mitosis --plugin . plugins') assert.match(r.stdout, /my-grower +\(mitosis-plugin-my-grower@0\.1\.0\)/);
      if (command.includes(' grow ')) assert.match(r.stdout, /grew toy-1d with my-grower/);
    }
    // The scenario of the issue: the plugin carries its own copies of @mitosis/core and inversify.
    const own = secondCopies(sharedPackageCopies(pluginDir)).map((c) => c.name);
    assert.ok(own.includes('@mitosis/core') && own.includes('inversify'), `expected own copies, found ${own.join(', ')}`);

    // JSON views of the same load and run.
    const listed = await sh('mitosis --json --plugin . plugins', pluginDir, env);
    const plugins = (JSON.parse(listed.stdout) as { plugins: { id: string; contributes: { growers?: { id: string }[] } }[] }).plugins;
    assert.deepEqual(plugins.find((p) => p.id === 'my-grower')?.contributes.growers?.map((g) => g.id), ['my-grower']);
    const summary = JSON.parse(readFileSync(join(pluginDir, 'runs', 'toy-1d-my-grower', 'summary.json'), 'utf8')) as { method: string; rounds: number };
    assert.equal(summary.method, 'my-grower');
    assert.equal(summary.rounds, 1);
    t.diagnostic(`step times (s): ${Object.entries(times).map(([k, v]) => `${k} ${v.toFixed(1)}`).join('; ')}`);
  });
});
