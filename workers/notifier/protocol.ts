/**
 * Every message that crosses into or out of the notification actor's thread. Errors travel as
 * ErrorData (classes do not survive structuredClone).
 */
import type { Alert } from '../../core/alert.js';
import type { ErrorData } from '../../core/errors.js';
import type { ChannelConfig, Severity } from '../../core/rules-config.js';
import type { NatsSettings } from '../nats-connect.js';

/** What the thread is started with (piscina workerData): plain, cloneable data. */
export interface NotifierData {
  /** the LMDB environment folder of the outbox, e.g. `<data>/notify` */
  readonly dataPath: string;
  readonly channels: ReadonlyMap<string, ChannelConfig>;
  /** rule id -> the channels named by its `notify` (absent: every channel) */
  readonly routes: ReadonlyMap<string, readonly string[] | undefined>;
  readonly options: NotifierTuning;
}

/** Knobs with production defaults; tests shorten the times. */
export interface NotifierTuning {
  /** first retry delay bound, ms (default 1 s) */
  readonly backoffBaseMs: number;
  /** largest retry delay bound, ms (default 5 min) */
  readonly backoffCapMs: number;
  /** alerts folded into one digest message at most */
  readonly maxDigest: number;
  /** timeout of one SMTP, SMS or NATS delivery */
  readonly timeoutMs: number;
  /** overrides each channel type's default concurrency */
  readonly concurrency?: number;
  /** the node's NATS for `nats` channels: servers, credentials, TLS files (plain data); undefined: none */
  readonly nats: NatsSettings | undefined;
  /** relative `file` channel paths resolve against it */
  readonly baseDir: string;
  /** the notifier's own events (channel down/up, dead letters) as JSON lines on stderr */
  readonly log: boolean;
  /** how long close() waits for deliveries under way, ms */
  readonly closeGraceMs: number;
  /** the thread's nice value on Linux (per thread; 0: the process's priority), default 10 */
  readonly nice: number;
}

export type NotifierMsg =
  /**
   * alerts: an Alert[] packed with the shared codec (workers/codec.ts), stored as they are;
   * ids, rules, severities: the same alerts' fields of those names, in order, which the thread
   * routes and dedupes on without unpacking the alerts (it unpacks them to send them)
   */
  | { readonly kind: 'enqueue', readonly alerts: Uint8Array, readonly ids: readonly string[], readonly rules: readonly string[], readonly severities: readonly Severity[], readonly trace?: string }
  /** the delivery attempts finished since the last call, for spans */
  | { readonly kind: 'deliveries' }
  | { readonly kind: 'dead-letters' }
  | { readonly kind: 'redrive', readonly id?: string }
  | { readonly kind: 'stats' }
  | { readonly kind: 'close' };

/** An alert a channel could not deliver within its `retry.max`. */
export interface DeadLetter {
  /** `<channel>/<alert id>` */
  readonly id: string;
  readonly channel: string;
  readonly alert: Alert;
  /** when it entered the outbox (ISO 8601) */
  readonly enqueuedAt: string;
  /** when it was given up on */
  readonly deadAt: string;
  /** delivery attempts of this alert on this channel (in this run of the notifier) */
  readonly attempts: number;
  /** the channel's last failure, redacted */
  readonly error: string;
}

/**
 * One delivery attempt as the thread saw it, for the handle to record as a span (the thread
 * has no telemetry SDK): its channel, how many alerts it carried, when it ran (ms since the
 * epoch), how it ended, and the trace context of the intake batch its alerts came in with.
 */
export interface DeliveryTrace {
  readonly channel: string;
  readonly type: string;
  readonly alerts: number;
  /** the highest attempt number among its alerts (1: first try) */
  readonly attempt: number;
  readonly start: number;
  readonly end: number;
  readonly result: 'delivered' | 'failed';
  readonly error?: string;
  readonly traceparent?: string;
}

export interface ChannelStats {
  readonly channel: string;
  readonly type: string;
  /** where it delivers, without secrets */
  readonly target: string;
  readonly minSeverity: Severity;
  /** in the outbox, waiting or in flight */
  readonly queued: number;
  readonly inFlight: number;
  readonly delivered: number;
  /** messages accepted (a digest is one) */
  readonly messages: number;
  readonly failedAttempts: number;
  /** consecutive failures; 0 when the last attempt went through */
  readonly failures: number;
  readonly deadLetters: number;
  readonly state: 'idle' | 'delivering' | 'backing-off';
  readonly lastError?: string;
  readonly lastErrorAt?: string;
}

export interface NotifierStats {
  readonly queued: number;
  readonly deadLetters: number;
  readonly channels: readonly ChannelStats[];
}

export type NotifierReply =
  | { readonly kind: 'enqueued', readonly entries: number }
  | { readonly kind: 'dead-letters', readonly letters: readonly DeadLetter[] }
  | { readonly kind: 'redriven', readonly count: number }
  | { readonly kind: 'stats', readonly stats: NotifierStats }
  | { readonly kind: 'closed' }
  | { readonly kind: 'deliveries', readonly deliveries: readonly DeliveryTrace[] }
  | { readonly kind: 'error', readonly error: ErrorData };
