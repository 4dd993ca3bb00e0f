import { NasError } from '@mitosis/core';

/**
 * The op kinds a hardware profile can price. Layer-level kinds come from network-spec nodes (a conv with its
 * batch norm and activation folded in); `mbconv` and `classifier` are block-level kinds from published
 * block tables (OFA, ProxylessNAS, HW-NAS-Bench); `identity` is a skip that does nothing.
 */
export type OpKind =
  | 'conv2d'
  | 'dwconv2d'
  | 'dense'
  | 'maxpool'
  | 'avgpool'
  | 'gap'
  | 'add'
  | 'concat'
  | 'activation'
  | 'batchnorm'
  | 'identity'
  | 'mbconv'
  | 'convblock'
  | 'classifier';

/** One attribute of a key: integer unless `text`. `omitWhen` drops the attribute from the key at that value. */
interface AttrSpec {
  readonly name: string;
  readonly text?: boolean;
  readonly omitWhen?: number;
}

interface KindSpec {
  /** Rank of `input`: 3 (`HxWxC`) or 1 (`C`). */
  readonly inputRank: 1 | 3;
  /** Rank of `output`, or 0 when the key has no output (elementwise ops keep the input shape). */
  readonly outputRank: 0 | 1 | 3;
  readonly attrs: readonly AttrSpec[];
}

const WINDOW: readonly AttrSpec[] = [{ name: 'kernel' }, { name: 'stride' }];

/** Field order and shape ranks of every kind; this table *is* the key grammar. */
export const OP_KIND_SPECS: Readonly<Record<OpKind, KindSpec>> = {
  conv2d: { inputRank: 3, outputRank: 3, attrs: [...WINDOW, { name: 'groups', omitWhen: 1 }] },
  dwconv2d: { inputRank: 3, outputRank: 3, attrs: WINDOW },
  dense: { inputRank: 1, outputRank: 1, attrs: [] },
  maxpool: { inputRank: 3, outputRank: 3, attrs: WINDOW },
  avgpool: { inputRank: 3, outputRank: 3, attrs: WINDOW },
  gap: { inputRank: 3, outputRank: 1, attrs: [] },
  add: { inputRank: 3, outputRank: 0, attrs: [{ name: 'inputs' }] },
  concat: { inputRank: 3, outputRank: 3, attrs: [{ name: 'inputs' }] },
  activation: { inputRank: 3, outputRank: 0, attrs: [{ name: 'act', text: true }] },
  batchnorm: { inputRank: 3, outputRank: 0, attrs: [] },
  identity: { inputRank: 3, outputRank: 0, attrs: [] },
  mbconv: {
    inputRank: 3,
    outputRank: 3,
    attrs: [
      { name: 'mid' },
      ...WINDOW,
      { name: 'groups', omitWhen: 1 },
      { name: 'skip' },
      { name: 'se' },
      { name: 'hs' },
    ],
  },
  convblock: {
    inputRank: 3,
    outputRank: 3,
    attrs: [{ name: 'mid' }, ...WINDOW, { name: 'groups', omitWhen: 1 }, { name: 'skip' }],
  },
  classifier: { inputRank: 3, outputRank: 1, attrs: [] },
};

export const OP_KINDS = Object.keys(OP_KIND_SPECS) as OpKind[];

/**
 * A priceable op, independent of any profile. Shapes omit the batch dimension: `[H, W, C]` or `[C]`.
 * For `concat` the input is the first input's shape; `inputs` counts them. For `mbconv`: `mid` is the
 * absolute expanded width (= input channels when there is no expansion conv), `skip` the identity residual,
 * `se` squeeze-excite (reduction `makeDivisible(mid // 4, 8)`), `hs` h-swish (else ReLU/ReLU6). `convblock` is
 * HW-NAS-Bench's FBNet block: like `mbconv` but the 1×1 expansion conv is always there (also at `mid = C`) and
 * both 1×1 convs may be grouped. `classifier` is global pooling + dense (ProxylessNAS `Logits`).
 */
export interface OpDescriptor {
  readonly kind: OpKind;
  readonly input: readonly number[];
  /** Empty for kinds without an output field (elementwise). */
  readonly output: readonly number[];
  readonly attrs: Readonly<Record<string, number | string>>;
}

function shapeText(shape: readonly number[]): string {
  return shape.join('x');
}

