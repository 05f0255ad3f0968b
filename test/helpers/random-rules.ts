/**
 * Builders and seeded generators for engine tests: RulesConfig and UsageRecord objects built
 * directly (no YAML, no parsing), with every derived field filled from the rules' zone, and a
 * small harness that runs the optimized core over records the way Ingest does.
 */
import type {
  CalendarUnit, Comparison, Condition, Filter, KeyPart, Measure, RuleConfig, RulesConfig, Scalar, Severity, Shape, WindowSpec,
} from '../../core/rules-config.js';
import type { Service, UsageRecord } from '../../core/usage-record.js';
import type { Alert } from '../../core/alert.js';
import { WEEKDAYS } from '../../core/usage-record.js';
import { Zone, DAY_MS, HOUR_MS, MINUTE_MS } from '../../core/zone.js';
import { compileRules } from '../../core/compile.js';
import { Engine } from '../../core/engine.js';
import { type Rng, intBetween } from './prng.js';
import type { OracleAlert } from './oracle.js';

// ---------------------------------------------------------------- builders

export type RuleInput = Partial<RuleConfig> & Pick<RuleConfig, 'id'>;

// One rule builder for every engine test, so a default changes in one place.
export { rule } from './config.js';

export const GROUPS: ReadonlyMap<string, readonly string[]> = new Map([
  ['wholesale', ['acct-7', 'acct-9']],
  ['retail', ['1234', 'acct-9']],
  ['vip', ['5678']],
]);

export function config (rules: readonly RuleConfig[], over: Partial<RulesConfig> = {}): RulesConfig {
  return {
    version: 1,
    file: 'rules.yaml',
    timezone: 'UTC',
    accountScoped: ['subscription', 'caller'],
    lateness: HOUR_MS,
    lists: new Map(),
    groups: GROUPS,
    channels: new Map(),
    rules,
    ...over,
  };
}

export function groupsOf (groups: ReadonlyMap<string, readonly string[]>, account: string): string[] {
  const out: string[] = [];
  for (const [g, accounts] of groups) if (accounts.includes(account)) out.push(g);
  return out;
}

/** Country of the numbers the generators use (a stand-in for the numbering plan). */
const COUNTRY: Readonly<Record<string, string>> = {
  '+252612345678': 'SO',
  '+252612345679': 'SO',
  '+66812345678': 'TH',
  '+2348012345678': 'NG',
  '+4930123456': 'DE',
  '+4930123457': 'DE',
  '+447700900123': 'GB',
  '+12125550100': 'US',
  '+12125550101': 'US',
};
const CALLED = [...Object.keys(COUNTRY), '12'];

export type RecordInput = Partial<UsageRecord> & Pick<UsageRecord, 'id' | 'ts'>;

/** A record with the derived fields (hour, minuteOfDay, weekday, group, country) filled in. */
export function usage (zone: Zone, r: RecordInput, groups: ReadonlyMap<string, readonly string[]> = GROUPS): UsageRecord {
  const account = r.account ?? '1234';
  const duration = r.duration ?? 0;
  const local = zone.local(r.ts);
  const rec: UsageRecord = {
    account,
    service: 'voice',
    duration,
    answered: duration > 0,
    direction: 'out',
    hour: local.hour,
    minuteOfDay: local.minuteOfDay,
    weekday: WEEKDAYS[local.weekday] ?? 'mon',
    group: groupsOf(groups, account),
    ...r,
  };
  const country = rec.called === undefined ? undefined : COUNTRY[rec.called];
  if (country !== undefined && r.country === undefined) rec.country = country;
  return rec;
}

// ---------------------------------------------------------------- running the core

export type Comparable = OracleAlert;

/** An alert without `id` and `detectedAt`, with its keys in one order, for comparison. */
export function comparable (a: Alert | OracleAlert): Comparable {
  const c: Comparable = {
    rule: a.rule,
    severity: a.severity,
    by: [...a.by],
    key: a.key,
    window: { start: a.window.start, end: a.window.end },
    value: a.value,
    limit: a.limit,
    record: a.record,
    ts: a.ts,
  };
  return a.description === undefined ? c : { ...c, description: a.description };
}

