import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NasError, SeededRandom, loadPlugins, writeChecksums, type NetworkSpec } from '@mitosis/core';
import { costModelModuleSource } from '@mitosis/core/testing';
import { documentKinds } from '@mitosis/cli';
import { exportLayersModel, importLayersModel, useBackend } from '@mitosis/engine';
import { loadRoundState, loadSearchSpace, saveRoundState } from '@mitosis/growth';
import { resolveProfile } from '@mitosis/hardware';
import { initWeights } from '@mitosis/ir';
import { repoRoot, tempDir } from './growth-helpers.js';

/**
 * Seeded fuzzing of every JSON input kind (issue 16, item 7): a few hundred mutations of a valid document per
 * kind — values replaced by other types, extremes, path traversals, prototype keys, deep nesting, attack
 * expressions; keys deleted, renamed or swapped; text truncated or with a stray byte — each fed to what
 * `mitosis validate` and the commands run on it. Every outcome must be a success or a NasError: no raw
 * TypeError/RangeError, no hang (each input is timed), no pollution of Object.prototype.
 */

const PER_KIND = 200;
/** Replaced after JSON.stringify (deep text cannot be built through recursive stringify). */
const DEEP = '\u0000DEEP\u0000';
const PROTO = '\u0000PROTO\u0000';

const ATTACK_EXPRESSIONS = [
  'pow(2)',
  'max()',
  `max(${'1,'.repeat(200_000)}1)`,
  `c0${' + macs'.repeat(20_000)}`,
  `${'('.repeat(5000)}1${')'.repeat(5000)}`,
  'sqrt(-1) + log(0)',
  'constructor',
  '__proto__ + 1',
  'end',
  'f(x) = x',
  '[1, 2]',
  '"text"',
  'import("fs")',
  'macs > 1 ? 1 : 2',
  'evaluate("1")',
  'x.y',
  'macs / 0',
];

const SPECIAL_VALUES: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1e308,
  -1e308,
  0.5,
  2 ** 53 + 1,
  '',
  'x',
  '../../../../etc/hostname',
  '/dev/zero',
  '../outside.js',
  '__proto__',
  'constructor',
  'pow',
  'end',
  'a'.repeat(10_000),
  [],
  {},
  DEEP,
  PROTO,
  Array.from({ length: 20_000 }, () => 0),
  ...ATTACK_EXPRESSIONS,
];

type Json = unknown;
type Path = (string | number)[];

function paths(doc: Json, limit = 2000): Path[] {
  const out: Path[] = [];
  const stack: [Json, Path][] = [[doc, []]];
  while (stack.length > 0 && out.length < limit) {
    const [v, p] = stack.pop()!;
    out.push(p);
    if (Array.isArray(v)) v.forEach((x, i) => stack.push([x, [...p, i]]));
    else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) stack.push([x, [...p, k]]);
  }
  return out;
}

function getAt(doc: Json, p: Path): Json {
  return p.reduce<Json>((v, k) => (v as Record<string | number, Json>)[k], doc);
}

function setAt(doc: Json, p: Path, value: Json): Json {
  if (p.length === 0) return value;
  const parent = getAt(doc, p.slice(0, -1)) as Record<string | number, Json>;
  parent[p[p.length - 1]!] = value;
  return doc;
}