function keyError(key: string, why: string): NasError {
  return new NasError('E_PROFILE_INVALID', `Malformed op key "${key}": ${why}`, { key });
}

/**
 * The one canonical key of an op, shared by the profiler (which writes tables) and the cost models (which
 * read them): `<kind>-input:HxWxC[-output:HxWxC|C][-<attr>:<value>]…`, attributes in the fixed order of
 * {@link OP_KIND_SPECS}. Example: `mbconv-input:112x112x24-output:56x56x32-mid:144-kernel:3-stride:2-skip:0-se:0-hs:0`.
 */
export function canonicalKey(op: OpDescriptor): string {
  const spec = OP_KIND_SPECS[op.kind];
  const parts = [op.kind, `input:${shapeText(op.input)}`];
  if (spec.outputRank !== 0) parts.push(`output:${shapeText(op.output)}`);
  for (const attr of spec.attrs) {
    const value = op.attrs[attr.name] ?? attr.omitWhen;
    if (value === undefined) throw new Error(`op ${op.kind} lacks attribute ${attr.name}`);
    if (attr.omitWhen !== undefined && value === attr.omitWhen) continue;
    parts.push(`${attr.name}:${value}`);
  }
  return parts.join('-');
}

function parseShape(key: string, field: string, text: string, rank: number): number[] {
  const dims = text.split('x');
  if (dims.length !== rank || dims.some((d) => !/^[1-9]\d*$/.test(d))) {
    throw keyError(key, `${field} "${text}" must be ${rank === 3 ? 'HxWxC' : 'C'} with positive integers`);
  }
  return dims.map(Number);
}

/**
 * Parses a canonical key back into an op; the inverse of {@link canonicalKey}. Throws `E_PROFILE_INVALID`
 * naming the key on an unknown kind, a missing/extra/out-of-order field or a bad number.
 */
export function parseCanonicalKey(key: string): OpDescriptor {
  const [kindText, ...fields] = key.split('-');
  if (kindText === undefined || !(kindText in OP_KIND_SPECS)) {
    throw keyError(key, `unknown op "${kindText ?? ''}" (known: ${OP_KINDS.join(', ')})`);
  }
  const kind = kindText as OpKind;
  const spec = OP_KIND_SPECS[kind];
  const pairs = fields.map((f) => {
    const i = f.indexOf(':');
    if (i <= 0) throw keyError(key, `field "${f}" is not name:value`);
    return [f.slice(0, i), f.slice(i + 1)] as const;
  });
  let at = 0;
  const next = (name: string, optional = false): string | undefined => {
    const pair = pairs[at];
    if (pair?.[0] === name) {
      at += 1;
      return pair[1];
    }
    if (!optional) throw keyError(key, `expected field "${name}" at position ${at + 1}`);
    return undefined;
  };
  const input = parseShape(key, 'input', next('input')!, spec.inputRank);
  const output = spec.outputRank === 0 ? [] : parseShape(key, 'output', next('output')!, spec.outputRank);
  const attrs: Record<string, number | string> = {};
  for (const attr of spec.attrs) {
    const text = next(attr.name, attr.omitWhen !== undefined);
    if (text === undefined) {
      attrs[attr.name] = attr.omitWhen!;
      continue;
    }
    if (attr.text) {
      if (!/^[a-z][a-z0-9_]*$/.test(text)) throw keyError(key, `${attr.name} "${text}" is not a lower-case name`);
      attrs[attr.name] = text;
    } else {
      if (!/^\d+$/.test(text)) throw keyError(key, `${attr.name} "${text}" is not a non-negative integer`);
      attrs[attr.name] = Number(text);
    }
  }
  if (at !== pairs.length) throw keyError(key, `unexpected field "${pairs[at]![0]}" for op ${kind}`);
  const op: OpDescriptor = { kind, input, output, attrs };
  if (canonicalKey(op) !== key) throw keyError(key, `not in canonical form (expected "${canonicalKey(op)}")`);
  return op;
}

/** OFA's `make_divisible`: round `v` to a multiple of `divisor`, never going below 90% of `v`. */
export function makeDivisible(v: number, divisor = 8, minValue = divisor): number {
  let rounded = Math.max(minValue, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (rounded < 0.9 * v) rounded += divisor;
  return rounded;
}
