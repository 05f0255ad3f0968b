/**
 * The state of one counter for one key: calendar windows (tumbling, aligned in the rules'
 * time zone) or one sliding window over event time. States are plain objects of numbers,
 * arrays and Maps so that a store can persist them without custom classes.
 *
 * Semantics the README documents:
 * - a record lacking the measured field (`sum(cost)` without `cost`) does not contribute;
 * - `ratio(COND)`: share of contributing records for which COND holds;
 * - `concurrent`: at each contributing record, the number of the key's events in the same
 *   window that are in progress at its start (itself included); the measure is the largest
 *   such number seen in the window. Events stay in view for `lateness` after the newest start,
 *   so a record arriving out of order by less than that counts exactly;
 * - sliding window: the span of the given length ending at the newest event time the key has
 *   seen (for in-order records, the record's own time). A record older than that span no
 *   longer contributes to it.
 */
import type { Measure, Comparison } from './rules-config.js';
import type { UsageRecord } from './usage-record.js';
import { fieldGetter, numberGetter } from './fields.js';
import { assertNever } from './errors.js';

/** What one record brings to a measure: a number, a distinct value, or nothing (undefined). */
export type Contribution = number | string | undefined;
export type Contributor = (record: UsageRecord) => Contribution;

export interface CalendarWindow {
  start: number;
  end: number;
  /** contributing records */
  n: number;
  /** sum, hits (ratio), max, or largest concurrency, by measure */
  a: number;
  distinct: Set<string> | undefined;
  /** concurrent: ends of the held events, ascending, and their starts in the same order */
  ends: number[] | undefined;
  starts: number[] | undefined;
  newestStart: number;
  /**
   * Per rule slot, the limit before `shape` (per-key `limits`, then `adaptive` with the key's
   * mean over the rule's `over` previous windows), fixed when this window opened; undefined
   * when every rule's limit is a constant.
   */
  limits: number[] | undefined;
  /** per rule of the counter: bit 1 warning fired, bit 2 rule severity fired */
  fired: number[];
}

export interface SlidingState {
  /** event times, ascending, from `head` on */
  ts: number[];
  xs: number[];
  /** distinct: the value of each event */
  keys: string[];
  /** concurrent: the end of each event */
  ends: number[];
  head: number;
  n: number;
  a: number;
  newest: number;
  distinct: Map<string, number> | undefined;
  /** per rule slot, the limit before `shape`, fixed when the state opened (see CalendarWindow) */
  limits: number[] | undefined;
  /** per rule: bit set while the measure is above that severity's threshold (disarmed) */
  fired: number[];
  /** new(F): the key's seen-set (see novelty.ts) */
  seen?: Map<string, number>;
}

function comparison (cond: Comparison): (r: UsageRecord) => boolean {
  const get = fieldGetter(cond.field);
  const lit = cond.value;
  switch (cond.op) {
    case '==': return (r) => { const v = get(r); return v === lit || (v !== undefined && String(v) === String(lit)); };
    case '!=': return (r) => { const v = get(r); return !(v === lit || (v !== undefined && String(v) === String(lit))); };
    case '<': return (r) => { const v = get(r); return typeof v === 'number' && v < (lit as number); };
    case '<=': return (r) => { const v = get(r); return typeof v === 'number' && v <= (lit as number); };
    case '>': return (r) => { const v = get(r); return typeof v === 'number' && v > (lit as number); };
    case '>=': return (r) => { const v = get(r); return typeof v === 'number' && v >= (lit as number); };
    default: return assertNever(cond.op, 'comparison');
  }
}

