/**
 * Compiles a validated rules config once into what the hot path runs: predicates, key
 * extractors, and an index from counters to the rules they feed.
 *
 * - A *keyer* is one distinct `by`. Each record computes each keyer's key once, and one Map
 *   lookup finds a row holding every counter of that key: key handling is what decides speed.
 * - A *counter* is one distinct (by, measure, window, where). Rules that differ only in their
 *   thresholds share it, so identical counters are kept once.
 * - A keyer is *local* when its key belongs to one account (it names `account` or an
 *   `account_scoped` field): it lives on the account's shard. Other keyers span accounts and
 *   live on the shard of their own key (rules.md, "Where a counter lives").
 */
import type { CalendarUnit, KeyPart, Measure, RuleConfig, RulesConfig, Severity, WindowSpec, Filter } from './rules-config.js';
import { CALENDAR_UNITS } from './rules-config.js';
import type { UsageRecord } from './usage-record.js';
import { Zone, MINUTE_MS, HOUR_MS, DAY_MS } from './zone.js';

/** An upper bound of each calendar unit's length (DST adds an hour to a day at most). */
export const UNIT_MAX_MS: Readonly<Record<CalendarUnit, number>> = {
  minute: MINUTE_MS,
  hour: HOUR_MS,
  day: 25 * HOUR_MS,
  week: 7 * DAY_MS + 2 * HOUR_MS,
  month: 31 * DAY_MS + 2 * HOUR_MS,
};
import { compileFilter, type Predicate } from './filter.js';
import { compileKey, describeKeyPart, type KeyExtractor } from './key.js';
import { contributor, type Contributor } from './measure.js';
import { Rater } from './tariff.js';
import { InvalidRulesError } from './errors.js';
import { stableId } from './hash.js';

export interface CompiledRule {
  readonly config: RuleConfig;
  readonly id: string;
  /** position of the rule among the counter's rules: its bit slot in `fired` */
  readonly slot: number;
  readonly by: readonly string[];
  readonly severity: Severity;
  readonly minCount: number;
  readonly limit: number | undefined;
  readonly limits: ReadonlyMap<string, number>;
  /** severity `warning` threshold, only for critical rules */
  readonly warning: RuleConfig['warning'];
  /** 7 weekday factors × 24 hour factors, or undefined when not shaped */
  readonly shape: Float64Array | undefined;
  readonly adaptive: RuleConfig['adaptive'];
  readonly description: string | undefined;
  /** the limit when nothing makes it vary (no `limits`, `shape` or `adaptive`): the hot path's shortcut */
  readonly constantLimit: number | undefined;
  /** risk points its alerts add to their key's score (never for a shadow rule) */
  readonly score: number | undefined;
  /** `enabled: shadow`: its alerts carry `shadow: true` */
  readonly shadow: boolean;
  /** JSON of its `by`: a score feeds the risk rules with the same `by` */
  readonly bySig: string;
}

export interface CompiledCounter {
  readonly index: number;
  readonly keyer: number;
  /** index of this counter's cell in its keyer's row */
  readonly slot: number;
  readonly measure: Measure;
  readonly window: WindowSpec;
  /** index into CompiledRules.filters, or -1 for none */
  readonly filter: number;
  readonly contribute: Contributor;
  readonly rules: readonly CompiledRule[];
  /** largest `adaptive.over` of its rules; 0 when none is adaptive */
  readonly history: number;
  readonly calendar: boolean;
  /** for a calendar counter, the index of its unit in CompiledRules.units */
  readonly unit: number;
  /** some rule's limit depends on the key or the window (`limits`, `adaptive`), or on the time (`shape`) */
  readonly varyingLimits: boolean;
  /** `new(F)`: how long the key remembers a value (ms); 0 for other measures */
  readonly novelty: number;
  /**
   * `measure: risk`: fed by alerts, not records. Its `window` is a placeholder (sliding over
   * the half-life) so that code reading windows never meets a kind it does not know.
   */
  readonly risk: boolean;
}

