/**
 * `where` filters compiled into plain predicates. Literals are normalized to the field's type
 * once here (an analyst writes `account: 1234`; accounts are strings), so evaluation is a
 * strict comparison. A field that holds several values (`group`) satisfies a condition when
 * any of its values does; `not_in` and `not_prefix` then require that none does.
 * An absent field fails every condition except `not_in`, `not_prefix` and `exists: false`:
 * a record without a country is "not in [DE]".
 */
import type { Condition, Filter, Scalar } from './rules-config.js';
import type { UsageRecord } from './usage-record.js';
import { WEEKDAYS } from './usage-record.js';
import { fieldGetter, fieldType } from './fields.js';
import { PrefixSet } from './prefix-set.js';
import { assertNever } from './errors.js';

export type Predicate = (record: UsageRecord) => boolean;

type ValueTest = (value: unknown) => boolean;

function normalizeLiteral (field: string, value: Scalar): Scalar {
  const type = fieldType(field);
  if (type === 'string' || type === 'strings') return String(value);
  return value;
}

function valueTest (field: string, cond: Exclude<Condition, { op: 'exists' }>): ValueTest {
  switch (cond.op) {
    case 'eq': {
      const lit = normalizeLiteral(field, cond.value);
      if (fieldType(field) !== 'any') return (v) => v === lit;
      const text = String(lit);
      return (v) => v === lit || (v !== undefined && String(v) === text);
    }
    case 'in':
    case 'not_in': {
      const loose = fieldType(field) === 'any';
      const set = new Set<unknown>(cond.values.map((x) => loose ? String(x) : normalizeLiteral(field, x)));
      return loose ? (v) => v !== undefined && set.has(String(v)) : (v) => set.has(v);
    }
    case 'prefix':
    case 'not_prefix': {
      const set = new PrefixSet(cond.values);
      return (v) => v !== undefined && set.matches(String(v));
    }
    case 'lt': { const n = cond.value; return (v) => typeof v === 'number' && v < n; }
    case 'lte': { const n = cond.value; return (v) => typeof v === 'number' && v <= n; }
    case 'gt': { const n = cond.value; return (v) => typeof v === 'number' && v > n; }
    case 'gte': { const n = cond.value; return (v) => typeof v === 'number' && v >= n; }
    case 'between': {
      const { low, high } = cond;
      return (v) => typeof v === 'number' && v >= low && v <= high;
    }
    default: return assertNever(cond, 'condition');
  }
}

/** Fields read as `r.<name>` in generated code: the record's own keys (see fields.ts). */
const INLINE_FIELDS: ReadonlySet<string> = new Set([
  'id', 'account', 'subscription', 'caller', 'called', 'called_raw', 'service', 'duration', 'answered', 'cost',
  'currency', 'trunk', 'provider', 'direction', 'origin', 'device', 'country', 'hour', 'weekday', 'group', 'ts',
]);

/**
 * What generated code refers to: values it cannot spell as a literal (sets, prefix tries,
 * getters, value tests) go in `refs` and are read as `$[i]`; each numeric comparison gets a
 * local `vN` so that the field is read once.
 */
interface Source { readonly refs: unknown[], vars: number }

function ref (src: Source, value: unknown): string {
  src.refs.push(value);
  return `$[${src.refs.length - 1}]`;
}

function fieldSource (src: Source, field: string, cond: Condition): string {
  const access = INLINE_FIELDS.has(field) ? `r.${field}` : `${ref(src, fieldGetter(field))}(r)`;
  const many = fieldType(field) === 'strings';
  if (cond.op === 'exists') {
    return many ? `((${access}).length > 0) === ${String(cond.value)}` : `((${access}) !== undefined) === ${String(cond.value)}`;
  }
  const negated = cond.op === 'not_in' || cond.op === 'not_prefix';
  if (many) return `${negated ? '!' : ''}(${access}).some(${ref(src, valueTest(field, cond))})`;
  const typed = fieldType(field) !== 'any';
  const compare = (op: string, n: number): string => {
    const v = `v${src.vars++}`;
    return `(typeof (${v} = ${access}) === 'number' && ${v} ${op} ${JSON.stringify(n)})`;
  };
  switch (cond.op) {
    case 'eq': if (typed) return `(${access} === ${JSON.stringify(normalizeLiteral(field, cond.value))})`; break;
    case 'in':
    case 'not_in': if (typed) return `${negated ? '!' : ''}${ref(src, new Set<unknown>(cond.values.map((x) => normalizeLiteral(field, x))))}.has(${access})`; break;
    case 'lt': return compare('<', cond.value);
    case 'lte': return compare('<=', cond.value);
    case 'gt': return compare('>', cond.value);
    case 'gte': return compare('>=', cond.value);
    case 'between': {
      const v = `v${src.vars++}`;
      return `(typeof (${v} = ${access}) === 'number' && ${v} >= ${JSON.stringify(cond.low)} && ${v} <= ${JSON.stringify(cond.high)})`;
    }
    default: break;
  }
  // Loose comparisons (attrs.*), prefixes: the value test as a function.
  return `${negated ? '!' : ''}${ref(src, valueTest(field, cond))}(${access})`;
}

function filterSource (src: Source, filter: Filter): string {
  switch (filter.kind) {
    case 'all': return filter.of.length === 0 ? 'true' : `(${filter.of.map((f) => filterSource(src, f)).join(' && ')})`;
    case 'any': return filter.of.length === 0 ? 'false' : `(${filter.of.map((f) => filterSource(src, f)).join(' || ')})`;
    case 'not': return `!(${filterSource(src, filter.of)})`;
    case 'field': return fieldSource(src, filter.field, filter.cond);
    case 'hours': {
      const { from, to } = filter;
      return from <= to
        ? `(r.minuteOfDay >= ${from} && r.minuteOfDay < ${to})`
        : `(r.minuteOfDay >= ${from} || r.minuteOfDay < ${to})`;
    }
    case 'weekday': return `${ref(src, new Set(filter.days))}.has(r.weekday)`;
    default: return assertNever(filter, 'filter');
  }
}

/**
 * Compiles a `where` into one function whose body is the whole condition (`r.service ===
 * "voice" && …`): a tree of small closures cost a call per node per record, and each shared
 * call site saw every rule's closures (megamorphic, never inlined). Literals are spelled with
 * JSON.stringify and field names come from the validated rules, never from records.
 */
export function compileFilter (filter: Filter): Predicate {
  const src: Source = { refs: [], vars: 0 };
  const body = filterSource(src, filter);
  const locals = src.vars === 0 ? '' : `let ${Array.from({ length: src.vars }, (_, i) => `v${i}`).join(', ')}; `;
  // eslint-disable-next-line no-new-func -- generated from validated rules only, see above
  const make = new Function('$', `return function where (r) { ${locals}return ${body}; };`) as (refs: unknown[]) => Predicate;
  return make(src.refs);
}

/** The weekday index (0 = Monday) of a weekday name. */
export function weekdayIndex (day: string): number {
  return (WEEKDAYS as readonly string[]).indexOf(day);
}
