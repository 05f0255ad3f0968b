/**
 * Messages into and out of a lane actor's thread: the shard actor of a cluster node. Where the
 * embedded engine's actor applies numbered epochs to a fixed set of shards, a lane actor keeps
 * one lane per shard its node holds a lease on; each lane has its own engine and its own
 * position, the sequence of the last shard-stream message it committed. Lanes open and close
 * as leases come and go.
 */
import type { ErrorData } from '../../core/errors.js';
import type { RulesConfig } from '../../core/rules-config.js';
import type { RiskReport } from '../../core/engine.js';
import type { EpochOutput } from '../store.js';
import type { CounterReading } from '../../core/engine.js';

export interface LaneActorData {
  readonly config: RulesConfig;
  readonly dataPath: string;
  /** shards of the deployment */
  readonly shards: number;
  readonly fingerprint: string;
}

/** One message of a shard stream: its stream sequence and its payload (a packed ShardBatch). */
export interface StreamMessage { readonly seq: number, readonly data: Uint8Array }

/** The payload of a `<prefix>.shard.<n>` message, packed with the wire codec. */
export interface ShardBatch {
  readonly records: readonly unknown[];
  /** the coordinator's watermark after each record */
  readonly watermark: readonly number[];
}

export type LaneMsg =
  /** opens shard's lane from the store (or a new one); `reset`: forget what the store holds of it first */
  | { readonly kind: 'open', readonly shard: number, readonly reset?: boolean }
  /** applies messages in sequence order; those at or below the lane's position are skipped */
  | { readonly kind: 'apply', readonly shard: number, readonly messages: readonly StreamMessage[] }
  /** the alerts of outbox entries up to `upTo` are in the alerts stream: they may go */
  | { readonly kind: 'release', readonly shard: number, readonly upTo: number }
  /** the lease is gone: forget the lane (its committed state stays in the store) */
  | { readonly kind: 'close', readonly shard: number }
  | { readonly kind: 'counter', readonly shard: number, readonly rule: string, readonly key: string, readonly ts: number }
  | { readonly kind: 'risk', readonly shard: number, readonly key: string, readonly ts: number }
  | { readonly kind: 'stats' };

/**
 * When the actor thread started and finished a piece of work (ms since the epoch, fractional):
 * the node records it as a span, so the thread needs no telemetry SDK of its own.
 */
export interface Timing { readonly start: number, readonly end: number }

export type LaneReply =
  /** `pending`: outbox entries not released yet (a previous owner's run died before publishing them) */
  | { readonly kind: 'opened', readonly shard: number, readonly position: number, readonly pending: ReadonlyArray<{ readonly seq: number, readonly output: EpochOutput }> }
  /** `position`: the lane's position after the messages; `output` is keyed by that position in the outbox */
  | { readonly kind: 'applied', readonly shard: number, readonly position: number, readonly output: EpochOutput, readonly applied: number, readonly records: number, readonly timing: Timing }
  | { readonly kind: 'done' }
  | { readonly kind: 'counter', readonly value: CounterReading | null }
  | { readonly kind: 'risk', readonly reports: readonly RiskReport[] }
  | { readonly kind: 'stats', readonly keys: number, readonly windows: number, readonly lanes: number }
  | { readonly kind: 'error', readonly error: ErrorData };
