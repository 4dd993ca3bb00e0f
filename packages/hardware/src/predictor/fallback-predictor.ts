import { createRequire } from 'node:module';
import type * as MathJs from 'mathjs';
import type { MathNode, EvalFunction } from 'mathjs';
import { NasError } from '@mitosis/core';
import { FEATURE_NAMES, type OpFeatures } from '../ops/op-features.js';

/** Functions a fallback expression may call. */
export const ALLOWED_FUNCTIONS = ['sqrt', 'log', 'exp', 'abs', 'max', 'min', 'pow', 'ceil', 'floor'] as const;

/** A fitted (or hand-set) fallback: a mathjs expression over op features and named coefficients. */
export interface FallbackSpec {
  /** e.g. `c0 + c1 * macs + c2 * (inBytes + outBytes)`; every free symbol is a feature or a coefficient. */
  readonly expression: string;
  /** Coefficient values by name (units: the profile's latency unit per unit of the feature they multiply). */
  readonly coefficients: Readonly<Record<string, number>>;
}

/** A parsed, symbol-checked expression ready to evaluate. */
export interface CompiledFallback {
  readonly expression: string;
  /** Coefficient symbols, in first-use order. */
  readonly coefficientNames: readonly string[];
  /** `features` may carry the `extraFeatures` given at compile time (e.g. `latencyMs`). */
  evaluate(features: OpFeatures | Readonly<Record<string, number>>, coefficients: Readonly<Record<string, number>>): number;
}

let mathjsModule: typeof MathJs | undefined;

/**
 * mathjs, loaded on first use (synchronously, through its CommonJS build): importing it takes ≈ 0.8 s, which every
 * CLI command paid at start-up while only profiles with fallback expressions need it.
 */
function mathjs(): typeof MathJs {
  return (mathjsModule ??= createRequire(import.meta.url)('mathjs') as typeof MathJs);
}

const FEATURES = new Set<string>(FEATURE_NAMES);
const FUNCTIONS = new Set<string>(ALLOWED_FUNCTIONS);

/** Bounds on a fallback expression, checked before (length, nesting) and after (nodes, depth) parsing. */
export const EXPRESSION_LIMITS = { maxLength: 2000, maxNesting: 32, maxNodes: 400, maxDepth: 64 } as const;

/** How many arguments each allowed function takes: [min, max]. */
const ARITY: Readonly<Record<(typeof ALLOWED_FUNCTIONS)[number], readonly [number, number]>> = {
  sqrt: [1, 1],
  log: [1, 2],
  exp: [1, 1],
  abs: [1, 1],
  max: [1, 16],
  min: [1, 16],
  pow: [2, 2],
  ceil: [1, 1],
  floor: [1, 1],
};

/** Words of the mathjs grammar that a name may not be. */
const MATHJS_KEYWORDS = new Set(['end', 'mod', 'to', 'in', 'and', 'or', 'xor', 'not', 'true', 'false', 'null', 'undefined', 'Infinity', 'NaN']);

/**
 * Why `name` cannot be a coefficient, or null when it can: a coefficient is an identifier (`^[A-Za-z][A-Za-z0-9_]*$`)
 * that does not shadow a feature, an allowed function, a mathjs function, constant or keyword, or a member of
 * `Object.prototype` (`constructor`, `__proto__`, `toString`, …).
 */
export function coefficientNameProblem(name: string, extraFeatures: readonly string[] = []): string | null {
  if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(name)) return 'must be an identifier (a letter, then letters, digits or _)';
  if (FEATURES.has(name) || extraFeatures.includes(name)) return `is the name of a feature`;
  if (FUNCTIONS.has(name)) return `shadows the function ${name}()`;
  if (MATHJS_KEYWORDS.has(name)) return `is a mathjs keyword`;
  if (Object.prototype.hasOwnProperty.call(Object.prototype, name) || name === '__proto__') return `is a member of Object.prototype`;
  if (name in mathjs()) return `shadows the mathjs name "${name}"`;
  return null;
}

