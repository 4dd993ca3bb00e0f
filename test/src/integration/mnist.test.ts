import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadDataset } from '@mitosis/data';
import { runTraining } from '@mitosis/engine';
import { loadSearchSpace } from '@mitosis/growth';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './growth-helpers.js';

describe('embedded MNIST', () => {
  it('a small convnet trained for a short budget reaches ≥ 90% test accuracy', async (t) => {
    const { dir, cleanup } = tempDir('mnist');
    try {
      // The convnet-mnist seed (two swish convs with batch norm, 8 and 16 filters, a 32-unit layer).
      const specFile = join(dir, 'convnet.json');
      writeFileSync(specFile, JSON.stringify(loadSearchSpace('convnet-mnist').space.seed));
      const data = await loadDataset('mnist', { seed: 0, limit: { train: 7000, val: 500, test: 2000 } });
      const result = await runTraining({ model: specFile, data, epochs: 5, batchSize: 64, learningRate: 0.1, schedule: { kind: 'cosine' }, backend: 'wasm', seed: 0, json: true });
      t.diagnostic(`test accuracy ${result.testAccuracy} after ${result.epochs} epochs on 7000 digits`);
      assert.ok((result.testAccuracy ?? 0) >= 0.9, `test accuracy ${result.testAccuracy}`);
    } finally {
      cleanup();
    }
  });
});
