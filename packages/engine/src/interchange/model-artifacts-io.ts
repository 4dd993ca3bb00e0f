import { mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { NasError, checkJsonLimits, fileSystemError, readContainedFile, writeFileDurableSync, resolveContainedFile, type ContainedFile, type WeightMap, type WeightTensor } from '@mitosis/core';
import type { tf } from '../tf.js';

/** The TF.js LayersModel file names mitosis writes. */
export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

/** One entry of a TF.js weights manifest. */
export interface WeightSpecEntry {
  readonly name: string;
  readonly shape: number[];
  readonly dtype: 'float32';
}

/** Weights as stored in a LayersModel directory, keyed by their manifest names (`conv1/kernel`). */
export interface StoredModel {
  readonly modelJson: Record<string, unknown>;
  readonly weights: WeightMap;
}

function formatError(file: string, message: string, details: Record<string, unknown> = {}): NasError {
  return new NasError('E_MODEL_FORMAT', `${file}: ${message}`, { file, ...details });
}

/** Concatenates float32 tensors into one little-endian buffer plus the manifest entries describing it. */
export function packWeights(named: readonly (readonly [string, WeightTensor])[]): {
  specs: WeightSpecEntry[];
  data: Uint8Array;
} {
  const total = named.reduce((s, [, w]) => s + w.data.length, 0);
  const all = new Float32Array(total);
  const specs: WeightSpecEntry[] = [];
  let at = 0;
  for (const [name, w] of named) {
    all.set(w.data, at);
    at += w.data.length;
    specs.push({ name, shape: [...w.shape], dtype: 'float32' });
  }
  return { specs, data: new Uint8Array(all.buffer, all.byteOffset, all.byteLength) };
}

/** Bytes per element of the dtypes TF.js stores in weight files (strings have no fixed size and are refused). */
const DTYPE_BYTES: Readonly<Record<string, number>> = { float32: 4, int32: 4, bool: 1, complex64: 8 };
/** Bytes per element of TF.js weight quantization (`quantization.dtype`). */
const QUANTIZED_BYTES: Readonly<Record<string, number>> = { uint8: 1, uint16: 2, float16: 2 };

/** Where one manifest weight lies in its group's weight data. */
export interface WeightLayout {
  readonly name: string;
  readonly shape: number[];
  readonly dtype: string;
  /** True when the entry carries TF.js `quantization` (its bytes are not plain `dtype` values). */
  readonly quantized: boolean;
  /** Byte offset in the group's concatenated weight files. */
  readonly offset: number;
  readonly bytes: number;
  /** JSON pointer of the manifest entry, e.g. `/weightsManifest/0/weights/3`. */
  readonly pointer: string;
}

/**
 * Checks manifest weight entries and lays them out back to back, without looking at any data: each needs a
 * name and a shape of non-negative integers; its size is the element count times the size of its dtype, or
 * of its quantization dtype. With `float32Only` (what mitosis imports) anything but unquantized float32 is
 * refused. Problems throw `E_MODEL_FORMAT` naming `file` and the entry's pointer under `pointer`.
 */
export function layoutWeights(
  file: string,
  entries: readonly unknown[],
  pointer: string,
  options: { readonly float32Only: boolean },
): { layout: WeightLayout[]; totalBytes: number } {
  const layout: WeightLayout[] = [];
  let offset = 0;
  for (const [i, raw] of entries.entries()) {
    const at = `${pointer}/${i}`;
    const e = (typeof raw === 'object' && raw !== null ? raw : {}) as { name?: unknown; shape?: unknown; dtype?: unknown; quantization?: unknown };
    if (typeof e.name !== 'string' || !Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw formatError(file, `weight entry ${at.slice(1)} needs a name and an integer shape`, { weight: i, pointer: at });
    }
    const dtype = e.dtype === undefined ? 'float32' : String(e.dtype);
    const quantized = e.quantization !== undefined && e.quantization !== null;
    if (options.float32Only && (quantized || dtype !== 'float32')) {
      throw formatError(file, `weight "${e.name}" is ${quantized ? 'quantized' : dtype}; only float32 is supported`, { weight: e.name, pointer: at });
    }
    let size: number | undefined;
    if (quantized) {
      const q = (e.quantization as { dtype?: unknown }).dtype;
      size = typeof q === 'string' ? QUANTIZED_BYTES[q] : undefined;
      if (size === undefined) {
        throw formatError(file, `weight "${e.name}" has an unknown quantization dtype ${JSON.stringify(q)} (uint8, uint16, float16)`, {
          weight: e.name,
          pointer: `${at}/quantization/dtype`,
        });
      }
    } else {
      size = DTYPE_BYTES[dtype];
      if (size === undefined) {
        throw formatError(file, `weight "${e.name}" has dtype "${dtype}", which has no fixed size (float32, int32, bool, complex64)`, {
          weight: e.name,
          pointer: `${at}/dtype`,
        });
      }
    }
    const bytes = (e.shape as number[]).reduce((a, b) => a * b, 1) * size;
    if (!Number.isSafeInteger(offset + bytes)) {
      throw formatError(file, `weight "${e.name}" has an impossibly large shape ${JSON.stringify(e.shape)}`, { weight: e.name, pointer: `${at}/shape` });
    }
    layout.push({ name: e.name, shape: e.shape as number[], dtype, quantized, offset, bytes, pointer: at });
    offset += bytes;
  }
  return { layout, totalBytes: offset };
}

/**
 * Splits a weight buffer according to its float32 manifest entries; throws `E_MODEL_FORMAT` naming `file`
 * when an entry is malformed or the buffer is not exactly as long as the entries declare (missing or trailing
 * bytes). `pointer` is the JSON pointer of `entries` in their manifest, for errors.
 */
export function unpackWeights(file: string, entries: readonly unknown[], buffer: Uint8Array, pointer = ''): WeightMap {
  const { layout, totalBytes } = layoutWeights(file, entries, pointer, { float32Only: true });
  if (totalBytes !== buffer.byteLength) {
    const short = layout.find((w) => w.offset + w.bytes > buffer.byteLength);
    throw formatError(
      file,
      short !== undefined
        ? `weight data ends at byte ${buffer.byteLength} but "${short.name}" needs bytes ${short.offset}–${short.offset + short.bytes}`
        : `${buffer.byteLength - totalBytes} trailing bytes after the last weight: the manifest declares ${totalBytes} bytes, the data has ${buffer.byteLength}`,
      { ...(short !== undefined ? { weight: short.name } : {}), expectedBytes: totalBytes, actualBytes: buffer.byteLength, ...(pointer !== '' ? { pointer } : {}) },
    );
  }
  const out: WeightMap = new Map();
  for (const w of layout) {
    const data = new Float32Array(w.bytes / 4);
    new Uint8Array(data.buffer).set(buffer.subarray(w.offset, w.offset + w.bytes));
    out.set(w.name.replace(/:0$/, ''), { shape: w.shape, data });
  }
  return out;
}

/** Throws `E_MODEL_FORMAT` naming `file`, the weight and its manifest pointer if `data` holds NaN or ±Infinity. */
export function checkFiniteWeight(file: string, w: Pick<WeightLayout, 'name' | 'pointer'>, data: Float32Array): void {
  let bad = 0;
  let first = -1;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      bad++;
      if (first < 0) first = i;
    }
  }
  if (bad === 0) return;
  const all = bad === data.length ? 'every value' : `${bad} of ${data.length} values`;
  throw formatError(file, `weight "${w.name}" is damaged: ${all} non-finite (first: ${String(data[first])} at element ${first})`, {
    weight: w.name,
    pointer: w.pointer,
    element: first,
    nonFinite: bad,
  });
}

