import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, it } from 'node:test';
import { CostModelRegistry } from '@mitosis/core';
import { loadSearchSpace, searchSpaceSchema } from '@mitosis/growth';
import { hardwareProfileSchema, loadProfile } from '@mitosis/hardware';
import { repoRoot, tempDir, workspaceServices } from '../integration/growth-helpers.js';

const spaces = readdirSync(join(repoRoot, 'search-spaces')).filter((f) => f.endsWith('.json'));
const profiles = readdirSync(join(repoRoot, 'hardware-profiles')).filter((f) => f.endsWith('.json'));

describe('shipped search spaces and hardware profiles (contract)', () => {
  it('ships the eleven search spaces and five profiles the docs name', () => {
    assert.deepEqual(spaces.map((f) => basename(f, '.json')).sort(), [
      'cell-cifar',
      'cell-fashion',
      'cell-fashion-quick',
      'convnet-fashion',
      'convnet-fashion-quick',
      'convnet-mnist',
      'mlp-mnist',
      'mobilenetv1-cifar',
      'mobilenetv2-cifar',
      'refnet-32',
      'toy-1d',
    ]);
    for (const id of ['pixel1-cpu', 'note10-cpu', 'myriad-vpu', 'hexagon-dsp', 'local']) assert.ok(profiles.includes(`${id}.json`), id);
  });

  for (const f of spaces) {
    it(`search-spaces/${f} validates (seed network included) and its id is the file stem`, () => {
      const { space } = loadSearchSpace(join(repoRoot, 'search-spaces', f));
      assert.equal(space.id, basename(f, '.json'));
    });
  }

  for (const f of profiles) {
    it(`hardware-profiles/${f} validates and its id is the file stem`, () => {
      assert.equal(loadProfile(join(repoRoot, 'hardware-profiles', f)).id, basename(f, '.json'));
    });
  }

  it('the schema files equal the schemas the code validates against', () => {
    const read = (p: string): unknown => JSON.parse(readFileSync(join(repoRoot, p), 'utf8'));
    assert.deepEqual(read('search-spaces/schema/search-space.schema.json'), JSON.parse(JSON.stringify(searchSpaceSchema)));
    assert.deepEqual(read('hardware-profiles/schema/hardware-profile.schema.json'), JSON.parse(JSON.stringify(hardwareProfileSchema)));
  });

  it('the shipped search spaces are what scripts/make-search-spaces.mjs generates (no drift)', () => {
    const { dir, cleanup } = tempDir('spaces');
    try {
      execFileSync(process.execPath, [join(repoRoot, 'scripts/make-search-spaces.mjs'), dir]);
      for (const f of spaces) assert.deepEqual(JSON.parse(readFileSync(join(dir, f), 'utf8')), JSON.parse(readFileSync(join(repoRoot, 'search-spaces', f), 'utf8')), f);
      const variants = readdirSync(join(repoRoot, 'search-spaces/studies/spaces')).filter((f) => f.endsWith('.json'));
      assert.ok(variants.length >= 4);
      for (const f of variants) {
        const rel = `studies/spaces/${f}`;
        assert.deepEqual(JSON.parse(readFileSync(join(dir, rel), 'utf8')), JSON.parse(readFileSync(join(repoRoot, 'search-spaces', rel), 'utf8')), rel);
        assert.doesNotThrow(() => loadSearchSpace(join(repoRoot, 'search-spaces', rel)), rel);
      }
    } finally {
      cleanup();
    }
  });

  it('every cost model prices every space\'s seed on every profile, with a source per layer', async () => {
    const registry = (await workspaceServices()).costModels as CostModelRegistry;
    for (const p of profiles) {
      for (const f of spaces) {
        const { space } = loadSearchSpace(join(repoRoot, 'search-spaces', f));
        for (const c of registry.all()) {
          const model = registry.create(c.id, c.requiresProfile ? { profile: join(repoRoot, 'hardware-profiles', p) } : {});
          const est = model.estimate(space.seed);
          assert.equal(est.unit, c.unit);
          for (const l of est.layers) assert.ok(['counted', 'measured', 'lut', 'predicted', 'estimated'].includes(l.source), `${c.id} ${p} ${f}`);
          if (est.total !== null) assert.ok(est.total >= 0 && Number.isFinite(est.total), `${c.id} on ${p} for ${f}: ${est.total}`);
        }
      }
    }
  });
});
