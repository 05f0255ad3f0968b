/**
 * A plain, brute-force evaluator of a RulesConfig, written from the rules contract
 * (shared/spec/rules.md and the differential-test brief), not from core/engine.ts or
 * core/measure.ts. It keeps every contributing record of every (rule, key) forever and
 * recomputes each measure from scratch over the records of the window on every record: slow,
 * and obviously right. Rules never share state here, so sharing bugs in the core show up.
 *
 * Its alerts carry every Alert field except `id` and `detectedAt`.
 */
import type { Comparison, Condition, Filter, KeyPart, Measure, RuleConfig, RulesConfig, Scalar, Severity } from '../../core/rules-config.js';
import type { UsageRecord } from '../../core/usage-record.js';
import type { Alert } from '../../core/alert.js';
import { WEEKDAYS } from '../../core/usage-record.js';
import { Zone } from '../../core/zone.js';

export type OracleAlert = Omit<Alert, 'id' | 'detectedAt'>;

/** Fields whose values are strings: a literal is compared with them as String(literal). */
const STRING_FIELDS = new Set([
  'id', 'account', 'subscription', 'caller', 'called', 'called_raw', 'service', 'currency', 'trunk',
  'provider', 'direction', 'origin', 'device', 'country', 'weekday',
]);

export function getField (rec: UsageRecord, field: string): unknown {
  if (field.startsWith('attrs.')) return rec.attrs?.[field.slice('attrs.'.length)];
  return (rec as unknown as Record<string, unknown>)[field];
}

// ---------------------------------------------------------------- filters

function literalMatches (field: string, value: unknown, literal: Scalar): boolean {
  return STRING_FIELDS.has(field) || field === 'group' ? value === String(literal) : value === literal;
}

/** The condition on one present value (for `group`: on one group). */
function holdsOn (field: string, value: unknown, cond: Condition): boolean {
  switch (cond.op) {
    case 'eq': return literalMatches(field, value, cond.value);
    case 'in': return cond.values.some((l) => literalMatches(field, value, l));
    case 'not_in': return !cond.values.some((l) => literalMatches(field, value, l));
    case 'prefix': return typeof value === 'string' && cond.values.some((p) => value.startsWith(p));
    case 'not_prefix': return !(typeof value === 'string' && cond.values.some((p) => value.startsWith(p)));
    case 'lt': return typeof value === 'number' && value < cond.value;
    case 'lte': return typeof value === 'number' && value <= cond.value;
    case 'gt': return typeof value === 'number' && value > cond.value;
    case 'gte': return typeof value === 'number' && value >= cond.value;
    case 'between': return typeof value === 'number' && value >= cond.low && value <= cond.high;
    case 'exists': return cond.value;
  }
}

function conditionHolds (rec: UsageRecord, field: string, cond: Condition): boolean {
  const value = getField(rec, field);
  if (field === 'group') {
    const groups = value as readonly string[];
    if (cond.op === 'exists') return (groups.length > 0) === cond.value;
    // not_in / not_prefix: no group is in the list; every other condition: some group satisfies it.
    if (cond.op === 'not_in') return !groups.some((g) => holdsOn(field, g, { op: 'in', values: cond.values }));
    if (cond.op === 'not_prefix') return !groups.some((g) => holdsOn(field, g, { op: 'prefix', values: cond.values }));
    return groups.some((g) => holdsOn(field, g, cond));
  }
  if (value === undefined) {
    if (cond.op === 'exists') return !cond.value;
    return cond.op === 'not_in' || cond.op === 'not_prefix';
  }
  return holdsOn(field, value, cond);
}