/** One seeded mutation of `base` as JSON text; `label` says what was done. */
function mutate(base: Json, rng: SeededRandom): { text: string; label: string } {
  const doc = structuredClone(base);
  const all = paths(doc);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng.next() * xs.length)]!;
  const p = pick(all);
  const where = `/${p.join('/')}`;
  const op = Math.floor(rng.next() * 7);
  let label: string;
  let mutated: Json = doc;
  if (op === 0 && p.length > 0) {
    const parent = getAt(doc, p.slice(0, -1));
    const key = p[p.length - 1]!;
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete (parent as Record<string, Json>)[key as string];
    label = `delete ${where}`;
  } else if (op === 1 && p.length > 0 && typeof p[p.length - 1] === 'string') {
    const parent = getAt(doc, p.slice(0, -1)) as Record<string, Json>;
    const key = p[p.length - 1] as string;
    const to = pick(['__proto__', 'constructor', 'toString', 'pow', 'end', '', 'x'.repeat(300), `${key}2`]);
    const value = parent[key];
    delete parent[key];
    Object.defineProperty(parent, to, { value, enumerable: true, configurable: true, writable: true });
    label = `rename ${where} → ${to.slice(0, 20)}`;
  } else if (op === 2) {
    const q = pick(all);
    const a = structuredClone(getAt(doc, p));
    const b = structuredClone(getAt(doc, q));
    if (!q.slice(0, p.length).every((k, i) => k === p[i]) && !p.slice(0, q.length).every((k, i) => k === q[i])) {
      setAt(doc, p, b);
      setAt(doc, q, a);
    }
    label = `swap ${where} ↔ /${q.join('/')}`;
  } else if (op === 3 && typeof getAt(doc, p) === 'string') {
    const value = pick(ATTACK_EXPRESSIONS);
    mutated = setAt(doc, p, value);
    label = `expression ${where} = ${value.slice(0, 24)}`;
  } else if (op === 4) {
    const text = JSON.stringify(doc);
    const cut = Math.floor(rng.next() * text.length);
    return rng.next() < 0.5
      ? { text: text.slice(0, cut), label: `truncate at ${cut}` }
      : { text: `${text.slice(0, cut)}${pick(['"', '{', ']', '\\', '\u0000', ',', '1e999'])}${text.slice(cut)}`, label: `stray byte at ${cut}` };
  } else {
    const value = pick(SPECIAL_VALUES);
    mutated = setAt(doc, p, structuredClone(value));
    label = `set ${where} = ${JSON.stringify(value)?.slice(0, 24)}`;
  }
  const text = JSON.stringify(mutated, null, 1)
    .replaceAll(JSON.stringify(DEEP), `${'['.repeat(5000)}${']'.repeat(5000)}`)
    .replaceAll(JSON.stringify(PROTO), '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}}}');
  return { text, label };
}

interface Kind {
  readonly name: string;
  /** The valid document mutation `i` starts from. */
  base(i: number): Json;
  /** Writes the mutated text where it belongs and runs what mitosis runs on it. */
  run(text: string, i: number): Promise<unknown>;
}

const validateKind = (id: string) => async (file: string): Promise<unknown> => {
  const kind = documentKinds.find((k) => k.id === id)!;
  const { readJsonFile } = await import('@mitosis/core');
  return kind.validate(readJsonFile(file), file);
};