/** Maximum nesting of brackets in `text` (checked before parsing, which recurses on them). */
function bracketNesting(text: string): number {
  let depth = 0;
  let max = 0;
  for (const ch of text) {
    if (ch === '(' || ch === '[' || ch === '{') max = Math.max(max, ++depth);
    else if (ch === ')' || ch === ']' || ch === '}') depth -= 1;
  }
  return max;
}

/** Node count and depth of a parsed expression, walked without recursion. */
function treeSize(root: MathNode): { nodes: number; depth: number } {
  const stack: [MathNode, number][] = [[root, 1]];
  let nodes = 0;
  let depth = 0;
  while (stack.length > 0) {
    const [node, d] = stack.pop()!;
    nodes += 1;
    depth = Math.max(depth, d);
    if (nodes > EXPRESSION_LIMITS.maxNodes || depth > EXPRESSION_LIMITS.maxDepth) break;
    node.forEach((child) => stack.push([child, d + 1]));
  }
  return { nodes, depth };
}

/**
 * Parses `expression` with mathjs and checks its symbols: features ({@link FEATURE_NAMES}), functions
 * ({@link ALLOWED_FUNCTIONS}) and coefficients (`allowedCoefficients`, or any identifier matching `^[a-z]\w*$`
 * that is not a feature when omitted). Assignments, function definitions, strings and matrices are
 * rejected. Errors are `E_PROFILE_INVALID` with `pointer` in details.
 */