/** Sorts one record's alerts (the core groups them by counter, not by rule). */
export function sortAlerts<T extends Comparable> (alerts: T[]): T[] {
  const k = (a: Comparable): string => `${a.rule}\u0000${a.severity}\u0000${a.key}\u0000${JSON.stringify(a)}`;
  return [...alerts].sort((a, b) => k(a) < k(b) ? -1 : k(a) > k(b) ? 1 : 0);
}

export interface CoreRun {
  /** per record, its alerts */
  readonly alerts: Alert[][];
  /** indexes of records that were behind a discarded window (must stay empty) */
  readonly late: number[];
}

/** Feeds records to the optimized engine as Ingest would: advance the watermark, then process. */
export function runCore (rules: RulesConfig, records: readonly UsageRecord[]): CoreRun {
  const compiled = compileRules(rules);
  const engine = new Engine(compiled, () => 0);
  const alerts: Alert[][] = [];
  const late: number[] = [];
  let watermark = -Infinity;
  records.forEach((rec, i) => {
    watermark = Math.max(watermark, rec.ts);
    if (!(earliestEnd(rules, compiled.zone, rec.ts) + rules.lateness > watermark)) late.push(i);
    engine.advance(watermark);
    const out: Alert[] = [];
    engine.process(rec, undefined, out);
    alerts.push(out);
  });
  return { alerts, late };
}

/** The earliest end of any window of an enabled rule that holds `ts` (computed here, not by the core). */
function earliestEnd (rules: RulesConfig, zone: Zone, ts: number): number {
  let end = Infinity;
  for (const r of rules.rules) {
    if (!r.enabled) continue;
    if (r.window.kind === 'decay') continue;
    const e = r.window.kind === 'calendar' ? zone.window(r.window.unit, ts).end : ts + r.window.ms;
    end = Math.min(end, e);
  }
  return end;
}

// ---------------------------------------------------------------- random generators

function pick<T> (rnd: Rng, items: readonly T[]): T {
  return items[Math.floor(rnd() * items.length)] as T;
}

function chance (rnd: Rng, p: number): boolean {
  return rnd() < p;
}

function some<T> (rnd: Rng, items: readonly T[], min: number, max: number): T[] {
  const n = intBetween(rnd, min, Math.min(max, items.length));
  const pool = [...items];
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(pool.splice(Math.floor(rnd() * pool.length), 1)[0] as T);
  return out;
}

export const ZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata'] as const;

/** Instants near which clocks change somewhere in ZONES (and month/week ends for the others). */
const DST_CHANGES: Readonly<Record<string, readonly string[]>> = {
  UTC: ['2026-03-01T00:00:00Z', '2026-11-30T22:00:00Z'],
  'Europe/Berlin': ['2026-03-29T01:00:00Z', '2026-10-25T01:00:00Z'],
  'America/New_York': ['2026-03-08T07:00:00Z', '2026-11-01T06:00:00Z'],
  'Asia/Kolkata': ['2026-03-31T18:30:00Z', '2026-10-25T01:00:00Z'],
};

const ACCOUNTS = ['1234', '5678', 'acct-7', 'acct-9', 'acct-x'];
const CALLERS = ['+4915110000001', '+4915110000002', '+4915110000003', '+4915110000004', '+4915110000005'];
const TIERS = ['gold', 'silver', 'bronze'];
const TRUNKS = ['T1', 'T2', 'T3'];

const BYS: ReadonlyArray<readonly KeyPart[]> = [
  [{ kind: 'field', field: 'account' }],
  [{ kind: 'field', field: 'caller' }],
  [{ kind: 'field', field: 'caller' }, { kind: 'field', field: 'called' }],
  [{ kind: 'field', field: 'trunk' }],
  [{ kind: 'field', field: 'group' }],
  [{ kind: 'field', field: 'country' }],
  [{ kind: 'prefix', field: 'called', n: 4 }],
  [{ kind: 'trim', field: 'called', n: 2 }],
  [{ kind: 'field', field: 'attrs.tier' }],
  [{ kind: 'field', field: 'account' }, { kind: 'field', field: 'answered' }],
  [{ kind: 'field', field: 'group' }, { kind: 'field', field: 'service' }],
  [{ kind: 'field', field: 'account' }, { kind: 'field', field: 'attrs.score' }],
];

