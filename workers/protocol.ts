/**
 * Every message that crosses into or out of a shard actor's thread. Errors never cross as
 * classes (structuredClone drops their name and code); they travel as ErrorData.
 */
import type { ErrorData } from '../core/errors.js';
import type { RulesConfig } from '../core/rules-config.js';
import type { EpochOutput } from './store.js';
import type { RiskReport } from '../core/engine.js';

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
  | { readonly kind: 'stats' };

export type ShardReply =
  | { readonly kind: 'applied', readonly epoch: number, readonly output: EpochOutput, readonly replayed: boolean }
  | { readonly kind: 'counter', readonly value: { value: number, start: number, end: number } | null }
  | { readonly kind: 'risk', readonly reports: readonly RiskReport[] }
  | { readonly kind: 'stats', readonly keys: number, readonly windows: number, readonly epoch: number }
  | { readonly kind: 'error', readonly error: ErrorData };

/** The payload of a batch, packed with the wire codec. */
export interface BatchPayload {
  readonly records: readonly unknown[];
  /** index of each record in its epoch, for ordering and for rejects */
  readonly index: readonly number[];
  /** the ingest watermark after each record was accepted */
  readonly watermark: readonly number[];
}