export function contributor (measure: Measure): Contributor {
  switch (measure.kind) {
    case 'count': return () => 1;
    case 'sum':
    case 'avg':
    case 'max': return numberGetter(measure.field);
    case 'distinct': {
      const get = fieldGetter(measure.field);
      return (r) => {
        const v = get(r);
        return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
      };
    }
    case 'ratio': {
      const holds = comparison(measure.cond);
      return (r) => holds(r) ? 1 : 0;
    }
    case 'concurrent': return (r) => r.duration;
    // new(F) brings the value; the engine turns it into 1 (new to the key) or 0 with the key's seen-set.
    case 'new': {
      const get = fieldGetter(measure.field);
      return (r) => {
        const v = get(r);
        return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
      };
    }
    // Alerts feed a risk score, records never do.
    case 'risk': return () => undefined;
    default: return assertNever(measure, 'measure');
  }
}

export function openWindow (measure: Measure, start: number, end: number, rules: number): CalendarWindow {
  // Every window has every field, in one order: one hidden class for all of them.
  const concurrent = measure.kind === 'concurrent';
  return {
    start,
    end,
    n: 0,
    a: measure.kind === 'max' ? -Infinity : 0,
    distinct: measure.kind === 'distinct' ? new Set() : undefined,
    ends: concurrent ? [] : undefined,
    starts: concurrent ? [] : undefined,
    newestStart: -Infinity,
    limits: undefined,
    fired: new Array<number>(rules).fill(0),
  };
}

/** Adds a contribution to a calendar window. `hold` is how long events stay in view (lateness). */
export function addToWindow (kind: Measure['kind'], w: CalendarWindow, x: number | string, ts: number, hold: number): void {
  w.n++;
  switch (kind) {
    case 'count': w.a = w.n; return;
    case 'sum':
    case 'avg':
    case 'new':
    case 'ratio': w.a += x as number; return;
    case 'max': if ((x as number) > w.a) w.a = x as number; return;
    case 'distinct': (w.distinct as Set<string>).add(x as string); return;
    case 'concurrent': {
      const inProgress = addConcurrent(w, ts, ts + (x as number) * 1000, hold);
      if (inProgress > w.a) w.a = inProgress;
      return;
    }
    case 'risk': throw new Error('a risk measure has no window');
    default: assertNever(kind, 'measure');
  }
}