interface MeasureChoice { readonly measure: Measure, readonly limit: (rnd: Rng) => number }

const quarter = (rnd: Rng, max: number): number => Math.floor(rnd() * max * 4) / 4;
const eighth = (rnd: Rng): number => intBetween(rnd, 1, 7) / 8;
const cmp = (field: string, op: Comparison['op'], value: Scalar): Measure => ({ kind: 'ratio', cond: { field, op, value } });

const MEASURES: readonly MeasureChoice[] = [
  { measure: { kind: 'count' }, limit: (rnd) => intBetween(rnd, 0, 12) },
  { measure: { kind: 'sum', field: 'cost' }, limit: (rnd) => quarter(rnd, 40) },
  { measure: { kind: 'sum', field: 'duration' }, limit: (rnd) => intBetween(rnd, 0, 3000) },
  { measure: { kind: 'avg', field: 'cost' }, limit: (rnd) => quarter(rnd, 8) },
  { measure: { kind: 'avg', field: 'duration' }, limit: (rnd) => intBetween(rnd, 0, 400) },
  { measure: { kind: 'max', field: 'cost' }, limit: (rnd) => quarter(rnd, 10) },
  { measure: { kind: 'max', field: 'attrs.score' }, limit: (rnd) => intBetween(rnd, 0, 9) },
  { measure: { kind: 'distinct', field: 'called' }, limit: (rnd) => intBetween(rnd, 0, 6) },
  { measure: { kind: 'distinct', field: 'caller' }, limit: (rnd) => intBetween(rnd, 0, 4) },
  { measure: { kind: 'distinct', field: 'attrs.tier' }, limit: (rnd) => intBetween(rnd, 0, 2) },
  { measure: { kind: 'distinct', field: 'attrs.score' }, limit: (rnd) => intBetween(rnd, 0, 5) },
  { measure: { kind: 'distinct', field: 'answered' }, limit: () => 1 },
  { measure: { kind: 'concurrent' }, limit: (rnd) => intBetween(rnd, 0, 4) },
  { measure: cmp('duration', '<', 6), limit: eighth },
  { measure: cmp('service', '==', 'sms'), limit: eighth },
  { measure: cmp('answered', '==', true), limit: eighth },
  { measure: cmp('answered', '!=', 'true'), limit: eighth },
  { measure: cmp('direction', '!=', 'out'), limit: eighth },
  { measure: cmp('cost', '>=', 2), limit: eighth },
  { measure: cmp('hour', '<=', 11), limit: eighth },
  { measure: cmp('duration', '>', 60), limit: eighth },
  { measure: cmp('duration', '==', 0), limit: eighth },
  { measure: { kind: 'new', field: 'country' }, limit: (rnd) => intBetween(rnd, 0, 2) },
  { measure: { kind: 'new', field: 'called' }, limit: (rnd) => intBetween(rnd, 0, 3) },
];

const SLIDING: ReadonlyArray<[number, string]> = [
  [5_000, '5s'], [30_000, '30s'], [MINUTE_MS, '1m'], [5 * MINUTE_MS, '5m'], [15 * MINUTE_MS, '15m'],
  [HOUR_MS, '1h'], [6 * HOUR_MS, '6h'], [DAY_MS, '1d'], [7 * DAY_MS, '7d'],
];

function randomWindow (rnd: Rng): WindowSpec {
  if (chance(rnd, 0.35)) {
    const [ms, text] = pick(rnd, SLIDING);
    return { kind: 'sliding', ms, text };
  }
  return { kind: 'calendar', unit: pick(rnd, ['minute', 'hour', 'day', 'week', 'month'] as CalendarUnit[]) };
}

