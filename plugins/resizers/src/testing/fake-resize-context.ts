import { NasError, SeededRandom, type CostUnit, type ResizeContext } from '@mitosis/core';

/**
 * Hand-written fakes for resizer tests: a resize context over named layers whose `price` is a function the test
 * gives (no network, no cost model), and which records every width assignment it was asked to price.
 */

/** One fake layer of the reference network. */
export interface FakeResizeLayer {
  readonly node: string;
  readonly width: number;
  /** Fewest channels allowed; default 1. */
  readonly min?: number;
  /** Most channels allowed; default none. */
  readonly cap?: number | null;
}

/** A price function over full width assignments (every layer named). */
export type FakePrice = (widths: readonly number[]) => number | null;

/**
 * A resize context over `layers` and a record of `price` calls. `price` receives the widths in layer order, the
 * layers the call does not name keeping their reference width (as the loop's pricing does).
 */
export function fakeResizeContext(
  layers: readonly FakeResizeLayer[],
  price: FakePrice,
  target: number | null,
  costUnit: CostUnit = 'macs',
): { context: ResizeContext; priced: number[][] } {
  const priced: number[][] = [];
  const seeded = new SeededRandom(1);
  const context: ResizeContext = {
    spec: { format: 'mitosis-network', version: 1, nodes: [], output: 'logits' },
    layers: layers.map((l, i) => ({
      node: l.node,
      producers: [l.node],
      channelGroup: i,
      width: l.width,
      cap: l.cap ?? null,
      min: l.min ?? 1,
      group: 'all',
      marginalCost: null,
      pruneCost: null,
      splittable: true,
    })),
    costModel: {
      id: 'fake-cost',
      unit: costUnit,
      estimate: () => {
        throw new NasError('E_RUN_FAILED', 'The fake resize context prices through price(), not CostModel.estimate');
      },
    },
    costUnit,
    target,
    price: (widths) => {
      const w = layers.map((l) => widths[l.node] ?? l.width);
      priced.push(w);
      return price(w);
    },
    random: () => seeded.next(),
  };
  return { context, priced };
}

/**
 * MACs of a chain of dense layers over the given widths, `inputs` → w₀ → w₁ → … → `outputs`: quadratic in the
 * widths, as a real MAC count is.
 */
export function chainMacs(inputs: number, outputs: number): FakePrice {
  return (widths) => {
    let macs = 0;
    let previous = inputs;
    for (const w of widths) {
      macs += previous * w;
      previous = w;
    }
    return macs + previous * outputs;
  };
}
