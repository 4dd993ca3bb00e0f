import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { NasError, type Dataset } from '@mitosis/core';
import { dataFileError, readDataFile, type DataFileBytes } from './binary-file.js';
import { createDataset } from './dataset-ops.js';

/** IDX element types: code → bytes per element. */
const IDX_TYPES: ReadonlyMap<number, { name: string; size: number }> = new Map([
  [0x08, { name: 'ubyte', size: 1 }],
  [0x09, { name: 'byte', size: 1 }],
  [0x0b, { name: 'short', size: 2 }],
  [0x0c, { name: 'int', size: 4 }],
  [0x0d, { name: 'float', size: 4 }],
  [0x0e, { name: 'double', size: 8 }],
]);

/** A parsed IDX file (the format of MNIST and Fashion-MNIST). */
export interface IdxArray {
  readonly file: string;
  /**
   * Element type code from the magic number: 0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int, 0x0D float,
   * 0x0E double.
   */
  readonly typeCode: number;
  readonly dims: readonly number[];
  /** The elements as numbers, row-major, `prod(dims)` of them. */
  readonly values: Float32Array;
  /** Byte offset of the first element (4 + 4·ndims). */
  readonly dataOffset: number;
  readonly elementSize: number;
}

/**
 * Parses an IDX file: magic `00 00 <type> <ndims>`, then `ndims` big-endian uint32 sizes, then the
 * elements
 * big-endian. Throws `E_DATA_INVALID` with `{ file, offset }` for a bad magic number (offset 0), an
 * unknown
 * type (2), a truncated header, a truncated record (offset of the first incomplete record) or
 * trailing bytes.
 */