function leafFilter (rnd: Rng): Filter {
  const field = (f: string, cond: Condition): Filter => ({ kind: 'field', field: f, cond });
  switch (intBetween(rnd, 0, 13)) {
    case 0: return field('account', { op: 'eq', value: chance(rnd, 0.5) ? 1234 : pick(rnd, ACCOUNTS) });
    case 1: return field(pick(rnd, ['service', 'direction']), { op: 'eq', value: pick(rnd, ['voice', 'sms', 'data', 'out', 'in']) });
    case 2: return field('country', { op: pick(rnd, ['in', 'not_in'] as const), values: some(rnd, ['SO', 'TH', 'NG', 'DE', 'GB', 'US'], 1, 3) });
    case 3: return field('account', { op: pick(rnd, ['in', 'not_in'] as const), values: some(rnd, [...ACCOUNTS, 5678], 1, 3) });
    case 4: return field(pick(rnd, ['called', 'caller']), {
      op: pick(rnd, ['prefix', 'not_prefix'] as const), values: some(rnd, ['+252', '+4', '+1', '+66', '+49151100000', '1'], 1, 2),
    });
    case 5: return field(pick(rnd, ['duration', 'cost', 'hour', 'attrs.score']), {
      op: pick(rnd, ['lt', 'lte', 'gt', 'gte'] as const), value: pick(rnd, [0, 1, 2, 5, 6, 12, 30, 60, 120]),
    });
    case 6: {
      const low = pick(rnd, [0, 1, 2, 5, 10]);
      return field(pick(rnd, ['duration', 'cost', 'hour', 'attrs.score']), { op: 'between', low, high: low + pick(rnd, [0, 2, 5, 60]) });
    }
    case 7: return field(pick(rnd, ['cost', 'trunk', 'caller', 'called', 'country', 'attrs.tier', 'attrs.score', 'subscription']), {
      op: 'exists', value: chance(rnd, 0.5),
    });
    case 8: {
      const from = intBetween(rnd, 0, 47) * 30 + pick(rnd, [0, 0, 7]);
      let to = intBetween(rnd, 0, 47) * 30;
      if (to === from) to = (from + 90) % 1440;
      return { kind: 'hours', from, to };
    }
    case 9: return { kind: 'weekday', days: some(rnd, WEEKDAYS, 1, 5) };
    case 10: return field('group', chance(rnd, 0.5)
      ? { op: pick(rnd, ['eq'] as const), value: pick(rnd, [...GROUPS.keys()]) }
      : { op: pick(rnd, ['in', 'not_in', 'prefix', 'not_prefix'] as const), values: some(rnd, ['wholesale', 'retail', 'vip', 'w', 're'], 1, 2) });
    case 11: return field('attrs.tier', chance(rnd, 0.4)
      ? { op: 'eq', value: pick(rnd, TIERS) }
      : { op: pick(rnd, ['in', 'not_in'] as const), values: some(rnd, TIERS, 1, 2) });
    case 12: return field('answered', { op: 'eq', value: chance(rnd, 0.5) });
    default: return field('trunk', { op: pick(rnd, ['in', 'not_in', 'prefix'] as const), values: some(rnd, [...TRUNKS, 'T'], 1, 2) });
  }
}

function randomFilter (rnd: Rng, depth: number): Filter {
  if (depth <= 0 || chance(rnd, 0.55)) return leafFilter(rnd);
  const r = rnd();
  if (r < 0.2) return { kind: 'not', of: randomFilter(rnd, depth - 1) };
  const of: Filter[] = [];
  for (let i = intBetween(rnd, 1, 3); i > 0; i--) of.push(randomFilter(rnd, depth - 1));
  return { kind: r < 0.6 ? 'all' : 'any', of };
}

function randomShape (rnd: Rng): Shape {
  const weekday = WEEKDAYS.map(() => chance(rnd, 0.6) ? 1 : pick(rnd, [0.5, 0.75, 1.25, 1.5, 2]));
  const hour = [];
  for (let i = intBetween(rnd, 0, 2); i > 0; i--) {
    const from = intBetween(rnd, 0, 23);
    let to = intBetween(rnd, 0, 23);
    if (to === from) to = (from + 6) % 24;
    hour.push({ from, to, factor: pick(rnd, [0.5, 1.5, 2, 3]) });
  }
  return { weekday, hour };
}

