/**
 * The evaluation engine: applies records to counters and evaluates every threshold each
 * record contributes to. Single-threaded and synchronous by design; a shard actor owns one
 * Engine, so no counter ever needs a lock.
 *
 * One record: for each keyer (distinct `by`), extract the key(s), find the key's id with one
 * Map lookup, and for each counter of that key whose filter passes, add the record's
 * contribution to the window it falls in and check that counter's rules. A key is created only
 * when some counter takes a contribution, so filtered-out keys cost nothing.
 *
 * Layout (see key-table.ts): the common counters — count, sum, avg, max and ratio over a
 * calendar window — keep their newest window as numbers in the keyer's arena (start, end, n,
 * aggregate, fired bits and limits per rule), so the usual record touches no object and
 * allocates nothing. Older windows still open (a record late across a window's end), adaptive
 * history and every other measure live in plain objects beside the key. takeChanges() and
 * restore() speak the object form (Row) that stores persist, so the layout is the engine's own.
 *
 * Memory stays bounded on an endless stream: a window is discarded once the watermark (the
 * newest event time accepted upstream) passes its end plus `lateness`, and rows with nothing
 * left are deleted by a sweep that runs a few times per `lateness` of event time.
 */
import type { CompiledCounter, CompiledRule, CompiledRules } from './compile.js';
import { UNIT_MAX_MS } from './compile.js';
import type { UsageRecord } from './usage-record.js';
import type { CalendarUnit, Severity } from './rules-config.js';
import { CALENDAR_UNITS } from './rules-config.js';
import type { WindowBounds } from './zone.js';
import { type Alert, alertId, roundValue } from './alert.js';
import { type CalendarWindow, type HeldEvents, type SlidingState, addConcurrent, addToSliding, addToWindow, openSliding, openWindow, slideTo, windowValue } from './measure.js';
import { shardOf } from './hash.js';
import { RuleFailedError } from './errors.js';
import type { LimitChanges } from './limits-change.js';
import { KeyTable, UNSCHEDULED } from './key-table.js';
import { type SeenSet, novel, seenExpiresAt, sweepSeen } from './novelty.js';
import { type RiskCell, addScore, decayedScore, openRisk, riskExpiresAt } from './risk.js';

export type { RiskCell } from './risk.js';

export interface CalendarCell {
  /** open windows, ascending by start; nearly always one */
  windows: CalendarWindow[];
  /** adaptive: values of discarded windows as flat [start, value, …], oldest first */
  hist?: number[];
  /** new(F): the key's seen-set (see novelty.ts) */
  seen?: SeenSet;
}
export type Cell = CalendarCell | SlidingState | RiskCell;

export interface Row {
  readonly key: string;
  /** The shard the row lives on (its account's for a local counter, its key's otherwise); -1 without a scope. */
  readonly shard: number;
  /** one cell per counter of the keyer, by counter slot */
  readonly cells: Array<Cell | undefined>;
}

/**
 * The shards an engine owns, out of `shards`: it applies a record's account-local counters when
 * it owns the account's shard, and each spanning counter when it owns that key's shard. No scope
 * (the single-threaded core) owns everything.
 */
export interface ShardScope { readonly shards: number, owns (shard: number): boolean }

/** The granularity of expiry scheduling: rows are swept within a minute of event time after they can expire. */
const EXPIRY_BUCKET_MS = 60_000;
/** Due keys swept per advance() at least, plus the backlog >>> SWEEP_BACKLOG_SHIFT (see sweepDue). */
const SWEEP_PER_ADVANCE = 16;
const SWEEP_BACKLOG_SHIFT = 12;
const WARNING = 1;
const MAIN = 2;
/** Expiry entries are `id * KEYER_SPAN + keyer`: one number, no object per scheduled key. */
const KEYER_SPAN = 4096;
// An arena counter's numbers, from its offset: the newest open window.
const START = 0; // NO_WINDOW while the key has no window open for the counter
const NO_WINDOW = -Infinity;
const END = 1;
const N = 2;
const AGG = 3;
/** then per rule slot: fired bits, and (varying limits only) the limit before shape */
const FIRED = 4;
const NO_CELL: CalendarCell = Object.freeze({ windows: Object.freeze([]) as unknown as CalendarWindow[] }) as CalendarCell;

/**
 * Calendar counters whose newest window lives in the arena: every measure but new(F) and
 * risk. A distinct set or the held events of `concurrent` sit in the table's aux slot.
 */
function inArena (counter: CompiledCounter): boolean {
  return counter.calendar && counter.novelty === 0 && !counter.risk;
}

/** What is left of a sliding state whose span is over: no events, its limits and seen-set kept. */
function freshSpan (counter: CompiledCounter, old: SlidingState): SlidingState {
  const fresh = openSliding(counter.measure, counter.rules.length);
  fresh.limits = old.limits;
  if (old.seen !== undefined) fresh.seen = old.seen;
  return fresh;
}

export interface EngineStats { keys: number, windows: number }

/** A counter as Engine.counterValue reads it. */
export interface CounterReading {
  readonly value: number;
  readonly start: number;
  readonly end: number;
  /** the rule's effective limit in that window at that time; null when it has none */
  readonly limit: number | null;
}

/** What changed since the last takeChanges(): rows to write and keys to delete, per keyer. */
export interface EngineChanges {
  readonly rows: ReadonlyArray<{ readonly keyer: number, readonly row: Row }>;
  readonly removed: ReadonlyArray<{ readonly keyer: number, readonly key: string, readonly shard: number }>;
}

/** A key's score for one risk rule (Engine.riskOf). */
export interface RiskReport {
  readonly rule: string;
  readonly by: readonly string[];
  readonly key: string;
  readonly score: number;
  /** the event time the score is decayed to */
  readonly at: string;
  readonly limit?: number;
  readonly contributions: NonNullable<Alert['contributions']>;
}

/** The engine's own scalars, persisted beside its rows. */
export interface EngineMeta { readonly watermark: number }

export class Engine {
  readonly compiled: CompiledRules;
  private readonly clock: () => number;
  private readonly tables: KeyTable[];
  /** per counter (by index): its offset in its keyer's arena row, or -1 when it keeps objects */
  private readonly offsets: Int32Array;
  /** keys to look at again, by the minute of event time at which something in them can expire */
  private readonly expiry = new Map<number, number[]>();
  /** the last expiry bucket taken off `expiry` (its entries may still wait in `due`) */
  private expiryCursor = -Infinity;
  /** buckets whose time has come, oldest first, swept a few entries per advance() (see sweepDue) */
  private readonly due: Array<{ readonly bucket: number, readonly entries: number[], at: number }> = [];
  private dueHead = 0;
  private dueCount = 0;
  private readonly filterStamp: Uint32Array;
  /** per calendar unit (CALENDAR_UNITS order): the window of the current record, computed once per record */
  private readonly unitStamp = new Uint32Array(CALENDAR_UNITS.length);
  private readonly unitBounds: WindowBounds[] = CALENDAR_UNITS.map(() => ({ start: 0, end: 0 }));
  private readonly filterPass: Uint8Array;
  private readonly keyBuf: string[] = [];
  private stamp = 0;
  private watermark = -Infinity;
  /** the counter being applied, to name its rule when something throws */
  private current: CompiledCounter | undefined;
  private readonly previousStarts = new Map<string, number[]>();
  // Change tracking for a durable store; off for the in-memory core.
  private readonly track: boolean;
  private removed: Array<{ keyer: number, key: string, shard: number }> = [];

