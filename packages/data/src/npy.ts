import { NasError } from '@mitosis/core';

/*
 * A reader for NumPy's .npy format (numpy.lib.format, versions 1.0, 2.0 and 3.0): the magic bytes `\x93NUMPY`, a
 * major and a minor version byte, the header length (little-endian uint16 in 1.0, uint32 in 2.0/3.0), a header that
 * is a Python dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (n, 28, 28), }` padded with spaces and
 * ended by a newline, then the raw elements.
 *
 * Why no npm package: the format is this small, and the one maintained reader (npyjs 1.2, checked with
 * `npm view npyjs` in 2026-11) fits badly here: it finds the header fields with regular expressions, reads big-endian
 * data as if it were little-endian, does not check the data length (a truncated file fails inside a typed-array
 * constructor), leaves Fortran-ordered data in Fortran order, throws plain `Error`s, has no .npz support and pulls in
 * `cross-fetch` to load URLs. mitosis needs every problem as an `E_DATA_INVALID` naming the file, the array and the
 * byte offset, like its IDX and CIFAR readers.
 */

/** Element types mitosis reads: every NumPy integer, float and bool type that maps exactly onto float32 / float64. */
export type NpyDtype =
  | 'bool'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'float16'
  | 'float32'
  | 'float64';

const DTYPES: ReadonlyMap<string, { dtype: NpyDtype; size: number }> = new Map([
  ['b1', { dtype: 'bool', size: 1 }],
  ['i1', { dtype: 'int8', size: 1 }],
  ['u1', { dtype: 'uint8', size: 1 }],
  ['i2', { dtype: 'int16', size: 2 }],
  ['u2', { dtype: 'uint16', size: 2 }],
  ['i4', { dtype: 'int32', size: 4 }],
  ['u4', { dtype: 'uint32', size: 4 }],
  ['i8', { dtype: 'int64', size: 8 }],
  ['u8', { dtype: 'uint64', size: 8 }],
  ['f2', { dtype: 'float16', size: 2 }],
  ['f4', { dtype: 'float32', size: 4 }],
  ['f8', { dtype: 'float64', size: 8 }],
]);

/** Where the bytes of an array came from, for errors: the file and, inside an .npz, the array's name. */
export interface NpySource {
  readonly file: string;
  /** The array's name (`x`, `y_test`, …): the .npz member without `.npy`, or the .npy file's stem. */
  readonly field: string;
  /** The .npz member (`x.npy`), when the array is inside an .npz archive. */
  readonly member?: string;
}

/** A parsed .npy array, its elements in C (row-major) order whatever the file's order. */
export interface NpyArray {
  readonly dtype: NpyDtype;
  /** The header's `descr`, e.g. `<f4`. */
  readonly descr: string;
  readonly shape: readonly number[];
  /** True when the file stored the elements in Fortran (column-major) order; `values` are C order anyway. */
  readonly fortranOrder: boolean;
  /** The elements as float32 (exact for every type but 64-bit integers above 2^24 and float64). */
  readonly values: Float32Array;
  /** True when every element is an integer (always for integer and bool types; checked for floats). */
  readonly integral: boolean;
  /** Byte offset of the first element in the .npy bytes. */
  readonly dataOffset: number;
  readonly elementSize: number;
}