/** The first index whose value is greater than `v` in an ascending array. */
function upperBound (a: readonly number[], v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((a[mid] as number) <= v) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/**
 * Holds one more event and returns how many held events are in progress at its start, itself
 * included. Events that ended `hold` before the newest start are forgotten. A record in start
 * order (the usual case) counts with a binary search, since every held event started before it.
 */
/**
 * For an event [start, end) that arrived out of order: the most events in progress at one
 * moment while it lasts, itself included. Held events that started after it (they arrived
 * earlier) may overlap it, so its own start is not enough: the measure is the most events in
 * progress at any moment (rules.md), and a late record must count as it would have in order.
 */
function mostInProgress (starts: readonly number[], ends: readonly number[], start: number, end: number): number {
  // +1 at each overlapping event's start (clipped to `start`), -1 at its end; an end sorts
  // before a start at the same instant (an event is in progress up to, not at, its end).
  const points: number[] = [];
  for (let i = 0; i < ends.length; i++) {
    const s = starts[i] as number;
    const e = ends[i] as number;
    if (s < end && e > start) points.push(Math.max(s, start) * 2 + 1, e * 2);
  }
  points.sort((a, b) => a - b);
  let now = 0;
  let most = 0;
  for (const p of points) {
    if (p % 2 === 1) { if (++now > most) most = now; } else now--;
  }
  return most + 1;
}

/** The events a `concurrent` window holds (a CalendarWindow, or the engine's state of its newest window). */
export interface HeldEvents { ends: number[] | undefined, starts: number[] | undefined, newestStart: number }

export function addConcurrent (w: HeldEvents, start: number, end: number, hold: number): number {
  const ends = w.ends as number[];
  const starts = w.starts as number[];
  const inOrder = start >= w.newestStart;
  if (inOrder) w.newestStart = start;
  const horizon = w.newestStart - hold;
  let drop = 0;
  while (drop < ends.length && (ends[drop] as number) <= horizon) drop++;
  if (drop > 0) { dropFront(ends, drop); dropFront(starts, drop); }
  // An event lasting 0 s (an SMS) is in progress at no moment, not even its own start.
  let inProgress = end > start ? 1 : 0;
  if (inOrder) {
    inProgress += ends.length - upperBound(ends, start);
  } else if (end > start) {
    inProgress = mostInProgress(starts, ends, start, end);
  } else {
    for (let i = 0; i < ends.length; i++) if ((starts[i] as number) <= start && start < (ends[i] as number)) inProgress++;
  }
  const at = upperBound(ends, end);
  insertAt(ends, at, end);
  insertAt(starts, at, start);
  return inProgress;
}

export function windowValue (kind: Measure['kind'], w: { n: number, a: number, distinct: Set<string> | Map<string, number> | undefined }): number {
  switch (kind) {
    case 'count':
    case 'sum':
    case 'new':
    case 'max':
    case 'risk':
    case 'concurrent': return w.a;
    case 'avg':
    case 'ratio': return w.n === 0 ? 0 : w.a / w.n;
    case 'distinct': return w.distinct?.size ?? 0;
    default: return assertNever(kind, 'measure');
  }
}

/** The `keys` or `ends` of a sliding state whose measure never fills them: one shared empty array. */
const UNUSED: number[] & string[] = Object.freeze([]) as unknown as number[] & string[];

export function openSliding (measure: Measure, rules: number): SlidingState {
  return {
    ts: [],
    xs: [],
    keys: measure.kind === 'distinct' ? [] : UNUSED,
    ends: measure.kind === 'concurrent' ? [] : UNUSED,
    head: 0,
    n: 0,
    a: measure.kind === 'max' || measure.kind === 'concurrent' ? -Infinity : 0,
    newest: -Infinity,
    distinct: measure.kind === 'distinct' ? new Map() : undefined,
    limits: undefined,
    fired: new Array<number>(rules).fill(0),
  };
}

/**
 * Moves a sliding window of `size` ms to end at `ts` when `ts` is the newest event time (so
 * the measure shows what it was just before the record arrives), or reports that the record is
 * older than the window's span and contributes nothing (false).
 */
export function slideTo (kind: Measure['kind'], s: SlidingState, ts: number, size: number): boolean {
  if (ts > s.newest) {
    s.newest = ts;
    evict(kind, s, size);
    return true;
  }
  return ts > s.newest - size;
}

/** Adds a contribution to a sliding window already moved with slideTo(). */
export function addToSliding (kind: Measure['kind'], s: SlidingState, x: number | string, ts: number): void {
  const inOrder = s.ts.length === s.head || ts >= (s.ts[s.ts.length - 1] as number);
  let numeric = typeof x === 'number' ? x : 0;
  if (kind === 'concurrent') numeric = concurrencyAt(s, ts, (x as number) > 0);
  const end = kind === 'concurrent' ? ts + (x as number) * 1000 : 0;
  if (inOrder) {
    s.ts.push(ts);
    s.xs.push(numeric);
    if (kind === 'distinct') s.keys.push(x as string);
    if (kind === 'concurrent') s.ends.push(end);
    include(kind, s, numeric, x);
  } else {
    // Out of order within the span (a tenth of the demo's records, from switches that report
    // late): insert in place. The aggregates take it like any other event: every measure's
    // aggregate is a sum, a count or a maximum over the span's events, none depends on their order,
    // and slideTo() has already said the event lies inside the span. Rebuilding them here
    // walked the whole span for every late record.
    let i = s.ts.length;
    while (i > s.head && (s.ts[i - 1] as number) > ts) i--;
    // A late event that lasts is in progress at the starts of the held events that began
    // during it (they arrived earlier): each of those moments now has one more event in progress.
    if (kind === 'concurrent' && end > ts) {
      for (let j = i; j < s.ts.length; j++) {
        if ((s.ts[j] as number) > ts && (s.ts[j] as number) < end) {
          const v = (s.xs[j] as number) + 1;
          s.xs[j] = v;
          if (v > s.a) s.a = v;
        }
      }
    }
    insertAt(s.ts, i, ts);
    insertAt(s.xs, i, numeric);
    if (kind === 'distinct') insertAt(s.keys, i, x as string);
    if (kind === 'concurrent') insertAt(s.ends, i, end);
    include(kind, s, numeric, x);
  }
}

/** For `concurrent`: the span's events in progress at `ts`, the new one included. `xs` then keeps that count per event. */
function concurrencyAt (s: SlidingState, ts: number, lasts: boolean): number {
  let count = lasts ? 1 : 0;
  for (let i = s.head; i < s.ts.length; i++) {
    if ((s.ts[i] as number) <= ts && ts < (s.ends[i] as number)) count++;
  }
  return count;
}

function include (kind: Measure['kind'], s: SlidingState, v: number, x: number | string): void {
  s.n++;
  switch (kind) {
    case 'count': s.a = s.n; break;
    case 'sum':
    case 'avg':
    case 'new':
    case 'ratio': s.a += v; break;
    case 'max':
    case 'concurrent': if (v > s.a) s.a = v; break;
    case 'distinct': {
      const m = s.distinct as Map<string, number>;
      m.set(x as string, (m.get(x as string) ?? 0) + 1);
      break;
    }
    case 'risk': throw new Error('a risk measure has no window');
    default: assertNever(kind, 'measure');
  }
}

function evict (kind: Measure['kind'], s: SlidingState, size: number): void {
  const from = s.newest - size;
  let rescan = false;
  while (s.head < s.ts.length && (s.ts[s.head] as number) <= from) {
    const v = s.xs[s.head] as number;
    s.n--;
    switch (kind) {
      case 'count': s.a = s.n; break;
      case 'sum':
      case 'avg':
      case 'new':
      case 'ratio': s.a -= v; break;
      case 'max':
      case 'concurrent': if (v >= s.a) rescan = true; break;
      case 'distinct': {
        const m = s.distinct as Map<string, number>;
        const k = s.keys[s.head] as string;
        const c = (m.get(k) ?? 1) - 1;
        if (c === 0) m.delete(k); else m.set(k, c);
        break;
      }
      case 'risk': throw new Error('a risk measure has no window');
      default: assertNever(kind, 'measure');
    }
    s.head++;
  }
  if (s.head > 64 && s.head * 2 > s.ts.length) {
    // In place: a busy key's window moves every few records, and new arrays each time are garbage.
    dropFront(s.ts, s.head);
    dropFront(s.xs, s.head);
    if (kind === 'distinct') dropFront(s.keys, s.head);
    if (kind === 'concurrent') dropFront(s.ends, s.head);
    s.head = 0;
  }
  if (s.n === 0) s.a = kind === 'max' || kind === 'concurrent' ? -Infinity : 0;
  else if (rescan) rebuild(kind, s);
}

// Plain loops instead of splice(), which returns a new array (of what it removed) on every call.
function dropFront<T> (a: T[], n: number): void {
  const keep = a.length - n;
  for (let i = 0; i < keep; i++) a[i] = a[i + n]!;
  a.length = keep;
}

function insertAt<T> (a: T[], at: number, v: T): void {
  a.push(v);
  for (let i = a.length - 1; i > at; i--) a[i] = a[i - 1]!;
  a[at] = v;
}

function rebuild (kind: Measure['kind'], s: SlidingState): void {
  s.n = 0;
  s.a = kind === 'max' || kind === 'concurrent' ? -Infinity : 0;
  if (s.distinct !== undefined) s.distinct.clear();
  for (let i = s.head; i < s.ts.length; i++) include(kind, s, s.xs[i] as number, s.keys[i] ?? 0);
}
