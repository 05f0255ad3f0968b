/**
 * Every message that crosses into or out of a shard actor's thread. Errors never cross as
 * classes (structuredClone drops their name and code); they travel as ErrorData.
 */
import type { ErrorData } from '../core/errors.js';
import type { RulesConfig } from '../core/rules-config.js';
import type { EpochOutput, StoredRow } from './store.js';
import type { LimitChanges } from '../core/limits-change.js';
import type { RiskReport } from '../core/engine.js';
import { wire } from './codec.js';
import type { CounterReading } from '../core/engine.js';

/** What a shard actor thread is started with (piscina workerData). */
export interface ShardActorData {
  readonly config: RulesConfig;
  /** null: counters in memory only (no --data) */
  readonly dataPath: string | null;
  readonly shards: number;
  readonly owned: readonly number[];
  /** a fingerprint of the rules, to refuse resuming a data folder written with other rules */
  readonly fingerprint: string;
}

export type ShardMsg =
  /**
   * One epoch of input: the records of this actor (a msgpackr array of UsageRecord) with their
   * index in the epoch, the ingest watermark at each record, and the newest epoch whose
   * output has been written durably downstream (its outbox may go).
   */
  | { readonly kind: 'batch', readonly epoch: number, readonly records: Uint8Array, readonly release: number }
  | { readonly kind: 'counter', readonly rule: string, readonly key: string, readonly ts: number }
  | { readonly kind: 'risk', readonly key: string, readonly ts: number }
  | { readonly kind: 'stats' }
  /** new per-key limits (a limits-only reload): applied in place, the rows they changed answered for the caller to store */
  | { readonly kind: 'limits', readonly changes: LimitChanges, readonly fingerprint: string };

export type ShardReply =
  | { readonly kind: 'applied', readonly epoch: number, readonly output: EpochOutput, readonly replayed: boolean }
  | { readonly kind: 'counter', readonly value: CounterReading | null }
  | { readonly kind: 'risk', readonly reports: readonly RiskReport[] }
  /** `fingerprint`: of the rules the actor runs (its thread's, or the last limits message's) */
  | { readonly kind: 'stats', readonly keys: number, readonly windows: number, readonly epoch: number, readonly fingerprint: string }
  | { readonly kind: 'relimited', readonly rows: readonly StoredRow[] }
  | { readonly kind: 'error', readonly error: ErrorData };

/** The payload of a batch, packed with the wire codec. */
export interface BatchPayload {
  /** the records, in chunks of at most RECORD_CHUNK (see packRecords) */
  readonly records: readonly Uint8Array[];
  /** index of each record in its epoch, for ordering and for rejects */
  readonly index: readonly number[];
  /** the ingest watermark after each record was accepted */
  readonly watermark: readonly number[];
}

/**
 * Records per chunk of a batch. The actor unpacks one chunk, applies it, then the next: its
 * records die young. Unpacked all at once, an epoch of 16,384 records outlived two scavenges
 * while it was applied and was copied twice and promoted, only to die in the old generation:
 * on the demo traffic, the shard thread's unpack and apply took 10-15 % longer that way.
 */
export const RECORD_CHUNK = 1024;

/** A batch's records as chunks of RECORD_CHUNK, each a msgpackr array of records. */
export function packRecords (records: readonly unknown[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < records.length; i += RECORD_CHUNK) chunks.push(wire.pack(records.slice(i, i + RECORD_CHUNK)));
  return chunks;
}