/** `E_DATA_INVALID` for a malformed .npy, naming the file, the array and the byte offset. */
export function npyError(src: NpySource, offset: number, problem: string, extra: Record<string, unknown> = {}): NasError {
  const where = src.member === undefined ? `byte offset ${offset}` : `byte offset ${offset} of ${src.member}`;
  return new NasError('E_DATA_INVALID', `${src.file}: array "${src.field}": ${problem} at ${where}`, {
    file: src.file,
    field: src.field,
    ...(src.member === undefined ? {} : { member: src.member }),
    offset,
    ...extra,
  });
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

type PyValue = string | number | boolean | null | PyValue[] | { [key: string]: PyValue };

/**
 * Parses the Python literal subset that .npy headers use: dicts, tuples, lists, quoted strings, integers, True,
 * False and None. Throws a message with the character position of the first thing it does not understand.
 */
function parsePyLiteral(text: string): PyValue {
  let i = 0;
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at header character ${i}`);
  };
  const skip = () => {
    while (i < text.length && /\s/.test(text[i] as string)) i++;
  };
  const value = (): PyValue => {
    skip();
    const c = text[i];
    if (c === '{') {
      i++;
      const out: { [key: string]: PyValue } = {};
      for (;;) {
        skip();
        if (text[i] === '}') {
          i++;
          return out;
        }
        const key = value();
        if (typeof key !== 'string') fail('expected a string key');
        skip();
        if (text[i] !== ':') fail('expected ":"');
        i++;
        out[key as string] = value();
        skip();
        if (text[i] === ',') i++;
        else if (text[i] !== '}') fail('expected "," or "}"');
      }
    }
    if (c === '(' || c === '[') {
      const close = c === '(' ? ')' : ']';
      i++;
      const out: PyValue[] = [];
      for (;;) {
        skip();
        if (text[i] === close) {
          i++;
          return out;
        }
        out.push(value());
        skip();
        if (text[i] === ',') i++;
        else if (text[i] !== close) fail(`expected "," or "${close}"`);
      }
    }
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) fail('unterminated string');
      const s = text.slice(i + 1, end);
      i = end + 1;
      return s;
    }
    const word = /^(True|False|None|-?\d+L?)/.exec(text.slice(i));
    if (word === null) return fail('unexpected character');
    i += word[0].length;
    const w = word[1] as string;
    if (w === 'True') return true;
    if (w === 'False') return false;
    if (w === 'None') return null;
    return Number(w.replace(/L$/, ''));
  };
  const out = value();
  skip();
  if (i < text.length) fail('unexpected text after the dict');
  return out;
}

/** IEEE half precision → number. */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : Number.NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * Parses the bytes of one .npy array. Throws `E_DATA_INVALID` ({@link npyError}: `{ file, field, member?, offset }`)
 * for a bad magic string (offset 0), an unknown version (6), a header that is not a dict with `descr`, `fortran_order`
 * and `shape` (offset of the header), an element type mitosis does not read (structured, complex, strings,
 * objects: the header's offset), too few data bytes (the offset of the first missing element) or trailing bytes.
 * Fortran-ordered arrays are reordered to C order.
 */
export function parseNpy(bytes: Uint8Array, src: NpySource): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, k) => bytes[k] !== b)) {
    const seen = Array.from(bytes.subarray(0, 6), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw npyError(src, 0, `not a .npy array: the magic bytes are [${seen}], expected [93 4e 55 4d 50 59] ("\\x93NUMPY")`);
  }
  const major = bytes[6] as number;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerStart: number;
  let headerLength: number;
  if (major === 1) {
    headerStart = 10;
    headerLength = view.getUint16(8, true);
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw npyError(src, bytes.length, 'truncated header length');
    headerStart = 12;
    headerLength = view.getUint32(8, true);
  } else {
    throw npyError(src, 6, `unknown .npy format version ${major}.${bytes[7]} (mitosis reads 1.0, 2.0 and 3.0)`, { version: major });
  }
  const dataOffset = headerStart + headerLength;
  if (bytes.length < dataOffset) {
    throw npyError(src, bytes.length, `truncated header (${headerLength} header bytes declared, ${bytes.length - headerStart} present)`);
  }
  const headerText = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataOffset));
  let header: PyValue;
  try {
    header = parsePyLiteral(headerText.trim());
  } catch (cause) {
    throw npyError(src, headerStart, `unreadable header ${JSON.stringify(headerText.trim())}: ${(cause as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw npyError(src, headerStart, `header is not a dict: ${JSON.stringify(headerText.trim())}`);
  }
  const { descr, fortran_order: fortranOrder, shape } = header;
  if (typeof descr !== 'string') {
    const what = descr === undefined ? 'has no "descr"' : 'has a structured "descr" (record arrays are not read; save x and y as plain arrays)';
    throw npyError(src, headerStart, `header ${what}`);
  }
  if (typeof fortranOrder !== 'boolean') throw npyError(src, headerStart, 'header has no boolean "fortran_order"');
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0)) {
    throw npyError(src, headerStart, 'header has no "shape" tuple of non-negative integers');
  }
  const dims = shape as number[];
  const order = descr[0];
  const type = DTYPES.get(descr.slice(1));
  if ((order !== '<' && order !== '>' && order !== '|' && order !== '=') || type === undefined) {
    throw npyError(
      src,
      headerStart,
      `element type "${descr}" is not read (use float32, float64, uint8, int32, int64 or bool; other NumPy integer and float types work too)`,
      { descr },
    );
  }
  const little = order !== '>';
  const count = dims.reduce((a, b) => a * b, 1);
  const need = count * type.size;
  const have = bytes.length - dataOffset;
  if (have < need) {
    const complete = Math.floor(have / type.size);
    const problem =
      `truncated data: shape (${dims.join(', ')}) of ${descr} needs ${need} bytes, the file has ${have} ` +
      `(element ${complete} of ${count} is missing)`;
    throw npyError(src, dataOffset + complete * type.size, problem, { expectedBytes: need, actualBytes: have });
  }
  if (have > need) {
    throw npyError(src, dataOffset + need, `${have - need} bytes after the last element of shape (${dims.join(', ')})`, {
      expectedBytes: need,
      actualBytes: have,
    });
  }
  const raw = new Float32Array(count);
  let integral = true;
  const at = (k: number) => dataOffset + k * type.size;
  switch (type.dtype) {
    case 'bool':
    case 'uint8':
      raw.set(bytes.subarray(dataOffset, dataOffset + count));
      break;
    case 'int8':
      for (let k = 0; k < count; k++) raw[k] = view.getInt8(at(k));
      break;
    case 'int16':
      for (let k = 0; k < count; k++) raw[k] = view.getInt16(at(k), little);
      break;
    case 'uint16':
      for (let k = 0; k < count; k++) raw[k] = view.getUint16(at(k), little);
      break;
    case 'int32':
      for (let k = 0; k < count; k++) raw[k] = view.getInt32(at(k), little);
      break;
    case 'uint32':
      for (let k = 0; k < count; k++) raw[k] = view.getUint32(at(k), little);
      break;
    case 'int64':
      for (let k = 0; k < count; k++) raw[k] = Number(view.getBigInt64(at(k), little));
      break;
    case 'uint64':
      for (let k = 0; k < count; k++) raw[k] = Number(view.getBigUint64(at(k), little));
      break;
    case 'float16':
      for (let k = 0; k < count; k++) raw[k] = halfToNumber(view.getUint16(at(k), little));
      break;
    case 'float32':
      for (let k = 0; k < count; k++) raw[k] = view.getFloat32(at(k), little);
      break;
    default:
      for (let k = 0; k < count; k++) raw[k] = view.getFloat64(at(k), little);
  }
  if (type.dtype.startsWith('float')) {
    for (let k = 0; k < count && integral; k++) integral = Number.isInteger(raw[k]);
  }
  const values = fortranOrder && dims.length > 1 ? fortranToC(raw, dims) : raw;
  return { dtype: type.dtype, descr, shape: dims, fortranOrder, values, integral, dataOffset, elementSize: type.size };
}

/**
 * Reorders column-major elements (the first index varies fastest) to row-major (the last varies fastest) by walking
 * the C-order indices with an odometer and tracking the matching Fortran offset.
 */
function fortranToC(values: Float32Array, dims: readonly number[]): Float32Array {
  const rank = dims.length;
  const fStride = new Array<number>(rank);
  let s = 1;
  for (let d = 0; d < rank; d++) {
    fStride[d] = s;
    s *= dims[d] as number;
  }
  const out = new Float32Array(values.length);
  const index = new Array<number>(rank).fill(0);
  let f = 0;
  for (let c = 0; c < out.length; c++) {
    out[c] = values[f] as number;
    for (let d = rank - 1; d >= 0; d--) {
      index[d]!++;
      f += fStride[d] as number;
      if ((index[d] as number) < (dims[d] as number)) break;
      f -= (index[d] as number) * (fStride[d] as number);
      index[d] = 0;
    }
  }
  return out;
}