export function filterHolds (rec: UsageRecord, f: Filter): boolean {
  switch (f.kind) {
    case 'all': return f.of.every((g) => filterHolds(rec, g));
    case 'any': return f.of.some((g) => filterHolds(rec, g));
    case 'not': return !filterHolds(rec, f.of);
    case 'field': return conditionHolds(rec, f.field, f.cond);
    case 'hours': return f.from < f.to
      ? rec.minuteOfDay >= f.from && rec.minuteOfDay < f.to
      : rec.minuteOfDay >= f.from || rec.minuteOfDay < f.to;
    case 'weekday': return f.days.includes(rec.weekday);
  }
}

// ---------------------------------------------------------------- keys

function asText (v: unknown): string | undefined {
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function shapePart (part: KeyPart, text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (part.kind === 'prefix') return text.slice(0, part.n);
  if (part.kind === 'trim') return text.length <= part.n ? undefined : text.slice(0, text.length - part.n);
  return text;
}

/** Every key the record yields for `by` (several only through `group`). */
export function keysOf (rec: UsageRecord, by: readonly KeyPart[]): string[] {
  let keys: string[] = [''];
  by.forEach((part, i) => {
    const raw = getField(rec, part.field);
    const values = part.field === 'group'
      ? (raw as readonly string[]).map((g) => shapePart(part, asText(g)))
      : [shapePart(part, asText(raw))];
    const next: string[] = [];
    for (const k of keys) {
      for (const v of values) if (v !== undefined) next.push(i === 0 ? v : `${k}|${v}`);
    }
    keys = next;
  });
  return keys;
}

export function describeBy (part: KeyPart): string {
  return part.kind === 'field' ? part.field : `${part.kind}(${part.field}, ${part.n})`;
}

// ---------------------------------------------------------------- measures

/** The value a record brings to the measure, or undefined when it cannot contribute. */
function measureInput (rec: UsageRecord, m: Measure): unknown {
  switch (m.kind) {
    case 'count': case 'concurrent': case 'ratio': return true;
    case 'sum': case 'avg': case 'max': {
      const v = getField(rec, m.field);
      return typeof v === 'number' ? v : undefined;
    }
    case 'distinct':
    case 'new': {
      const v = getField(rec, m.field);
      return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
    }
    // Alerts feed risk scores, not records (Oracle.scoreRisk).
    case 'risk': return undefined;
  }
}

export function comparisonHolds (rec: UsageRecord, c: Comparison): boolean {
  const v = getField(rec, c.field);
  switch (c.op) {
    case '==': return String(v) === String(c.value);
    case '!=': return String(v) !== String(c.value);
    case '<': return typeof v === 'number' && typeof c.value === 'number' && v < c.value;
    case '<=': return typeof v === 'number' && typeof c.value === 'number' && v <= c.value;
    case '>': return typeof v === 'number' && typeof c.value === 'number' && v > c.value;
    case '>=': return typeof v === 'number' && typeof c.value === 'number' && v >= c.value;
  }
}

interface Contribution {
  readonly rec: UsageRecord;
  readonly input: unknown;
  /** arrival order */
  readonly seq: number;
  /** concurrent: events in progress at rec.ts among the window's records received so far (itself included) */
  conc: number;
}

/** Is q in progress at the instant t? */
function inProgress (q: UsageRecord, t: number): boolean {
  return q.ts <= t && t < q.ts + q.duration * 1000;
}

/**
 * A record that arrived after others that started during it is in progress at their starts
 * too: `concurrent` is the most events in progress at any moment, not only at arrivals.
 */
function lateOverlap (earlier: readonly Contribution[], c: Contribution): void {
  for (const q of earlier) if (q.rec.ts > c.rec.ts && inProgress(c.rec, q.rec.ts)) q.conc++;
}

function measureOf (m: Measure, cs: readonly Contribution[]): number {
  const n = cs.length;
  switch (m.kind) {
    case 'count': return n;
    case 'sum': { let s = 0; for (const c of cs) s += c.input as number; return s; }
    case 'avg': { if (n === 0) return 0; let s = 0; for (const c of cs) s += c.input as number; return s / n; }
    case 'max': { if (n === 0) return 0; let x = -Infinity; for (const c of cs) x = Math.max(x, c.input as number); return x; }
    case 'distinct': return new Set(cs.map((c) => c.input as string)).size;
    case 'ratio': return n === 0 ? 0 : cs.filter((c) => comparisonHolds(c.rec, m.cond)).length / n;
    case 'concurrent': { let x = 0; for (const c of cs) x = Math.max(x, c.conc); return x; }
    case 'new': { let s = 0; for (const c of cs) s += c.input as number; return s; }
    case 'risk': return 0;
  }
}

// ---------------------------------------------------------------- the evaluator

export function round6 (v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

interface RuleState {
  readonly rule: RuleConfig;
  /** key -> every contribution accepted so far, in arrival order */
  readonly byKey: Map<string, Contribution[]>;
  /** calendar: `key \0 windowStart \0 severity` that fired */
  readonly fired: Set<string>;
  /** calendar adaptive: `key \0 windowStart` -> mean of the preceding windows */
  readonly baseline: Map<string, number>;
  /** sliding: key -> newest ts */
  readonly newest: Map<string, number>;
  /** sliding: `key \0 severity` that was above at its last evaluation */
  readonly above: Set<string>;
  /** new(F): key -> every (value, ts) that passed the filter, in arrival order */
  readonly uses: Map<string, Array<[string, number]>>;
}

/** A risk rule's state for one key: every score added, in arrival order, and the severities above. */
interface RiskKey { readonly adds: Array<{ readonly score: number, readonly ts: number }>, readonly above: Set<Severity> }

export class Oracle {
  readonly zone: Zone;
  private readonly states: RuleState[];
  private seq = 0;
  private readonly halfLife: number;
  private readonly byId: Map<string, RuleConfig>;
  /** risk rule id -> key -> its scores */
  private readonly risk = new Map<string, Map<string, RiskKey>>();

  constructor (config: RulesConfig) {
    this.zone = new Zone(config.timezone);
    this.halfLife = config.risk?.halfLife ?? 86_400_000;
    this.byId = new Map(config.rules.map((r) => [r.id, r]));
    this.states = config.rules.filter((r) => r.enabled).map((rule) => ({
      rule,
      byKey: new Map(),
      fired: new Set(),
      baseline: new Map(),
      newest: new Map(),
      above: new Set(),
      uses: new Map(),
    }));
  }

  /** Applies one record; returns its alerts in rule order (warning before the rule's own severity). */
  process (rec: UsageRecord): OracleAlert[] {
    const seq = this.seq++;
    const out: OracleAlert[] = [];
    for (const st of this.states) {
      const rule = st.rule;
      if (rule.where !== undefined && !filterHolds(rec, rule.where)) continue;
      const input = measureInput(rec, rule.measure);
      if (input === undefined) continue;
      for (const key of keysOf(rec, rule.by)) {
        let list = st.byKey.get(key);
        if (list === undefined) { list = []; st.byKey.set(key, list); }
        let value = input;
        if (rule.measure.kind === 'new') {
          // New: no earlier-arriving use of the value by the key within `history` before rec.ts.
          let uses = st.uses.get(key);
          if (uses === undefined) { uses = []; st.uses.set(key, uses); }
          const history = rule.history ?? 0;
          value = uses.some(([v, t]) => v === input && t > rec.ts - history) ? 0 : 1;
          uses.push([input as string, rec.ts]);
        }
        const c: Contribution = { rec, input: value, seq, conc: 0 };
        if (rule.window.kind === 'calendar') this.calendar(st, key, list, c, out);
        else if (rule.window.kind === 'sliding') this.sliding(st, key, list, c, rule.window.ms, out);
      }
    }
    this.scoreRisk(rec, out);
    return out;
  }

  /**
   * Risk, straight from its definition: the record's scored alerts (not shadow) join the
   * scores of the risk rules with the same `by` at their key; the score is the sum of every
   * score ever added, each decayed from its time to the newest time seen, and each touched
   * risk rule is checked once per record.
   */
  private scoreRisk (rec: UsageRecord, out: OracleAlert[]): void {
    const scored = out.filter((a) => { const r = this.byId.get(a.rule); return r?.score !== undefined && r.shadow !== true; });
    if (scored.length === 0) return;
    for (const st of this.states) {
      const rule = st.rule;
      if (rule.measure.kind !== 'risk') continue;
      const sig = JSON.stringify(rule.by);
      const feeding = scored.filter((a) => JSON.stringify(this.byId.get(a.rule)!.by) === sig);
      let keys = this.risk.get(rule.id);
      if (keys === undefined) { keys = new Map(); this.risk.set(rule.id, keys); }
      for (const key of [...new Set(feeding.map((a) => a.key))]) {
        let k = keys.get(key);
        if (k === undefined) { k = { adds: [], above: new Set() }; keys.set(key, k); }
        const limit = this.effectiveLimit(st, key, undefined, rec) as number;
        const sum = (at: number): number => k.adds.reduce((s, x) => s + x.score * 2 ** (-(at - x.ts) / this.halfLife), 0);
        const newestBefore = Math.max(-Infinity, ...k.adds.map((x) => x.ts));
        const before = k.adds.length === 0 ? 0 : sum(Math.max(newestBefore, rec.ts));
        for (const [severity, threshold] of thresholds(rule, limit)) if (before <= threshold) k.above.delete(severity);
        for (const a of feeding) if (a.key === key) k.adds.push({ score: this.byId.get(a.rule)!.score!, ts: rec.ts });
        const at = Math.max(newestBefore, rec.ts);
        const value = sum(at);
        // The alert's window starts at the oldest of the newest 32 scores within 40 half-lives.
        const kept = k.adds.map((x, i) => ({ ...x, i })).sort((x, y) => x.ts - y.ts || x.i - y.i).filter((x) => x.ts >= at - 40 * this.halfLife).slice(-32);
        for (const [severity, threshold] of thresholds(rule, limit)) {
          if (value <= threshold) { k.above.delete(severity); continue; }
          if (k.above.has(severity)) continue;
          k.above.add(severity);
          out.push(this.alert(rule, severity, key, kept[0]?.ts ?? at, at, value, threshold, rec));
        }
      }
    }
  }

  private calendar (st: RuleState, key: string, list: Contribution[], c: Contribution, out: OracleAlert[]): void {
    const rule = st.rule;
    const unit = (rule.window as { unit: 'minute' | 'hour' | 'day' | 'week' | 'month' }).unit;
    const w = this.zone.window(unit, c.rec.ts);
    const inWindow = (x: Contribution): boolean => x.rec.ts >= w.start && x.rec.ts < w.end;
    const before = list.filter(inWindow);
    if (before.length === 0 && rule.adaptive !== undefined) {
      // The mean of the `over` windows just before this one, as they stand now (empty ones are 0).
      let total = 0;
      let end = w.start;
      for (let i = 0; i < rule.adaptive.over; i++) {
        const prev = this.zone.window(unit, end - 1);
        total += measureOf(rule.measure, list.filter((x) => x.rec.ts >= prev.start && x.rec.ts < prev.end));
        end = prev.start;
      }
      st.baseline.set(`${key}\u0000${w.start}`, total / rule.adaptive.over);
    }
    const now = [...before, c];
    c.conc = now.filter((q) => inProgress(q.rec, c.rec.ts)).length;
    lateOverlap(before, c);
    list.push(c);
    if (now.length < rule.minCount) return;
    const value = measureOf(rule.measure, now);
    const limit = this.effectiveLimit(st, key, w.start, c.rec);
    if (limit === undefined) return;
    for (const [severity, threshold] of thresholds(rule, limit)) {
      const id = `${key}\u0000${w.start}\u0000${severity}`;
      if (value > threshold && !st.fired.has(id)) {
        st.fired.add(id);
        out.push(this.alert(rule, severity, key, w.start, w.end, value, threshold, c.rec));
      }
    }
  }

  private sliding (st: RuleState, key: string, list: Contribution[], c: Contribution, size: number, out: OracleAlert[]): void {
    const rule = st.rule;
    const newestBefore = st.newest.get(key);
    if (newestBefore !== undefined && c.rec.ts <= newestBefore - size) return;
    const newest = Math.max(newestBefore ?? -Infinity, c.rec.ts);
    st.newest.set(key, newest);
    const inSpan = (x: Contribution): boolean => x.rec.ts > newest - size && x.rec.ts <= newest;
    const earlier = list.filter(inSpan);
    const now = [...earlier, c];
    c.conc = now.filter((q) => inProgress(q.rec, c.rec.ts)).length;
    lateOverlap(earlier, c);
    list.push(c);
    const limit = this.effectiveLimit(st, key, undefined, c.rec);
    if (limit === undefined) return;
    // The contract re-arms a (key, severity) when the measure is found at or below its threshold:
    // at an evaluation, and also when the span, slid to the arriving record, has dropped there
    // before the record is added (or holds fewer than min_count records).
    const before = measureOf(rule.measure, earlier);
    for (const [severity, threshold] of thresholds(rule, limit)) {
      if (earlier.length < rule.minCount || before <= threshold) st.above.delete(`${key}\u0000${severity}`);
    }
    if (now.length < rule.minCount) return;
    const value = measureOf(rule.measure, now);
    for (const [severity, threshold] of thresholds(rule, limit)) {
      const id = `${key}\u0000${severity}`;
      if (value > threshold) {
        if (!st.above.has(id)) out.push(this.alert(rule, severity, key, newest - size, newest, value, threshold, c.rec));
        st.above.add(id);
      } else {
        st.above.delete(id);
      }
    }
  }

  private effectiveLimit (st: RuleState, key: string, windowStart: number | undefined, rec: UsageRecord): number | undefined {
    const rule = st.rule;
    const base = rule.limits.get(key) ?? rule.limit;
    let limit: number;
    if (rule.adaptive !== undefined) {
      const mean = st.baseline.get(`${key}\u0000${windowStart}`);
      if (mean === undefined) throw new Error('oracle: adaptive baseline missing');
      limit = Math.max(base ?? rule.adaptive.min, rule.adaptive.factor * mean);
    } else if (base === undefined) {
      return undefined;
    } else {
      limit = base;
    }
    if (rule.shape !== undefined) {
      limit *= rule.shape.weekday[WEEKDAYS.indexOf(rec.weekday)] ?? 1;
      for (const r of rule.shape.hour) {
        const inside = r.from < r.to ? rec.hour >= r.from && rec.hour < r.to : rec.hour >= r.from || rec.hour < r.to;
        if (inside) limit *= r.factor;
      }
    }
    return limit;
  }

  private alert (rule: RuleConfig, severity: Severity, key: string, start: number, end: number, value: number, limit: number, rec: UsageRecord): OracleAlert {
    const a: OracleAlert = {
      rule: rule.id,
      severity,
      by: rule.by.map(describeBy),
      key,
      window: { start: this.zone.toIso(start), end: this.zone.toIso(end) },
      value: round6(value),
      limit: round6(limit),
      record: rec.id,
      ts: this.zone.toIso(rec.ts),
    };
    return rule.description === undefined ? a : { ...a, description: rule.description };
  }
}

/** [severity, threshold] pairs to check, warning first; the warning only for critical rules. */
function thresholds (rule: RuleConfig, limit: number): Array<[Severity, number]> {
  const list: Array<[Severity, number]> = [];
  if (rule.severity === 'critical' && rule.warning !== undefined) {
    list.push(['warning', rule.warning.kind === 'absolute' ? rule.warning.value : rule.warning.value * limit]);
  }
  list.push([rule.severity, limit]);
  return list;
}