export interface CompiledKeyer {
  readonly index: number;
  readonly by: readonly KeyPart[];
  readonly extract: KeyExtractor;
  readonly local: boolean;
  readonly counters: readonly CompiledCounter[];
  /** its counters that records feed (all but the risk counters) */
  readonly fed: readonly CompiledCounter[];
  /**
   * The distinct filters of its fed counters, or undefined when some counter has none: a
   * record that passes none of them skips the keyer before any key is built.
   */
  readonly gate: readonly number[] | undefined;
}

export interface CompiledRules {
  readonly config: RulesConfig;
  readonly zone: Zone;
  readonly rater: Rater | undefined;
  readonly keyers: readonly CompiledKeyer[];
  readonly counters: readonly CompiledCounter[];
  readonly filters: readonly Predicate[];
  readonly rules: readonly CompiledRule[];
  readonly lateness: number;
  /** risk scores halve every `halfLife` ms of event time */
  readonly halfLife: number;
  /** risk counters by the `by` (JSON) of the alerts whose scores they add up */
  readonly riskBy: ReadonlyMap<string, readonly CompiledCounter[]>;
  readonly ruleById: ReadonlyMap<string, CompiledRule>;
  /**
   * An upper bound of earliestWindowEnd(ts) − ts. An accepted record always has
   * ts > watermark − horizon − lateness, which tells the engine what state no future record can touch.
   */
  readonly horizon: number;
  groupsOf (account: string): readonly string[];
  /**
   * The earliest window end a record at `ts` falls into, over every enabled rule: once the
   * watermark passes it plus `lateness`, that window is discarded and the record is late.
   */
  earliestWindowEnd (ts: number): number;
}

function shapeTable (rule: RuleConfig): Float64Array | undefined {
  const shape = rule.shape;
  if (shape === undefined) return undefined;
  const table = new Float64Array(7 * 24).fill(1);
  for (let d = 0; d < 7; d++) {
    for (let h = 0; h < 24; h++) {
      let f = shape.weekday[d] ?? 1;
      for (const range of shape.hour) {
        const inside = range.from <= range.to ? h >= range.from && h < range.to : h >= range.from || h < range.to;
        if (inside) f *= range.factor;
      }
      table[d * 24 + h] = f;
    }
  }
  return table;
}

function ruleError (rules: RulesConfig, rule: RuleConfig, message: string): InvalidRulesError {
  return new InvalidRulesError([{ file: rules.file, line: rule.position.line, col: rule.position.col, message }]);
}

