/**
 * `where` filters (rules.md, "Filters"): a map of field -> condition plus the reserved keys
 * `hours`, `weekday`, `any`, `all` and `not`. Every literal is checked against its field
 * here, so the compiler (filter.ts) gets values it can compare without further checks, and
 * `$name` references are replaced by the list's values (the same array, never a copy: a
 * number-range list may hold millions of entries).
 */
import type { Condition, Filter, Scalar } from './rules-config.js';
import type { Weekday } from './usage-record.js';
import { WEEKDAYS } from './usage-record.js';
import { isScalar, isSeq } from 'yaml';
import { show } from './errors.js';
import { didYouMean } from './did-you-mean.js';
import type { Reader } from './rules-yaml.js';
import { got, itemText, orList } from './rules-yaml.js';
import {
  NUMERIC_FIELDS_TEXT, inferScalar, isField, isNumericField, isTextField, takesTextAsIs, typeLiteral, unknownFieldHint,
} from './rules-fields.js';

/** What filters (and rules) may refer to: the lists and groups defined at the top level. */
export interface Scope {
  readonly r: Reader;
  readonly lists: ReadonlyMap<string, readonly string[]>;
  readonly groups: ReadonlyMap<string, readonly string[]>;
}

const COMBINATORS = ['any', 'all', 'not'] as const;
const SPECIAL = ['hours', 'weekday', ...COMBINATORS];
const OPERATORS = ['in', 'not_in', 'prefix', 'not_prefix', 'lt', 'lte', 'gt', 'gte', 'between', 'exists'] as const;
type Operator = typeof OPERATORS[number];

/** The text of `node` when it is a `$name` list reference. */
function listRef (node: unknown): string | undefined {
  return isScalar(node) && typeof node.value === 'string' && node.value.startsWith('$') ? node.value : undefined;
}

/**
 * The `$name` a condition's values came from, by the values' identity. A side table rather
 * than a field of the condition: the rules' fingerprint and the sharing of identical counters
 * hash the conditions, and must not change with how a list was written. A reload reads it to
 * keep the counters of a list whose entries changed (cluster/reload.ts).
 */
const listOrigins = new WeakMap<readonly unknown[], string>();

/** The list reference (`$name`) a condition's values were taken from; undefined when written inline. */
export function listNameOf (values: readonly unknown[]): string | undefined {
  return listOrigins.get(values);
}

function fromList<T extends readonly unknown[]> (values: T, ref: string): T {
  listOrigins.set(values, ref);
  return values;
}

/** The values of the list `ref` names (`$name`), or undefined (reported). */
export function resolveList (ref: string, node: unknown, path: string, s: Scope): readonly string[] | undefined {
  const name = ref.slice(1);
  const values = s.lists.get(name);
  if (values === undefined) {
    s.r.d.at(node, `unknown list "${ref}" in ${path}${didYouMean(name, s.lists.keys(), '$')}`);
    return undefined;
  }
  return fromList(values, ref);
}

/** A filter map; undefined when anything in it was reported. */
export function parseFilter (node: unknown, path: string, s: Scope): Filter | undefined {
  const entries = s.r.map(node, path, 'a map of field: condition');
  if (entries === undefined) return undefined;
  if (entries.length === 0) {
    s.r.d.at(node, `${path} must have at least one condition, got {}`);
    return undefined;
  }
  const parts: Filter[] = [];
  let ok = true;
  for (const { key, keyNode, value } of entries) {
    const at = `${path}.${key}`;
    let part: Filter[] | undefined;
    if (key === 'any' || key === 'all') part = one(parseCombinator(key, value, at, s));
    else if (key === 'not') part = one(mapFilter(parseFilter(value, at, s), (f) => ({ kind: 'not', of: f })));
    else if (key === 'hours') part = one(parseHours(value, at, s));
    else if (key === 'weekday') part = one(parseWeekdays(value, at, s));
    else if (isField(key)) part = parseCondition(key, value, at, s);
    else s.r.d.at(keyNode, `unknown field "${key}" in ${path}${unknownFieldHint(key, SPECIAL)}`);
    if (part === undefined) ok = false;
    else parts.push(...part);
  }
  if (!ok) return undefined;
  return parts.length === 1 ? parts[0] : { kind: 'all', of: parts };
}

function one<T> (x: T | undefined): T[] | undefined {
  return x === undefined ? undefined : [x];
}

function mapFilter (f: Filter | undefined, wrap: (f: Filter) => Filter): Filter | undefined {
  return f === undefined ? undefined : wrap(f);
}

