/**
 * The main thread's handle on the notification actor (workers/notifier), which runs on a thread
 * of its own (a piscina pool of one thread). `enqueue` resolves once the alerts are committed to
 * the durable outbox and never waits for delivery, so detection is never slowed by a dead
 * receiver. Channel settings are checked again here, before the thread starts (the rules
 * parser already refused a file the notifier cannot use, but a config may be built in code), so
 * bad settings fail with an InvalidChannelError naming the setting. If the thread dies, piscina starts a
 * new one, which reopens the outbox and resumes delivery; a call that was under way is sent
 * again (enqueue is idempotent: an alert already queued for a channel is not queued twice).
 */
import { dirname, resolve } from 'node:path';
import { Piscina } from 'piscina';
import type { Alert } from '../core/alert.js';
import { EngineError, InvalidChannelError } from '../core/errors.js';
import type { ErrorCode, ErrorData } from '../core/errors.js';
import type { RulesConfig, Severity } from '../core/rules-config.js';
import { parseChannelSpecs } from '../core/channel-settings.js';
import { packOwn } from '../workers/codec.js';
import { SpanStatusCode } from '@opentelemetry/api';
import { SpanKind, carrierOf, contextFrom, tracer, type Context } from './tracing.js';
import type { NatsSettings } from '../workers/nats-connect.js';
import type { DeadLetter, DeliveryTrace, NotifierData, NotifierMsg, NotifierReply, NotifierStats, NotifierTuning } from '../workers/notifier/protocol.js';

export type { DeadLetter, NotifierStats, ChannelStats } from '../workers/notifier/protocol.js';

/** Where a channel's relative paths (a `file` channel's) resolve: beside the rules file, or the working directory for rules given as text. */
export function channelBaseDir (rules: Pick<RulesConfig, 'file'>): string {
  return rules.file === '' ? process.cwd() : dirname(resolve(rules.file));
}

export interface NotificationsOptions extends Partial<Omit<NotifierTuning, 'baseDir' | 'nats'>> {
  readonly config: Pick<RulesConfig, 'channels' | 'rules' | 'file'>;
  /** the outbox's LMDB folder, e.g. `<data>/notify` */
  readonly dataPath: string;
  /** the node's `config.nats` (servers, credentials, TLS) for `nats` channels; absent: their deliveries fail */
  readonly nats?: NatsSettings | undefined;
  /** relative `file` paths resolve against it; default: the rules file's folder */
  readonly baseDir?: string;
  /** the thread's module (tests swap in a misbehaving one) */
  readonly filename?: string;
}

/** The notification thread stopped while it held a call, more times in a row than a retry covers. */
export class NotifierCrashedError extends EngineError {
  constructor (options?: ErrorOptions) {
    const cause = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super('VIGIL_ENGINE_FAILED', `the notification actor's thread stopped${cause}`, options);
  }
}

const DEFAULT_FILE = new URL('../workers/notifier/main.js', import.meta.url).href;
const RETRIES = 3;
/** alerts per enqueue message at most (the outbox takes up to 2^20 per batch) */
const CHUNK = 65_536;

function fromErrorData (e: ErrorData): EngineError {
  if (e.code === 'VIGIL_INVALID_CHANNEL') return new InvalidChannelError(e.message);
  return new EngineError(e.code as ErrorCode, e.message);
}

/** How often the handle collects the thread's finished delivery attempts to record them as spans. */
const DELIVERY_SPANS_EVERY_MS = 1_000;

export class Notifications {
  private readonly pool: Piscina;
  private closed = false;
  private readonly collector: NodeJS.Timeout;
  /** called for every finished delivery attempt (metrics) */
  onDelivery: ((d: DeliveryTrace) => void) | undefined;

  private constructor (pool: Piscina) {
    this.pool = pool;
    this.collector = setInterval(() => { this.collectDeliveries().catch(() => undefined); }, DELIVERY_SPANS_EVERY_MS);
    this.collector.unref();
  }