describe('fuzz: seeded mutations of every input kind end in success or a NasError', () => {
  const { dir, cleanup } = tempDir('fuzz');
  const kinds: Kind[] = [];
  before(async () => {
    await useBackend('cpu');
    const readJson = (file: string): Json => JSON.parse(readFileSync(join(repoRoot, file), 'utf8'));
    const space = readJson('search-spaces/toy-1d.json');
    const convnet = (readJson('search-spaces/convnet-mnist.json') as { seed: NetworkSpec }).seed;

    kinds.push({
      name: 'search space',
      base: () => space,
      run: async (text, i) => {
        const file = join(dir, 'space', `${i}.json`);
        writeFileSync(file, text);
        await validateKind('search-space')(file);
        return loadSearchSpace(file);
      },
    });
    kinds.push({
      name: 'network spec',
      base: () => convnet,
      run: async (text, i) => {
        const file = join(dir, 'spec', `${i}.json`);
        writeFileSync(file, text);
        return validateKind('network-spec')(file);
      },
    });
    kinds.push({
      name: 'hardware profile',
      base: () => readJson('hardware-profiles/myriad-vpu.json'),
      run: async (text, i) => {
        const file = join(dir, 'profile', String(i), 'myriad-vpu.json');
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, text);
        await validateKind('hardware-profile')(file);
        const profile = resolveProfile(file);
        const features = { macs: 1e6, params: 4640, inBytes: 16384, outBytes: 32768, kernel: 3, stride: 1, cin: 16, cout: 32, h: 16, w: 16 };
        const latency = profile.predictLatency({ kind: 'conv2d' } as never, features);
        return profile.energy('conv2d:none', features, latency?.value ?? 1);
      },
    });
    kinds.push({
      name: 'study',
      base: () => readJson('search-spaces/studies/fashion-quick.json'),
      run: async (text, i) => {
        const file = join(dir, 'study', `${i}.json`);
        writeFileSync(file, text);
        return validateKind('study')(file);
      },
    });
    const pluginBase = { name: 'fuzz-plugin', version: '1.0.0', type: 'module', main: 'index.mjs', mitosis: { apiVersion: 1, id: 'fuzz-plugin', contributes: { costModels: ['fuzz-model'] } } };
    kinds.push({
      name: 'plugin manifest',
      base: () => pluginBase,
      run: async (text, i) => {
        const pluginDir = join(dir, 'plugin', `p${i}`);
        mkdirSync(pluginDir, { recursive: true });
        writeFileSync(join(pluginDir, 'index.mjs'), costModelModuleSource(['fuzz-model']));
        writeFileSync(join(pluginDir, 'package.json'), text);
        await validateKind('plugin-manifest')(join(pluginDir, 'package.json'));
        return loadPlugins([pluginDir]);
      },
    });
    const modelDir = join(dir, 'model-base');
    const tiny = (space as { seed: NetworkSpec }).seed;
    await exportLayersModel(modelDir, tiny, initWeights(tiny, 1), { allowMitosisActivations: true });
    const weightsBin = readFileSync(join(modelDir, 'weights.bin'));
    const modelJson: Json = JSON.parse(readFileSync(join(modelDir, 'model.json'), 'utf8'));
    kinds.push({
      name: 'LayersModel manifest',
      base: () => modelJson,
      run: async (text, i) => {
        const m = join(dir, 'model', String(i));
        mkdirSync(m, { recursive: true });
        writeFileSync(join(m, 'weights.bin'), weightsBin);
        writeFileSync(join(m, 'model.json'), text);
        return importLayersModel(m);
      },
    });
    const runBase = join(dir, 'ckpt-base');
    await saveRoundState(runBase, { round: 1, spec: tiny, weights: initWeights(tiny, 2), rng: { state: 7, spare: null }, metrics: { epochs: 3 } });
    const ckFiles = ['network.json', 'weights.json', 'state.json'] as const;
    const ckBase = Object.fromEntries(ckFiles.map((f) => [f, JSON.parse(readFileSync(join(runBase, 'checkpoints', 'round-001', f), 'utf8'))]));
    const ckBin = readFileSync(join(runBase, 'checkpoints', 'round-001', 'weights.bin'));
    kinds.push({
      name: 'checkpoint files',
      // Mutation i changes one of the checkpoint's JSON files (i mod 3); every other one also flips a byte of
      // weights.bin or appends bytes to it, and half of them rewrite checksums.json so that the checks under
      // the checksums run too.
      base: (i) => ckBase[ckFiles[i % 3]!],
      run: async (text, i) => {
        const runDir = join(dir, 'ckpt', String(i));
        await saveRoundState(runDir, { round: 1, spec: tiny, weights: initWeights(tiny, 2), rng: { state: 7, spare: null }, metrics: { epochs: 3 } });
        const ck = join(runDir, 'checkpoints', 'round-001');
        writeFileSync(join(ck, ckFiles[i % 3]!), text);
        if (i % 2 === 1) {
          const bin = Buffer.from(ckBin);
          const at = (i * 7919) % bin.length;
          bin[at] = bin[at]! ^ 0x5a;
          writeFileSync(join(ck, 'weights.bin'), i % 4 === 1 ? bin : Buffer.concat([bin, Buffer.alloc(1 + (i % 9))]));
        }
        if (i % 4 >= 2) writeChecksums(ck);
        return loadRoundState(runDir, 1, { complete: true });
      },
    });
    for (const sub of ['space', 'spec', 'profile', 'study', 'plugin', 'model', 'ckpt']) mkdirSync(join(dir, sub), { recursive: true });
  });
  after(cleanup);

  it(`${PER_KIND} mutations per kind: zero non-NasError failures, no input slower than 5 s`, { timeout: 120_000 }, async (t) => {
    const failures: string[] = [];
    let total = 0;
    let accepted = 0;
    let slowest = { ms: 0, what: '' };
    const codes = new Map<string, number>();
    for (const [k, kind] of kinds.entries()) {
      const rng = new SeededRandom(1600 + k);
      for (let i = 0; i < PER_KIND; i++) {
        const { text, label } = mutate(kind.base(i), rng);
        const t0 = performance.now();
        try {
          await kind.run(text, i);
          accepted += 1;
        } catch (error) {
          if (NasError.is(error)) codes.set(error.code, (codes.get(error.code) ?? 0) + 1);
          else failures.push(`${kind.name} #${i} (${label}): ${(error as Error)?.constructor?.name}: ${String((error as Error)?.message).slice(0, 160)}`);
        }
        const ms = performance.now() - t0;
        if (ms > slowest.ms) slowest = { ms, what: `${kind.name} #${i} (${label})` };
        total += 1;
      }
    }
    t.diagnostic(`${total} mutations over ${kinds.length} kinds: ${accepted} accepted, ${total - accepted - failures.length} NasErrors, ${failures.length} other failures`);
    t.diagnostic(`codes: ${[...codes].map(([c, n]) => `${c} ${n}`).join(', ')}`);
    t.diagnostic(`slowest input: ${slowest.ms.toFixed(0)} ms, ${slowest.what}`);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined, 'Object.prototype is not polluted');
    assert.deepEqual(failures, []);
    assert.ok(slowest.ms < 5000, `slowest input took ${slowest.ms} ms: ${slowest.what}`);
  });
});
