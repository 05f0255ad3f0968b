/**
 * What a rule counts: `by` (the key), `measure` and `window`. These are small expression
 * languages inside YAML strings (`prefix(called, 6)`, `ratio(duration < 6)`), checked here
 * down to the field names, with the message pointing at the string.
 */
import type { CalendarUnit, CompareOp, KeyPart, Measure, WindowSpec } from './rules-config.js';
import { CALENDAR_UNITS } from './rules-config.js';
import { isMap, isScalar, isSeq } from 'yaml';
import { didYouMean } from './did-you-mean.js';
import type { Reader } from './rules-yaml.js';
import { got, orList } from './rules-yaml.js';
import {
  NUMERIC_FIELDS_TEXT, isField, isNumericField, splitComparison, typeLiteral, unknownFieldHint,
} from './rules-fields.js';
import { DURATION_TEXT, parseDuration } from './rules-text.js';
import { describeKeyPart } from './key.js';

const KEY_PART = /^(prefix|trim)\s*\(\s*([^,\s()]+)\s*,\s*(\d+)\s*\)$/;

/** One part of `by`; `joined` is its text when it was rebuilt from two flow-list items. */
function parseKeyPart (node: unknown, path: string, r: Reader, joined?: string): KeyPart | undefined {
  const expect = 'a field, prefix(FIELD, N) or trim(FIELD, N)';
  const text = joined ?? r.text(node, path, expect);
  if (text === undefined) return undefined;
  const shown = joined === undefined ? got(node) : JSON.stringify(joined);
  const m = KEY_PART.exec(text);
  const field = m === null ? text : m[2] as string;
  if (m === null && !/^[\w.-]+$/.test(text)) {
    r.d.at(node, `${path} must be ${expect}, got ${shown}`);
    return undefined;
  }
  if (!isField(field)) {
    r.d.at(node, `unknown field "${field}" in ${path}${unknownFieldHint(field)}`);
    return undefined;
  }
  if (m === null) return { kind: 'field', field };
  const n = Number(m[3]);
  if (n < 1) {
    r.d.at(node, `${path} must be ${m[1] as string}(FIELD, N) with N >= 1, got ${shown}`);
    return undefined;
  }
  return { kind: m[1] as 'prefix' | 'trim', field, n };
}

/** `by`: one key part or a list of them; default `account` (applied by the caller). */
export function parseBy (node: unknown, path: string, r: Reader): KeyPart[] | undefined {
  if (!isSeq(node)) {
    const part = parseKeyPart(node, path, r);
    return part === undefined ? undefined : [part];
  }
  if (node.items.length === 0) {
    r.d.at(node, `${path} must be a field or a non-empty list of fields, got []`);
    return undefined;
  }
  const parts: (KeyPart | undefined)[] = [];
  /** the node each part was read from, for a message at it */
  const from: unknown[] = [];
  const items = node.items;
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const text = isScalar(item) && typeof item.value === 'string' ? item.value : undefined;
    const next = items[i + 1];
    // `[caller, prefix(called, 6)]`: a flow list splits at the comma inside the parentheses,
    // leaving "prefix(called" and "6)". Join them back, as the analyst meant.
    if (text !== undefined && /^(?:prefix|trim)\s*\([^)]*$/.test(text) && isScalar(next) && /^[^(]*\)$/.test(String(next.value))) {
      parts.push(parseKeyPart(item, `${path}[${parts.length}]`, r, `${text}, ${String(next.value)}`));
      i++;
    } else {
      parts.push(parseKeyPart(item, `${path}[${parts.length}]`, r));
    }
    from.push(item);
  }
  if (parts.some((p) => p === undefined)) return undefined;
  // A part given twice keys every record the same as once: a slip for another field.
  const seen = new Map<string, number>();
  let repeated = false;
  for (const [i, p] of (parts as KeyPart[]).entries()) {
    const text = describeKeyPart(p);
    const first = seen.get(text);
    if (first !== undefined) {
      r.d.at(from[i], `${path} names ${text} twice (${path}[${first}] and ${path}[${i}]): each part of a key must differ`);
      repeated = true;
    } else {
      seen.set(text, i);
    }
  }
  return repeated ? undefined : parts as KeyPart[];
}

const MEASURES = ['count', 'sum', 'avg', 'max', 'distinct', 'concurrent', 'ratio', 'new', 'risk'] as const;
const MEASURE_TEXT = 'count, sum(FIELD), avg(FIELD), max(FIELD), distinct(FIELD), concurrent, ratio(FIELD OP VALUE), new(FIELD) or risk';
const MEASURE = /^([A-Za-z_]\w*)\s*(?:\(\s*(.*?)\s*\))?$/;
const RATIO_TEXT = 'ratio(FIELD OP VALUE) with OP one of <, <=, >, >=, ==, != such as ratio(duration < 6)';
const ORDERING: readonly CompareOp[] = ['<', '<=', '>', '>='];

