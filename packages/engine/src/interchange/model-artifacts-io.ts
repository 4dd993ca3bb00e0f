import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { NasError, type WeightMap, type WeightTensor } from '@mitosis/core';
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

/** Splits a weight buffer according to its manifest entries; throws `E_MODEL_FORMAT` naming `file`. */
export function unpackWeights(file: string, entries: readonly unknown[], buffer: Uint8Array): WeightMap {
  const out: WeightMap = new Map();
  let offset = 0;
  for (const [i, raw] of entries.entries()) {
    const e = raw as { name?: unknown; shape?: unknown; dtype?: unknown; quantization?: unknown };
    if (typeof e.name !== 'string' || !Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw formatError(file, `weightsManifest entry ${i} needs a name and an integer shape`, { weight: i });
    }
    if (e.quantization !== undefined || (e.dtype !== undefined && e.dtype !== 'float32')) {
      throw formatError(file, `weight "${e.name}" is ${e.quantization ? 'quantized' : String(e.dtype)}; only float32 is supported`, {
        weight: e.name,
      });
    }
    const size = (e.shape as number[]).reduce((a, b) => a * b, 1);
    const bytes = size * 4;
    if (offset + bytes > buffer.byteLength) {
      throw formatError(file, `weight data ends at byte ${buffer.byteLength} but "${e.name}" needs bytes ${offset}–${offset + bytes}`, {
        weight: e.name,
      });
    }
    const data = new Float32Array(size);
    new Uint8Array(data.buffer).set(buffer.subarray(offset, offset + bytes));
    out.set(e.name.replace(/:0$/, ''), { shape: e.shape as number[], data });
    offset += bytes;
  }
  return out;
}

/** Writes `model.json` and `weights.bin` into `dir` (created if needed). */
export async function writeLayersModelFiles(dir: string, modelJson: object, weightData: Uint8Array): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, WEIGHTS_BIN), weightData);
  await writeFile(join(dir, MODEL_JSON), `${JSON.stringify(modelJson, null, 1)}\n`);
}

/**
 * Reads a LayersModel directory (or a path to its `model.json`): the parsed JSON and every weight of its
 * manifest. Missing files, bad JSON and short weight files throw `E_MODEL_FORMAT` with `details.file`.
 */
export async function readLayersModelFiles(path: string): Promise<StoredModel> {
  const jsonFile = path.endsWith('.json') ? path : join(path, MODEL_JSON);
  const dir = dirname(jsonFile);
  let text: string;
  try {
    text = await readFile(jsonFile, 'utf8');
  } catch (error) {
    throw new NasError('E_MODEL_FORMAT', `Cannot read model file ${jsonFile}: ${(error as Error).message}`, { file: jsonFile }, { cause: error });
  }
  let modelJson: unknown;
  try {
    modelJson = JSON.parse(text);
  } catch (error) {
    throw formatError(jsonFile, `not valid JSON (${(error as Error).message})`);
  }
  if (typeof modelJson !== 'object' || modelJson === null || typeof (modelJson as Record<string, unknown>)['modelTopology'] !== 'object') {
    throw formatError(jsonFile, 'not a TF.js LayersModel (no "modelTopology" object)', { pointer: '/modelTopology' });
  }
  const manifest = (modelJson as Record<string, unknown>)['weightsManifest'] ?? [];
  if (!Array.isArray(manifest)) throw formatError(jsonFile, '"weightsManifest" must be an array', { pointer: '/weightsManifest' });
  const weights: WeightMap = new Map();
  for (const [g, group] of manifest.entries()) {
    const paths = (group as { paths?: unknown }).paths;
    const entries = (group as { weights?: unknown }).weights;
    if (!Array.isArray(paths) || !Array.isArray(entries) || !paths.every((p) => typeof p === 'string')) {
      throw formatError(jsonFile, `weightsManifest group ${g} needs "paths" and "weights" arrays`, { pointer: `/weightsManifest/${g}` });
    }
    const parts: Uint8Array[] = [];
    for (const p of paths as string[]) {
      const binFile = join(dir, p);
      try {
        parts.push(new Uint8Array(await readFile(binFile)));
      } catch (error) {
        throw new NasError('E_MODEL_FORMAT', `Cannot read weight file ${binFile}: ${(error as Error).message}`, { file: binFile }, { cause: error });
      }
    }
    const buffer = Buffer.concat(parts);
    const label = paths.length === 1 ? join(dir, paths[0] as string) : jsonFile;
    for (const [k, v] of unpackWeights(label, entries, new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength))) {
      weights.set(k, v);
    }
  }
  return { modelJson: modelJson as Record<string, unknown>, weights };
}

/**
 * A TF.js `IOHandler` reading and writing `model.json` + `weights.bin` in `dir`, for `tf.loadLayersModel`
 * and `model.save` under Node without `@tensorflow/tfjs-node` (whose `file://` handler is not available).
 */
export function fileSystemHandler(dir: string): tf.io.IOHandler {
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      const json = JSON.parse(await readFile(join(dir, MODEL_JSON), 'utf8')) as Record<string, unknown>;
      const manifest = (json['weightsManifest'] ?? []) as { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
      const parts: Buffer[] = [];
      const weightSpecs: tf.io.WeightsManifestEntry[] = [];
      for (const group of manifest) {
        for (const p of group.paths) parts.push(await readFile(join(dir, p)));
        weightSpecs.push(...group.weights);
      }
      const buf = Buffer.concat(parts);
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

/**
 * Runs `write(tmp)` on a fresh sibling temporary directory, then swaps it into place at `dir`, so that a crash
 * leaves either the old directory or the complete new one (an older `dir` is moved aside and removed only after
 * the new one is in place).
 */
export async function writeDirectoryAtomically(dir: string, write: (tmp: string) => Promise<void>): Promise<void> {
  const stamp = `${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e9)}`;
  const tmp = join(dirname(dir), `.${basename(dir)}.tmp-${stamp}`);
  const old = join(dirname(dir), `.${basename(dir)}.old-${stamp}`);
  await mkdir(dirname(dir), { recursive: true });
  try {
    await mkdir(tmp);
    await write(tmp);
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
  let movedOld = false;
  try {
    await rename(dir, old);
    movedOld = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      await rm(tmp, { recursive: true, force: true });
      throw error;
    }
  }
  await rename(tmp, dir);
  if (movedOld) await rm(old, { recursive: true, force: true });
}