  /**
   * Records the thread's finished delivery attempts as spans `deliver <channel>`: children of
   * the intake batch their alerts came with, with the thread's own start and end times.
   */
  async collectDeliveries (): Promise<number> {
    if (this.closed) return 0;
    const reply = await this.call({ kind: 'deliveries' });
    if (reply.kind !== 'deliveries') return 0;
    for (const d of reply.deliveries) {
      this.onDelivery?.(d);
      const span = tracer.startSpan(`deliver ${d.channel}`, {
        kind: SpanKind.CLIENT,
        startTime: d.start,
        attributes: { 'vigil.channel': d.channel, 'vigil.channel.type': d.type, 'vigil.alerts': d.alerts, 'vigil.attempt': d.attempt, 'vigil.result': d.result, ...(d.error === undefined ? {} : { 'error.type': 'delivery_failed' }) },
      }, contextFrom(d.traceparent === undefined ? undefined : { traceparent: d.traceparent }));
      if (d.error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: d.error });
      span.end(d.end);
    }
    return reply.deliveries.length;
  }

  static async open (opts: NotificationsOptions): Promise<Notifications> {
    // Throws InvalidChannelError here, in the caller's thread, with the setting's path.
    parseChannelSpecs(opts.config.channels);
    const routes = new Map<string, readonly string[] | undefined>();
    for (const rule of opts.config.rules) routes.set(rule.id, rule.notify);
    const options: NotifierTuning = {
      backoffBaseMs: opts.backoffBaseMs ?? 1_000,
      backoffCapMs: opts.backoffCapMs ?? 300_000,
      maxDigest: opts.maxDigest ?? 1_000,
      timeoutMs: opts.timeoutMs ?? 10_000,
      nats: opts.nats,
      baseDir: opts.baseDir ?? channelBaseDir(opts.config),
      log: opts.log ?? true,
      closeGraceMs: opts.closeGraceMs ?? 2_000,
      nice: opts.nice ?? 10,
      ...(opts.concurrency === undefined ? {} : { concurrency: opts.concurrency }),
    };
    const data: NotifierData = { dataPath: opts.dataPath, channels: opts.config.channels, routes, options };
    const pool = new Piscina({
      filename: opts.filename ?? DEFAULT_FILE,
      minThreads: 1,
      maxThreads: 1,
      // enqueues overlap their LMDB commits; LMDB runs the transactions in call order
      concurrentTasksPerWorker: 8,
      // Delivery runs between tasks: the thread must keep its event loop.
      atomics: 'disabled',
      idleTimeout: Number.MAX_SAFE_INTEGER,
      workerData: data,
    });
    // An error the thread throws between messages (a delivery callback that fails): the thread
    // ends and piscina starts another, which reopens the outbox; unheard, the event would end
    // the process, detection included.
    pool.on('error', (err: unknown) => {
      process.stderr.write(`vigil: the notification actor's thread failed outside a message and is restarted from its outbox: ${err instanceof Error ? err.message : String(err)}\n`);
    });
    const handle = new Notifications(pool);
    try {
      await handle.call({ kind: 'stats' });
    } catch (err) {
      await pool.destroy();
      throw err;
    }
    return handle;
  }

  /** `msg`, or a function making it and the buffers it moves to the thread (made again for a retry: a moved buffer is gone) */
  private async call (msg: NotifierMsg | (() => { msg: NotifierMsg, transferList: ArrayBuffer[] })): Promise<NotifierReply> {
    if (this.closed) throw new EngineError('VIGIL_ENGINE_FAILED', 'the notifier is closed');
    let lastCrash: unknown;
    for (let i = 0; i <= RETRIES; i++) {
      let reply: NotifierReply;
      try {
        if (typeof msg === 'function') {
          const made = msg();
          reply = await this.pool.run(made.msg, { transferList: made.transferList }) as NotifierReply;
        } else {
          reply = await this.pool.run(msg) as NotifierReply;
        }
      } catch (err) {
        // piscina rejects a task whose thread died and starts a new thread for the next one.
        lastCrash = err;
        continue;
      }
      if (reply.kind === 'error') throw fromErrorData(reply.error);
      return reply;
    }
    throw new NotifierCrashedError({ cause: lastCrash });
  }

  /**
   * Resolves once every alert's outbox entries are committed (durable); delivery follows.
   * `trace`: the context the alerts came in with; their deliveries' spans become its children.
   */
  async enqueue (alerts: readonly Alert[], trace?: Context): Promise<void> {
    const traceparent = trace === undefined ? undefined : carrierOf(trace)?.traceparent;
    // Packed here into a buffer of its own (packOwn), moved to the thread, which stores the
    // bytes as they are. The fields the thread routes and dedupes on
    // travel beside it as plain arrays: cloning 3 short strings per alert costs this thread
    // little, and the thread reads them natively instead of unpacking every alert (which, on
    // a thread not yet warmed up, cost it more than everything else it does with a burst).
    for (let from = 0; from < alerts.length; from += CHUNK) {
      const part = alerts.length <= CHUNK ? alerts : alerts.slice(from, from + CHUNK);
      const ids = new Array<string>(part.length);
      const rules = new Array<string>(part.length);
      const severities = new Array<Severity>(part.length);
      for (let i = 0; i < part.length; i++) {
        const a = part[i]!;
        ids[i] = a.id;
        rules[i] = a.rule;
        severities[i] = a.severity;
      }
      await this.call(() => {
        const packed = packOwn(part);
        const msg: NotifierMsg = { kind: 'enqueue', alerts: packed, ids, rules, severities, ...(traceparent === undefined ? {} : { trace: traceparent }) };
        return { msg, transferList: [packed.buffer] };
      });
    }
  }

  async deadLetters (): Promise<DeadLetter[]> {
    const reply = await this.call({ kind: 'dead-letters' });
    return reply.kind === 'dead-letters' ? [...reply.letters] : [];
  }

  /** Redrives every dead letter, or those of `id` (a dead letter's id, or an alert id); returns how many. */
  async redrive (id?: string): Promise<number> {
    const reply = await this.call(id === undefined ? { kind: 'redrive' } : { kind: 'redrive', id });
    return reply.kind === 'redriven' ? reply.count : 0;
  }

  async stats (): Promise<NotifierStats> {
    const reply = await this.call({ kind: 'stats' });
    if (reply.kind !== 'stats') throw new EngineError('VIGIL_ENGINE_FAILED', `this should not happen: stats answered ${reply.kind}`);
    return reply.stats;
  }

  /** Stops delivery (messages under way get a short grace), closes the outbox and the thread. */
  async close (): Promise<void> {
    if (this.closed) return;
    clearInterval(this.collector);
    await this.collectDeliveries().catch(() => undefined);
    try {
      await this.call({ kind: 'close' });
    } finally {
      this.closed = true;
      await this.pool.destroy();
    }
  }

  /** Stops the thread at once, as a crash would: deliveries under way are cut off; the outbox keeps everything not yet accepted. */
  async terminate (): Promise<void> {
    clearInterval(this.collector);
    this.closed = true;
    await this.pool.destroy();
  }
}
