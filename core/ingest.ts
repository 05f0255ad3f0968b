/**
 * Ingest, the pure part: a raw record (already decoded from JSON, CSV or MessagePack) becomes
 * a validated, derived and rated UsageRecord, or a Reject with its reason and position.
 * Ingest also owns the watermark (the newest event time accepted), so that lateness is
 * decided once, in arrival order, before records fan out to shards: every shard then agrees
 * on which records count.
 */
import type { CompiledKeyer, CompiledRules } from './compile.js';
import type { Reject, SourcePosition, UsageRecord } from './usage-record.js';
import { parseUsageRecord, type RecordContext } from './usage-record.js';
import { rateRecord } from './compile.js';
import { EngineError, FutureRecordError, InvalidRecordError, LateRecordError, show } from './errors.js';
import { MAX_KEY_BYTES, describeKeyPart, fitsKey } from './key.js';
import { spanText } from './rules-text.js';

/** The longest text of the record that a key may be made of, in UTF-16 units. */
function longestText (r: UsageRecord): number {
  let n = Math.max(r.id.length, r.account.length, r.subscription?.length ?? 0, r.caller?.length ?? 0, r.called?.length ?? 0,
    r.called_raw?.length ?? 0, r.trunk?.length ?? 0, r.provider?.length ?? 0, r.device?.length ?? 0);
  for (const g of r.group) n = Math.max(n, g.length);
  if (r.attrs !== undefined) for (const name in r.attrs) { const v = r.attrs[name]; if (typeof v === 'string') n = Math.max(n, v.length); }
  return n;
}

export type Prepared = { readonly ok: true, readonly record: UsageRecord } | { readonly ok: false, readonly reject: Reject };

function clip (raw: unknown): string {
  if (typeof raw === 'string') return raw.length > 4096 ? raw.slice(0, 4096) : raw;
  try {
    const text = JSON.stringify(raw) ?? String(raw);
    return text.length > 4096 ? text.slice(0, 4096) : text;
  } catch {
    // Nested too deep for JSON.stringify (and for String()), or holding a bigint.
    return show(raw, 4096);
  }
}

/**
 * How far ahead of the wall clock a live node takes a record's date. A replay has no such
 * bound: its records are history, and "now" is whatever they say.
 */
export interface AheadBound {
  /** the furthest a record's `ts` may be ahead of `now()`, ms */
  readonly maxMs: number;
  /** the node's clock, epoch ms */
  readonly now: () => number;
}

export class Ingest {
  private readonly compiled: CompiledRules;
  private readonly context: RecordContext;
  private mark = -Infinity;
  /** the keyers records feed */
  private readonly keyers: readonly CompiledKeyer[];
  /** a record whose texts are all this long or shorter gives no key over MAX_KEY_BYTES */
  private readonly shortText: number;
  private readonly keys: string[] = [];
  private readonly ahead: AheadBound | undefined;

  /** `ahead`: a live node's bound on records dated in the future (none in a replay). */
  constructor (compiled: CompiledRules, ahead?: AheadBound) {
    this.compiled = compiled;
    this.ahead = ahead;
    this.keyers = compiled.keyers.filter((k) => k.fed.length > 0);
    const parts = Math.max(1, ...this.keyers.map((k) => k.by.length));
    this.shortText = Math.floor((MAX_KEY_BYTES - parts) / (3 * parts));
    this.context = {
      zone: compiled.zone,
      ...(compiled.config.homeCountry === undefined ? {} : { homeCountry: compiled.config.homeCountry }),
      groupsOf: compiled.groupsOf,
    };
  }

  get watermark (): number { return this.mark; }

  /** Restores the watermark after a restart (it is committed with the counters). */
  set watermark (value: number) { this.mark = value; }

  prepare (raw: unknown, position: SourcePosition, text?: string): Prepared {
    let record: UsageRecord;
    try {
      record = parseUsageRecord(raw, this.context);
      rateRecord(this.compiled, record);
      if (longestText(record) > this.shortText) this.checkKeys(record);
    } catch (err) {
      return { ok: false, reject: this.reject(err, position, text ?? raw) };
    }
    // Before the watermark moves: one CDR dated 9999 (a switch's clock, a unit mix-up of
    // seconds for ms) would otherwise make every record of the present late, and the node blind.
    if (this.ahead !== undefined) {
      const now = this.ahead.now();
      if (record.ts - now > this.ahead.maxMs) {
        const zone = this.compiled.zone;
        const err = new FutureRecordError(`future: record.ts ${zone.toIso(record.ts)} is ${spanText(record.ts - now)} ahead of this node's clock (${zone.toIso(now)}); config.max_ahead allows ${spanText(this.ahead.maxMs)}`);
        return { ok: false, reject: this.reject(err, position, text ?? raw) };
      }
    }
    const end = this.compiled.earliestWindowEnd(record.ts);
    if (end + this.compiled.lateness <= this.mark) {
      const zone = this.compiled.zone;
      const err = new LateRecordError(`late: record.ts ${zone.toIso(record.ts)} falls in a window that closed at ${zone.toIso(end)} and was discarded (watermark ${zone.toIso(this.mark)}, lateness ${this.compiled.lateness / 60_000} min)`);
      return { ok: false, reject: this.reject(err, position, text ?? raw) };
    }
    if (record.ts > this.mark) this.mark = record.ts;
    return { ok: true, record };
  }

  /** Throws when a counter key of the record is longer than MAX_KEY_BYTES. */
  private checkKeys (record: UsageRecord): void {
    for (const keyer of this.keyers) {
      const n = keyer.extract(record, this.keys);
      for (let i = 0; i < n; i++) {
        const key = this.keys[i] as string;
        if (fitsKey(key)) continue;
        const rule = keyer.counters[0]?.rules[0]?.id ?? '?';
        throw new InvalidRecordError(keyer.by.map(describeKeyPart).join('|'), `at most ${MAX_KEY_BYTES} bytes in UTF-8 (the key of rule ${rule})`, key);
      }
    }
  }

  reject (err: unknown, position: SourcePosition, raw: unknown): Reject {
    const code = err instanceof EngineError ? err.code : 'VIGIL_INVALID_RECORD';
    const reason = err instanceof Error ? err.message : show(err);
    return { reason, code, position, raw: clip(raw) };
  }
}
