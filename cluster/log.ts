/**
 * The node's log: one JSON line per event on standard error, through pino. An event is the
 * object the node's `log` callbacks take (`{ ready: "127.0.0.1:7800", epoch: 3, … }`); its keys
 * stay at the top level of the line, after `level` (`error` when the event has an `error` key,
 * `warn` when it has a `warning` key, else `info`), `time` (ISO 8601) and, inside an active span, `trace_id`, `span_id` and
 * `trace_flags`, so a line can be joined to its trace:
 *
 *   {"level":"info","time":"2026-11-21T10:00:00.000Z","ready":"127.0.0.1:7800","epoch":3}
 *
 * `level`, `time`, `trace_id`, `span_id` and `trace_flags` are taken: an event should not use
 * them. Lines are written synchronously, so none is lost when the process exits right after.
 */
import { pino, type DestinationStream } from 'pino';
import { isSpanContextValid, trace } from '@opentelemetry/api';

/** One JSON-able event. */
export type LogEvent = Record<string, unknown>;

/** What the node's parts log through. */
export type Log = (event: LogEvent) => void;

export interface LogOptions {
  /** where the lines go (default: standard error) */
  readonly destination?: DestinationStream;
  /** the lowest level written (default info): `error` writes only events with an `error` key */
  readonly level?: 'info' | 'warn' | 'error' | 'silent';
  /** fields on every line, before the event's (e.g. `{ node: "fra1-a" }`) */
  readonly bindings?: Record<string, unknown>;
}

/** The trace_id, span_id and trace_flags of the active span; nothing outside a span (or with no SDK installed). */
function traceFields (): Record<string, string> {
  const span = trace.getActiveSpan();
  if (span === undefined) return {};
  const sc = span.spanContext();
  if (!isSpanContextValid(sc)) return {};
  return { trace_id: sc.traceId, span_id: sc.spanId, trace_flags: sc.traceFlags.toString(16).padStart(2, '0') };
}

/** A log writing one JSON line per event; see the module comment for the line's shape. */
export function createLog (options: LogOptions = {}): Log {
  const logger = pino({
    level: options.level ?? 'info',
    base: options.bindings ?? null,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin: traceFields,
  }, options.destination ?? pino.destination({ fd: 2, sync: true }));
  return (event) => {
    if (event.error !== undefined) logger.error(event);
    else if (event.warning !== undefined) logger.warn(event);
    else logger.info(event);
  };
}