function parseCombinator (kind: 'any' | 'all', node: unknown, path: string, s: Scope): Filter | undefined {
  const items = s.r.seq(node, path, 'a non-empty list of filters');
  if (items === undefined) return undefined;
  if (items.length === 0) {
    s.r.d.at(node, `${path} must be a non-empty list of filters, got []`);
    return undefined;
  }
  const of = items.map((item, i) => parseFilter(item, `${path}[${i}]`, s));
  if (of.some((f) => f === undefined)) return undefined;
  return { kind, of: of as Filter[] };
}

const HOURS = /^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$/;

function parseHours (node: unknown, path: string, s: Scope): Filter | undefined {
  const expect = 'a time range "HH:MM-HH:MM" such as "22:00-06:00"';
  const text = s.r.text(node, path, expect);
  if (text === undefined) return undefined;
  const m = HOURS.exec(text);
  if (m !== null) {
    const [fh, fm, th, tm] = m.slice(1).map(Number) as [number, number, number, number];
    const from = fh * 60 + fm;
    const to = th * 60 + tm;
    if (fh < 24 && fm < 60 && tm < 60 && to <= 1440 && from !== to) return { kind: 'hours', from, to };
  }
  s.r.d.at(node, `${path} must be ${expect}, got ${got(node)}`);
  return undefined;
}

function weekdayHint (text: string): string {
  const day = WEEKDAYS.find((d) => text.toLowerCase().startsWith(d));
  return day !== undefined ? `; did you mean "${day}"?` : didYouMean(text, WEEKDAYS);
}

function parseWeekdays (node: unknown, path: string, s: Scope): Filter | undefined {
  const expect = `${orList(WEEKDAYS)}, or a list of them`;
  const ref = listRef(node);
  // Entries of a referenced list are reported at the reference, inline ones where they stand.
  let items: { text: string | undefined, node: unknown, shown: string }[];
  if (ref !== undefined) {
    const values = resolveList(ref, node, path, s);
    if (values === undefined) return undefined;
    items = values.map((text) => ({ text, node, shown: `${show(text)} in list "${ref}"` }));
  } else {
    items = (isSeq(node) ? node.items : [node]).map((item) => ({ text: itemText(item), node: item, shown: got(item) }));
  }
  if (items.length === 0) {
    s.r.d.at(node, `${path} must be ${expect}, got []`);
    return undefined;
  }
  const days: Weekday[] = [];
  for (const item of items) {
    if (item.text === undefined || !(WEEKDAYS as readonly string[]).includes(item.text)) {
      s.r.d.at(item.node, `${path} must be ${expect}, got ${item.shown}${item.text === undefined ? '' : weekdayHint(item.text)}`);
      return undefined;
    }
    days.push(item.text as Weekday);
  }
  return { kind: 'weekday', days };
}

/** One literal of a field condition, typed for the field. */
function literal (field: string, node: unknown, path: string, s: Scope): Scalar | undefined {
  const text = itemText(node);
  if (isScalar(node) && text !== undefined) {
    const typed = typeLiteral(field, { text, value: node.value as Scalar }, s.groups);
    if (typed.ok) return typed.value;
    s.r.d.at(node, `${path} must be ${typed.expect}, got ${got(node)}${typed.hint}`);
    return undefined;
  }
  s.r.d.at(node, `${path} must be a value, got ${got(node)}`);
  return undefined;
}

/**
 * The values of a list condition: an inline list, a `$name` reference, or (for operators
 * such as `prefix: "+252"`) a single value. Entries of a referenced list are typed too,
 * except for text fields, where the list is used as it is.
 */
function values (field: string, node: unknown, path: string, s: Scope, single: boolean): Scalar[] | undefined {
  const ref = listRef(node);
  if (ref !== undefined) {
    const list = resolveList(ref, node, path, s);
    if (list === undefined) return undefined;
    if (takesTextAsIs(field)) return list as string[];
    const out: Scalar[] = [];
    for (const text of list) {
      const typed = typeLiteral(field, { text, value: inferScalar(text) }, s.groups);
      if (!typed.ok) {
        s.r.d.at(node, `${path} must be ${typed.expect}, got ${show(text)} in list "${ref}"${typed.hint}`);
        return undefined;
      }
      out.push(typed.value);
    }
    return fromList(out, ref);
  }
  if (!isSeq(node)) {
    if (single && isScalar(node)) {
      const v = literal(field, node, path, s);
      return v === undefined ? undefined : [v];
    }
    s.r.d.at(node, `${path} must be a list or a $list reference, got ${got(node)}`);
    return undefined;
  }
  if (node.items.length === 0) {
    s.r.d.at(node, `${path} must be a non-empty list or a $list reference, got []`);
    return undefined;
  }
  const out = node.items.map((item, i) => literal(field, item, `${path}[${i}]`, s));
  return out.some((v) => v === undefined) ? undefined : out as Scalar[];
}