  /** `clock` gives wall-clock ms for `detectedAt`; core never reads the clock itself. */
  constructor (compiled: CompiledRules, clock: () => number, options: { trackChanges?: boolean } = {}) {
    this.compiled = compiled;
    this.clock = clock;
    this.track = options.trackChanges === true;
    if (compiled.keyers.length >= KEYER_SPAN) throw new RangeError(`at most ${KEYER_SPAN - 1} distinct "by" are supported, got ${compiled.keyers.length}`);
    this.offsets = new Int32Array(compiled.counters.length).fill(-1);
    this.tables = compiled.keyers.map((keyer) => {
      const blank: number[] = [];
      for (const counter of keyer.counters) {
        if (!inArena(counter)) continue;
        this.offsets[counter.index] = blank.length;
        const rules = counter.rules.length;
        blank.push(NO_WINDOW, 0, 0, 0, ...new Array<number>(rules * (counter.varyingLimits ? 2 : 1)).fill(0));
      }
      return new KeyTable(Float64Array.from(blank), keyer.counters.length);
    });
    this.filterStamp = new Uint32Array(compiled.filters.length);
    this.filterPass = new Uint8Array(compiled.filters.length);
  }

  /**
   * The newest event time accepted upstream; windows behind it by more than `lateness` are
   * discarded, and keys scheduled to expire by then are swept, a few per call: see sweepDue.
   */
  advance (watermark: number): void {
    if (watermark > this.watermark) this.moveWatermark(watermark);
    if (this.dueCount > 0) this.sweepDue(SWEEP_PER_ADVANCE + (this.dueCount >>> SWEEP_BACKLOG_SHIFT));
  }

  private moveWatermark (watermark: number): void {
    this.watermark = watermark;
    const target = Math.floor(watermark / EXPIRY_BUCKET_MS);
    if (this.expiryCursor === -Infinity) { this.expiryCursor = target; return; }
    if (target <= this.expiryCursor) return;
    if (target - this.expiryCursor > 4096) {
      // A long jump of event time: visit the buckets that exist rather than every minute between.
      const due = [...this.expiry.keys()].filter((b) => b <= target).sort((a, b) => a - b);
      this.expiryCursor = target;
      for (const b of due) this.takeDue(b);
      return;
    }
    while (this.expiryCursor < target) this.takeDue(++this.expiryCursor);
  }

  private takeDue (bucket: number): void {
    const entries = this.expiry.get(bucket);
    if (entries === undefined) return;
    this.expiry.delete(bucket);
    this.due.push({ bucket, entries, at: 0 });
    this.dueCount += entries.length;
  }

  /**
   * Sweeps up to `budget` due keys. At a day's end every key's daily windows expire at once:
   * sweeping them in one call stalled the records behind it (103-145 ms with 20k accounts on
   * the demo rules; seconds with millions of keys). A little per record spreads that
   * over a few thousand records, and the share of the backlog in the budget keeps the backlog
   * bounded whatever the churn. Only memory waits: a key touched meanwhile drops its expired
   * windows itself, and nothing a sweep removes can change a later record's outcome.
   */
  private sweepDue (budget: number): void {
    const due = this.due;
    while (budget > 0 && this.dueHead < due.length) {
      const d = due[this.dueHead]!;
      const { bucket, entries } = d;
      let i = d.at;
      for (; i < entries.length && budget > 0; i++, budget--) {
        const e = entries[i]!;
        const k = e % KEYER_SPAN;
        const id = (e - k) / KEYER_SPAN;
        const table = this.tables[k]!;
        // Stale entries (the key was removed, or rescheduled) cost two array reads.
        if (table.scheduled[id] !== bucket || table.keys[id] === undefined) continue;
        table.scheduled[id] = UNSCHEDULED;
        if (this.sweepRow(k, id)) this.schedule(k, id);
      }
      this.dueCount -= i - d.at;
      d.at = i;
      if (i < entries.length) break;
      this.dueHead++;
    }
    if (this.dueHead === due.length) {
      due.length = 0;
      this.dueHead = 0;
    } else if (this.dueHead > 1024 && this.dueHead * 2 > due.length) {
      // A backlog that never quite empties must not keep the buckets already swept.
      due.splice(0, this.dueHead);
      this.dueHead = 0;
    }
  }

  /**
   * Puts a key in the bucket of the earliest event time at which a sweep could change it,
   * unless it already waits in a bucket no later than that (that sweep schedules it again).
   */
  private schedule (k: number, id: number): void {
    // Due at the next bucket already: nothing can be earlier.
    if (this.tables[k]!.scheduled[id] === this.expiryCursor + 1) return;
    const at = this.nextChange(k, id);
    if (at === Infinity) return;
    const bucket = Math.max(Math.floor(at / EXPIRY_BUCKET_MS), this.expiryCursor + 1);
    const table = this.tables[k]!;
    const waiting = table.scheduled[id]!;
    if (waiting !== UNSCHEDULED && waiting > this.expiryCursor && waiting <= bucket) return;
    table.scheduled[id] = bucket;
    const entries = this.expiry.get(bucket);
    const e = id * KEYER_SPAN + k;
    if (entries === undefined) this.expiry.set(bucket, [e]);
    else entries.push(e);
  }

  /** The earliest watermark at which sweepRow() would change the key (the conditions it tests). */
  private nextChange (k: number, id: number): number {
    const { lateness, horizon } = this.compiled;
    const table = this.tables[k]!;
    const cells = table.cells[id];
    let at = Infinity;
    const counters = this.compiled.keyers[k]!.counters;
    // Indexed loops here and in sweepRow: these run for cold keys, where V8 keeps for…of's iterators.
    for (let i = 0; i < counters.length; i++) {
      const counter = counters[i]!;
      const off = this.offsets[counter.index]!;
      const cell = cells?.[counter.slot];
      if (off >= 0) {
        const side = cell as CalendarCell | undefined;
        const o = id * table.stride + off;
        const open = table.arena[o + START]!;
        if (side !== undefined && side.windows.length > 0) at = Math.min(at, side.windows[0]!.end + lateness);
        else if (open !== NO_WINDOW) at = Math.min(at, table.arena[o + END]! + lateness);
        else if (side?.hist !== undefined && side.hist.length > 0) at = Math.min(at, this.historyEnd(counter, side.hist));
        continue;
      }
      if (cell === undefined) continue;
      if (counter.risk) {
        at = Math.min(at, this.riskGoneAt(cell as RiskCell));
        continue;
      }
      const seen = (cell as CalendarCell | SlidingState).seen;
      if (seen !== undefined && seen.size > 0) at = Math.min(at, seenExpiresAt(seen, counter.novelty) + horizon + lateness);
      if (counter.window.kind === 'sliding') {
        const end = this.spanOverAt(counter, cell as SlidingState);
        // A span already over is kept only for its seen-set, whose own expiry counts then.
        if (end > this.watermark || seen === undefined || seen.size === 0) at = Math.min(at, end);
        continue;
      }
      const c = cell as CalendarCell;
      if (c.windows.length > 0) at = Math.min(at, c.windows[0]!.end + lateness);
      else if (c.hist !== undefined && c.hist.length > 0) at = Math.min(at, this.historyEnd(counter, c.hist));
    }
    return at;
  }

