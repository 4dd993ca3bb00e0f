/**
 * A small seeded generator (mulberry32) whose whole state is one 32-bit integer, so that a run can save
 * it in a checkpoint and resume the exact same stream. Every random choice in mitosis goes through one.
 */
export class SeededRandom {
  private state: number;
  private spare: number | null = null;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Standard normal (Box–Muller, caching the second value). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T extends { length: number; [i: number]: unknown }>(array: T): T {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }

  /** A seed for a derived, independent stream. */
  fork(): number {
    return Math.floor(this.next() * 4294967296) >>> 0;
  }

  /** The whole state, for checkpoints. */
  snapshot(): { state: number; spare: number | null } {
    return { state: this.state, spare: this.spare };
  }

  static restore(snapshot: { state: number; spare: number | null }): SeededRandom {
    const r = new SeededRandom(0);
    r.state = snapshot.state >>> 0;
    r.spare = snapshot.spare;
    return r;
  }
}
