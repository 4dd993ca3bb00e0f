import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === 'node_modules' || name === 'dist') continue;
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** The text of the class that starts `part`, up to the next top-level declaration. */
function classBody(part: string): string {
  const end = part.slice(1).search(/\n(export |@injectable|class |function )/);
  return end < 0 ? part : part.slice(0, end + 1);
}

const files = ['packages', 'plugins', 'examples'].flatMap((d) => sources(join(repo, d)));

describe('DI hygiene (style.md §3.2)', () => {
  it('uses no inversify v6 API', () => {
    const banned = [/\binterfaces\.\w+/, /\.resolve\(\s*[A-Z]\w*\s*\)/, /\btoProvider\(/, /\bgetNamed\(/, /\bgetTagged\(/, /\bcreateChild\(/, /\bautoBindInjectable\b/];
    const hits = files.flatMap((f) => {
      const text = readFileSync(f, 'utf8');
      if (!/from ['"](inversify|@mitosis\/core\/di)['"]/.test(text) && !f.includes('/di/')) return [];
      return banned.filter((re) => re.test(text)).map((re) => `${f.slice(repo.length + 1)}: ${re}`);
    });
    assert.deepEqual(hits, []);
  });

  it('imports inversify only through @mitosis/core/di', () => {
    // Import and re-export statements only (a test may write a fake package whose text mentions inversify).
    const statement = /^\s*(import|export)\b[^;]*?\bfrom\s*['"]inversify['"]/m;
    const direct = files.filter((f) => statement.test(readFileSync(f, 'utf8')) && !f.endsWith('shared-inversify.ts'));
    assert.deepEqual(direct.map((f) => f.slice(repo.length + 1)), []);
  });

  it('gives every constructor parameter of an @injectable class an explicit token', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      const parts = text.split('@injectable()').slice(1);
      for (const part of parts) {
        const name = /class\s+(\w+)/.exec(part)?.[1] ?? '?';
        const ctor = /constructor\(([\s\S]*?)\)\s*\{/.exec(classBody(part));
        checked += 1;
        if (ctor === null) continue;
        const params = (ctor[1] ?? '').split(/,(?![^<(]*[>)])/).map((p) => p.trim()).filter((p) => p.length > 0);
        for (const p of params) if (!/^@(inject|multiInject)\(/.test(p)) problems.push(`${f.slice(repo.length + 1)} ${name}: ${p}`);
      }
    }
    assert.deepEqual(problems, []);
    assert.ok(checked >= 10, `only ${checked} injectable classes found: the scan is broken`);
  });
});