  get currentWatermark (): number { return this.watermark; }

  /**
   * Applies one record and appends the alerts it raises to `out`. A rule that throws on the
   * record (a bug, or a value no validation foresaw) surfaces as RuleFailedError; counters
   * the record already fed stay fed, so the caller rejects the record with that reason.
   */
  process (record: UsageRecord, scope: ShardScope | undefined, out: Alert[]): void {
    this.current = undefined;
    try {
      this.apply(record, scope, out);
    } catch (err) {
      // (TypeScript narrows `current` to undefined here; apply() sets it.)
      const current = this.current as CompiledCounter | undefined;
      throw new RuleFailedError(current?.rules[0]?.id ?? '(filter or key)', { cause: err });
    }
  }

  private apply (record: UsageRecord, scope: ShardScope | undefined, out: Alert[]): void {
    const first = out.length;
    if (++this.stamp === 0xffffffff) { this.stamp = 1; this.filterStamp.fill(0); this.unitStamp.fill(0); }
    const homeShard = scope === undefined ? -1 : shardOf(record.account, scope.shards);
    const home = scope === undefined || scope.owns(homeShard);
    const keyers = this.compiled.keyers;
    const keys = this.keyBuf;
    const offsets = this.offsets;
    for (let k = 0; k < keyers.length; k++) {
      const keyer = keyers[k]!;
      if (keyer.local && !home) continue;
      const gate = keyer.gate;
      if (gate !== undefined && !this.passesAny(gate, record)) continue;
      const n = keyer.extract(record, keys);
      const table = this.tables[k]!;
      const fed = keyer.fed;
      for (let i = 0; i < n; i++) {
        const key = keys[i]!;
        let shard = homeShard;
        if (!keyer.local && scope !== undefined) {
          shard = shardOf(key, scope.shards);
          if (!scope.owns(shard)) continue;
        }
        let id = table.id(key);
        let opened = false;
        for (let c = 0; c < fed.length; c++) {
          const counter = fed[c]!;
          this.current = counter;
          if (counter.filter >= 0 && !this.passes(counter.filter, record)) continue;
          const x = counter.contribute(record);
          if (x === undefined) continue;
          if (id === undefined) id = table.create(key, shard);
          if (this.track) table.markDirty(id);
          const off = offsets[counter.index]!;
          if (off >= 0) {
            if (this.addToArena(table, id, off, counter, x, record, out)) opened = true;
          } else if (counter.calendar) {
            if (this.addCalendar(table.cellsOf(id), key, counter, x, record, out)) opened = true;
          } else if (this.addSliding(table.cellsOf(id), key, counter, x, record, out)) {
            opened = true;
          }
        }
        // A new window or cell can expire: the key goes in that minute's expiry bucket.
        if (opened) this.schedule(k, id!);
      }
    }
    if (this.compiled.riskBy.size > 0 && out.length > first) this.feedRisk(record, homeShard, first, out);
  }

  /**
   * Adds the score of every scored alert this record raised to the risk counters with the
   * same `by`, at the alert's key, then checks each touched score once: the alerts of one
   * record arrive together, so the order the engine raised them in cannot change the outcome.
   * Decay runs in event time (the record's ts): a replay computes the same scores and alerts.
   */
  private feedRisk (record: UsageRecord, shard: number, first: number, out: Alert[]): void {
    const end = out.length;
    const halfLife = this.compiled.halfLife;
    const touched: Array<{ counter: CompiledCounter, id: number, key: string, cell: RiskCell, opened: boolean }> = [];
    for (let i = first; i < end; i++) {
      const alert = out[i]!;
      const source = this.compiled.ruleById.get(alert.rule);
      const score = source?.score;
      if (source === undefined || score === undefined) continue;
      const counters = this.compiled.riskBy.get(source.bySig);
      if (counters === undefined) continue;
      for (const counter of counters) {
        this.current = counter;
        const k = counter.keyer;
        const table = this.tables[k]!;
        const id = table.id(alert.key) ?? table.create(alert.key, shard);
        const cells = table.cellsOf(id);
        let cell = cells[counter.slot] as RiskCell | undefined;
        // Past its expiry but not swept yet (sweeps trail event time, see sweepDue): gone, as after the sweep.
        if (cell !== undefined && this.riskGoneAt(cell) <= this.watermark) cell = undefined;
        const opened = cell === undefined;
        if (cell === undefined) {
          cell = openRisk(counter.rules.length);
          if (counter.varyingLimits) cell.limits = counter.rules.map((r) => this.baseLimit(r, alert.key, undefined, counter, 0));
          cells[counter.slot] = cell;
        }
        if (!touched.some((t) => t.cell === cell)) {
          touched.push({ counter, id, key: alert.key, cell, opened });
          if (this.track) table.markDirty(id);
          this.rearmRisk(counter, cell, record);
        }
        addScore(cell, alert.id, alert.rule, score, record.ts, halfLife);
      }
    }
    for (const { counter, id, key, cell, opened } of touched) {
      this.current = counter;
      // A new score cell can expire: the key goes in that minute's expiry bucket.
      if (opened) this.schedule(counter.keyer, id);
      for (const rule of counter.rules) {
        if (cell.n < rule.minCount) continue;
        const limit = rule.constantLimit ?? this.shaped(rule, cell.limits![rule.slot]!, record);
        if (rule.warning !== undefined) this.fireRisk(cell, rule, WARNING, 'warning', this.warningOf(rule, limit), key, record, out);
        this.fireRisk(cell, rule, MAIN, rule.severity, limit, key, record, out);
      }
    }
  }

  /** Re-arms what has decayed to or below its threshold by the time the record's alerts arrive. */
  private rearmRisk (counter: CompiledCounter, cell: RiskCell, record: UsageRecord): void {
    const before = decayedScore(cell, record.ts, this.compiled.halfLife);
    for (const rule of counter.rules) {
      const fired = cell.fired[rule.slot]!;
      if (fired === 0) continue;
      const limit = rule.constantLimit ?? this.shaped(rule, cell.limits![rule.slot]!, record);
      const low = cell.n < rule.minCount;
      if ((fired & MAIN) !== 0 && (low || before <= limit)) cell.fired[rule.slot]! &= ~MAIN;
      if ((fired & WARNING) !== 0 && rule.warning !== undefined && (low || before <= this.warningOf(rule, limit))) cell.fired[rule.slot]! &= ~WARNING;
    }
  }