export function parseMeasure (node: unknown, path: string, r: Reader, groups: ReadonlyMap<string, unknown>): Measure | undefined {
  const text = r.text(node, path, MEASURE_TEXT);
  if (text === undefined) return undefined;
  const m = MEASURE.exec(text);
  const name = m?.[1];
  const arg = m?.[2];
  const bad = (expect: string, hint = ''): undefined => {
    r.d.at(node, `${path} must be ${expect}, got ${got(node)}${hint}`);
    return undefined;
  };
  if (name === undefined || !(MEASURES as readonly string[]).includes(name)) {
    return bad(MEASURE_TEXT, name === undefined ? '' : didYouMean(name, MEASURES));
  }
  switch (name) {
    case 'count':
    case 'concurrent':
    case 'risk':
      return arg === undefined ? { kind: name } : bad(`${name} without arguments`);
    case 'sum':
    case 'avg':
    case 'max':
    case 'distinct':
    case 'new': {
      if (arg === undefined || arg === '') return bad(`${name}(FIELD)`);
      if (!isField(arg)) {
        r.d.at(node, `unknown field "${arg}" in ${path}${unknownFieldHint(arg)}`);
        return undefined;
      }
      if (name !== 'distinct' && name !== 'new' && !isNumericField(arg)) {
        r.d.at(node, `${path}: ${name} works on number fields (${NUMERIC_FIELDS_TEXT}), not on ${arg}`);
        return undefined;
      }
      return { kind: name, field: arg };
    }
    case 'ratio': {
      const cmp = arg === undefined ? undefined : splitComparison(arg);
      if (cmp === undefined) return bad(RATIO_TEXT);
      if (!isField(cmp.field)) {
        r.d.at(node, `unknown field "${cmp.field}" in ${path}${unknownFieldHint(cmp.field)}`);
        return undefined;
      }
      if (ORDERING.includes(cmp.op) && !isNumericField(cmp.field)) {
        r.d.at(node, `${path}: ${cmp.op} works on number fields (${NUMERIC_FIELDS_TEXT}), not on ${cmp.field}`);
        return undefined;
      }
      const typed = typeLiteral(cmp.field, cmp.lit, groups);
      if (!typed.ok) {
        r.d.at(node, `${path}: ${cmp.field} must be compared with ${typed.expect}, got ${JSON.stringify(cmp.lit.text)}${typed.hint}`);
        return undefined;
      }
      return { kind: 'ratio', cond: { field: cmp.field, op: cmp.op, value: typed.value } };
    }
  }
  return undefined;
}

const WINDOW_TEXT = `${orList([...CALENDAR_UNITS, '{ sliding: DURATION }'])}`;

export function parseWindow (node: unknown, path: string, r: Reader): WindowSpec | undefined {
  if (isMap(node)) {
    const all = r.map(node, path);
    if (all === undefined) return undefined;
    const sliding = r.onlyKnown(all, path, ['sliding']).find((e) => e.key === 'sliding');
    if (sliding === undefined) {
      // An unknown key was reported already; an empty map was not.
      if (all.length === 0) r.d.at(node, `${path} must be ${WINDOW_TEXT}, got ${got(node)}`);
      return undefined;
    }
    const at = `${path}.sliding`;
    const expect = `a positive ${DURATION_TEXT.replace(/^a /, '')}`;
    const text = r.text(sliding.value, at, expect);
    if (text === undefined) return undefined;
    const ms = parseDuration(text);
    if (ms === undefined || ms <= 0) {
      r.d.at(sliding.value, `${at} must be ${expect}, got ${got(sliding.value)}`);
      return undefined;
    }
    return { kind: 'sliding', ms, text };
  }
  const text = isScalar(node) && typeof node.value === 'string' ? node.value : undefined;
  if (text !== undefined && (CALENDAR_UNITS as readonly string[]).includes(text)) {
    return { kind: 'calendar', unit: text as CalendarUnit };
  }
  // `window: 15m` is a common slip for a sliding window; say so.
  const hint = text === undefined
    ? ''
    : parseDuration(text) !== undefined ? `; did you mean { sliding: ${text} }?` : didYouMean(text, CALENDAR_UNITS);
  r.d.at(node, `${path} must be ${WINDOW_TEXT}, got ${got(node)}${hint}`);
  return undefined;
}
