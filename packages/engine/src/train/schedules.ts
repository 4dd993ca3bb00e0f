/** A learning-rate schedule over optimizer steps. Epoch-valued fields may be fractional. */
export type ScheduleConfig =
  | { readonly kind: 'constant'; readonly warmupEpochs?: number }
  | {
      readonly kind: 'step';
      /** Epochs at which the rate is multiplied by `gamma`. */
      readonly milestones: readonly number[];
      readonly gamma: number;
      readonly warmupEpochs?: number;
    }
  | {
      readonly kind: 'cosine';
      /** Final rate (default 0). */
      readonly minLr?: number;
      readonly warmupEpochs?: number;
    };

/**
 * The learning rate of global step `step` (0-based) for a run of `totalEpochs` × `stepsPerEpoch` steps.
 * - linear warm-up: for the first `warmupEpochs·stepsPerEpoch` steps, lr = base·(step + 1)/warmupSteps;
 * - constant: base;
 * - step: base·gamma^(number of milestones ≤ current epoch), the epoch being `step / stepsPerEpoch`;
 * - cosine: minLr + (base − minLr)·½(1 + cos(π·u)), u ∈ [0, 1] the progress after warm-up (SGDR, Loshchilov &
 *   Hutter 2017, without restarts).
 */
export function learningRateAt(
  schedule: ScheduleConfig,
  baseLr: number,
  step: number,
  stepsPerEpoch: number,
  totalEpochs: number,
): number {
  const warmupSteps = Math.round((schedule.warmupEpochs ?? 0) * stepsPerEpoch);
  if (step < warmupSteps) return (baseLr * (step + 1)) / warmupSteps;
  switch (schedule.kind) {
    case 'constant':
      return baseLr;
    case 'step': {
      const epoch = step / stepsPerEpoch;
      const passed = schedule.milestones.filter((m) => m <= epoch + 1e-9).length;
      return baseLr * schedule.gamma ** passed;
    }
    case 'cosine': {
      const minLr = schedule.minLr ?? 0;
      const total = Math.max(1, totalEpochs * stepsPerEpoch - warmupSteps);
      const u = Math.min(1, (step - warmupSteps) / total);
      return minLr + (baseLr - minLr) * 0.5 * (1 + Math.cos(Math.PI * u));
    }
  }
}
