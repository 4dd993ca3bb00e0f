import { useBackend } from '@mitosis/engine';

/** Test helper: selects the float32 `cpu` backend (every kernel, deterministic). */
export async function useCpuBackend(): Promise<void> {
  await useBackend('cpu');
}
