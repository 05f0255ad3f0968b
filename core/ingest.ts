/**
 * Ingest, the pure part: a raw record (already decoded from JSON, CSV or MessagePack) becomes
 * a validated, derived and rated UsageRecord, or a Reject with its reason and position.
 * Ingest also owns the watermark (the newest event time accepted), so that lateness is
 * decided once, in arrival order, before records fan out to shards: every shard then agrees
 * on which records count.
 */
import type { CompiledRules } from './compile.js';
import type { Reject, SourcePosition, UsageRecord } from './usage-record.js';
import { parseUsageRecord, type RecordContext } from './usage-record.js';
import { rateRecord } from './compile.js';
import { EngineError, LateRecordError, show } from './errors.js';

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

export class Ingest {
  private readonly compiled: CompiledRules;
  private readonly context: RecordContext;
  private mark = -Infinity;

  constructor (compiled: CompiledRules) {
    this.compiled = compiled;
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
    } catch (err) {
      return { ok: false, reject: this.reject(err, position, text ?? raw) };
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

  reject (err: unknown, position: SourcePosition, raw: unknown): Reject {
    const code = err instanceof EngineError ? err.code : 'VIGIL_INVALID_RECORD';
    const reason = err instanceof Error ? err.message : show(err);
    return { reason, code, position, raw: clip(raw) };
  }
}
