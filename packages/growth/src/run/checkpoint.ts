import { existsSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import {
  NasError,
  checkChecksums,
  fileSystemError,
  fsyncDirectory,
  writeDirectoryAtomically,
  writeFileDurableSync,
  type NetworkSpec,
  type WeightMap,
} from '@mitosis/core';
import { packWeights, unpackWeights } from '@mitosis/engine';
import { parseNetworkSpec, validateWeights } from '@mitosis/ir';

/** What a run needs to continue after a round: the network, its weights and the random stream. */
export interface RoundState {
  readonly round: number;
  readonly spec: NetworkSpec;
  readonly weights: WeightMap;
  readonly rng: { state: number; spare: number | null };
  /** The metrics reported for this round (repeated in the summary when it is the last). */
  readonly metrics: Readonly<Record<string, unknown>>;
}

const roundName = (round: number): string => `round-${String(round).padStart(3, '0')}`;
const checkpointsDir = (runDir: string): string => join(runDir, 'checkpoints');
/** The folder of `round`'s checkpoint. */
export const roundDir = (runDir: string, round: number): string => join(checkpointsDir(runDir), roundName(round));

/**
 * Writes the state after `round` atomically (a temporary folder renamed into place, every file fsynced), so a
 * kill leaves either no checkpoint for the round or a complete one. Files: `network.json`, `weights.bin` +
 * `weights.json` (a TF.js weights manifest), `state.json`, and `checksums.json` (SHA-256 of the others),
 * written last.
 */
export async function saveRoundState(runDir: string, state: RoundState): Promise<string> {
  const dir = roundDir(runDir, state.round);
  const { specs, data } = packWeights([...state.weights.entries()]);
  await writeDirectoryAtomically(
    dir,
    (tmp) => {
      writeFileDurableSync(join(tmp, 'network.json'), `${JSON.stringify(state.spec, null, 1)}\n`, 'write a checkpoint');
      writeFileDurableSync(join(tmp, 'weights.bin'), data, 'write a checkpoint');
      writeFileDurableSync(join(tmp, 'weights.json'), `${JSON.stringify({ format: 'mitosis-weights', version: 1, weights: specs })}\n`, 'write a checkpoint');
      writeFileDurableSync(join(tmp, 'state.json'), `${JSON.stringify({ round: state.round, rng: state.rng, metrics: state.metrics }, null, 1)}\n`, 'write a checkpoint');
    },
    { checksums: true, action: `write the checkpoint of round ${state.round}` },
  );
  return dir;
}

/** Rounds that have a checkpoint folder (complete or not), ascending. */
export function checkpointRounds(runDir: string): number[] {
  const dir = checkpointsDir(runDir);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => /^round-(\d+)$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/** The highest round with a checkpoint folder, or -1. */
export function lastCheckpointedRound(runDir: string): number {
  const rounds = checkpointRounds(runDir);
  return rounds[rounds.length - 1] ?? -1;
}

/** `E_CHECKPOINT` for a damaged checkpoint file, or null when `round`'s checksums hold. */
export function verifyRoundState(runDir: string, round: number): NasError | null {
  const problem = checkChecksums(roundDir(runDir, round));
  return problem === null ? null : new NasError('E_CHECKPOINT', `Checkpoint ${problem.file} ${problem.message}`, { file: problem.file, round });
}

const damaged = (file: string, message: string, pointer?: string, cause?: unknown): NasError =>
  new NasError('E_CHECKPOINT', `Checkpoint ${file}: ${message}`, { file, ...(pointer === undefined ? {} : { pointer }) }, cause === undefined ? undefined : { cause });

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw damaged(file, `cannot be read (${(cause as Error).message})`, undefined, cause);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reads the checkpoint of `round`: its checksums first (a damaged file is `E_CHECKPOINT` naming it), then the
 * consistency of what it holds — the network spec parses, `state.json`'s round is `round`, the random state is
 * a 32-bit integer with a finite or null spare, and (`complete`, a training run's checkpoint) the epochs count
 * is an integer and the weights are exactly the spec's tensors (names and shapes). Without `complete` (a
 * search state that keeps a spec without weights) the weights are only read.
 */
export async function loadRoundState(runDir: string, round: number, options: { readonly complete?: boolean } = {}): Promise<RoundState> {
  const dir = roundDir(runDir, round);
  const bad = verifyRoundState(runDir, round);
  if (bad !== null) throw bad;
  const networkFile = join(dir, 'network.json');
  let spec: NetworkSpec;
  try {
    spec = parseNetworkSpec(readJson(networkFile), networkFile);
  } catch (error) {
    if (NasError.is(error, 'E_CHECKPOINT')) throw error;
    const pointer = NasError.is(error) ? ((error.details['problems'] as { pointer?: string }[] | undefined)?.[0]?.pointer ?? (error.details['pointer'] as string | undefined)) : undefined;
    throw damaged(networkFile, (error as Error).message, pointer, error);
  }
  const manifestFile = join(dir, 'weights.json');
  const manifest = readJson(manifestFile);
  if (!isObject(manifest) || manifest['format'] !== 'mitosis-weights' || !Array.isArray(manifest['weights'])) {
    throw damaged(manifestFile, 'is not a mitosis weights manifest ({format: "mitosis-weights", weights: [...]})', '/weights');
  }
  const binFile = join(dir, 'weights.bin');
  let weights: WeightMap;
  try {
    const bin = readFileSync(binFile);
    weights = unpackWeights(binFile, manifest['weights'], new Uint8Array(bin.buffer, bin.byteOffset, bin.byteLength));
    if (options.complete === true) validateWeights(spec, weights, binFile);
  } catch (error) {
    if (NasError.is(error, 'E_CHECKPOINT')) throw error;
    throw damaged(binFile, (error as Error).message.replace(/^Weights [^:]*: /, ''), NasError.is(error) ? (error.details['pointer'] as string | undefined) : undefined, error);
  }
  const stateFile = join(dir, 'state.json');
  const state = readJson(stateFile);
  if (!isObject(state)) throw damaged(stateFile, 'must be an object', '/');
  if (state['round'] !== round) throw damaged(stateFile, `says round ${JSON.stringify(state['round'])}, but it is the checkpoint of round ${round}`, '/round');
  const rng = state['rng'];
  if (!isObject(rng) || !Number.isInteger(rng['state']) || (rng['state'] as number) < 0 || (rng['state'] as number) > 0xffffffff) {
    throw damaged(stateFile, 'rng.state must be an integer in [0, 2^32)', '/rng/state');
  }
  const spare = rng['spare'];
  if (!(spare === null || (typeof spare === 'number' && Number.isFinite(spare)))) throw damaged(stateFile, 'rng.spare must be a finite number or null', '/rng/spare');
  const metrics = state['metrics'];
  if (!isObject(metrics)) throw damaged(stateFile, 'metrics must be an object', '/metrics');
  if (options.complete === true && (!Number.isInteger(metrics['epochs']) || (metrics['epochs'] as number) < 0)) throw damaged(stateFile, 'metrics.epochs must be an integer ≥ 0', '/metrics/epochs');
  return { round, spec, weights, rng: { state: rng['state'] as number, spare }, metrics };
}

/**
 * The round to resume from: the last checkpoint, or `requested` (`--resume-round`). The checkpoint is verified;
 * a damaged last checkpoint is refused with `E_CHECKPOINT` naming the damaged file and the latest intact
 * earlier round to resume from instead. With `requested`, the checkpoints after it are set aside (renamed to
 * `.round-NNN.discarded-<time>`, not deleted) so that the run continues from there. -1: nothing to resume.
 */
export function resumePoint(runDir: string, requested?: number): number {
  const rounds = checkpointRounds(runDir);
  if (rounds.length === 0) {
    if (requested !== undefined) throw new NasError('E_USAGE', `--resume-round ${requested}: ${runDir} has no checkpoints`, { runDir, round: requested });
    return -1;
  }
  if (requested === undefined) {
    const last = rounds[rounds.length - 1]!;
    const bad = verifyRoundState(runDir, last);
    if (bad === null) return last;
    const good = [...rounds].reverse().find((r) => r < last && verifyRoundState(runDir, r) === null);
    const offer =
      good === undefined
        ? 'no earlier checkpoint is intact either: start over with --force'
        : `round ${good}'s checkpoint is intact: add --resume-round ${good} to continue from it (the rounds after it run again), or start over with --force`;
    throw new NasError('E_CHECKPOINT', `${bad.message}; cannot resume from round ${last}: ${offer}`, { ...bad.details, round: last, previousGood: good ?? null });
  }
  if (!rounds.includes(requested)) {
    throw new NasError('E_USAGE', `--resume-round ${requested}: ${runDir} has no checkpoint of round ${requested} (it has ${rounds.join(', ')})`, {
      runDir,
      round: requested,
      rounds,
    });
  }
  const bad = verifyRoundState(runDir, requested);
  if (bad !== null) throw bad;
  const stamp = Date.now().toString(36);
  for (const r of rounds.filter((x) => x > requested)) {
    const from = roundDir(runDir, r);
    const to = join(checkpointsDir(runDir), `.${roundName(r)}.discarded-${stamp}`);
    try {
      renameSync(from, to);
    } catch (error) {
      throw fileSystemError(error, from, `set aside the checkpoint of round ${r}`);
    }
  }
  fsyncDirectory(checkpointsDir(runDir));
  return requested;
}
