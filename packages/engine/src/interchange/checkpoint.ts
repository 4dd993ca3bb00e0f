import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CHECKSUMS_FILE, NasError, checkChecksums, readContainedFile, writeFileDurableSync, resolveContainedFile, type ContainedFile, type NetworkSpec, type WeightMap } from '@mitosis/core';
import { parseNetworkSpec, validateWeights } from '@mitosis/ir';
import type { OptimizerState } from '../train/optimizers.js';
import { validateOptimizerConfig } from '../train/optimizers.js';
import { buildLayersModel, KERAS_WEIGHT_NAMES } from './export-layers-model.js';
import { layoutWeights, packWeights, readLayersModelFiles, unpackWeights, writeDirectoryAtomically, writeLayersModelFiles } from './model-artifacts-io.js';

/** The sidecar file of a checkpoint directory. */
export const CHECKPOINT_JSON = 'checkpoint.json';
const OPTIMIZER_BIN = 'optimizer.bin';

/** Everything a run needs to resume. */
export interface Checkpoint {
  readonly spec: NetworkSpec;
  readonly weights: WeightMap;
  readonly optimizerState?: OptimizerState;
  /** Epochs completed. */
  readonly epoch: number;
  /** Growth rounds completed. */
  readonly round: number;
  /** `SeededRandom.snapshot()` of the run's stream. */
  readonly rng: { readonly state: number; readonly spare: number | null };
  /** Free JSON for the caller (e.g. growth history). */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/**
 * Writes a checkpoint directory: the network as a LayersModel (`model.json`, `weights.bin`; activations Keras
 * lacks are written under mitosis-only names), the exact spec, counters and RNG state in `checkpoint.json`, and
 * optimizer slots in `optimizer.bin`. The directory is assembled under a temporary name and renamed into place,
 * so an interrupted save never leaves a half-written checkpoint at `dir`.
 */
export async function saveCheckpoint(dir: string, checkpoint: Checkpoint): Promise<void> {
  const { modelJson, weightData } = buildLayersModel(checkpoint.spec, checkpoint.weights, { allowMitosisActivations: true });
  const opt = checkpoint.optimizerState;
  const packed = opt === undefined ? undefined : packWeights([...opt.slots]);
  const sidecar = {
    format: 'mitosis-checkpoint',
    version: 1,
    savedAt: new Date().toISOString(),
    epoch: checkpoint.epoch,
    round: checkpoint.round,
    rng: { state: checkpoint.rng.state, spare: checkpoint.rng.spare },
    spec: checkpoint.spec,
    optimizer:
      opt === undefined || packed === undefined
        ? null
        : { config: opt.config, iterations: opt.iterations, paths: [OPTIMIZER_BIN], slots: packed.specs },
    extra: checkpoint.extra ?? {},
  };
  await writeDirectoryAtomically(
    dir,
    async (tmp) => {
      await writeLayersModelFiles(tmp, modelJson, weightData);
      if (packed !== undefined) writeFileDurableSync(join(tmp, OPTIMIZER_BIN), packed.data, 'write the optimizer state');
      writeFileDurableSync(join(tmp, CHECKPOINT_JSON), `${JSON.stringify(sidecar, null, 1)}\n`, 'write the checkpoint state');
    },
    { checksums: true, action: `write the checkpoint ${dir}` },
  );
}

function checkpointError(file: string, message: string, pointer?: string): NasError {
  return new NasError('E_CHECKPOINT', `Checkpoint ${file}: ${message}`, { file, ...(pointer !== undefined ? { pointer } : {}) });
}

/**
 * `dir` itself, or — when a save was killed between moving the previous checkpoint aside and renaming the new one
 * into place — the previous checkpoint that {@link writeDirectoryAtomically} left as `.<name>.old-*`.
 */
async function resolveCheckpointDir(dir: string): Promise<string> {
  try {
    await stat(dir);
    return dir;
  } catch {
    const prefix = `.${basename(dir)}.old-`;
    let siblings: string[] = [];
    try {
      siblings = (await readdir(dirname(dir))).filter((n) => n.startsWith(prefix));
    } catch {
      return dir;
    }
    const stamped = await Promise.all(siblings.map(async (n) => ({ n, t: (await stat(join(dirname(dir), n))).mtimeMs })));
    stamped.sort((a, b) => b.t - a.t);
    return stamped[0] === undefined ? dir : join(dirname(dir), stamped[0].n);
  }
}

/**
 * Reads a checkpoint written by {@link saveCheckpoint}; problems throw `E_CHECKPOINT` naming the file. If `dir` is
 * missing because a save was interrupted mid-swap, the previous checkpoint set aside by that save is read.
 */
export async function loadCheckpoint(requested: string): Promise<Checkpoint> {
  const dir = await resolveCheckpointDir(requested);
  const file = join(dir, CHECKPOINT_JSON);
  // Checkpoints carry checksums.json (written last); one written before checksums existed is read unverified.
  if (existsSync(join(dir, CHECKSUMS_FILE))) {
    const problem = checkChecksums(dir);
    if (problem !== null) throw new NasError('E_CHECKPOINT', `Checkpoint ${problem.file} ${problem.message}`, { file: problem.file });
  }
  let sidecar: Record<string, unknown>;
  try {
    sidecar = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new NasError('E_CHECKPOINT', `Checkpoint ${file}: cannot read (${(error as Error).message})`, { file }, { cause: error });
  }
  if (sidecar['format'] !== 'mitosis-checkpoint' || sidecar['version'] !== 1) {
    throw checkpointError(file, 'not a version-1 mitosis checkpoint', '/format');
  }
  for (const field of ['epoch', 'round'] as const) {
    if (!Number.isInteger(sidecar[field]) || (sidecar[field] as number) < 0) throw checkpointError(file, `"${field}" must be a non-negative integer`, `/${field}`);
  }
  const rng = sidecar['rng'] as { state?: unknown; spare?: unknown } | undefined;
  if (typeof rng?.state !== 'number' || !(rng.spare === null || typeof rng.spare === 'number')) {
    throw checkpointError(file, '"rng" must be { state: number, spare: number | null }', '/rng');
  }
  const spec = parseNetworkSpec(sidecar['spec'], `${file}#/spec`);
  const stored = await readLayersModelFiles(dir);
  const weights: WeightMap = new Map();
  const paramOf = new Map(Object.entries(KERAS_WEIGHT_NAMES).map(([p, k]) => [k, p]));
  for (const [name, w] of stored.weights) {
    const slash = name.lastIndexOf('/');
    const param = paramOf.get(name.slice(slash + 1));
    if (param === undefined) throw checkpointError(join(dir, 'model.json'), `unexpected weight "${name}"`);
    weights.set(`${name.slice(0, slash)}/${param}`, w);
  }
  validateWeights(spec, weights, join(dir, 'weights.bin'));
  let optimizerState: OptimizerState | undefined;
  const opt = sidecar['optimizer'] as { config?: unknown; iterations?: unknown; paths?: unknown; slots?: unknown } | null | undefined;
  if (opt !== null && opt !== undefined) {
    if (!Number.isInteger(opt.iterations) || !Array.isArray(opt.slots)) throw checkpointError(file, '"optimizer" needs iterations and slots', '/optimizer');
    // The slots' files, like a LayersModel's weight files, must be regular files inside the checkpoint folder
    // holding exactly the bytes the slot entries declare; both are checked before anything is read.
    const paths = Array.isArray(opt.paths) ? (opt.paths as unknown[]) : [OPTIMIZER_BIN];
    const pointer = Array.isArray(opt.paths) ? '/optimizer/paths' : '/optimizer';
    let slots: WeightMap;
    try {
      const files = paths.map((p, i) =>
        resolveContainedFile(dir, p, { code: 'E_CHECKPOINT', file, pointer: Array.isArray(opt.paths) ? `${pointer}/${i}` : pointer, folderLabel: 'checkpoint folder' }),
      );
      const binFile = files.length === 1 ? (files[0] as ContainedFile).path : file;
      const { totalBytes } = layoutWeights(binFile, opt.slots, '/optimizer/slots', { float32Only: true });
      const actual = files.reduce((sum, f) => sum + f.size, 0);
      if (actual !== totalBytes) {
        throw new NasError('E_CHECKPOINT', `Checkpoint ${binFile}: holds ${actual} bytes but /optimizer/slots declares ${totalBytes}`, {
          file: binFile,
          pointer,
          expectedBytes: totalBytes,
          actualBytes: actual,
        });
      }
      const parts: Uint8Array[] = [];
      for (const f of files) parts.push(await readContainedFile(f));
      const bytes = Buffer.concat(parts);
      slots = unpackWeights(binFile, opt.slots, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), '/optimizer/slots');
    } catch (error) {
      if (NasError.is(error, 'E_CHECKPOINT')) throw error;
      throw new NasError('E_CHECKPOINT', (error as Error).message, NasError.is(error) ? error.details : { file }, { cause: error });
    }
    optimizerState = { config: validateOptimizerConfig(opt.config, `${file}#/optimizer/config`), iterations: opt.iterations as number, slots };
  }
  const extra = sidecar['extra'];
  return {
    spec,
    weights,
    ...(optimizerState !== undefined ? { optimizerState } : {}),
    epoch: sidecar['epoch'] as number,
    round: sidecar['round'] as number,
    rng: { state: rng.state, spare: rng.spare as number | null },
    ...(typeof extra === 'object' && extra !== null ? { extra: extra as Record<string, unknown> } : {}),
  };
}