/** One random rule; `like` (a rule to share a counter with) keeps its by, measure, window and where. */
function randomRule (rnd: Rng, id: string, like: RuleConfig | undefined): RuleConfig {
  const choice = pick(rnd, MEASURES);
  const measure = like?.measure ?? choice.measure;
  const limitOf = like === undefined ? choice.limit : (MEASURES.find((m) => JSON.stringify(m.measure) === JSON.stringify(measure)) ?? choice).limit;
  const window = like?.window ?? randomWindow(rnd);
  const by = like?.by ?? pick(rnd, BYS);
  const where = like !== undefined ? like.where : chance(rnd, 0.6) ? randomFilter(rnd, 3) : undefined;
  const severity: Severity = chance(rnd, 0.75) ? 'critical' : pick(rnd, ['info', 'warning'] as Severity[]);
  let limit: number | undefined = limitOf(rnd);
  let adaptive: RuleConfig['adaptive'];
  if (window.kind === 'calendar' && chance(rnd, 0.25)) {
    adaptive = { over: intBetween(rnd, 1, 7), factor: pick(rnd, [1, 1.5, 2, 3]), min: limitOf(rnd) };
    if (chance(rnd, 0.6)) limit = undefined;
  }
  const limits = new Map<string, number>();
  if (chance(rnd, 0.3)) {
    for (const k of some(rnd, ['1234', '5678', 'acct-7', 'acct-9', 'wholesale', 'retail', 'T1', 'SO', 'DE', '+252', '+4930123', 'gold', CALLERS[0] as string], 1, 4)) {
      limits.set(k, limitOf(rnd));
    }
  }
  const r: RuleConfig = {
    id,
    by,
    measure,
    window,
    limits,
    severity,
    minCount: chance(rnd, 0.7) ? 0 : intBetween(rnd, 1, 5),
    enabled: !chance(rnd, 0.1),
    position: { line: 1, col: 1 },
    // Rules sharing a counter share its seen-set, so they share the horizon too.
    ...(measure.kind === 'new' ? { history: like?.history ?? pick(rnd, [HOUR_MS, 6 * HOUR_MS, DAY_MS, 3 * DAY_MS]) } : {}),
    ...(where === undefined ? {} : { where }),
    ...(limit === undefined ? {} : { limit }),
    ...(adaptive === undefined ? {} : { adaptive }),
    ...(chance(rnd, 0.3) ? { description: `rule ${id}` } : {}),
    ...(chance(rnd, 0.25) ? { shape: randomShape(rnd) } : {}),
  };
  if (chance(rnd, 0.35)) {
    return {
      ...r,
      warning: chance(rnd, 0.5)
        ? { kind: 'share', value: pick(rnd, [0.25, 0.5, 0.75, 0.8]) }
        : { kind: 'absolute', value: limitOf(rnd) },
    };
  }
  return r;
}

export interface Scenario {
  readonly seed: number;
  readonly config: RulesConfig;
  readonly records: UsageRecord[];
}

/** A random rules file and ~`n` records around a clock change in a random zone. */
/** Local `by`s a risk rule may have (they name account or an account_scoped field). */
const LOCAL = (by: readonly KeyPart[]): boolean => by.some((p) => p.kind === 'field' && ['account', 'subscription', 'caller'].includes(p.field));

/**
 * Gives some rules a `score` (a few of them shadow) and appends one or two risk rules, by a
 * local `by` that a scored rule has when there is one, so that scores feed them.
 */
function addRisk (rnd: Rng, rules: RuleConfig[]): { halfLife: number } {
  for (let i = 0; i < rules.length; i++) {
    if (!chance(rnd, 0.7)) continue;
    rules[i] = { ...rules[i]!, score: intBetween(rnd, 1, 20), ...(chance(rnd, 0.1) ? { shadow: true as const } : {}) };
  }
  const bys = rules.filter((r) => r.score !== undefined && LOCAL(r.by)).map((r) => r.by);
  for (let i = intBetween(rnd, 1, 2); i > 0; i--) {
    const severity: Severity = chance(rnd, 0.75) ? 'critical' : 'info';
    const limit = pick(rnd, [5, 10, 20, 40]);
    const limits = new Map<string, number>();
    if (chance(rnd, 0.2)) limits.set(pick(rnd, ['1234', '5678', 'acct-7', CALLERS[0] as string]), pick(rnd, [3, 15]));
    rules.push({
      id: `k${rules.length}`,
      by: bys.length > 0 && chance(rnd, 0.8) ? pick(rnd, bys) : [{ kind: 'field', field: 'account' }],
      measure: { kind: 'risk' },
      window: { kind: 'decay' },
      limit,
      limits,
      severity,
      minCount: 0,
      enabled: true,
      position: { line: 1, col: 1 },
      ...(severity === 'critical' && chance(rnd, 0.3) ? { warning: { kind: 'share' as const, value: 0.5 } } : {}),
      ...(chance(rnd, 0.2) ? { shape: randomShape(rnd) } : {}),
    });
  }
  return { halfLife: pick(rnd, [10 * MINUTE_MS, HOUR_MS, DAY_MS]) };
}