export function compileFallback(
  expression: string,
  pointer: string,
  allowedCoefficients?: ReadonlySet<string>,
  extraFeatures: readonly string[] = [],
  source?: string,
): CompiledFallback {
  const where = source === undefined ? {} : { file: source };
  const fail = (why: string): NasError =>
    new NasError('E_PROFILE_INVALID', `Fallback expression at ${pointer}${source === undefined ? '' : ` of ${source}`} ${why}: "${expression.length > 200 ? `${expression.slice(0, 200)}…` : expression}"`, {
      ...where,
      pointer,
      expression: expression.slice(0, 200),
    });
  if (typeof expression !== 'string') throw fail('is not a string');
  if (expression.length > EXPRESSION_LIMITS.maxLength) throw fail(`is ${expression.length} characters long, more than ${EXPRESSION_LIMITS.maxLength}`);
  if (bracketNesting(expression) > EXPRESSION_LIMITS.maxNesting) throw fail(`nests brackets deeper than ${EXPRESSION_LIMITS.maxNesting}`);
  let root: MathNode;
  try {
    root = mathjs().parse(expression);
  } catch (cause) {
    throw fail(`does not parse (${(cause as Error).message})`);
  }
  const size = treeSize(root);
  if (size.nodes > EXPRESSION_LIMITS.maxNodes) throw fail(`has more than ${EXPRESSION_LIMITS.maxNodes} terms`);
  if (size.depth > EXPRESSION_LIMITS.maxDepth) throw fail(`nests deeper than ${EXPRESSION_LIMITS.maxDepth} operations`);
  for (const name of allowedCoefficients ?? []) {
    const problem = coefficientNameProblem(name, extraFeatures);
    if (problem !== null) throw fail(`has a coefficient named "${name}", which ${problem}`);
  }
  const coefficientNames: string[] = [];
  const allowedNodeTypes = new Set([
    'OperatorNode',
    'ParenthesisNode',
    'ConstantNode',
    'SymbolNode',
    'FunctionNode',
  ]);
  root.traverse((node, path, parent) => {
    if (!allowedNodeTypes.has(node.type)) throw fail(`uses a ${node.type}, which is not allowed`);
    if (node.type === 'ConstantNode' && typeof (node as unknown as { value: unknown }).value !== 'number') {
      throw fail('uses a non-numeric constant');
    }
    if (node.type === 'FunctionNode') {
      const fn = (node as unknown as { fn: MathNode }).fn;
      if (fn.type !== 'SymbolNode') throw fail('calls something that is not a named function');
      const name = (fn as unknown as { name: string }).name;
      const arity = ARITY[name as keyof typeof ARITY] as readonly [number, number] | undefined;
      const args = (node as unknown as { args: MathNode[] }).args.length;
      if (arity !== undefined && (args < arity[0] || args > arity[1])) {
        throw fail(`calls ${name}() with ${args} argument(s) (it takes ${arity[0] === arity[1] ? arity[0] : `${arity[0]} to ${arity[1]}`})`);
      }
    }
    if (node.type !== 'SymbolNode') return;
    const name = (node as unknown as { name: string }).name;
    if (parent?.type === 'FunctionNode' && path === 'fn') {
      if (!FUNCTIONS.has(name)) throw fail(`calls unknown function "${name}" (allowed: ${ALLOWED_FUNCTIONS.join(', ')})`);
      return;
    }
    if (FEATURES.has(name) || extraFeatures.includes(name)) return;
    const isCoefficient = allowedCoefficients ? allowedCoefficients.has(name) : /^[a-z]\w*$/.test(name);
    if (!isCoefficient || coefficientNameProblem(name, extraFeatures) !== null) {
      throw fail(
        `uses unknown symbol "${name}" (features: ${[...FEATURE_NAMES, ...extraFeatures].join(', ')}` +
          (allowedCoefficients ? `; coefficients: ${[...allowedCoefficients].join(', ') || 'none'})` : ')'),
      );
    }
    if (!coefficientNames.includes(name)) coefficientNames.push(name);
  });
  const code: EvalFunction = root.compile();
  const symbols = new Set([...FEATURE_NAMES, ...extraFeatures, ...coefficientNames]);
  return {
    expression,
    coefficientNames,
    evaluate(features, coefficients) {
      // A Map scope holding only the expression's symbols: nothing reaches Object.prototype or mathjs' own names.
      const scope = new Map<string, number>();
      for (const name of symbols) {
        const v = Object.prototype.hasOwnProperty.call(coefficients, name)
          ? (coefficients as Record<string, number>)[name]
          : Object.prototype.hasOwnProperty.call(features, name)
            ? (features as Record<string, number>)[name]
            : undefined;
        if (typeof v === 'number') scope.set(name, v);
      }
      let value: unknown;
      try {
        value = code.evaluate(scope);
      } catch (cause) {
        throw new NasError('E_PROFILE_INVALID', `Fallback expression at ${pointer}${source === undefined ? '' : ` of ${source}`} cannot be evaluated: ${(cause as Error).message}`, {
          ...where,
          pointer,
          expression: expression.slice(0, 200),
        }, { cause });
      }
      return typeof value === 'number' ? value : Number.NaN;
    },
  };
}

/** One observation for fitting: features and the observed mean (profile units). */
export interface FitSample {
  readonly features: OpFeatures;
  readonly value: number;
}

/** Quality of a fit on its own samples. */
export interface FitQuality {
  /** Samples used. */
  readonly samples: number;
  /** Root-mean-square relative error, (pred − y)/y. */
  readonly rmsRelativeError: number;
  /** Median absolute percentage error, %. */
  readonly medianAbsPctError: number;
}

export interface FitResult extends FallbackSpec {
  readonly quality: FitQuality;
}