export function compileRules (config: RulesConfig): CompiledRules {
  const zone = new Zone(config.timezone);
  const scoped = new Set(['account', ...config.accountScoped]);

  const groupIndex = new Map<string, string[]>();
  for (const [group, accounts] of config.groups) {
    for (const a of accounts) {
      const list = groupIndex.get(a);
      if (list === undefined) groupIndex.set(a, [group]); else list.push(group);
    }
  }
  const noGroups: readonly string[] = Object.freeze([]);

  const filterIds = new Map<string, number>();
  const filters: Predicate[] = [];
  const filterOf = (where: Filter | undefined): number => {
    if (where === undefined) return -1;
    const sig = JSON.stringify(where);
    let id = filterIds.get(sig);
    if (id === undefined) {
      id = filters.length;
      filters.push(compileFilter(where));
      filterIds.set(sig, id);
    }
    return id;
  };

  interface KeyerDraft { by: readonly KeyPart[], counters: Map<string, CounterDraft> }
  interface CounterDraft { measure: Measure, window: WindowSpec, filter: number, rules: RuleConfig[] }
  const keyers = new Map<string, KeyerDraft>();
  const enabled = config.rules.filter((r) => r.enabled);
  const halfLife = config.risk?.halfLife ?? DAY_MS;
  for (const rule of enabled) {
    if (rule.measure.kind === 'risk') checkRiskRule(config, rule, scoped);
    if (rule.adaptive !== undefined && rule.window.kind === 'sliding') {
      throw ruleError(config, rule, `rule "${rule.id}": adaptive needs a calendar window (its mean is taken over past windows), got { sliding: ${rule.window.text} }`);
    }
    const bySig = JSON.stringify(rule.by);
    let k = keyers.get(bySig);
    if (k === undefined) { k = { by: rule.by, counters: new Map() }; keyers.set(bySig, k); }
    const filter = filterOf(rule.where);
    // new(F) rules with different horizons keep different seen-sets.
    const cSig = JSON.stringify([rule.measure, rule.window, filter, rule.history ?? 0]);
    const window: WindowSpec = rule.window.kind === 'decay' ? { kind: 'sliding', ms: halfLife, text: 'half_life' } : rule.window;
    let c = k.counters.get(cSig);
    if (c === undefined) { c = { measure: rule.measure, window, filter, rules: [] }; k.counters.set(cSig, c); }
    c.rules.push(rule);
  }

  const compiledKeyers: CompiledKeyer[] = [];
  const counters: CompiledCounter[] = [];
  const rules: CompiledRule[] = [];
  for (const draft of keyers.values()) {
    const keyerIndex = compiledKeyers.length;
    const own: CompiledCounter[] = [];
    for (const c of draft.counters.values()) {
      const compiled: CompiledCounter = {
        index: counters.length,
        keyer: keyerIndex,
        slot: own.length,
        measure: c.measure,
        window: c.window,
        filter: c.filter,
        contribute: contributor(c.measure),
        rules: c.rules.map((r, slot) => {
          const cr: CompiledRule = {
            config: r,
            id: r.id,
            slot,
            by: r.by.map(describeKeyPart),
            severity: r.severity,
            minCount: r.minCount,
            limit: r.limit,
            limits: r.limits,
            warning: r.severity === 'critical' ? r.warning : undefined,
            shape: shapeTable(r),
            adaptive: r.adaptive,
            description: r.description,
            constantLimit: r.limits.size === 0 && r.shape === undefined && r.adaptive === undefined ? r.limit ?? Infinity : undefined,
            score: r.shadow === true ? undefined : r.score,
            shadow: r.shadow === true,
            bySig: JSON.stringify(r.by),
          };
          rules.push(cr);
          return cr;
        }),
        history: Math.max(0, ...c.rules.map((r) => r.adaptive?.over ?? 0)),
        calendar: c.window.kind === 'calendar',
        unit: c.window.kind === 'calendar' ? CALENDAR_UNITS.indexOf(c.window.unit) : -1,
        varyingLimits: c.rules.some((r) => r.limits.size > 0 || r.adaptive !== undefined || r.shape !== undefined),
        novelty: c.rules[0]?.history ?? 0,
        risk: c.measure.kind === 'risk',
      };
      own.push(compiled);
      counters.push(compiled);
    }
    const fed = own.filter((c) => !c.risk);
    compiledKeyers.push({
      index: keyerIndex,
      by: draft.by,
      extract: compileKey(draft.by),
      local: draft.by.some((p) => p.kind === 'field' && scoped.has(p.field)),
      counters: own,
      fed,
      gate: fed.some((c) => c.filter < 0) ? undefined : [...new Set(fed.map((c) => c.filter))],
    });
  }
  const riskBy = new Map<string, CompiledCounter[]>();
  for (const c of counters) {
    if (!c.risk) continue;
    const sig = c.rules[0]!.bySig;
    const list = riskBy.get(sig);
    if (list === undefined) riskBy.set(sig, [c]); else list.push(c);
  }

  const units = [...new Set(enabled.flatMap((r) => r.window.kind === 'calendar' ? [r.window.unit] : []))] as CalendarUnit[];
  const slidingMin = Math.min(...enabled.flatMap((r) => r.window.kind === 'sliding' ? [r.window.ms] : []));
  const lengths = [...units.map((u) => UNIT_MAX_MS[u]), ...(Number.isFinite(slidingMin) ? [slidingMin] : [])];
  // The intersection of the calendar windows of the last miss, [calStart, calEnd): every
  // instant in it lies in the same window of each unit, so the earliest calendar end is calEnd.
  let calStart = 0;
  let calEnd = 0;
  const earliestWindowEnd = (ts: number): number => {
    if (!(ts >= calStart && ts < calEnd)) {
      calStart = -Infinity;
      calEnd = Infinity;
      for (const u of units) {
        const w = zone.window(u, ts);
        if (w.start > calStart) calStart = w.start;
        if (w.end < calEnd) calEnd = w.end;
      }
    }
    let end = Number.isFinite(slidingMin) ? ts + slidingMin : Infinity;
    if (calEnd < end) end = calEnd;
    return end === Infinity ? ts + MINUTE_MS : end;
  };

  return {
    config,
    zone,
    rater: config.tariff === undefined ? undefined : new Rater(config.tariff),
    keyers: compiledKeyers,
    counters,
    filters,
    rules,
    lateness: config.lateness,
    halfLife,
    riskBy,
    ruleById: new Map(rules.map((r) => [r.id, r])),
    horizon: lengths.length === 0 ? MINUTE_MS : Math.min(...lengths),
    groupsOf: (account) => groupIndex.get(account) ?? noGroups,
    earliestWindowEnd,
  };
}

