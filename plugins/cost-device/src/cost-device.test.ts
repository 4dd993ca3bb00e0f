import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { CostModelRegistry, NasError, loadPlugins } from '@mitosis/core';
import { mobileNetV2Spec } from '@mitosis/hardware';

const pluginDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

describe('cost-device plugin', () => {
  it('contributes latency (ms) and energy (mJ), both requiring a profile', async () => {
    const { container } = await loadPlugins([pluginDir]);
    const registry = container.get(CostModelRegistry);
    assert.deepEqual(registry.ids(), ['energy', 'latency']);
    assert.equal(registry.get('latency').unit, 'ms');
    assert.equal(registry.get('energy').unit, 'mJ');
    assert.ok(registry.get('latency').requiresProfile && registry.get('energy').requiresProfile);
  });

  it('prices MobileNetV2 on a shipped profile; energy is the profile\'s estimated power × latency', async () => {
    const { container } = await loadPlugins([pluginDir]);
    const registry = container.get(CostModelRegistry);
    const spec = mobileNetV2Spec({ alpha: 0.5, resolution: 96 });
    const latency = registry.create('latency', { profile: 'myriad-vpu' }).estimate(spec);
    assert.ok(latency.total !== null && latency.total > 0);
    assert.equal(latency.device, 'myriad-vpu');
    const energy = registry.create('energy', { profile: 'myriad-vpu' }).estimate(spec);
    // myriad-vpu assumes 1 W: mJ = W × ms, every row flagged estimated.
    assert.ok(energy.total !== null && Math.abs(energy.total - latency.total) < 1e-9 * latency.total);
    assert.ok(energy.layers.every((l) => l.source === 'estimated'));
  });

  it('needs a profile option, and names a missing profile', async () => {
    const { container } = await loadPlugins([pluginDir]);
    const registry = container.get(CostModelRegistry);
    assert.throws(() => registry.create('latency', {}), (e: unknown) => NasError.is(e, 'E_OPTIONS_INVALID') && /\/profile/.test(e.message));
    assert.throws(() => registry.create('latency', { profile: 'no-such-device' }), (e: unknown) => NasError.is(e, 'E_PROFILE_INVALID'));
  });
});