/** `field: condition` as one or more field filters (an operator object may hold several). */
function parseCondition (field: string, node: unknown, path: string, s: Scope): Filter[] | undefined {
  const wrap = (cond: Condition | undefined): Filter[] | undefined =>
    cond === undefined ? undefined : [{ kind: 'field', field, cond }];
  if (isSeq(node) || listRef(node) !== undefined) {
    const vs = values(field, node, path, s, false);
    return wrap(vs === undefined ? undefined : { op: 'in', values: vs });
  }
  if (isScalar(node) && itemText(node) !== undefined) {
    const v = literal(field, node, path, s);
    return wrap(v === undefined ? undefined : { op: 'eq', value: v });
  }
  const entries = s.r.map(node, path, 'a value, a list, a $list reference or an operator object such as { in: [...] }');
  if (entries === undefined) return undefined;
  if (entries.length === 0) {
    s.r.d.at(node, `${path} must have at least one operator (${OPERATORS.join(', ')}), got {}`);
    return undefined;
  }
  const out: Filter[] = [];
  let ok = true;
  for (const { key, keyNode, value } of entries) {
    if (!(OPERATORS as readonly string[]).includes(key)) {
      s.r.d.at(keyNode, `unknown operator "${key}" in ${path}${didYouMean(key, OPERATORS)}`);
      ok = false;
      continue;
    }
    const cond = parseOperator(field, key as Operator, keyNode, value, `${path}.${key}`, s);
    if (cond === undefined) ok = false;
    else out.push({ kind: 'field', field, cond });
  }
  return ok ? out : undefined;
}

function parseOperator (field: string, op: Operator, keyNode: unknown, node: unknown, path: string, s: Scope): Condition | undefined {
  const r = s.r;
  switch (op) {
    case 'in':
    case 'not_in': {
      const vs = values(field, node, path, s, true);
      return vs === undefined ? undefined : { op, values: vs };
    }
    case 'prefix':
    case 'not_prefix': {
      if (!isTextField(field)) {
        r.d.at(keyNode, `${path} works on text fields, not on ${field}`);
        return undefined;
      }
      const vs = prefixes(node, path, s);
      return vs === undefined ? undefined : { op, values: vs };
    }
    case 'lt':
    case 'lte':
    case 'gt':
    case 'gte': {
      if (!numericOnly(field, keyNode, path, s)) return undefined;
      const value = r.number(node, path, 'a number');
      return value === undefined ? undefined : { op, value };
    }
    case 'between': {
      if (!numericOnly(field, keyNode, path, s)) return undefined;
      const expect = '[LOW, HIGH], two numbers with LOW <= HIGH';
      // Like every list in a filter, the pair may be a `$name` reference; list values are text.
      const ref = listRef(node);
      let pair: readonly unknown[];
      if (ref !== undefined) {
        const list = resolveList(ref, node, path, s);
        if (list === undefined) return undefined;
        pair = list.map((text) => (text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : text));
      } else {
        pair = isSeq(node) ? node.items.map((item) => (isScalar(item) ? item.value : item)) : [];
      }
      const [low, high] = pair;
      if (pair.length !== 2 || typeof low !== 'number' || typeof high !== 'number' || !(low <= high)) {
        r.d.at(node, `${path} must be ${expect}, got ${ref !== undefined ? `${JSON.stringify(s.lists.get(ref.slice(1)))} in list "${ref}"` : got(node)}`);
        return undefined;
      }
      return { op, low, high };
    }
    case 'exists': {
      const value = r.boolean(node, path);
      return value === undefined ? undefined : { op, value };
    }
  }
}

function numericOnly (field: string, keyNode: unknown, path: string, s: Scope): boolean {
  if (isNumericField(field)) return true;
  s.r.d.at(keyNode, `${path} works on number fields (${NUMERIC_FIELDS_TEXT}), not on ${field}`);
  return false;
}

/** Prefixes are text whatever they look like: `+252` must not become the number 252. */
function prefixes (node: unknown, path: string, s: Scope): string[] | undefined {
  const ref = listRef(node);
  if (ref !== undefined) return resolveList(ref, node, path, s) as string[] | undefined;
  const items = isSeq(node) ? node.items : [node];
  if (isSeq(node) && items.length === 0) {
    s.r.d.at(node, `${path} must be a non-empty list or a $list reference, got []`);
    return undefined;
  }
  const out: string[] = [];
  for (const [i, item] of items.entries()) {
    const text = isScalar(item) && typeof item.value !== 'boolean' ? itemText(item) : undefined;
    if (text === undefined) {
      s.r.d.at(item, `${isSeq(node) ? `${path}[${i}]` : path} must be a non-empty prefix such as "+252", got ${got(item)}`);
      return undefined;
    }
    out.push(text);
  }
  return out;
}
