import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** A vega-lite specification as plain JSON (data inlined; no URLs). */
export type PlotSpec = Record<string, unknown>;

/** One (method, budget) point of the accuracy-vs-cost plot: means over seeds, spread as mean ± 1 std. */
export interface CostPoint {
  readonly method: string;
  readonly budget: string;
  /** Mean final cost in the study's unit. */
  readonly cost: number;
  /** Mean test accuracy in percent. */
  readonly accuracy: number;
  /** Mean − std and mean + std (equal to the mean for one seed). */
  readonly low: number;
  readonly high: number;
  readonly seeds: number;
  readonly onFront: boolean;
}

/**
 * One point of the accuracy-per-round plot: the mean over seeds of a method's validation accuracy (%) after
 * seed training, a round or final training, placed at the epochs trained so far.
 */
export interface RoundMean {
  readonly method: string;
  /** `seed`, `round 2`, `final`. */
  readonly step: string;
  readonly epochs: number;
  readonly accuracy: number;
  readonly low: number;
  readonly high: number;
}

/** The mean final width of one layer for one method. */
export interface WidthMean {
  readonly method: string;
  readonly layer: string;
  readonly width: number;
}

const WIDTH = 440;
const HEIGHT = 280;

const methodColor = (methods: readonly string[]): Record<string, unknown> => ({
  field: 'method',
  type: 'nominal',
  title: 'method',
  scale: { domain: [...methods], scheme: methods.length > 10 ? 'tableau20' : 'tableau10' },
});

/**
 * Test accuracy against final cost, one colour per method: a point per budget at the mean over seeds, a
 * vertical bar over mean ± 1 std, lines joining a method's budgets, and the Pareto front dashed. Mark names:
 * `spread`, `lines`, `points`, `front`.
 */
export function accuracyVsCostSpec(title: string, unit: string, methods: readonly string[], points: readonly CostPoint[]): PlotSpec {
  const front = points.filter((p) => p.onFront).sort((a, b) => a.cost - b.cost);
  const x = { field: 'cost', type: 'quantitative', title: `final cost (${unit})`, scale: { zero: false }, axis: { format: '~s' } };
  const y = { field: 'accuracy', type: 'quantitative', title: 'test accuracy (%)', scale: { zero: false } };
  return {
    title,
    width: WIDTH,
    height: HEIGHT,
    data: { values: points.map((p) => ({ ...p })) },
    layer: [
      {
        name: 'spread',
        mark: { type: 'rule', strokeWidth: 1.5 },
        encoding: { x, y: { field: 'low', type: 'quantitative' }, y2: { field: 'high' }, color: methodColor(methods) },
      },
      {
        name: 'lines',
        mark: { type: 'line', strokeWidth: 1, opacity: 0.6 },
        encoding: { x, y, color: methodColor(methods), order: { field: 'cost' } },
      },
      {
        name: 'points',
        mark: { type: 'point', filled: true, size: 60 },
        encoding: {
          x,
          y,
          color: methodColor(methods),
          shape: { field: 'method', type: 'nominal', title: 'method', scale: { domain: [...methods] } },
          tooltip: [{ field: 'method' }, { field: 'budget' }, { field: 'cost' }, { field: 'accuracy' }, { field: 'seeds' }],
        },
      },
      {
        name: 'front',
        data: { values: front.map((p) => ({ cost: p.cost, accuracy: p.accuracy })) },
        mark: { type: 'line', strokeDash: [4, 3], color: '#333', strokeWidth: 1 },
        encoding: { x, y, order: { field: 'cost' } },
      },
    ],
  };
}

/**
 * Validation accuracy after seed training and after each round (and final training), mean over seeds ± 1
 * std, against the epochs trained so far, so that methods that train on different schedules (a resizer
 * trains once, a grower per round) line up at equal training.
 */
export function accuracyPerRoundSpec(title: string, methods: readonly string[], rounds: readonly RoundMean[]): PlotSpec {
  const x = { field: 'epochs', type: 'quantitative', title: 'epochs trained (one point per round)', axis: { tickMinStep: 1 } };
  const y = { field: 'accuracy', type: 'quantitative', title: 'validation accuracy (%)', scale: { zero: false } };
  return {
    title,
    width: WIDTH,
    height: HEIGHT,
    data: { values: rounds.map((r) => ({ ...r })) },
    layer: [
      {
        name: 'spread',
        mark: { type: 'rule', strokeWidth: 1.5 },
        encoding: { x, y: { field: 'low', type: 'quantitative' }, y2: { field: 'high' }, color: methodColor(methods) },
      },
      { name: 'lines', mark: { type: 'line' }, encoding: { x, y, color: methodColor(methods) } },
      {
        name: 'points',
        mark: { type: 'point', filled: true, size: 40 },
        encoding: { x, y, color: methodColor(methods), tooltip: [{ field: 'method' }, { field: 'step' }, { field: 'accuracy' }] },
      },
    ],
  };
}

/** Final width of every layer, one bar per method side by side (mean over seeds). Mark name: `bars`. */
export function widthsSpec(title: string, methods: readonly string[], layers: readonly string[], widths: readonly WidthMean[]): PlotSpec {
  return {
    title,
    width: WIDTH,
    height: HEIGHT,
    data: { values: widths.map((w) => ({ ...w })) },
    layer: [
      {
        name: 'bars',
        mark: { type: 'bar' },
        encoding: {
          x: { field: 'layer', type: 'nominal', title: 'layer', sort: [...layers], axis: { labelAngle: 0 } },
          xOffset: { field: 'method', type: 'nominal', scale: { domain: [...methods] } },
          y: { field: 'width', type: 'quantitative', title: 'width (channels / units)' },
          color: methodColor(methods),
        },
      },
    ],
  };
}

/**
 * Compiles a vega-lite spec with vega-lite and renders it with vega's headless view (`renderer: 'none'`) to
 * an SVG document: no browser, no canvas, no network (data are inline).
 */
export async function renderSvg(spec: PlotSpec): Promise<string> {
  // Legends show whole method labels (ablation arms are long).
  const withConfig = { ...spec, config: { legend: { labelLimit: 320 } } };
  const vg = compile(withConfig as unknown as TopLevelSpec).spec;
  // logLevel 1: errors only (vega-util's Error level).
  const view = new View(parse(vg), { renderer: 'none', logLevel: 1 });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