  private fireRisk (cell: RiskCell, rule: CompiledRule, bit: number, severity: Severity, threshold: number, key: string, record: UsageRecord, out: Alert[]): void {
    if (cell.score <= threshold) {
      cell.fired[rule.slot]! &= ~bit;
    } else if ((cell.fired[rule.slot]! & bit) === 0) {
      cell.fired[rule.slot]! |= bit;
      const start = cell.contributions.length === 0 ? cell.at : cell.contributions[0]![3];
      const alert = this.makeAlert(rule, severity, key, start, cell.at, record.id, cell.score, threshold, record);
      out.push({
        ...alert,
        contributions: cell.contributions.map(([id, ruleId, score, ts]) => ({ alert: id, rule: ruleId, score, ts: this.compiled.zone.toIso(ts) })),
      });
    }
  }

  private passesAny (filters: readonly number[], record: UsageRecord): boolean {
    for (let i = 0; i < filters.length; i++) if (this.passes(filters[i]!, record)) return true;
    return false;
  }

  private passes (filter: number, record: UsageRecord): boolean {
    if (this.filterStamp[filter] === this.stamp) return this.filterPass[filter] === 1;
    const ok = this.compiled.filters[filter]!(record);
    this.filterStamp[filter] = this.stamp;
    this.filterPass[filter] = ok ? 1 : 0;
    return ok;
  }

  /** The calendar window of the record for the counter's unit, computed once per record and unit. */
  private boundsOf (counter: CompiledCounter, ts: number): WindowBounds {
    if (this.unitStamp[counter.unit] !== this.stamp) {
      this.unitBounds[counter.unit] = this.compiled.zone.window((counter.window as { unit: CalendarUnit }).unit, ts);
      this.unitStamp[counter.unit] = this.stamp;
    }
    return this.unitBounds[counter.unit]!;
  }

  /**
   * Adds to an arena counter and checks its rules; true when it opened a
   * window. A record for an older window than the newest (late across a window's end) goes
   * to the object form of that window beside the key.
   */
  private addToArena (table: KeyTable, id: number, off: number, counter: CompiledCounter, x: number | string, record: UsageRecord, out: Alert[]): boolean {
    const bounds = this.boundsOf(counter, record.ts);
    const o = id * table.stride + off;
    const a = table.arena;
    const start = a[o + START]!;
    let opened = false;
    if (start !== bounds.start) {
      if (start !== NO_WINDOW && bounds.start < start) return this.addCalendar(table.cellsOf(id), table.keys[id]!, counter, x, record, out);
      this.openNewest(table, id, o, counter, bounds);
      opened = true;
    }
    const n = ++a[o + N]!;
    let agg = a[o + AGG]!;
    switch (counter.measure.kind) {
      case 'count': agg = n; break;
      case 'max': if ((x as number) > agg) agg = x as number; break;
      case 'distinct': {
        const set = table.aux[id * table.width + counter.slot] as Set<string>;
        set.add(x as string);
        agg = set.size;
        break;
      }
      case 'concurrent': {
        const held = table.aux[id * table.width + counter.slot] as HeldEvents;
        const inProgress = addConcurrent(held, record.ts, record.ts + (x as number) * 1000, this.compiled.lateness);
        if (inProgress > agg) agg = inProgress;
        break;
      }
      default: agg += x as number;
    }
    a[o + AGG] = agg;
    const kind = counter.measure.kind;
    const value = kind === 'avg' || kind === 'ratio' ? agg / n : agg;
    const rules = counter.rules;
    const count = rules.length;
    for (let j = 0; j < count; j++) {
      const rule = rules[j]!;
      if (n < rule.minCount) continue;
      let fired = a[o + FIRED + j]!;
      if ((fired & MAIN) !== 0 && (rule.warning === undefined || (fired & WARNING) !== 0)) continue;
      const limit = rule.constantLimit ?? this.shaped(rule, a[o + FIRED + count + j]!, record);
      if (rule.warning !== undefined && (fired & WARNING) === 0) {
        const warn = this.warningOf(rule, limit);
        if (value > warn) {
          a[o + FIRED + j] = fired | WARNING;
          out.push(this.makeAlert(rule, 'warning', table.keys[id]!, a[o + START]!, a[o + END]!, a[o + START]!, value, warn, record));
        }
      }
      if ((fired & MAIN) === 0 && value > limit) {
        fired = a[o + FIRED + j]! | MAIN;
        a[o + FIRED + j] = fired;
        out.push(this.makeAlert(rule, rule.severity, table.keys[id]!, a[o + START]!, a[o + END]!, a[o + START]!, value, limit, record));
      }
    }
    return opened;
  }

  /** Opens `bounds` as the newest window of an arena counter; the one it replaces joins the older windows. */
  private openNewest (table: KeyTable, id: number, o: number, counter: CompiledCounter, bounds: WindowBounds): void {
    const a = table.arena;
    let side = table.cells[id]?.[counter.slot] as CalendarCell | undefined;
    if (a[o + START] !== NO_WINDOW) {
      if (side === undefined) { side = { windows: [] }; table.cellsOf(id)[counter.slot] = side; }
      side.windows.push(this.windowAt(table, id, o, counter));
    }
    if (side !== undefined) this.dropExpired(side, counter);
    a[o + START] = bounds.start;
    a[o + END] = bounds.end;
    a[o + N] = 0;
    a[o + AGG] = counter.measure.kind === 'max' ? -Infinity : 0;
    const kind = counter.measure.kind;
    if (kind === 'distinct') table.aux[id * table.width + counter.slot] = new Set<string>();
    else if (kind === 'concurrent') table.aux[id * table.width + counter.slot] = { ends: [], starts: [], newestStart: -Infinity } satisfies HeldEvents;
    const count = counter.rules.length;
    for (let j = 0; j < count; j++) a[o + FIRED + j] = 0;
    if (counter.varyingLimits) {
      const key = table.keys[id]!;
      for (let j = 0; j < count; j++) a[o + FIRED + count + j] = this.baseLimit(counter.rules[j]!, key, side ?? NO_CELL, counter, bounds.start);
    }
  }

  /** The measure of an arena counter's newest window (distinct keeps its set's size in AGG). */
  private newestValue (a: Float64Array, o: number, counter: CompiledCounter): number {
    const kind = counter.measure.kind;
    const n = a[o + N]!;
    if (kind === 'avg' || kind === 'ratio') return n === 0 ? 0 : a[o + AGG]! / n;
    return a[o + AGG]!;
  }

