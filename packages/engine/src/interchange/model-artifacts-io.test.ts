import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { NasError } from '@mitosis/core';
import { importLayersModel } from './import-layers-model.js';
import { fileSystemHandler, readLayersModelFiles, unpackWeights } from './model-artifacts-io.js';

const root = mkdtempSync(join(tmpdir(), 'mitosis-model-files-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A file outside every model folder that a test must never read. */
const outside = join(root, 'outside.bin');
writeFileSync(outside, new Uint8Array(24).fill(7));

interface Entry {
  name: string;
  shape: number[];
  dtype?: string;
  quantization?: unknown;
}

const KERNEL = [0.5, -1, 2, 0.25];
const BIAS = [0.1, -0.2];
const denseEntries: Entry[] = [
  { name: 'fc/kernel', shape: [2, 2], dtype: 'float32' },
  { name: 'fc/bias', shape: [2], dtype: 'float32' },
];
const f32 = (values: number[]): Uint8Array => new Uint8Array(new Float32Array(values).buffer);
const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

let count = 0;
/**
 * Writes a one-Dense-layer TF.js LayersModel (`fc`: 2 → 2) into a fresh folder. `paths` and `entries` become its
 * manifest; each `files` entry is written into the folder (a string value makes a symbolic link to that target).
 */
function writeModel(options: { paths?: unknown[]; entries?: Entry[]; files?: Record<string, Uint8Array | string> } = {}): { dir: string; json: string } {
  const dir = join(root, `model-${count++}`);
  mkdirSync(dir);
  const modelJson = {
    format: 'layers-model',
    modelTopology: {
      class_name: 'Sequential',
      config: { name: 'tiny', layers: [{ class_name: 'Dense', config: { name: 'fc', units: 2, use_bias: true, activation: 'linear', batch_input_shape: [null, 2] } }] },
    },
    weightsManifest: [{ paths: options.paths ?? ['weights.bin'], weights: options.entries ?? denseEntries }],
  };
  const json = join(dir, 'model.json');
  writeFileSync(json, JSON.stringify(modelJson));
  for (const [name, content] of Object.entries(options.files ?? { 'weights.bin': concat(f32(KERNEL), f32(BIAS)) })) {
    if (typeof content === 'string') symlinkSync(content, join(dir, name));
    else writeFileSync(join(dir, name), content);
  }
  return { dir, json };
}

/** Asserts an `E_MODEL_FORMAT` with the given details and returns it. */
async function rejectsWith(promise: Promise<unknown>, details: Record<string, unknown>, message?: RegExp): Promise<NasError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(NasError.is(caught, 'E_MODEL_FORMAT'), `expected E_MODEL_FORMAT, got ${String(caught)}`);
  for (const [k, v] of Object.entries(details)) assert.deepEqual(caught.details[k], v, `details.${k} of "${caught.message}"`);
  if (message !== undefined) assert.match(caught.message, message);
  return caught;
}

/** The error must say nothing about an outside file: no byte counts, no content. */
function revealsNothing(e: NasError): void {
  for (const key of ['bytes', 'actualBytes', 'expectedBytes', 'target']) assert.equal(e.details[key], undefined, key);
  assert.doesNotMatch(e.message, /\d+ bytes/);
}

describe('reading a LayersModel folder', () => {
  it('reads a well-formed model', async () => {
    const { dir } = writeModel();
    const { spec, weights } = await importLayersModel(dir);
    assert.deepEqual(spec.nodes.map((n) => n.op), ['input', 'dense']);
    assert.deepEqual([...weights.get('fc/kernel')!.data], KERNEL.map(Math.fround));
    assert.deepEqual([...weights.get('fc/bias')!.data], BIAS.map(Math.fround));
  });

  it('reads a group split over several files that together hold exactly the declared bytes', async () => {
    const bytes = concat(f32(KERNEL), f32(BIAS));
    const { dir } = writeModel({ paths: ['shards/a.bin', 'shards/b.bin'], files: {} });
    mkdirSync(join(dir, 'shards'));
    writeFileSync(join(dir, 'shards', 'a.bin'), bytes.subarray(0, 10));
    writeFileSync(join(dir, 'shards', 'b.bin'), bytes.subarray(10));
    assert.deepEqual([...(await readLayersModelFiles(dir)).weights.get('fc/bias')!.data], BIAS.map(Math.fround));
  });

  const escapes: { label: string; paths: unknown[]; files?: Record<string, Uint8Array | string>; message: RegExp }[] = [
    { label: 'a path climbing out with ".." (the /dev/zero reproducer)', paths: ['../../../../dev/zero'], message: /contains "\.\."/ },
    { label: 'a path to a sibling folder with ".."', paths: ['../outside.bin'], message: /contains "\.\."/ },
    { label: 'an absolute path', paths: ['/etc/hostname'], message: /is an absolute path/ },
    { label: 'a symbolic link inside the folder to a file outside', paths: ['weights.bin'], files: { 'weights.bin': outside }, message: /outside the model folder/ },
    { label: 'a symbolic link inside the folder to /dev/zero', paths: ['weights.bin'], files: { 'weights.bin': '/dev/zero' }, message: /outside the model folder/ },
  ];
  for (const c of escapes) {
    it(`refuses ${c.label} with E_MODEL_FORMAT naming model.json and the field, before reading`, async () => {
      const { dir, json } = writeModel({ paths: c.paths, files: c.files ?? {} });
      const e = await rejectsWith(importLayersModel(dir), { file: json, pointer: '/weightsManifest/0/paths/0', reference: c.paths[0] }, c.message);
      assert.match(e.message, /weightsManifest\/0\/paths\/0/);
      revealsNothing(e);
    });
  }

  it('refuses a second path that escapes even when the first is fine, naming its index', async () => {
    const { dir, json } = writeModel({ paths: ['weights.bin', '/etc/hostname'] });
    await rejectsWith(readLayersModelFiles(dir), { file: json, pointer: '/weightsManifest/0/paths/1' });
  });

  it('refuses a weight path that is not a regular file (a FIFO, a folder) or does not exist', async () => {
    const fifo = writeModel({ files: {} });
    execFileSync('mkfifo', [join(fifo.dir, 'weights.bin')]);
    await rejectsWith(readLayersModelFiles(fifo.dir), { file: fifo.json, pointer: '/weightsManifest/0/paths/0', target: join(fifo.dir, 'weights.bin') }, /not a regular file/);
    const folder = writeModel({ files: {} });
    mkdirSync(join(folder.dir, 'weights.bin'));
    await rejectsWith(readLayersModelFiles(folder.dir), { pointer: '/weightsManifest/0/paths/0' }, /not a regular file/);
    const missing = writeModel({ files: {} });
    await rejectsWith(readLayersModelFiles(missing.dir), { pointer: '/weightsManifest/0/paths/0', target: join(missing.dir, 'weights.bin') }, /does not exist/);
  });

  it('refuses trailing bytes after the declared weights', async () => {
    const { dir, json } = writeModel({ files: { 'weights.bin': concat(f32(KERNEL), f32(BIAS), f32([9])) } });
    await rejectsWith(
      importLayersModel(dir),
      { file: join(dir, 'weights.bin'), pointer: '/weightsManifest/0/paths', manifest: json, expectedBytes: 24, actualBytes: 28 },
      /4 trailing bytes/,
    );
  });

  it('refuses a manifest that lies about a shape, whether that leaves bytes over or missing', async () => {
    const smaller = writeModel({ entries: [{ name: 'fc/kernel', shape: [2, 1], dtype: 'float32' }, denseEntries[1]!] });
    await rejectsWith(importLayersModel(smaller.dir), { file: join(smaller.dir, 'weights.bin'), expectedBytes: 16, actualBytes: 24 }, /8 trailing bytes/);
    const larger = writeModel({ entries: [{ name: 'fc/kernel', shape: [2, 3], dtype: 'float32' }, denseEntries[1]!] });
    await rejectsWith(importLayersModel(larger.dir), { file: join(larger.dir, 'weights.bin'), expectedBytes: 32, actualBytes: 24 }, /8 bytes missing/);
    const split = writeModel({ paths: ['a.bin', 'b.bin'], files: { 'a.bin': f32(KERNEL), 'b.bin': f32([...BIAS, 0]) } });
    await rejectsWith(readLayersModelFiles(split.dir), { file: split.json, files: [join(split.dir, 'a.bin'), join(split.dir, 'b.bin')], actualBytes: 28 }, /4 trailing bytes/);
  });

  it('refuses NaN and infinite weights, naming the tensor and its manifest entry', async () => {
    const allNaN = writeModel({ files: { 'weights.bin': concat(f32(KERNEL), f32([NaN, NaN])) } });
    await rejectsWith(
      importLayersModel(allNaN.dir),
      { file: join(allNaN.dir, 'weights.bin'), weight: 'fc/bias', pointer: '/weightsManifest/0/weights/1', element: 0, nonFinite: 2 },
      /"fc\/bias" is damaged: every value non-finite/,
    );
    const oneInf = writeModel({ files: { 'weights.bin': concat(f32([0.5, -1, Infinity, 0.25]), f32(BIAS)) } });
    await rejectsWith(importLayersModel(oneInf.dir), { weight: 'fc/kernel', pointer: '/weightsManifest/0/weights/0', element: 2, nonFinite: 1 }, /1 of 4 values/);
  });

  it('refuses a model.json that is not a regular file, before reading it', async () => {
    const { dir, json } = writeModel();
    rmSync(json);
    symlinkSync('/dev/zero', json);
    await rejectsWith(readLayersModelFiles(dir), { file: json }, /not a regular file/);
  });

  it('reports malformed manifest entries with their pointer before reading any file', async () => {
    const bad = writeModel({ entries: [{ name: 'fc/kernel', shape: [2, -1] }], files: { 'weights.bin': '/dev/zero' } });
    await rejectsWith(readLayersModelFiles(bad.dir), { file: bad.json, pointer: '/weightsManifest/0/weights/0' }, /integer shape/);
    const quantized = writeModel({ entries: [{ name: 'fc/kernel', shape: [2, 2], dtype: 'float32', quantization: { dtype: 'uint8', min: 0, scale: 1 } }] });
    await rejectsWith(readLayersModelFiles(quantized.dir), { pointer: '/weightsManifest/0/weights/0' }, /quantized; only float32/);
  });
});

describe('fileSystemHandler.load', () => {
  it('applies the same folder and size checks, with dtype and quantization sizes', async () => {
    const escape = writeModel({ paths: ['/etc/hostname'], files: {} });
    await rejectsWith(fileSystemHandler(escape.dir).load!(), { file: escape.json, pointer: '/weightsManifest/0/paths/0' });
    const link = writeModel({ files: { 'weights.bin': outside } });
    await rejectsWith(fileSystemHandler(link.dir).load!(), { pointer: '/weightsManifest/0/paths/0' }, /outside the model folder/);

    // uint8 quantization: 1 byte per element; int32: 4 bytes per element
    const entries: Entry[] = [
      { name: 'q', shape: [2, 3], dtype: 'float32', quantization: { dtype: 'uint8', min: -1, scale: 0.1 } },
      { name: 'i', shape: [2], dtype: 'int32' },
    ];
    const ok = writeModel({ entries, files: { 'weights.bin': new Uint8Array(6 + 8) } });
    const artifacts = await fileSystemHandler(ok.dir).load!();
    assert.equal((artifacts.weightData as ArrayBuffer).byteLength, 14);
    assert.deepEqual(artifacts.weightSpecs?.map((w) => w.name), ['q', 'i']);
    const long = writeModel({ entries, files: { 'weights.bin': new Uint8Array(6 + 8 + 1) } });
    await rejectsWith(fileSystemHandler(long.dir).load!(), { expectedBytes: 14, actualBytes: 15 }, /1 trailing bytes/);
    const strings = writeModel({ entries: [{ name: 's', shape: [1], dtype: 'string' }], files: { 'weights.bin': new Uint8Array(4) } });
    await rejectsWith(fileSystemHandler(strings.dir).load!(), { pointer: '/weightsManifest/0/weights/0/dtype' }, /no fixed size/);
    const nan = writeModel({ files: { 'weights.bin': concat(f32([NaN, 0, 0, 0]), f32(BIAS)) } });
    await rejectsWith(fileSystemHandler(nan.dir).load!(), { weight: 'fc/kernel' }, /non-finite/);
  });
});

describe('unpackWeights', () => {
  it('refuses a buffer longer or shorter than its entries declare', () => {
    const entries = [{ name: 'w', shape: [2], dtype: 'float32' }];
    assert.deepEqual([...unpackWeights('w.bin', entries, f32([1, 2])).get('w')!.data], [1, 2]);
    assert.throws(() => unpackWeights('w.bin', entries, f32([1, 2, 3]), '/weights'), (e: unknown) => {
      assert.ok(NasError.is(e, 'E_MODEL_FORMAT'));
      assert.deepEqual([e.details['file'], e.details['pointer'], e.details['expectedBytes'], e.details['actualBytes']], ['w.bin', '/weights', 8, 12]);
      return true;
    });
    assert.throws(() => unpackWeights('w.bin', entries, f32([1])), (e: unknown) => NasError.is(e, 'E_MODEL_FORMAT') && e.details['weight'] === 'w');
  });
});
