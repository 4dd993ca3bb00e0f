import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { CostModelRegistry, NasError, loadPlugins } from '@mitosis/core';
import { mobileNetV1Spec } from '@mitosis/hardware';

const pluginDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

describe('cost-basic plugin', () => {
  it('loads through the plugin loader and contributes macs and params', async () => {
    const { container } = await loadPlugins([pluginDir]);
    const registry = container.get(CostModelRegistry);
    assert.deepEqual(registry.ids(), ['macs', 'params']);
    const spec = mobileNetV1Spec({ alpha: 0.25, resolution: 128 });
    const macs = registry.create('macs').estimate(spec);
    assert.equal(macs.unit, 'macs');
    assert.ok(macs.layers.length > 0 && macs.layers.every((l) => l.source === 'counted'));
    assert.equal(registry.get('params').unit, 'params');
    assert.equal(registry.get('macs').requiresProfile, false);
  });

  it('rejects unknown options with a pointer', async () => {
    const { container } = await loadPlugins([pluginDir]);
    assert.throws(
      () => container.get(CostModelRegistry).create('macs', { profile: 'x' }),
      (e: unknown) => NasError.is(e, 'E_OPTIONS_INVALID') && /\/profile/.test(e.message),
    );
  });
});