/** Writes `model.json` and `weights.bin` into `dir` (created if needed). */
export async function writeLayersModelFiles(dir: string, modelJson: object, weightData: Uint8Array): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw fileSystemError(error, dir, 'create the model folder');
  }
  writeFileDurableSync(join(dir, WEIGHTS_BIN), weightData, 'write the model weights');
  writeFileDurableSync(join(dir, MODEL_JSON), `${JSON.stringify(modelJson, null, 1)}\n`, 'write the model description');
}

/** One weights-manifest group read from disk: its entries' layout and the concatenated bytes of its files. */
interface WeightGroup {
  readonly layout: WeightLayout[];
  readonly data: Uint8Array;
  /** The weight file when the group has one, else the `model.json`: the file errors about its data name. */
  readonly label: string;
}

/** The largest `model.json` read (topologies of large models are a few MiB). */
const MAX_MODEL_JSON_BYTES = 64 * 1024 * 1024;

/**
 * Reads and parses a `model.json`; unreadable or non-JSON files, anything but a regular file (a FIFO, a device)
 * and files over {@link MAX_MODEL_JSON_BYTES} are `E_MODEL_FORMAT` naming it, refused before reading.
 */
async function readModelJson(jsonFile: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    const info = await stat(jsonFile);
    if (!info.isFile()) throw formatError(jsonFile, 'not a regular file');
    if (info.size > MAX_MODEL_JSON_BYTES) throw formatError(jsonFile, `larger than the ${MAX_MODEL_JSON_BYTES / 1024 / 1024} MiB a model.json may have`);
    text = await readFile(jsonFile, 'utf8');
  } catch (error) {
    if (NasError.is(error)) throw error;
    throw new NasError('E_MODEL_FORMAT', `Cannot read model file ${jsonFile}: ${(error as Error).message}`, { file: jsonFile }, { cause: error });
  }
  let modelJson: unknown;
  try {
    modelJson = JSON.parse(text);
  } catch (error) {
    throw formatError(jsonFile, `not valid JSON (${(error as Error).message})`);
  }
  checkJsonLimits(modelJson, jsonFile, 'E_MODEL_FORMAT');
  if (typeof modelJson !== 'object' || modelJson === null || typeof (modelJson as Record<string, unknown>)['modelTopology'] !== 'object') {
    throw formatError(jsonFile, 'not a TF.js LayersModel (no "modelTopology" object)', { pointer: '/modelTopology' });
  }
  return modelJson as Record<string, unknown>;
}

