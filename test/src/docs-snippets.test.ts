import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Every fenced block preceded by `<!-- snippet: path -->` must appear verbatim in that file. */
function snippets(markdown: string): { source: string; code: string }[] {
  const out: { source: string; code: string }[] = [];
  const re = /<!-- snippet: (\S+) -->\n```\w*\n([\s\S]*?)```/g;
  for (let m = re.exec(markdown); m !== null; m = re.exec(markdown)) out.push({ source: m[1] ?? '', code: m[2] ?? '' });
  return out;
}

describe('documentation snippets', () => {
  for (const doc of ['docs/plugin-authoring.md']) {
    it(`${doc}: every snippet is an excerpt of a compiled, tested source file`, () => {
      const found = snippets(readFileSync(join(repo, doc), 'utf8'));
      assert.ok(found.length >= 4, `expected snippets in ${doc}`);
      for (const s of found) {
        const source = readFileSync(join(repo, s.source), 'utf8');
        assert.ok(source.includes(s.code.trimEnd()), `snippet no longer matches ${s.source}:\n${s.code.slice(0, 200)}`);
      }
    });
  }

  it('docs/plugin-authoring.md: "Write a pruner" quotes every source file of examples/pruner-magnitude', () => {
    const markdown = readFileSync(join(repo, 'docs/plugin-authoring.md'), 'utf8');
    const at = markdown.indexOf('\n## Write a pruner\n');
    assert.ok(at >= 0, 'the "Write a pruner" section is missing');
    const quoted = new Set(snippets(markdown.slice(at)).map((s) => s.source));
    for (const source of [
      'examples/pruner-magnitude/package.json',
      'examples/pruner-magnitude/src/magnitude-pruner.ts',
      'examples/pruner-magnitude/src/index.ts',
    ]) {
      assert.ok(quoted.has(source), `the pruner section quotes nothing from ${source}`);
    }
  });
});