  /** The object form of an arena counter's newest window (sharing its set or events, not copying them). */
  private windowAt (table: KeyTable, id: number, o: number, counter: CompiledCounter): CalendarWindow {
    const a = table.arena;
    const kind = counter.measure.kind;
    const aux = table.aux[id * table.width + counter.slot];
    const count = counter.rules.length;
    const fired = new Array<number>(count);
    for (let j = 0; j < count; j++) fired[j] = a[o + FIRED + j]!;
    let limits: number[] | undefined;
    if (counter.varyingLimits) {
      limits = new Array<number>(count);
      for (let j = 0; j < count; j++) limits[j] = a[o + FIRED + count + j]!;
    }
    const held = kind === 'concurrent' ? aux as HeldEvents : undefined;
    return {
      start: a[o + START]!,
      end: a[o + END]!,
      n: a[o + N]!,
      // (the object form of distinct keeps the set's size in the set only)
      a: kind === 'distinct' ? 0 : a[o + AGG]!,
      distinct: kind === 'distinct' ? aux as Set<string> : undefined,
      ends: held?.ends,
      starts: held?.starts,
      newestStart: held?.newestStart ?? -Infinity,
      limits,
      fired,
    };
  }

  /** Puts a window in object form into the arena as an arena counter's newest window. */
  private loadNewest (table: KeyTable, id: number, o: number, counter: CompiledCounter, w: CalendarWindow, side: CalendarCell | undefined): void {
    const a = table.arena;
    a[o + START] = w.start;
    a[o + END] = w.end;
    a[o + N] = w.n;
    a[o + AGG] = w.a;
    const kind = counter.measure.kind;
    if (kind === 'distinct') {
      const set = w.distinct instanceof Set ? w.distinct : new Set<string>(w.distinct ?? []);
      table.aux[id * table.width + counter.slot] = set;
      a[o + AGG] = set.size;
    } else if (kind === 'concurrent') {
      table.aux[id * table.width + counter.slot] = { ends: w.ends ?? [], starts: w.starts ?? [], newestStart: w.newestStart } satisfies HeldEvents;
    }
    const count = counter.rules.length;
    for (let j = 0; j < count; j++) a[o + FIRED + j] = w.fired[j] ?? 0;
    if (counter.varyingLimits) {
      const key = table.keys[id]!;
      for (let j = 0; j < count; j++) a[o + FIRED + count + j] = w.limits?.[j] ?? this.baseLimit(counter.rules[j]!, key, side ?? NO_CELL, counter, w.start);
    }
  }

  /** Adds to the record's calendar window (object form) and checks the counter's rules; true when it opened a window. */
  private addCalendar (cells: Array<Cell | undefined>, key: string, counter: CompiledCounter, x: number | string, record: UsageRecord, out: Alert[]): boolean {
    const bounds = this.boundsOf(counter, record.ts);
    let cell = cells[counter.slot] as CalendarCell | undefined;
    if (cell === undefined) { cell = { windows: [] }; cells[counter.slot] = cell; }
    if (counter.novelty > 0) x = novel(cell, x as string, record.ts, counter.novelty);
    const windows = cell.windows;
    let w: CalendarWindow | undefined;
    for (let i = windows.length - 1; i >= 0; i--) {
      if (windows[i]!.start === bounds.start) { w = windows[i]; break; }
    }
    const opened = w === undefined;
    if (w === undefined) {
      this.dropExpired(cell, counter);
      w = openWindow(counter.measure, bounds.start, bounds.end, counter.rules.length);
      if (counter.varyingLimits) w.limits = counter.rules.map((r) => this.baseLimit(r, key, cell, counter, bounds.start));
      let at = windows.length;
      while (at > 0 && windows[at - 1]!.start > w.start) at--;
      windows.splice(at, 0, w);
    }
    addToWindow(counter.measure.kind, w, x, record.ts, this.compiled.lateness);
    const value = windowValue(counter.measure.kind, w);
    for (const rule of counter.rules) {
      if (w.n < rule.minCount) continue;
      const fired = w.fired[rule.slot]!;
      if ((fired & MAIN) !== 0 && (rule.warning === undefined || (fired & WARNING) !== 0)) continue;
      const limit = rule.constantLimit ?? this.shaped(rule, w.limits![rule.slot]!, record);
      if (rule.warning !== undefined && (fired & WARNING) === 0) {
        const warn = this.warningOf(rule, limit);
        if (value > warn) {
          w.fired[rule.slot]! |= WARNING;
          out.push(this.makeAlert(rule, 'warning', key, w.start, w.end, w.start, value, warn, record));
        }
      }
      if ((fired & MAIN) === 0 && value > limit) {
        w.fired[rule.slot]! |= MAIN;
        out.push(this.makeAlert(rule, rule.severity, key, w.start, w.end, w.start, value, limit, record));
      }
    }
    return opened;
  }

  /** Adds to the key's sliding window and checks the counter's rules; true when it opened the window's state. */
  private addSliding (cells: Array<Cell | undefined>, key: string, counter: CompiledCounter, x: number | string, record: UsageRecord, out: Alert[]): boolean {
    const size = (counter.window as { kind: 'sliding', ms: number }).ms;
    const kind = counter.measure.kind;
    let s = cells[counter.slot] as SlidingState | undefined;
    let opened = s === undefined;
    if (s !== undefined && s.newest !== -Infinity && this.spanOverAt(counter, s) <= this.watermark) {
      // Over but not swept yet (sweeps trail event time, see sweepDue): what the sweep would leave.
      s = freshSpan(counter, s);
      cells[counter.slot] = s;
      opened = true;
    }
    if (s === undefined) {
      s = openSliding(counter.measure, counter.rules.length);
      if (counter.varyingLimits) s.limits = counter.rules.map((r) => this.baseLimit(r, key, undefined, counter, 0));
      cells[counter.slot] = s;
    }
    // The seen-set learns the value even from a record older than the span.
    if (counter.novelty > 0) x = novel(s, x as string, record.ts, counter.novelty);
    if (!slideTo(kind, s, record.ts, size)) return opened;
    // Re-arm what has dropped back to or below its threshold by the time this record arrives.
    const before = windowValue(kind, s);
    for (const rule of counter.rules) {
      const fired = s.fired[rule.slot]!;
      if (fired === 0) continue;
      const limit = rule.constantLimit ?? this.shaped(rule, s.limits![rule.slot]!, record);
      const low = s.n < rule.minCount;
      if ((fired & MAIN) !== 0 && (low || before <= limit)) s.fired[rule.slot]! &= ~MAIN;
      if ((fired & WARNING) !== 0 && rule.warning !== undefined && (low || before <= this.warningOf(rule, limit))) s.fired[rule.slot]! &= ~WARNING;
    }
    addToSliding(kind, s, x, record.ts);
    const value = windowValue(kind, s);
    for (const rule of counter.rules) {
      if (s.n < rule.minCount) continue;
      const limit = rule.constantLimit ?? this.shaped(rule, s.limits![rule.slot]!, record);
      if (rule.warning !== undefined) this.fireSliding(s, rule, WARNING, 'warning', value, this.warningOf(rule, limit), key, size, record, out);
      this.fireSliding(s, rule, MAIN, rule.severity, value, limit, key, size, record, out);
    }
    return opened;
  }

