/** Outcome of reading target rows as one-hot labels ({@link readOneHot}). */
export type OneHotResult =
  | { readonly kind: 'indices'; readonly indices: Float32Array }
  /** A row that is not one-hot: its index, and the index of the offending value within it when there is one. */
  | { readonly kind: 'bad-row'; readonly row: number; readonly column?: number; readonly problem: string };

/**
 * True when every value is 0 or 1 and the rows are wide enough to be one-hot labels (width ≥ 2): such targets are
 * read as classes unless the data says `task: regression`.
 */
export function looksOneHot(values: ArrayLike<number>, width: number): boolean {
  if (width < 2) return false;
  for (let k = 0; k < values.length; k++) {
    const v = values[k];
    if (v !== 0 && v !== 1) return false;
  }
  return true;
}

/**
 * Reads `values.length / width` rows of `width` as one-hot labels: each row must hold exactly one 1 and 0 elsewhere
 * (so it sums to 1). Returns the class index of every row, or the first row that is not one-hot.
 */
export function readOneHot(values: ArrayLike<number>, width: number): OneHotResult {
  const rows = Math.floor(values.length / width);
  const indices = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let hot = -1;
    let ones = 0;
    for (let c = 0; c < width; c++) {
      const v = values[r * width + c] as number;
      if (v === 1) {
        ones++;
        hot = c;
      } else if (v !== 0) {
        return { kind: 'bad-row', row: r, column: c, problem: `must be a one-hot row (0s and one 1), has ${v} at column ${c}` };
      }
    }
    if (ones !== 1) {
      return { kind: 'bad-row', row: r, problem: `must be a one-hot row with exactly one 1, has ${ones}` };
    }
    indices[r] = hot;
  }
  return { kind: 'indices', indices };
}