/** Solves the least-squares problem min ‖A x − b‖₂ by Householder QR (A is m×n, m ≥ n, column-major copy). */
export function leastSquares(a: readonly (readonly number[])[], b: readonly number[]): number[] {
  const m = a.length;
  const n = a[0]?.length ?? 0;
  // Scale columns to unit norm so that MACs (1e8) and an intercept (1) are equally conditioned.
  const scale = Array.from({ length: n }, (_, j) => Math.hypot(...a.map((row) => row[j]!)) || 1);
  const r = a.map((row) => row.map((v, j) => v / scale[j]!));
  const y = [...b];
  for (let k = 0; k < n; k++) {
    let norm = 0;
    for (let i = k; i < m; i++) norm += r[i]![k]! ** 2;
    norm = Math.sqrt(norm);
    if (norm === 0) continue;
    const alpha = r[k]![k]! > 0 ? -norm : norm;
    const v = new Array<number>(m).fill(0);
    for (let i = k; i < m; i++) v[i] = r[i]![k]!;
    v[k] = v[k]! - alpha;
    const vv = v.reduce((s, x) => s + x * x, 0);
    if (vv === 0) continue;
    for (let j = k; j < n; j++) {
      let dot = 0;
      for (let i = k; i < m; i++) dot += v[i]! * r[i]![j]!;
      const f = (2 * dot) / vv;
      for (let i = k; i < m; i++) r[i]![j] = r[i]![j]! - f * v[i]!;
    }
    let dot = 0;
    for (let i = k; i < m; i++) dot += v[i]! * y[i]!;
    const f = (2 * dot) / vv;
    for (let i = k; i < m; i++) y[i] = y[i]! - f * v[i]!;
  }
  const x = new Array<number>(n).fill(0);
  const tiny = 1e-12 * Math.max(...Array.from({ length: n }, (_, j) => Math.abs(r[j]?.[j] ?? 0)), 1e-300);
  for (let j = n - 1; j >= 0; j--) {
    const diag = r[j]![j]!;
    if (Math.abs(diag) <= tiny) continue; // rank-deficient column: leave its coefficient at 0
    let s = y[j]!;
    for (let c = j + 1; c < n; c++) s -= r[j]![c]! * x[c]!;
    x[j] = s / diag;
  }
  return x.map((v, j) => v / scale[j]!);
}

/**
 * Least squares with every coefficient ≥ 0, by active-set elimination: solve on the free columns, pin the most
 * negative coefficient to 0, repeat. Latency terms (an overhead, time per MAC, per byte) are physically
 * non-negative; an unconstrained fit can trade a negative intercept against a steep slope, which predicts
 * zero or negative latency for small layers outside the table (seen on note10-cpu for MNIST-sized convs).
 */
export function nonNegativeLeastSquares(a: readonly (readonly number[])[], b: readonly number[]): number[] {
  const n = a[0]?.length ?? 0;
  let free = Array.from({ length: n }, (_, j) => j);
  for (;;) {
    const x = new Array<number>(n).fill(0);
    if (free.length === 0) return x;
    const solved = leastSquares(
      a.map((row) => free.map((j) => row[j]!)),
      b,
    );
    free.forEach((j, k) => (x[j] = solved[k]!));
    let worst = -1;
    for (const j of free) if (x[j]! < 0 && (worst < 0 || x[j]! < x[worst]!)) worst = j;
    if (worst < 0) return x;
    free = free.filter((j) => j !== worst);
  }
}

