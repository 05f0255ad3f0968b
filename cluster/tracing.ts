/**
 * Spans of the pipeline, through the OpenTelemetry API only: without an SDK installed
 * (cluster/telemetry.ts installs one when an endpoint is configured) every call here is a
 * no-op. One span per batch, never per record: an ingest batch (one offer), a JetStream
 * publish per shard message, a consume per lane apply, the shard actor's work in its thread,
 * one span per alert (alerts are rare), the notifier's intake and each delivery.
 *
 * Context crosses processes as W3C `traceparent` in NATS headers, and threads as the same text
 * in the message to the thread. A batch that merges several upstream batches (a shard message
 * holding records of several offers, a lane apply of several messages) is the child of the
 * first and links to all of them, so a trace runs from ingest to delivery and the others are
 * one click away.
 */
import { ROOT_CONTEXT, SpanKind, context, propagation, trace, type Attributes, type Context, type Link, type Span, type SpanContext } from '@opentelemetry/api';
import { headers, type MsgHdrs } from '../workers/nats-client.js';

export const tracer = trace.getTracer('vigil');
export { ROOT_CONTEXT, SpanKind, type Span, type Context };

const setter = { set: (carrier: Record<string, string>, key: string, value: string): void => { carrier[key] = value; } };
const getter = {
  get: (carrier: MsgHdrs | Record<string, string>, key: string): string | undefined => {
    if (typeof (carrier as MsgHdrs).get === 'function') {
      const v = (carrier as MsgHdrs).get(key);
      return v === '' ? undefined : v;
    }
    return (carrier as Record<string, string>)[key];
  },
  keys: (carrier: MsgHdrs | Record<string, string>): string[] => typeof (carrier as MsgHdrs).keys === 'function' ? (carrier as MsgHdrs).keys() : Object.keys(carrier),
};

/** The `traceparent` (and `tracestate`) of `ctx`, or undefined when it carries no sampled span. */
export function carrierOf (ctx: Context): Record<string, string> | undefined {
  const span = trace.getSpanContext(ctx);
  if (span === undefined || !trace.isSpanContextValid(span)) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier, setter);
  return carrier.traceparent === undefined ? undefined : carrier;
}

/** NATS headers carrying `span`'s context; undefined when there is nothing to carry. */
export function headersFor (span: Span): MsgHdrs | undefined {
  const carrier = carrierOf(trace.setSpan(ROOT_CONTEXT, span));
  if (carrier === undefined) return undefined;
  const h = headers();
  for (const [k, v] of Object.entries(carrier)) h.set(k, v);
  return h;
}

/** The context a message's headers (or a carried `traceparent`) name; ROOT_CONTEXT when none. */
export function contextFrom (carrier: MsgHdrs | Record<string, string> | undefined): Context {
  if (carrier === undefined) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, carrier, getter);
}

/** The span context of a carried context, for links; undefined when there is none. */
export function spanContextOf (ctx: Context): SpanContext | undefined {
  const sc = trace.getSpanContext(ctx);
  return sc !== undefined && trace.isSpanContextValid(sc) ? sc : undefined;
}

/**
 * Starts the span of a batch made of several upstream batches: the child of the first
 * upstream context, linked to every distinct one.
 */
export function startMerged (name: string, kind: SpanKind, upstream: readonly Context[], attributes: Attributes, startTime?: number): Span {
  const links: Link[] = [];
  const seen = new Set<string>();
  for (const ctx of upstream) {
    const sc = spanContextOf(ctx);
    if (sc === undefined || seen.has(sc.spanId)) continue;
    seen.add(sc.spanId);
    links.push({ context: sc });
  }
  const parent = upstream.find((c) => spanContextOf(c) !== undefined) ?? context.active();
  return tracer.startSpan(name, { kind, attributes, links, ...(startTime === undefined ? {} : { startTime }) }, parent);
}

/** The context with `span` active, for children. */
export function within (span: Span): Context {
  return trace.setSpan(ROOT_CONTEXT, span);
}

/** True when spans are recorded (an SDK is installed and samples): lets callers skip building attributes. */
export function recording (span: Span): boolean {
  return span.isRecording();
}

/** Messaging semantic conventions for a NATS subject. */
export function messaging (operation: 'send' | 'process' | 'receive', subject: string, messages: number): Attributes {
  return {
    'messaging.system': 'nats',
    'messaging.operation.type': operation,
    'messaging.operation.name': operation === 'send' ? 'publish' : operation,
    'messaging.destination.name': subject,
    'messaging.batch.message_count': messages,
  };
}
