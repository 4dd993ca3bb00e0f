import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NasError } from '@mitosis/core';
import { documentKinds } from './document-kinds.js';

const dir = mkdtempSync(join(tmpdir(), 'mitosis-validate-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const repo = fileURLToPath(new URL('../../../', import.meta.url));
const kind = (id: string) => documentKinds.find((k) => k.id === id)!;

describe('mitosis validate runs the checks of use (issue 16 item 4)', () => {
  it('a network spec whose shapes do not infer is E_SHAPE_MISMATCH naming the node (it passed validate before)', async () => {
    const spec = {
      format: 'mitosis-network',
      version: 1,
      name: 'bad',
      nodes: [
        { name: 'input', op: 'input', shape: [4, 4, 1] },
        { name: 'c', op: 'conv2d', inputs: ['input'], filters: 2, kernelSize: [7, 7], strides: [1, 1], padding: 'valid', useBias: true },
      ],
      output: 'c',
    };
    await assert.rejects(kind('network-spec').validate(spec, 'bad.json'), (e: unknown) => NasError.is(e, 'E_SHAPE_MISMATCH') && /"c"/.test(e.message));
    const space = JSON.parse(readFileSync(join(repo, 'search-spaces', 'toy-1d.json'), 'utf8')) as { seed: typeof spec };
    await assert.rejects(kind('search-space').validate({ ...space, seed: spec, layers: {} }, 'space.json'), (e: unknown) => NasError.is(e, 'E_SHAPE_MISMATCH'));
  });

  it('a profile file is loaded as --profile loads it: its id must equal the file stem', async () => {
    const profile = JSON.parse(readFileSync(join(repo, 'hardware-profiles', 'myriad-vpu.json'), 'utf8')) as Record<string, unknown>;
    mkdirSync(join(dir, 'p'), { recursive: true });
    const file = join(dir, 'p', 'renamed.json');
    writeFileSync(file, JSON.stringify(profile));
    await assert.rejects(kind('hardware-profile').validate(profile, file), (e: unknown) => NasError.is(e, 'E_PROFILE_INVALID') && /file stem/.test(e.message));
    const good = join(dir, 'p', 'myriad-vpu.json');
    writeFileSync(good, JSON.stringify(profile));
    await kind('hardware-profile').validate(profile, good);
  });
});