/**
 * Reads the weight files of every `weightsManifest` group. Each `paths` entry must name a regular file inside
 * the model's folder (see `resolveContainedFile`), and a group's files must together hold exactly the bytes its
 * `weights` entries declare — both checked before anything is read, so a manifest that points elsewhere or lies
 * about a shape is refused (`E_MODEL_FORMAT` naming the file and the field) instead of read.
 */
async function readWeightGroups(jsonFile: string, modelJson: Record<string, unknown>, float32Only: boolean): Promise<WeightGroup[]> {
  const dir = dirname(jsonFile);
  const manifest = modelJson['weightsManifest'] ?? [];
  if (!Array.isArray(manifest)) throw formatError(jsonFile, '"weightsManifest" must be an array', { pointer: '/weightsManifest' });
  const groups: WeightGroup[] = [];
  for (const [g, group] of manifest.entries()) {
    const paths = (group as { paths?: unknown } | null)?.paths;
    const entries = (group as { weights?: unknown } | null)?.weights;
    if (!Array.isArray(paths) || !Array.isArray(entries)) {
      throw formatError(jsonFile, `weightsManifest group ${g} needs "paths" and "weights" arrays`, { pointer: `/weightsManifest/${g}` });
    }
    const { layout, totalBytes } = layoutWeights(jsonFile, entries, `/weightsManifest/${g}/weights`, { float32Only });
    const files = paths.map((p, i) =>
      resolveContainedFile(dir, p, { code: 'E_MODEL_FORMAT', file: jsonFile, pointer: `/weightsManifest/${g}/paths/${i}`, folderLabel: 'model folder' }),
    );
    const label = files.length === 1 ? (files[0] as ContainedFile).path : jsonFile;
    const actual = files.reduce((sum, f) => sum + f.size, 0);
    if (actual !== totalBytes) {
      const diff = actual > totalBytes ? `${actual - totalBytes} trailing bytes` : `${totalBytes - actual} bytes missing`;
      throw formatError(
        label,
        `${files.length === 1 ? 'the file holds' : `the files of weightsManifest/${g}/paths hold`} ${actual} bytes but weightsManifest/${g}/weights declares ${totalBytes} (${diff}); the manifest does not describe ${files.length === 1 ? 'this file' : 'these files'}`,
        {
          pointer: `/weightsManifest/${g}/paths`,
          manifest: jsonFile,
          expectedBytes: totalBytes,
          actualBytes: actual,
          ...(files.length === 1 ? {} : { files: files.map((f) => f.path) }),
        },
      );
    }
    const parts: Uint8Array[] = [];
    for (const f of files) parts.push(await readContainedFile(f));
    const data = parts.length === 1 ? (parts[0] as Uint8Array) : new Uint8Array(Buffer.concat(parts));
    groups.push({ layout, data, label });
  }
  return groups;
}