  /** The watermark from which a risk cell is gone: its score has decayed to nothing for every record still accepted. */
  private riskGoneAt (cell: RiskCell): number {
    return riskExpiresAt(cell, this.compiled.halfLife) + this.compiled.horizon + this.compiled.lateness;
  }

  /** The watermark from which no record still accepted reaches back into a sliding state's span. */
  private spanOverAt (counter: CompiledCounter, s: SlidingState): number {
    return s.newest + (counter.window as { kind: 'sliding', ms: number }).ms + this.compiled.horizon + this.compiled.lateness;
  }

  private warningOf (rule: CompiledRule, limit: number): number {
    const w = rule.warning!;
    return w.kind === 'absolute' ? w.value : w.value * limit;
  }

  /** A sliding rule fires when it crosses while armed; it re-arms once the measure is back at or below the threshold. */
  private fireSliding (s: SlidingState, rule: CompiledRule, bit: number, severity: Severity, value: number, threshold: number, key: string, size: number, record: UsageRecord, out: Alert[]): void {
    if (value <= threshold) {
      s.fired[rule.slot]! &= ~bit;
    } else if ((s.fired[rule.slot]! & bit) === 0) {
      s.fired[rule.slot]! |= bit;
      out.push(this.makeAlert(rule, severity, key, s.newest - size, s.newest, record.id, value, threshold, record));
    }
  }

  /**
   * A rule's limit for a key before `shape`: `limits` over `limit`, then `adaptive` (the floor
   * and factor × the mean of the rule's `over` windows before `start`). Fixed per window.
   */
  private baseLimit (rule: CompiledRule, key: string, cell: CalendarCell | undefined, counter: CompiledCounter, start: number): number {
    const limit = rule.limits.size === 0 ? rule.limit : rule.limits.get(key) ?? rule.limit;
    const adaptive = rule.adaptive;
    if (adaptive !== undefined && cell !== undefined) {
      const mean = this.meanBefore(cell, counter, (counter.window as { unit: CalendarUnit }).unit, start, adaptive.over);
      return Math.max(limit ?? adaptive.min, adaptive.factor * mean);
    }
    return limit ?? Infinity;
  }

  /** The base limit × the rule's `shape` factor for the record's weekday and hour. */
  private shaped (rule: CompiledRule, base: number, record: UsageRecord): number {
    const shape = rule.shape;
    return shape === undefined ? base : base * shape[weekdayIndexOf(record.weekday) * 24 + record.hour]!;
  }

  private meanBefore (cell: CalendarCell, counter: CompiledCounter, unit: CalendarUnit, start: number, over: number): number {
    const starts = this.startsBefore(unit, start, counter.history);
    let sum = 0;
    for (let i = 0; i < over; i++) sum += this.valueAt(cell, counter, starts[i]!);
    return sum / over;
  }

  /** The starts of the `count` windows before the one starting at `start`, newest first. */
  private startsBefore (unit: CalendarUnit, start: number, count: number): readonly number[] {
    const cacheKey = `${unit}:${start}`;
    let starts = this.previousStarts.get(cacheKey);
    if (starts === undefined) {
      if (this.previousStarts.size > 10_000) this.previousStarts.clear();
      starts = [];
      this.previousStarts.set(cacheKey, starts);
    }
    while (starts.length < count) {
      const from = starts.length === 0 ? start : starts[starts.length - 1]!;
      starts.push(this.compiled.zone.window(unit, from - 1).start);
    }
    return starts;
  }

  private valueAt (cell: CalendarCell, counter: CompiledCounter, start: number): number {
    for (const w of cell.windows) if (w.start === start) return windowValue(counter.measure.kind, w);
    const hist = cell.hist;
    if (hist !== undefined) {
      for (let i = hist.length - 2; i >= 0; i -= 2) if (hist[i] === start) return hist[i + 1]!;
    }
    return 0;
  }

  /** Keeps a discarded window's value for `adaptive`: the counter's `history` newest, as [start, value] pairs. */
  private remember (cell: CalendarCell, counter: CompiledCounter, start: number, value: number): void {
    const hist = cell.hist ?? (cell.hist = []);
    hist.push(start, value);
    if (hist.length > 2 * counter.history) hist.splice(0, hist.length - 2 * counter.history);
  }

  /** The watermark from which a key's (non-empty) adaptive history can no longer matter. */
  private historyEnd (counter: CompiledCounter, hist: readonly number[]): number {
    const unit = (counter.window as { unit: CalendarUnit }).unit;
    return hist[hist.length - 2]! + (counter.history + 1) * UNIT_MAX_MS[unit] + this.compiled.lateness;
  }

  private dropExpired (cell: CalendarCell, counter: CompiledCounter): boolean {
    const windows = cell.windows;
    const limit = this.watermark - this.compiled.lateness;
    let drop = 0;
    while (drop < windows.length && windows[drop]!.end <= limit) drop++;
    if (drop === 0) return false;
    if (counter.history > 0) {
      for (let i = 0; i < drop; i++) this.remember(cell, counter, windows[i]!.start, windowValue(counter.measure.kind, windows[i]!));
    }
    windows.splice(0, drop);
    return true;
  }

  /** Discards expired windows of every key and deletes keys with nothing left to keep (normally the expiry buckets do this as event time passes). */
  sweep (): void {
    for (let k = 0; k < this.tables.length; k++) {
      for (const id of [...this.tables[k]!.live()]) this.sweepRow(k, id);
    }
  }

