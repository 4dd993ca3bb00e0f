import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { NasError } from '@mitosis/core';
import {
  FASHION_MNIST_SYSTEM_DIR,
  fashionMnistSearchPath,
  locateFashionMnist,
} from './fashion-mnist.js';
import { FASHION_MNIST_CLASSES, findIdxFiles } from './idx-loader.js';
import { loadDataset } from './load-dataset.js';
import { tempDir, writeIdxPair } from './test-files.js';

/** Sets MITOSIS_DATA for one test; `afterEach` restores it. */
const saved = process.env['MITOSIS_DATA'];
function useData(dir: string | undefined): void {
  if (dir === undefined) delete process.env['MITOSIS_DATA'];
  else process.env['MITOSIS_DATA'] = dir;
}

describe('fashion-mnist', () => {
  let root: string;
  let cleanup: () => void;
  before(() => {
    ({ dir: root, cleanup } = tempDir());
    // A 3×2 stand-in: 12 training and 5 test images, gzip as the Debian package ships them.
    const flat = join(root, 'flat');
    mkdirSync(flat);
    writeIdxPair(flat, 'train', 3, 2, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1], true);
    writeIdxPair(flat, 't10k', 3, 2, [9, 8, 7, 6, 5], true);
    const nested = join(root, 'nested', 'fashion-mnist');
    mkdirSync(nested, { recursive: true });
    writeIdxPair(nested, 'train', 3, 2, [1, 1, 1, 1], true);
    writeIdxPair(nested, 't10k', 3, 2, [2, 2], true);
    const trainOnly = join(root, 'train-only');
    mkdirSync(trainOnly);
    writeIdxPair(trainOnly, 'train', 3, 2, [1, 2], true);
    mkdirSync(join(root, 'empty'));
  });
  afterEach(() => useData(saved));
  after(() => cleanup());

  it('loads the IDX files of the MITOSIS_DATA directory with the official test split and class names', async () => {
    useData(join(root, 'flat'));
    const s = await loadDataset('fashion-mnist', { valFraction: 0.25, seed: 3 });
    assert.deepEqual([s.train.count, s.val.count, s.test.count], [9, 3, 5]);
    assert.deepEqual(s.train.inputShape, [3, 2, 1]);
    assert.deepEqual(s.test.classNames, FASHION_MNIST_CLASSES);
    assert.equal(s.train.name, 'fashion-mnist');
    // The test split is the t10k file (shuffled), never carved from the training file.
    assert.deepEqual([...s.test.y].sort(), [5, 6, 7, 8, 9]);
    const pool = [...s.train.y, ...s.val.y].sort((a, b) => a - b);
    assert.deepEqual(pool, [0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('takes a data root holding a fashion-mnist/ folder', async () => {
    useData(join(root, 'nested'));
    assert.equal(locateFashionMnist().dir, join(root, 'nested', 'fashion-mnist'));
    const s = await loadDataset('fashion-mnist', { valFraction: 0.25 });
    assert.deepEqual([s.train.count, s.val.count, s.test.count], [3, 1, 2]);
  });

  it('applies limit to each split', async () => {
    useData(join(root, 'flat'));
    const s = await loadDataset('fashion-mnist', { limit: { train: 4, test: 2 } });
    assert.deepEqual([s.train.count, s.test.count], [4, 2]);
  });

  it('searches only the override when MITOSIS_DATA is set, else the Debian directory', () => {
    assert.deepEqual(fashionMnistSearchPath({}), [FASHION_MNIST_SYSTEM_DIR]);
    assert.deepEqual(fashionMnistSearchPath({ MITOSIS_DATA: '/data' }), ['/data/fashion-mnist', '/data']);
  });

  it('says how to install the data set when it is missing', async () => {
    useData(join(root, 'empty'));
    await assert.rejects(loadDataset('fashion-mnist'), (e: unknown) => {
      assert.ok(NasError.is(e, 'E_DATA_READ'));
      assert.match(e.message, /apt-get install dataset-fashion-mnist/);
      assert.match(e.message, /MITOSIS_DATA/);
      assert.deepEqual(e.details['searched'], [join(root, 'empty', 'fashion-mnist'), join(root, 'empty')]);
      return true;
    });
  });

  it('rejects a directory without the official test files', () => {
    assert.throws(
      () => locateFashionMnist({ MITOSIS_DATA: join(root, 'train-only') }),
      (e: unknown) => NasError.is(e, 'E_DATA_READ') && /t10k-images/.test(e.message),
    );
  });

  const installed = findInstalled();
  it(
    'reads the installed files: 60,000 + 10,000 images, 6,000 and 1,000 per class',
    { skip: installed ? false : `${FASHION_MNIST_SYSTEM_DIR} not installed (apt-get install dataset-fashion-mnist)` },
    async () => {
      useData(undefined);
      const s = await loadDataset('fashion-mnist');
      assert.deepEqual([s.train.count, s.val.count, s.test.count], [54000, 6000, 10000]);
      const perClass = (ys: Float32Array[]): number[] => {
        const counts = new Array<number>(10).fill(0);
        for (const y of ys) for (const c of y) counts[c] = (counts[c] as number) + 1;
        return counts;
      };
      assert.deepEqual(perClass([s.train.y, s.val.y]), new Array<number>(10).fill(6000));
      assert.deepEqual(perClass([s.test.y]), new Array<number>(10).fill(1000));
      let max = 0;
      for (const v of s.test.x) if (v > max) max = v;
      assert.equal(max, 1);
    },
  );
});

function findInstalled(): boolean {
  return existsSync(FASHION_MNIST_SYSTEM_DIR) && findIdxFiles(FASHION_MNIST_SYSTEM_DIR)?.testImages !== undefined;
}