export function randomScenario (rnd: Rng, seed: number, n: number): Scenario {
  const timezone = pick(rnd, ZONES);
  const rules: RuleConfig[] = [];
  for (let i = intBetween(rnd, 1, 8); i > 0; i--) {
    const like = rules.length > 0 && chance(rnd, 0.3) ? pick(rnd, rules) : undefined;
    rules.push(randomRule(rnd, `r${rules.length}`, like));
  }
  const risk = chance(rnd, 0.35) ? addRisk(rnd, rules) : undefined;
  const lateness = pick(rnd, [HOUR_MS, HOUR_MS, 5 * MINUTE_MS, 2 * MINUTE_MS, DAY_MS]);
  const cfg = config(rules, { timezone, lateness, ...(risk === undefined ? {} : { risk }) });
  const zone = new Zone(timezone);

  // Mean gap between records: a few seconds (minute windows fill up) to hours (months pass).
  const gap = pick(rnd, [1_000, 5_000, 30_000, 2 * MINUTE_MS, 10 * MINUTE_MS, HOUR_MS, 4 * HOUR_MS]);
  const jitter = Math.min(gap, 20_000);
  const change = Date.parse(pick(rnd, DST_CHANGES[timezone] ?? []));
  let base = change - Math.floor(rnd() * n * gap);
  const records: UsageRecord[] = [];
  for (let i = 0; i < n; i++) {
    base += Math.floor(rnd() * 2 * gap);
    // Mostly increasing, sometimes a little behind: far less than lateness and the smallest calendar window.
    const ts = chance(rnd, 0.3) ? base - Math.floor(rnd() * jitter) : base;
    const service: Service = pick(rnd, ['voice', 'voice', 'voice', 'sms', 'data']);
    const duration = service === 'sms' ? 0 : chance(rnd, 0.2) ? 0 : Math.floor(rnd() * 3 * gap / 1000) + (chance(rnd, 0.2) ? 0.5 : 0);
    const account = pick(rnd, ACCOUNTS);
    const r: RecordInput = {
      id: `rec-${seed}-${i}`,
      ts,
      account,
      service,
      duration,
      answered: chance(rnd, 0.1) ? duration === 0 : duration > 0,
      direction: chance(rnd, 0.8) ? 'out' : 'in',
    };
    if (chance(rnd, 0.9)) r.caller = pick(rnd, CALLERS);
    if (service !== 'data' || chance(rnd, 0.3)) r.called = pick(rnd, CALLED);
    if (chance(rnd, 0.7)) r.cost = quarter(rnd, 10);
    if (chance(rnd, 0.8)) r.trunk = pick(rnd, TRUNKS);
    if (chance(rnd, 0.3)) r.subscription = `sub-${account}`;
    if (chance(rnd, 0.8)) {
      const attrs: Record<string, string | number> = {};
      if (chance(rnd, 0.8)) attrs.tier = pick(rnd, TIERS);
      if (chance(rnd, 0.6)) attrs.score = intBetween(rnd, 0, 10);
      r.attrs = attrs;
    }
    records.push(usage(zone, r, cfg.groups));
  }
  return { seed, config: cfg, records };
}

/** JSON for messages: Maps as objects, so a failing case can be pasted into a test. */
export function show (value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => v instanceof Map ? Object.fromEntries(v) : v);
}
