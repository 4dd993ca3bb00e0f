import { existsSync, readdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NasError, type NetworkSpec, type WeightMap } from '@mitosis/core';
import { packWeights, unpackWeights, writeDirectoryAtomically } from '@mitosis/engine';

/** What a run needs to continue after a round: the network, its weights and the random stream. */
export interface RoundState {
  readonly round: number;
  readonly spec: NetworkSpec;
  readonly weights: WeightMap;
  readonly rng: { state: number; spare: number | null };
  /** The metrics reported for this round (repeated in the summary when it is the last). */
  readonly metrics: Readonly<Record<string, unknown>>;
}

const roundDir = (runDir: string, round: number): string => join(runDir, 'checkpoints', `round-${String(round).padStart(3, '0')}`);

/**
 * Writes the state after `round` atomically (a temporary directory renamed into place), so a kill leaves
 * either no checkpoint for the round or a complete one. Files: `network.json`, `weights.bin` + `weights.json`
 * (a TF.js weights manifest), `state.json`.
 */
export async function saveRoundState(runDir: string, state: RoundState): Promise<string> {
  const dir = roundDir(runDir, state.round);
  const { specs, data } = packWeights([...state.weights.entries()]);
  await writeDirectoryAtomically(dir, async (tmp) => {
    await writeFile(join(tmp, 'network.json'), `${JSON.stringify(state.spec, null, 1)}\n`);
    await writeFile(join(tmp, 'weights.bin'), data);
    await writeFile(join(tmp, 'weights.json'), `${JSON.stringify({ format: 'mitosis-weights', version: 1, weights: specs })}\n`);
    await writeFile(join(tmp, 'state.json'), `${JSON.stringify({ round: state.round, rng: state.rng, metrics: state.metrics }, null, 1)}\n`);
  });
  return dir;
}

/** The highest round with a complete checkpoint, or -1. */
export function lastCheckpointedRound(runDir: string): number {
  const dir = join(runDir, 'checkpoints');
  if (!existsSync(dir)) return -1;
  let best = -1;
  for (const name of readdirSync(dir)) {
    const m = /^round-(\d+)$/.exec(name);
    if (m !== null && existsSync(join(dir, name, 'state.json'))) best = Math.max(best, Number(m[1]));
  }
  return best;
}

/** Reads the checkpoint of `round`; a damaged one is `E_CHECKPOINT` naming the file. */
export async function loadRoundState(runDir: string, round: number): Promise<RoundState> {
  const dir = roundDir(runDir, round);
  const read = async (name: string): Promise<Buffer> => {
    try {
      return await readFile(join(dir, name));
    } catch (cause) {
      throw new NasError('E_CHECKPOINT', `Checkpoint ${join(dir, name)} cannot be read: ${(cause as Error).message}`, { file: join(dir, name) });
    }
  };
  try {
    const spec = JSON.parse((await read('network.json')).toString('utf8')) as NetworkSpec;
    const manifest = JSON.parse((await read('weights.json')).toString('utf8')) as { weights: unknown[] };
    const bin = await read('weights.bin');
    const weights = unpackWeights(join(dir, 'weights.bin'), manifest.weights, new Uint8Array(bin.buffer, bin.byteOffset, bin.byteLength));
    const state = JSON.parse((await read('state.json')).toString('utf8')) as { round: number; rng: RoundState['rng']; metrics: Record<string, unknown> };
    return { round: state.round, spec, weights, rng: state.rng, metrics: state.metrics };
  } catch (error) {
    if (NasError.is(error)) throw error;
    throw new NasError('E_CHECKPOINT', `Checkpoint ${dir} is damaged: ${(error as Error).message}`, { file: dir });
  }
}