function median(values: readonly number[]): number {
  const s = [...values].sort((p, q) => p - q);
  if (s.length === 0) return Number.NaN;
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Fits the coefficients of a fallback expression that is linear in its coefficients, by non-negative least
 * squares on relative error (each residual divided by its observation) so that 0.01 ms and 10 ms ops weigh
 * alike.
 * Throws `E_PROFILE_INVALID` when the expression is not linear in its coefficients or there are fewer
 * samples than coefficients.
 */
export function fitFallback(expression: string, samples: readonly FitSample[], pointer = '/fallback'): FitResult {
  const compiled = compileFallback(expression, pointer);
  const names = compiled.coefficientNames;
  const usable = samples.filter((s) => s.value > 0 && Number.isFinite(s.value));
  if (usable.length < names.length) {
    throw new NasError(
      'E_PROFILE_INVALID',
      `Cannot fit ${names.length} coefficients of "${expression}" to ${usable.length} positive samples`,
      { pointer, expression, samples: usable.length },
    );
  }
  const zero = Object.fromEntries(names.map((n) => [n, 0]));
  const columnsOf = (f: OpFeatures): { base: number; cols: number[] } => {
    const base = compiled.evaluate(f, zero);
    return { base, cols: names.map((n) => compiled.evaluate(f, { ...zero, [n]: 1 }) - base) };
  };
  const rows = usable.map((s) => ({ ...columnsOf(s.features), y: s.value }));
  // Linearity probe: f(c) must equal f(0) + Σ c_j col_j for an arbitrary c.
  const probe = Object.fromEntries(names.map((n, j) => [n, 0.37 + 1.3 * j]));
  for (const [i, s] of usable.slice(0, 5).entries()) {
    const row = rows[i]!;
    const linear = row.base + row.cols.reduce((acc, c, j) => acc + c * probe[names[j]!]!, 0);
    const actual = compiled.evaluate(s.features, probe);
    if (!(Math.abs(linear - actual) <= 1e-9 * Math.max(1, Math.abs(actual)))) {
      throw new NasError(
        'E_PROFILE_INVALID',
        `Fallback expression "${expression}" must be linear in its coefficients (${names.join(', ')}) to be fitted`,
        { pointer, expression },
      );
    }
  }
  const a = rows.map((r) => r.cols.map((c) => c / r.y));
  const b = rows.map((r) => (r.y - r.base) / r.y);
  const x = nonNegativeLeastSquares(a, b);
  const coefficients = Object.fromEntries(names.map((n, j) => [n, x[j]!]));
  const rel = usable.map((s) => (compiled.evaluate(s.features, coefficients) - s.value) / s.value);
  return {
    expression,
    coefficients,
    quality: {
      samples: usable.length,
      rmsRelativeError: Math.sqrt(rel.reduce((acc, e) => acc + e * e, 0) / rel.length),
      medianAbsPctError: 100 * median(rel.map(Math.abs)),
    },
  };
}

/** Expressions by op kind sharing one set of coefficient names (an estimated profile's fallback). */
export interface SharedFallbackForm {
  /** Expression for ops without a `byOp` entry. */
  readonly expression: string;
  readonly byOp?: Readonly<Record<string, string>>;
}

/** A whole network for {@link fitToNetworks}: its ops (kind + features) and its observed total. */
export interface NetworkSample {
  readonly name: string;
  readonly ops: readonly { readonly kind: string; readonly features: OpFeatures }[];
  readonly value: number;
}

/**
 * Fits shared coefficients so that the *sum* of per-op predictions matches whole-network observations
 * (relative least squares), for devices with model-level numbers only (no per-op table). Every expression must
 * be linear in the coefficients. Returns the coefficients and the per-network fit.
 */
export function fitToNetworks(
  form: SharedFallbackForm,
  networks: readonly NetworkSample[],
): { coefficients: Record<string, number>; fitted: { name: string; observed: number; predicted: number }[] } {
  const compiledDefault = compileFallback(form.expression, '/fallback/expression');
  const compiledByOp = new Map(
    Object.entries(form.byOp ?? {}).map(([k, e]) => [k, compileFallback(e, `/fallback/byOp/${k}/expression`)]),
  );
  const names = [...new Set([compiledDefault, ...compiledByOp.values()].flatMap((c) => c.coefficientNames))];
  const zero = Object.fromEntries(names.map((n) => [n, 0]));
  const rows = networks.map((net) => {
    const cols = names.map(() => 0);
    let base = 0;
    for (const op of net.ops) {
      const c = compiledByOp.get(op.kind) ?? compiledDefault;
      const b = c.evaluate(op.features, zero);
      base += b;
      names.forEach((n, j) => (cols[j] = cols[j]! + c.evaluate(op.features, { ...zero, [n]: 1 }) - b));
    }
    return { cols, base, y: net.value };
  });
  const x = leastSquares(
    rows.map((r) => r.cols.map((c) => c / r.y)),
    rows.map((r) => (r.y - r.base) / r.y),
  );
  const coefficients = Object.fromEntries(names.map((n, j) => [n, x[j]!]));
  const fitted = rows.map((r, i) => ({
    name: networks[i]!.name,
    observed: r.y,
    predicted: r.base + r.cols.reduce((s, c, j) => s + c * x[j]!, 0),
  }));
  return { coefficients, fitted };
}
