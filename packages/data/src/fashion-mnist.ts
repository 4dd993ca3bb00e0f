import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { NasError, type Dataset } from '@mitosis/core';
import { FASHION_MNIST_CLASSES, findIdxFiles, loadIdxPair, type IdxDirectoryFiles } from './idx-loader.js';

/** Where the Debian package `dataset-fashion-mnist` installs the four IDX gz files. */
export const FASHION_MNIST_SYSTEM_DIR = '/usr/share/datasets/fashion-mnist';

/** Training images in the official Fashion-MNIST release. */
export const FASHION_MNIST_TRAIN_COUNT = 60000;

/** Test images in the official Fashion-MNIST release. */
export const FASHION_MNIST_TEST_COUNT = 10000;

/** The directory that holds the Fashion-MNIST IDX files, and the directories that were looked in. */
export interface FashionMnistLocation {
  readonly dir: string;
  readonly files: IdxDirectoryFiles;
}

function isDirectory(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}

/**
 * Directories searched for Fashion-MNIST, in order. With `MITOSIS_DATA` set only that override is searched:
 * `$MITOSIS_DATA/fashion-mnist/`, then `$MITOSIS_DATA` itself (so it may name a data root or the IDX directory).
 * Without it, the Debian package's {@link FASHION_MNIST_SYSTEM_DIR}.
 */
export function fashionMnistSearchPath(env: NodeJS.ProcessEnv = process.env): string[] {
  const override = env['MITOSIS_DATA'];
  if (override !== undefined && override !== '') {
    const root = resolve(override);
    return [join(root, 'fashion-mnist'), root];
  }
  return [FASHION_MNIST_SYSTEM_DIR];
}

/**
 * Finds the Fashion-MNIST IDX files (train and t10k images and labels, `.gz` or raw) on the
 * {@link fashionMnistSearchPath}. Throws `E_DATA_READ` with `{ ref, searched }` when none of the directories
 * holds a complete set; the message says how to install the data set or point `MITOSIS_DATA` at it.
 */
export function locateFashionMnist(env: NodeJS.ProcessEnv = process.env): FashionMnistLocation {
  const searched = fashionMnistSearchPath(env);
  for (const dir of searched) {
    if (!isDirectory(dir)) continue;
    const files = findIdxFiles(dir);
    if (files === undefined) continue;
    if (files.testImages === undefined) {
      throw new NasError(
        'E_DATA_READ',
        `${dir} holds the Fashion-MNIST training files but not t10k-images-idx3-ubyte[.gz] / t10k-labels-idx1-ubyte[.gz] (the official test split)`,
        { ref: 'fashion-mnist', file: dir, searched },
      );
    }
    return { dir, files };
  }
  throw new NasError(
    'E_DATA_READ',
    `Fashion-MNIST is not installed (looked in ${searched.join(', ')}): install it with \`apt-get install dataset-fashion-mnist\` (Debian/Ubuntu), or set MITOSIS_DATA to a directory holding train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (or a fashion-mnist/ folder with them)`,
    { ref: 'fashion-mnist', searched },
  );
}

/**
 * Loads Fashion-MNIST: the 60,000 training images (the pool train/val are carved from) and the official
 * 10,000 test images, 28×28×1 in `[0, 1]`, 10 named classes ({@link FASHION_MNIST_CLASSES}). Decompressing
 * and converting the files takes about a second and ~220 MB; nothing is cached.
 */
export function loadFashionMnist(env: NodeJS.ProcessEnv = process.env): { pool: Dataset; test: Dataset } {
  const { files } = locateFashionMnist(env);
  const options = { name: 'fashion-mnist', classNames: FASHION_MNIST_CLASSES };
  const pool = loadIdxPair(files.trainImages, files.trainLabels, options);
  const test = loadIdxPair(files.testImages as string, files.testLabels as string, options);
  return { pool, test };
}