/**
 * A risk score lives beside the alerts that feed it: those are raised on the shard of the
 * record's account for an account-local `by` only, so the risk rule's `by` must be one.
 */
function checkRiskRule (config: RulesConfig, rule: RuleConfig, scoped: ReadonlySet<string>): void {
  if (!rule.by.some((p) => p.kind === 'field' && scoped.has(p.field))) {
    const local = [...scoped].join(', ');
    throw ruleError(config, rule, `rule "${rule.id}": measure risk needs a by kept on the account's shard (one of ${local}), got by: [${rule.by.map(describeKeyPart).join(', ')}]`);
  }
  if (rule.where !== undefined) throw ruleError(config, rule, `rule "${rule.id}": measure risk takes no where: alerts feed it, not records`);
  if (rule.adaptive !== undefined) throw ruleError(config, rule, `rule "${rule.id}": adaptive needs a calendar window (its mean is taken over past windows), and measure risk has none`);
  if (rule.score !== undefined) throw ruleError(config, rule, `rule "${rule.id}": a risk rule cannot have a score: its alerts would feed the score it measures`);
}

/** Rates a record that arrived without a cost, when the rules define a tariff. */
export function rateRecord (compiled: CompiledRules, record: UsageRecord): void {
  if (record.cost !== undefined || compiled.rater === undefined) return;
  const cost = compiled.rater.rate(record.called, record.service, record.duration, record.answered);
  if (cost !== undefined) {
    record.cost = cost;
    if (record.currency === undefined && compiled.config.tariff?.currency !== undefined) record.currency = compiled.config.tariff.currency;
  }
}

const fingerprints = new WeakMap<RulesConfig, string>();

/**
 * A fingerprint of what a data folder's counters mean: the rules, without their positions.
 * Kept per config (configs are not changed once parsed): with a million-key limits_file one
 * costs about half a second, and a start or a reload asks for it several times.
 */
export function rulesFingerprint (config: RulesConfig): string {
  let fingerprint = fingerprints.get(config);
  if (fingerprint === undefined) {
    const text = JSON.stringify(config, (key, value: unknown) => {
      if (key === 'position' || key === 'file') return undefined;
      return value instanceof Map ? [...value.entries()] : value;
    });
    fingerprints.set(config, fingerprint = stableId(text));
  }
  return fingerprint;
}