export function parseIdx(src: DataFileBytes): IdxArray {
  const { bytes } = src;
  if (bytes.length < 4) {
    throw dataFileError(src, bytes.length, `truncated IDX header (${bytes.length} of 4 magic bytes)`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const magic = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join('');
    throw dataFileError(src, 0, `bad IDX magic number 0x${magic} (expected 0x0000TTNN)`, { magic });
  }
  const typeCode = bytes[2] as number;
  const type = IDX_TYPES.get(typeCode);
  if (type === undefined) {
    throw dataFileError(src, 2, `unknown IDX element type 0x${typeCode.toString(16)}`, { typeCode });
  }
  const ndims = bytes[3] as number;
  if (ndims === 0) throw dataFileError(src, 3, 'IDX file declares 0 dimensions');
  const dataOffset = 4 + 4 * ndims;
  if (bytes.length < dataOffset) {
    throw dataFileError(
      src,
      bytes.length,
      `truncated IDX header (${ndims} dimensions need ${dataOffset} bytes)`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let d = 0; d < ndims; d++) dims.push(view.getUint32(4 + 4 * d, false));
  const total = dims.reduce((a, b) => a * b, 1);
  const recordElems = dims.slice(1).reduce((a, b) => a * b, 1);
  const recordBytes = recordElems * type.size;
  const expected = total * type.size;
  const actual = bytes.length - dataOffset;
  if (actual < expected) {
    const complete = recordBytes === 0 ? 0 : Math.floor(actual / recordBytes);
    throw dataFileError(
      src,
      dataOffset + complete * recordBytes,
      `truncated record ${complete} of ${dims[0]} (header needs ${expected} data bytes, file has ${actual})`,
      { record: complete, expectedBytes: expected, actualBytes: actual },
    );
  }
  if (actual > expected) {
    throw dataFileError(
      src,
      dataOffset + expected,
      `size mismatch: ${actual - expected} bytes after the last record`,
      { expectedBytes: expected, actualBytes: actual },
    );
  }
  const values = new Float32Array(total);
  switch (typeCode) {
    case 0x08:
      values.set(bytes.subarray(dataOffset, dataOffset + total));
      break;
    case 0x09:
      for (let i = 0; i < total; i++) values[i] = view.getInt8(dataOffset + i);
      break;
    case 0x0b:
      for (let i = 0; i < total; i++) values[i] = view.getInt16(dataOffset + 2 * i, false);
      break;
    case 0x0c:
      for (let i = 0; i < total; i++) values[i] = view.getInt32(dataOffset + 4 * i, false);
      break;
    case 0x0d:
      for (let i = 0; i < total; i++) values[i] = view.getFloat32(dataOffset + 4 * i, false);
      break;
    default:
      for (let i = 0; i < total; i++) values[i] = view.getFloat64(dataOffset + 8 * i, false);
  }
  return { file: src.file, typeCode, dims, values, dataOffset, elementSize: type.size };
}

/** Options of {@link loadIdxPair}. */
export interface IdxPairOptions {
  /** Number of classes; labels must lie in `[0, classes)` (default 10). */
  readonly classes?: number;
  readonly name?: string;
  readonly classNames?: readonly string[];
}

/**
 * An image file (`[n, h, w]` or `[n, h, w, c]`) and a label file (`[n]`) as a classification data
 * set with
 * inputShape `[h, w, c]` (c = 1 for 3-D files). ubyte pixels are scaled to `[0, 1]`; other types
 * are kept.
 * Throws `E_DATA_INVALID` with `{ file, offset }` for a wrong rank, a count mismatch between the
 * files
 * (offset 4 of the label file) or a label outside `[0, classes)` (the label's own offset).
 */
export function loadIdxPair(imagesFile: string, labelsFile: string, options: IdxPairOptions = {}): Dataset {
  const classes = options.classes ?? 10;
  const imgSrc = readDataFile(imagesFile);
  const images = parseIdx(imgSrc);
  if (images.dims.length !== 3 && images.dims.length !== 4) {
    throw dataFileError(imgSrc, 3, `expected an image file of 3 or 4 dimensions, found ${images.dims.length}`, {
      dims: [...images.dims],
    });
  }
  const lblSrc = readDataFile(labelsFile);
  const labels = parseIdx(lblSrc);
  if (labels.dims.length !== 1) {
    throw dataFileError(lblSrc, 3, `expected a 1-D label file, found ${labels.dims.length} dimensions`, {
      dims: [...labels.dims],
    });
  }
  const n = images.dims[0] as number;
  if (labels.dims[0] !== n) {
    throw dataFileError(
      lblSrc,
      4,
      `label count ${labels.dims[0]} differs from image count ${n} in ${imagesFile}`,
      { labels: labels.dims[0], images: n, imagesFile },
    );
  }
  for (let i = 0; i < n; i++) {
    const label = labels.values[i] as number;
    if (!Number.isInteger(label) || label < 0 || label >= classes) {
      throw dataFileError(
        lblSrc,
        labels.dataOffset + i * labels.elementSize,
        `label ${label} of sample ${i} is out of range [0, ${classes})`,
        { sample: i, label },
      );
    }
  }
  if (images.typeCode === 0x08) {
    const x = images.values;
    for (let i = 0; i < x.length; i++) x[i] = (x[i] as number) / 255;
  }
  const [, h, w, c] = images.dims as [number, number, number, number | undefined];
  return createDataset({
    name: options.name ?? basename(imagesFile),
    task: 'classification',
    inputShape: [h, w, c ?? 1],
    targetSize: classes,
    x: images.values,
    y: labels.values,
    classNames: options.classNames,
  });
}

const IDX_NAME = /^(train|t10k|test)-(images|labels)[.-]idx(\d)-ubyte(\.gz)?$/i;

/** The IDX files found in a directory, by role. */
export interface IdxDirectoryFiles {
  readonly trainImages: string;
  readonly trainLabels: string;
  readonly testImages?: string;
  readonly testLabels?: string;
}

/**
 * Finds `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and
 * `t10k-labels-idx1-ubyte` (each optionally `.gz`; `.idx` instead of `-idx` and `test` instead of
 * `t10k`
 * also match) in `dir`. Returns undefined when there is no train pair; an uncompressed file wins
 * over `.gz`.
 */
export function findIdxFiles(dir: string): IdxDirectoryFiles | undefined {
  const found = new Map<string, string>();
  for (const name of readdirSync(dir).sort()) {
    const m = IDX_NAME.exec(name);
    if (m === null) continue;
    const role = `${m[1]?.toLowerCase() === 'train' ? 'train' : 'test'}-${m[2]?.toLowerCase()}`;
    const prev = found.get(role);
    if (prev === undefined || (prev.endsWith('.gz') && m[4] === undefined)) found.set(role, join(dir, name));
  }
  const trainImages = found.get('train-images');
  const trainLabels = found.get('train-labels');
  if (trainImages === undefined || trainLabels === undefined) return undefined;
  const testImages = found.get('test-images');
  const testLabels = found.get('test-labels');
  if ((testImages === undefined) !== (testLabels === undefined)) {
    throw new NasError(
      'E_DATA_READ',
      `${dir}: found ${testImages ?? testLabels} but not its ${testImages === undefined ? 'image' : 'label'} file`,
      { file: dir },
    );
  }
  return {
    trainImages,
    trainLabels,
    ...(testImages === undefined || testLabels === undefined ? {} : { testImages, testLabels }),
  };
}

/** Fashion-MNIST class names, used when the directory name contains "fashion". */
export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;