  /** Sweeps one key; false when it removed the key. */
  private sweepRow (k: number, id: number): boolean {
    const keyer = this.compiled.keyers[k]!;
    const table = this.tables[k]!;
    const lateness = this.compiled.lateness;
    const cells = table.cells[id];
    let live = false;
    let changed = false;
    const horizon = this.compiled.horizon;
    const counters = keyer.counters;
    for (let i = 0; i < counters.length; i++) {
      const counter = counters[i]!;
      const off = this.offsets[counter.index]!;
      if (off >= 0) {
        const o = id * table.stride + off;
        const a = table.arena;
        const side = cells?.[counter.slot] as CalendarCell | undefined;
        const open = a[o + START] !== NO_WINDOW;
        if (!open && side === undefined) continue;
        if (side !== undefined && this.dropExpired(side, counter)) changed = true;
        let newest = open;
        if (open && a[o + END]! <= this.watermark - lateness) {
          // The newest window is over too: the object form's rule (dropExpired) for it.
          if (counter.history > 0) {
            const holder = side ?? (table.cellsOf(id)[counter.slot] = { windows: [] }) as CalendarCell;
            this.remember(holder, counter, a[o + START]!, this.newestValue(a, o, counter));
          }
          a[o + START] = NO_WINDOW;
          table.aux[id * table.width + counter.slot] = undefined;
          newest = false;
          changed = true;
        }
        const holder = table.cells[id]?.[counter.slot] as CalendarCell | undefined;
        const keepHistory = holder?.hist !== undefined && holder.hist.length > 0 && this.watermark < this.historyEnd(counter, holder.hist);
        if (newest || (holder !== undefined && holder.windows.length > 0) || keepHistory) {
          live = true;
        } else if (holder !== undefined) {
          table.cells[id]![counter.slot] = undefined;
          changed = true;
        }
        continue;
      }
      const cell = cells?.[counter.slot];
      if (cell === undefined) continue;
      if (counter.risk) {
        // The score has decayed to nothing (2^-40 of what it was) for every record still accepted.
        if (this.riskGoneAt(cell as RiskCell) <= this.watermark) {
          cells![counter.slot] = undefined;
          changed = true;
        } else {
          live = true;
        }
        continue;
      }
      const seen = (cell as CalendarCell | SlidingState).seen;
      let knows = false;
      if (seen !== undefined) {
        if (sweepSeen(seen, counter.novelty, this.watermark - horizon - lateness)) changed = true;
        knows = seen.size > 0;
      }
      if (counter.window.kind === 'sliding') {
        // No record that can still be accepted reaches back into this window's span.
        if (this.spanOverAt(counter, cell as SlidingState) <= this.watermark) {
          if (knows) {
            // Only the seen-set is still needed: a fresh span keeps it, without the old events.
            const old = cell as SlidingState;
            if (old.newest !== -Infinity) cells![counter.slot] = freshSpan(counter, old);
            live = true;
          } else {
            cells![counter.slot] = undefined;
          }
          changed = true;
        } else {
          live = true;
        }
        continue;
      }
      const c = cell as CalendarCell;
      if (this.dropExpired(c, counter)) changed = true;
      const keepHistory = c.hist !== undefined && c.hist.length > 0 && this.watermark < this.historyEnd(counter, c.hist);
      if (c.windows.length > 0 || keepHistory || knows) {
        live = true;
      } else {
        cells![counter.slot] = undefined;
        changed = true;
      }
    }
    if (!live) {
      const key = table.keys[id]!;
      const shard = table.shards[id]!;
      table.remove(id);
      if (this.track) this.removed.push({ keyer: k, key, shard });
      return false;
    }
    if (changed && this.track) table.markDirty(id);
    return true;
  }

  /** A key's state in object form, as stores persist it. */
  private rowOf (k: number, id: number): Row {
    const table = this.tables[k]!;
    const cells = new Array<Cell | undefined>(table.width);
    const own = table.cells[id];
    for (const counter of this.compiled.keyers[k]!.counters) {
      const off = this.offsets[counter.index]!;
      const cell = own?.[counter.slot];
      if (off < 0) { cells[counter.slot] = cell; continue; }
      const side = cell as CalendarCell | undefined;
      const o = id * table.stride + off;
      const windows = side === undefined ? [] : side.windows.slice();
      if (table.arena[o + START] !== NO_WINDOW) windows.push(this.windowAt(table, id, o, counter));
      if (windows.length === 0 && side === undefined) continue;
      cells[counter.slot] = side?.hist === undefined ? { windows } : { windows, hist: side.hist.slice() };
    }
    return { key: table.keys[id]!, shard: table.shards[id]!, cells };
  }

  /**
   * Keys changed and keys removed since the last call; requires `trackChanges`. A key removed
   * and then created again in between is reported only as changed. Rows are snapshots: the
   * engine may change the same keys right after without touching them.
   */
  takeChanges (): EngineChanges {
    const rows: Array<{ keyer: number, row: Row }> = [];
    this.tables.forEach((table, keyer) => {
      for (const id of table.dirtyList) {
        if (table.dirty[id] !== 1) continue;
        table.dirty[id] = 0;
        rows.push({ keyer, row: this.rowOf(keyer, id) });
      }
      table.dirtyList.length = 0;
    });
    const removed = this.removed.filter(({ keyer, key }) => this.tables[keyer]!.id(key) === undefined);
    this.removed = [];
    return { rows, removed };
  }

  /**
   * Takes new limits (a reload that changes nothing else, core/limits-change.ts): the rules'
   * per-key `limits` become the new ones, and each window a changed key has open takes the limit
   * it would have opened with under them (adaptive limits too); a rule's new constant `limit` and
   * its `warning` count from the next record, as no window keeps them. Keys without state take
   * the new limit when their next window opens. Returns the rows changed, for the store; they
   * are not reported again by takeChanges.
   */
  relimit (changes: LimitChanges): Array<{ keyer: number, row: Row }> {
    const touched = new Map<number, Set<string>>();
    for (const counter of this.compiled.counters) {
      for (const rule of counter.rules) {
        const threshold = changes.rules.get(rule.id);
        if (threshold !== undefined) {
          const r = rule as { limit: number | undefined, warning: CompiledRule['warning'], constantLimit: number | undefined };
          r.limit = threshold.limit;
          r.warning = rule.severity === 'critical' ? threshold.warning : undefined;
          if (rule.constantLimit !== undefined) r.constantLimit = threshold.limit ?? Infinity;
        }
        const changed = changes.keys.get(rule.id);
        if (changed === undefined) continue;
        const limits = new Map(rule.limits);
        for (const [key, limit] of changed) {
          if (limit === undefined) limits.delete(key); else limits.set(key, limit);
          let keys = touched.get(counter.keyer);
          if (keys === undefined) touched.set(counter.keyer, keys = new Set());
          keys.add(key);
        }
        (rule as { limits: ReadonlyMap<string, number> }).limits = limits;
      }
    }
    const rows: Array<{ keyer: number, row: Row }> = [];
    for (const [k, keys] of touched) {
      const table = this.tables[k]!;
      for (const key of keys) {
        const id = table.id(key);
        if (id === undefined) continue;
        const row = this.rowOf(k, id);
        for (const counter of this.compiled.keyers[k]!.counters) {
          if (!counter.varyingLimits || !counter.rules.some((r) => changes.keys.get(r.id)?.has(key) === true)) continue;
          const cell = row.cells[counter.slot];
          if (cell === undefined) continue;
          if (counter.window.kind === 'calendar') {
            const c = cell as CalendarCell;
            for (const w of c.windows) w.limits = counter.rules.map((r, j) => changes.keys.get(r.id)?.has(key) === true ? this.baseLimit(r, key, c, counter, w.start) : w.limits?.[j] ?? this.baseLimit(r, key, c, counter, w.start));
          } else if (Array.isArray((cell as { limits?: unknown }).limits)) {
            // A sliding state or a risk cell: its limits are fixed when it opens, from `limits` alone.
            const st = cell as { limits: number[] };
            st.limits = counter.rules.map((r, j) => changes.keys.get(r.id)?.has(key) === true ? this.baseLimit(r, key, undefined, counter, 0) : st.limits[j]!);
          }
        }
        rows.push({ keyer: k, row });
      }
    }
    // Put back as a store's rows are (restore marks nothing changed): the caller stores them.
    this.restore(this.meta(), rows);
    return rows;
  }

  meta (): EngineMeta {
    return { watermark: this.watermark };
  }

