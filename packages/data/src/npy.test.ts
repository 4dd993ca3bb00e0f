import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NasError } from '@mitosis/core';
import { parseNpy, type NpySource } from './npy.js';
import { npyBytes } from './test-files.js';

const src: NpySource = { file: 'arrays.npz', field: 'x', member: 'x.npy' };

/** The NasError `fn` throws, checked to be E_DATA_INVALID naming the file and the array. */
function npyFailure(fn: () => unknown): NasError {
  try {
    fn();
  } catch (e) {
    assert.ok(NasError.is(e, 'E_DATA_INVALID'), String(e));
    assert.equal(e.details['file'], 'arrays.npz');
    assert.equal(e.details['field'], 'x');
    assert.equal(e.details['member'], 'x.npy');
    assert.match(e.message, /arrays\.npz: array "x"/);
    return e;
  }
  assert.fail('expected an error');
}

describe('.npy parsing', () => {
  const values = [0, 1, 2, 3, 4, 5];

  for (const [code, dtype, integral] of [
    ['f4', 'float32', true],
    ['f8', 'float64', true],
    ['u1', 'uint8', true],
    ['i1', 'int8', true],
    ['i2', 'int16', true],
    ['i4', 'int32', true],
    ['i8', 'int64', true],
  ] as const) {
    it(`reads ${dtype} (${code}) in C order`, () => {
      const a = parseNpy(npyBytes(code, [2, 3], values), src);
      assert.equal(a.dtype, dtype);
      assert.deepEqual(a.shape, [2, 3]);
      assert.equal(a.fortranOrder, false);
      assert.equal(a.integral, integral);
      assert.deepEqual(Array.from(a.values), values);
      assert.equal(a.dataOffset % 64, 0, 'numpy aligns the data to 64 bytes');
    });
  }

  it('reads negative and fractional values, bool, big-endian and version 2 headers', () => {
    const f = parseNpy(npyBytes('f8', [3], [-1.5, 0.25, 1e10]), src);
    assert.deepEqual(Array.from(f.values), [-1.5, 0.25, 1e10]);
    assert.equal(f.integral, false);
    assert.deepEqual(Array.from(parseNpy(npyBytes('i8', [2], [-7, 2 ** 40]), src).values), [-7, 2 ** 40]);
    const b = parseNpy(npyBytes('b1', [4], [1, 0, 0, 1]), src);
    assert.equal(b.dtype, 'bool');
    assert.deepEqual(Array.from(b.values), [1, 0, 0, 1]);
    const big = parseNpy(npyBytes('f4', [2], [1.5, -2], { bigEndian: true }), src);
    assert.equal(big.descr, '>f4');
    assert.deepEqual(Array.from(big.values), [1.5, -2]);
    const v2 = parseNpy(npyBytes('i4', [2, 2], [1, 2, 3, 4], { version: 2 }), src);
    assert.deepEqual(Array.from(v2.values), [1, 2, 3, 4]);
    assert.equal(v2.dataOffset, 128, 'a 12-byte prefix and the dict pad to 128 bytes');
  });

  it('reorders Fortran-ordered arrays to C order', () => {
    // A (2, 3, 2) array whose C-order elements are 0…11, written column-major.
    const c = Array.from({ length: 12 }, (_, k) => k);
    const bytes = npyBytes('f4', [2, 3, 2], c, { fortran: true });
    const raw = new Float32Array(bytes.buffer.slice(bytes.length - 48));
    assert.deepEqual(Array.from(raw), [0, 6, 2, 8, 4, 10, 1, 7, 3, 9, 5, 11], 'the fixture is column-major');
    const a = parseNpy(bytes, src);
    assert.equal(a.fortranOrder, true);
    assert.deepEqual(Array.from(a.values), c);
  });

  it('rejects a bad magic string at offset 0', () => {
    const bytes = npyBytes('f4', [2], [1, 2]);
    bytes[1] = 0x4d;
    const e = npyFailure(() => parseNpy(bytes, src));
    assert.equal(e.details['offset'], 0);
    assert.match(e.message, /magic bytes are \[93 4d 55 4d 50 59\]/);
    assert.match(npyFailure(() => parseNpy(Buffer.from('{"x": 1}'), src)).message, /not a \.npy array/);
  });

  it('reports truncated data at the first missing element and trailing bytes after the last', () => {
    const bytes = npyBytes('f8', [4, 2], [1, 2, 3, 4, 5, 6, 7, 8]);
    const start = parseNpy(bytes, src).dataOffset;
    assert.equal(start, 128);
    const truncated = npyFailure(() => parseNpy(bytes.subarray(0, bytes.length - 20), src));
    assert.equal(truncated.details['offset'], start + 5 * 8);
    assert.match(truncated.message, /truncated data: shape \(4, 2\) of <f8 needs 64 bytes, the file has 44/);
    const header = npyFailure(() => parseNpy(bytes.subarray(0, 40), src));
    assert.match(header.message, /truncated header/);
    const longer = new Uint8Array(bytes.length + 3);
    longer.set(bytes);
    const trailing = npyFailure(() => parseNpy(longer, src));
    assert.equal(trailing.details['offset'], bytes.length);
    assert.match(trailing.message, /3 bytes after the last element/);
  });

  it('rejects element types it does not read, unknown versions and broken headers, naming the problem', () => {
    const complex = npyBytes('f8', [1], [0]);
    const text = Buffer.from(complex.subarray(10, 60)).toString('latin1').replace("'<f8'", "'<c8'");
    complex.set(Buffer.from(text, 'latin1'), 10);
    assert.match(npyFailure(() => parseNpy(complex, src)).message, /element type "<c8" is not read/);
    const version = npyBytes('f4', [1], [0]);
    version[6] = 9;
    assert.equal(npyFailure(() => parseNpy(version, src)).details['offset'], 6);
    const broken = npyBytes('f4', [1], [0]);
    broken.set(Buffer.from("{'descr' '<f4'"), 10);
    const e = npyFailure(() => parseNpy(broken, src));
    assert.equal(e.details['offset'], 10);
    assert.match(e.message, /unreadable header .*expected ":"/);
  });
});
