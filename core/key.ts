/**
 * Counter keys from `by`. A key is the value of `by`; for several parts, their values joined
 * by `|` in the order `by` lists them (rules.md, "Alerts"). A record that lacks a part does
 * not contribute. `group` may hold several groups, so a record can feed several keys of one
 * counter: extractors write into a caller-owned array to keep the hot path allocation-free.
 * They write by index and never truncate it: `out.length = 0` would free the array's storage,
 * and the next push would allocate it again, once per keyer per record.
 */
import type { KeyPart } from './rules-config.js';
import type { UsageRecord } from './usage-record.js';
import { fieldGetter, fieldType } from './fields.js';

/** Writes the record's keys to out[0], out[1], … and returns how many (0: no contribution); what lies beyond is stale. */
export type KeyExtractor = (record: UsageRecord, out: string[]) => number;

type PartValue = (record: UsageRecord) => string | undefined;

function scalarText (v: unknown): string | undefined {
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function partValue (part: KeyPart): PartValue {
  const get = fieldGetter(part.field);
  switch (part.kind) {
    case 'field': return (r) => scalarText(get(r));
    case 'prefix': {
      const n = part.n;
      return (r) => scalarText(get(r))?.slice(0, n);
    }
    case 'trim': {
      const n = part.n;
      return (r) => {
        const s = scalarText(get(r));
        return s === undefined || s.length <= n ? undefined : s.slice(0, s.length - n);
      };
    }
  }
}

export function describeKeyPart (part: KeyPart): string {
  return part.kind === 'field' ? part.field : `${part.kind}(${part.field}, ${part.n})`;
}

export function compileKey (by: readonly KeyPart[]): KeyExtractor {
  const groupAt = by.findIndex((p) => fieldType(p.field) === 'strings');
  if (groupAt >= 0) return multiKey(by, groupAt);
  if (by.length === 1) {
    const one = partValue(by[0] as KeyPart);
    return (r, out) => {
      const k = one(r);
      if (k === undefined) return 0;
      out[0] = k;
      return 1;
    };
  }
  const parts = by.map(partValue);
  return (r, out) => {
    let key = '';
    for (let i = 0; i < parts.length; i++) {
      const v = (parts[i] as PartValue)(r);
      if (v === undefined) return 0;
      key = i === 0 ? v : `${key}|${v}`;
    }
    out[0] = key;
    return 1;
  };
}

/** `by` naming `group`: one key per group of the account, the other parts fixed. */
function multiKey (by: readonly KeyPart[], groupAt: number): KeyExtractor {
  const part = by[groupAt] as KeyPart;
  const groups = fieldGetter(part.field);
  const shape = (g: string): string | undefined => {
    if (part.kind === 'prefix') return g.slice(0, part.n);
    if (part.kind === 'trim') return g.length <= part.n ? undefined : g.slice(0, g.length - part.n);
    return g;
  };
  const others = by.map((p, i) => i === groupAt ? undefined : partValue(p));
  return (r, out) => {
    const values = groups(r) as readonly string[];
    let n = 0;
    for (const g of values) {
      let key = '';
      let ok = true;
      for (let i = 0; i < others.length; i++) {
        const v = i === groupAt ? shape(g) : (others[i] as PartValue)(r);
        if (v === undefined) { ok = false; break; }
        key = i === 0 ? v : `${key}|${v}`;
      }
      if (ok) out[n++] = key;
    }
    return n;
  };
}

/**
 * The longest counter key a record may give, in UTF-8 bytes. Keys are parts of LMDB keys (the
 * counter rows, the blocklist, the alert history), which take at most 1978 bytes: a longer
 * one failed every commit of the shard actor that got it, until the engine stopped.
 */
export const MAX_KEY_BYTES = 1024;

function utf8Length (s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // A surrogate pair is 4 bytes for 2 units; 0x800 and up 3 for 1; 0x80 and up 2 for 1.
    if (c >= 0xd800 && c <= 0xdfff) n += 1;
    else if (c >= 0x800) n += 2;
    else if (c >= 0x80) n += 1;
  }
  return n;
}

/**
 * Whether `key` can be a counter key (MAX_KEY_BYTES at most): one that cannot was never
 * stored, so a lookup of it (the blocklist, the alert history) answers "none" without asking
 * LMDB, which throws on a key over its limit.
 */
export function fitsKey (key: string): boolean {
  return key.length * 3 <= MAX_KEY_BYTES || utf8Length(key) <= MAX_KEY_BYTES;
}