/** The float32 values of an unquantized float32 weight of `group`. */
function float32Values(group: WeightGroup, w: WeightLayout): Float32Array {
  const values = new Float32Array(w.bytes / 4);
  new Uint8Array(values.buffer).set(group.data.subarray(w.offset, w.offset + w.bytes));
  return values;
}

/**
 * Reads a LayersModel directory (or a path to its `model.json`): the parsed JSON and every weight of its
 * manifest. Missing files, bad JSON, weight files outside the model folder or of the wrong size, and
 * non-finite weights throw `E_MODEL_FORMAT` with `details.file` (and `details.pointer` for manifest fields).
 */
export async function readLayersModelFiles(path: string): Promise<StoredModel> {
  const jsonFile = path.endsWith('.json') ? path : join(path, MODEL_JSON);
  const modelJson = await readModelJson(jsonFile);
  const weights: WeightMap = new Map();
  for (const group of await readWeightGroups(jsonFile, modelJson, true)) {
    for (const w of group.layout) {
      const data = float32Values(group, w);
      checkFiniteWeight(group.label, w, data);
      weights.set(w.name.replace(/:0$/, ''), { shape: w.shape, data });
    }
  }
  return { modelJson, weights };
}

/**
 * A TF.js `IOHandler` reading and writing `model.json` + `weights.bin` in `dir`, for `tf.loadLayersModel`
 * and `model.save` under Node without `@tensorflow/tfjs-node` (whose `file://` handler is not available).
 * Loading applies the checks of {@link readLayersModelFiles} (weight files inside `dir`, exact sizes, finite
 * float32 weights) to every dtype and quantization TF.js stores.
 */
export function fileSystemHandler(dir: string): tf.io.IOHandler {
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      const jsonFile = join(dir, MODEL_JSON);
      const json = await readModelJson(jsonFile);
      const groups = await readWeightGroups(jsonFile, json, false);
      const manifest = json['weightsManifest'] as { weights: tf.io.WeightsManifestEntry[] }[] | undefined;
      const weightSpecs: tf.io.WeightsManifestEntry[] = [];
      for (const [g, group] of groups.entries()) {
        for (const w of group.layout) if (w.dtype === 'float32' && !w.quantized) checkFiniteWeight(group.label, w, float32Values(group, w));
        weightSpecs.push(...(manifest?.[g]?.weights ?? []));
      }
      const buf = Buffer.concat(groups.map((g) => g.data));
      return {
        modelTopology: json['modelTopology'] as object,
        weightSpecs,
        weightData: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength),
        ...(typeof json['format'] === 'string' ? { format: json['format'] } : {}),
      };
    },
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      const data = artifacts.weightData;
      const bytes =
        data === undefined
          ? new Uint8Array(0)
          : Array.isArray(data)
            ? Buffer.concat(data.map((b) => new Uint8Array(b)))
            : new Uint8Array(data);
      const modelJson = {
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy ?? 'mitosis',
        convertedBy: artifacts.convertedBy ?? null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
      };
      await writeLayersModelFiles(dir, modelJson, bytes);
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: bytes.byteLength } };
    },
  };
}

/** The durable folder swap of core (fsynced files, optional `checksums.json`), re-exported for the engine's users. */
export { writeDirectoryAtomically } from '@mitosis/core';
