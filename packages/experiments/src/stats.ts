/** Arithmetic mean; NaN for an empty list. */
export function mean(xs: readonly number[]): number {
  return xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Sample standard deviation (n − 1 in the denominator); NaN for fewer than two values. */
export function sampleStd(xs: readonly number[]): number {
  if (xs.length < 2) return Number.NaN;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

/** ln Γ(x) for x > 0 (Lanczos approximation, g = 7, nine coefficients; |error| < 1e-13 here). */
export function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = c[0] as number;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += (c[i] as number) / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz), for x < (a + 1)/(a + b + 2). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    // Even step: m(b − m)x / ((a + 2m − 1)(a + 2m)).
    let num = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    // Odd step: −(a + m)(a + b + m)x / ((a + 2m)(a + 2m + 1)).
    num = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const step = d * c;
    h *= step;
    if (Math.abs(step - 1) < 1e-15) break;
  }
  return h;
}

/** The regularised incomplete beta function I_x(a, b), 0 ≤ x ≤ 1. */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2)
    ? (front * betaContinuedFraction(a, b, x)) / a
    : 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** P(T ≤ t) for Student's t with `df` degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/**
 * The `p` quantile of Student's t with `df` degrees of freedom (0.5 < p < 1 gives the positive value used for
 * two-sided intervals: p = 0.975 for 95 %). Found by bisection on {@link studentTCdf} to 1e-10.
 */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1) || !(df > 0)) return Number.NaN;
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, df) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-10; i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** A method against the reference on the seeds both finished: differences `method − reference`. */
export interface PairedComparison {
  /** Seeds with a result for both, ascending. */
  readonly seeds: readonly number[];
  readonly differences: readonly number[];
  readonly n: number;
  /** Mean difference; NaN when n = 0. */
  readonly mean: number;
  /** Sample standard deviation of the differences; NaN when n < 2. */
  readonly std: number;
  /** 95 % confidence interval of the mean difference (Student t, n − 1 df); null when n < 2. */
  readonly ci95: readonly [number, number] | null;
  /** Seeds where the method beat the reference. */
  readonly wins: number;
}

/**
 * Pairs two seed → value maps by seed and returns the mean difference with a 95 % Student-t interval:
 * mean ± t(0.975, n − 1) · s / √n. One pair gives the difference without an interval.
 */
export function pairedComparison(method: ReadonlyMap<number, number>, reference: ReadonlyMap<number, number>): PairedComparison {
  const seeds = [...method.keys()].filter((s) => reference.has(s)).sort((a, b) => a - b);
  const differences = seeds.map((s) => (method.get(s) as number) - (reference.get(s) as number));
  const n = differences.length;
  const m = mean(differences);
  const std = sampleStd(differences);
  let ci95: [number, number] | null = null;
  if (n >= 2) {
    const half = (studentTQuantile(0.975, n - 1) * std) / Math.sqrt(n);
    ci95 = [m - half, m + half];
  }
  return { seeds, differences, n, mean: m, std, ci95, wins: differences.filter((d) => d > 0).length };
}

/** A point for {@link paretoFront}: lower cost and higher accuracy are better. */
export interface ParetoPoint {
  readonly cost: number;
  readonly accuracy: number;
}

/**
 * Indices of the points no other point dominates (another point dominates when it costs no more, is at least
 * as accurate, and is strictly better in one of the two), in ascending cost.
 */
export function paretoFront(points: readonly ParetoPoint[]): number[] {
  const front: number[] = [];
  points.forEach((p, i) => {
    const dominated = points.some(
      (q) => q.cost <= p.cost && q.accuracy >= p.accuracy && (q.cost < p.cost || q.accuracy > p.accuracy),
    );
    if (!dominated) front.push(i);
  });
  return front.sort((a, b) => (points[a] as ParetoPoint).cost - (points[b] as ParetoPoint).cost);
}
