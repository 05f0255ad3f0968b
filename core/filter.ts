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

function fieldPredicate (field: string, cond: Condition): Predicate {
  const get = fieldGetter(field);
  const many = fieldType(field) === 'strings';
  if (cond.op === 'exists') {
    const want = cond.value;
    return many
      ? (r) => ((get(r) as readonly string[]).length > 0) === want
      : (r) => (get(r) !== undefined) === want;
  }
  const test = valueTest(field, cond);
  const negated = cond.op === 'not_in' || cond.op === 'not_prefix';
  if (many) {
    return negated
      ? (r) => !(get(r) as readonly string[]).some(test)
      : (r) => (get(r) as readonly string[]).some(test);
  }
  return negated ? (r) => !test(get(r)) : (r) => test(get(r));
}

export function compileFilter (filter: Filter): Predicate {
  switch (filter.kind) {
    case 'all': {
      const parts = filter.of.map(compileFilter);
      if (parts.length === 1) return parts[0] as Predicate;
      if (parts.length === 2) {
        const [a, b] = parts as [Predicate, Predicate];
        return (r) => a(r) && b(r);
      }
      // Loops, not every()/some(): those take a closure over the record, one allocation per call.
      return (r) => {
        for (let i = 0; i < parts.length; i++) if (!parts[i]!(r)) return false;
        return true;
      };
    }
    case 'any': {
      const parts = filter.of.map(compileFilter);
      return (r) => {
        for (let i = 0; i < parts.length; i++) if (parts[i]!(r)) return true;
        return false;
      };
    }
    case 'not': {
      const inner = compileFilter(filter.of);
      return (r) => !inner(r);
    }
    case 'field': return fieldPredicate(filter.field, filter.cond);
    case 'hours': {
      const { from, to } = filter;
      return from <= to
        ? (r) => r.minuteOfDay >= from && r.minuteOfDay < to
        : (r) => r.minuteOfDay >= from || r.minuteOfDay < to;
    }
    case 'weekday': {
      const days = new Set(filter.days);
      return (r) => days.has(r.weekday);
    }
    default: return assertNever(filter, 'filter');
  }
}

/** The weekday index (0 = Monday) of a weekday name. */
export function weekdayIndex (day: string): number {
  return (WEEKDAYS as readonly string[]).indexOf(day);
}
