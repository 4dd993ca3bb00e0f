import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { NasError, readPluginDescriptor } from '@mitosis/core';
import { runCli } from './program.js';
import { SCAFFOLD_KINDS, defaultPluginId, scaffoldPlugin, tarballName } from './plugin-scaffold.js';

const root = mkdtempSync(join(tmpdir(), 'mitosis-scaffold-'));
after(() => rmSync(root, { recursive: true, force: true }));

const contributesKey = { grower: 'growers', pruner: 'pruners', 'cost-model': 'costModels', 'eigen-solver': 'eigenSolvers' } as const;

describe('mitosis new plugin', () => {
  for (const kind of SCAFFOLD_KINDS) {
    it(`writes a ${kind} project whose manifest validates and whose files are fully rendered`, () => {
      const result = scaffoldPlugin(kind, join(root, `kind-${kind}`), `my-${kind}`);
      const descriptor = readPluginDescriptor(result.directory);
      assert.equal(descriptor.packageName, `mitosis-plugin-my-${kind}`);
      assert.deepEqual(descriptor.manifest, { apiVersion: 1, id: `my-${kind}`, contributes: { [contributesKey[kind]]: [`my-${kind}`] } });
      for (const file of result.files) {
        const text = readFileSync(join(result.directory, file), 'utf8');
        assert.doesNotMatch(text, /\{\{\w+\}\}/, `${file} has an unrendered placeholder`);
      }
      const pkg = JSON.parse(readFileSync(join(result.directory, 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
      assert.match(pkg['scripts']?.['test'] ?? '', /node --test/);
      assert.equal(pkg['peerDependencies']?.['@mitosis/core'], `^${result.packages[0]?.version}`);
      const tsconfig = JSON.parse(readFileSync(join(result.directory, 'tsconfig.json'), 'utf8')) as { compilerOptions: Record<string, unknown> };
      assert.equal(tsconfig.compilerOptions['experimentalDecorators'], true);
      assert.ok(!('extends' in tsconfig), 'the tsconfig must stand alone');
      assert.match(readFileSync(join(result.directory, `src/${kind}.ts`), 'utf8'), new RegExp(`readonly id = 'my-${kind}'`));
      const readme = readFileSync(join(result.directory, 'README.md'), 'utf8');
      for (const p of result.packages) assert.ok(readme.includes(p.tarball), `README names ${p.tarball}`);
      assert.ok(result.next.includes(`npm install --save-dev ../${tarballName('@mitosis/core', result.packages[0]!.version)}`));
    });
  }

  it('takes the id from the folder name and the mitosis packages a grower needs', () => {
    assert.equal(defaultPluginId('/x/My_Fancy Grower'), 'my-fancy-grower');
    assert.equal(defaultPluginId('/x/mitosis-plugin-wide'), 'wide');
    const result = scaffoldPlugin('grower', join(root, 'wide-split'));
    assert.equal(result.id, 'wide-split');
    assert.deepEqual(result.packages.map((p) => p.name), ['@mitosis/core', '@mitosis/grower-kit']);
    assert.equal(tarballName('@mitosis/grower-kit', '0.1.0'), 'mitosis-grower-kit-0.1.0.tgz');
  });

  it('refuses an unknown kind, a bad id and a folder that is not empty (E_USAGE), writing nothing', () => {
    const usage = (e: unknown): boolean => NasError.is(e, 'E_USAGE');
    assert.throws(() => scaffoldPlugin('widget', join(root, 'w')), usage);
    assert.throws(() => scaffoldPlugin('grower', join(root, 'bad-id'), 'Bad_Id'), (e: unknown) => usage(e) && /--id/.test((e as Error).message));
    const full = join(root, 'full');
    mkdirSync(full);
    writeFileSync(join(full, 'keep.txt'), 'mine');
    assert.throws(() => scaffoldPlugin('pruner', full), (e: unknown) => usage(e) && /not an empty folder/.test((e as Error).message));
    assert.equal(readFileSync(join(full, 'keep.txt'), 'utf8'), 'mine');
  });

  it('is a command: --kind is required and checked, exit 2 on a usage error', async () => {
    let out = '';
    const io = { stdout: (s: string) => void (out += s), stderr: () => undefined, interactive: false };
    assert.equal(await runCli(['new', 'plugin', join(root, 'no-kind')], io), 2);
    assert.equal(await runCli(['new', 'plugin', '--kind', 'widget', join(root, 'bad-kind')], io), 2);
    out = '';
    assert.equal(await runCli(['--json', 'new', 'plugin', '--kind', 'eigen-solver', join(root, 'cli-made'), '--id', 'power'], io), 0);
    const doc = JSON.parse(out) as { id: string; files: string[]; next: string[] };
    assert.equal(doc.id, 'power');
    assert.ok(doc.files.includes('src/eigen-solver.test.ts'));
    assert.ok(doc.next.some((c) => c.includes('solver":"power"')));
  });
});