  /** Restores state written by a store: call before the first record. */
  restore (meta: EngineMeta, rows: Iterable<{ keyer: number, row: Row }>): void {
    this.watermark = meta.watermark;
    for (const { keyer, row } of rows) {
      const table = this.tables[keyer];
      if (table === undefined) continue;
      const existing = table.id(row.key);
      if (existing !== undefined) table.remove(existing);
      const id = table.create(row.key, row.shard);
      for (const counter of this.compiled.keyers[keyer]!.counters) {
        const cell = row.cells[counter.slot];
        if (cell === undefined || cell === null) continue;
        const off = this.offsets[counter.index]!;
        if (off < 0) { table.cellsOf(id)[counter.slot] = cell; continue; }
        const c = cell as CalendarCell;
        const older = c.windows.slice(0, -1);
        const side: CalendarCell | undefined = older.length > 0 || c.hist !== undefined ? (c.hist === undefined ? { windows: older } : { windows: older, hist: c.hist }) : undefined;
        if (side !== undefined) table.cellsOf(id)[counter.slot] = side;
        const newest = c.windows[c.windows.length - 1];
        if (newest !== undefined) this.loadNewest(table, id, id * table.stride + off, counter, newest, side);
      }
      this.schedule(keyer, id);
    }
  }

  stats (): EngineStats {
    let keys = 0;
    let windows = 0;
    this.tables.forEach((table, k) => {
      keys += table.size;
      const counters = this.compiled.keyers[k]!.counters;
      for (const id of table.live()) {
        const cells = table.cells[id];
        for (const counter of counters) {
          const cell = cells?.[counter.slot];
          const off = this.offsets[counter.index]!;
          if (off >= 0) {
            const o = id * table.stride + off;
            if (table.arena[o + START] !== NO_WINDOW) windows++;
            windows += (cell as CalendarCell | undefined)?.windows.length ?? 0;
          } else if (cell !== undefined) {
            windows += 'windows' in cell ? cell.windows.length : 1;
          }
        }
      }
    });
    return { keys, windows };
  }

  private cellOf (counter: CompiledCounter, key: string): Cell | undefined {
    const table = this.tables[counter.keyer]!;
    const id = table.id(key);
    return id === undefined ? undefined : table.cells[id]?.[counter.slot];
  }

  /**
   * A key's risk: per risk rule whose `by` gives this key, the score decayed to `ts` (or to
   * the newest alert, if later) and the scored alerts it is made of. For the API and the CLI.
   */
  riskOf (key: string, ts: number): RiskReport[] {
    const out: RiskReport[] = [];
    for (const counters of this.compiled.riskBy.values()) {
      for (const counter of counters) {
        const cell = this.cellOf(counter, key) as RiskCell | undefined;
        if (cell === undefined) continue;
        const score = roundValue(decayedScore(cell, ts, this.compiled.halfLife));
        for (const rule of counter.rules) {
          out.push({
            rule: rule.id,
            by: rule.by,
            key,
            score,
            at: this.compiled.zone.toIso(Math.max(ts, cell.at)),
            ...(rule.constantLimit === undefined ? {} : { limit: rule.constantLimit }),
            contributions: cell.contributions.map(([id, ruleId, points, t]) => ({ alert: id, rule: ruleId, score: points, ts: this.compiled.zone.toIso(t) })),
          });
        }
      }
    }
    return out;
  }

  /**
   * One rule's counter for `key` in the window at event time `ts`: its value, the window's
   * bounds, and the rule's effective limit there (per-key `limits` or `adaptive` as fixed
   * when the window opened, times `shape` at `ts`; null without one). Undefined when the key
   * has no such window.
   */
  counterValue (ruleId: string, key: string, ts: number): CounterReading | undefined {
    const counter = this.compiled.counters.find((c) => c.rules.some((r) => r.id === ruleId));
    if (counter === undefined) return undefined;
    const rule = counter.rules.find((r) => r.id === ruleId)!;
    const reading = (value: number, start: number, end: number, limits: ArrayLike<number> | undefined): CounterReading => {
      const base = counter.varyingLimits && limits !== undefined ? limits[rule.slot]! : rule.limit ?? Infinity;
      const shape = rule.shape;
      const local = shape === undefined ? undefined : this.compiled.zone.local(ts);
      const limit = local === undefined ? base : base * shape![local.weekday * 24 + local.hour]!;
      return { value, start, end, limit: Number.isFinite(limit) ? limit : null };
    };
    const off = this.offsets[counter.index]!;
    if (off >= 0) {
      const table = this.tables[counter.keyer]!;
      const id = table.id(key);
      if (id === undefined) return undefined;
      const bounds = this.compiled.zone.window((counter.window as { unit: CalendarUnit }).unit, ts);
      const o = id * table.stride + off;
      const w = table.arena[o + START] === bounds.start
        ? this.windowAt(table, id, o, counter)
        : (table.cells[id]?.[counter.slot] as CalendarCell | undefined)?.windows.find((x) => x.start === bounds.start);
      return w === undefined ? undefined : reading(windowValue(counter.measure.kind, w), w.start, w.end, w.limits);
    }
    const cell = this.cellOf(counter, key);
    if (cell === undefined) return undefined;
    if (counter.risk) {
      const r = cell as RiskCell;
      return reading(roundValue(decayedScore(r, ts, this.compiled.halfLife)), r.contributions[0]?.[3] ?? r.at, Math.max(ts, r.at), r.limits);
    }
    if (counter.window.kind === 'sliding') {
      const s = cell as SlidingState;
      return reading(windowValue(counter.measure.kind, s), s.newest - counter.window.ms, s.newest, s.limits);
    }
    const bounds = this.compiled.zone.window(counter.window.unit, ts);
    const w = (cell as CalendarCell).windows.find((x) => x.start === bounds.start);
    return w === undefined ? undefined : reading(windowValue(counter.measure.kind, w), w.start, w.end, w.limits);
  }

  private makeAlert (rule: CompiledRule, severity: Severity, key: string, start: number, end: number, anchor: string | number, value: number, limit: number, record: UsageRecord): Alert {
    const zone = this.compiled.zone;
    const alert: Alert = {
      id: alertId(rule.id, key, anchor, severity),
      rule: rule.id,
      severity,
      by: rule.by,
      key,
      window: { start: zone.toIso(start), end: zone.toIso(end) },
      value: roundValue(value),
      limit: roundValue(limit),
      record: record.id,
      ts: zone.toIso(record.ts),
      detectedAt: zone.toIso(this.clock()),
      ...(rule.description === undefined ? {} : { description: rule.description }),
      ...(rule.score === undefined ? {} : { score: rule.score }),
      ...(rule.shadow ? { shadow: true as const } : {}),
    };
    return alert;
  }
}

const WEEKDAY_INDEX: Readonly<Record<string, number>> = { mon: 0, tue: 1, wed: 2, thu: 3, fri: 4, sat: 5, sun: 6 };
function weekdayIndexOf (day: string): number {
  return WEEKDAY_INDEX[day] ?? 0;
}
