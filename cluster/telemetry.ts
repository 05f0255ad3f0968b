/**
 * OpenTelemetry for a node: installs the SDK behind `@opentelemetry/api` so that spans made
 * with `trace.getTracer('vigil')` and the node's Metrics go to an OTLP/HTTP receiver (JSON
 * bodies, `<endpoint>/v1/traces` and `/v1/metrics`), with the W3C trace-context (and baggage)
 * propagator and an AsyncLocalStorage context manager registered globally.
 *
 * Where the settings come from, per key: `telemetry:` in the config file when it sets the key,
 * else the standard OTEL_* environment variable, else the default (planTelemetry). With no
 * endpoint from either, or OTEL_SDK_DISABLED=true, nothing is installed and the API stays a
 * no-op (the SDK modules are not even loaded). Counters and gauges are read from
 * Metrics.snapshot() at each export (the numbers `GET /metrics` shows); histograms are fed
 * to OTel histograms with the same bucket bounds as each observation is made.
 */
import { context, diag, DiagLogLevel, metrics as otelMetrics, propagation, trace, type Meter, type ObservableResult, type Observable } from '@opentelemetry/api';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { UsageError, show } from '../core/errors.js';
import { HISTOGRAM_BUCKETS, type Metrics, type MetricFamily } from './metrics.js';
import type { TelemetrySettings } from './config.js';

export type { TelemetrySettings } from './config.js';

const DEFAULT_SERVICE_NAME = 'vigil';
const DEFAULT_METRICS_INTERVAL_MS = 60_000;
/** A stopping node waits at most this long for its last spans and metrics to be exported. */
const SHUTDOWN_WAIT_MS = 5_000;

/** What startTelemetry installs, with every source applied; see planTelemetry. */
export interface TelemetryPlan {
  /** OTEL_SDK_DISABLED=true: nothing is installed, whatever the rest says */
  readonly disabled: boolean;
  readonly serviceName: string;
  /** where spans are POSTed; undefined: spans are not exported */
  readonly tracesUrl: string | undefined;
  /** where metrics are POSTed; undefined: metrics are not exported */
  readonly metricsUrl: string | undefined;
  /** parent-based, this share of new traces; undefined: OTEL_TRACES_SAMPLER/_ARG, else parent-based always-on (read by the SDK) */
  readonly sampleRatio: number | undefined;
  readonly metricsIntervalMs: number;
}

/** A running (or no-op) telemetry set-up. */
export interface Telemetry {
  /** false: no SDK is installed and the API is a no-op */
  readonly installed: boolean;
  readonly plan: TelemetryPlan;
  /** Exports what is buffered now: ended spans, and the metrics as they are now; rejects when a span export fails. */
  flush (): Promise<void>;
  /** Exports what is left (waiting at most 5 s) and uninstalls the SDK from the API. Idempotent. */
  shutdown (): Promise<void>;
}

export interface TelemetryOptions {
  /** `service.instance.id`: the node id (config.cluster.nodeId) */
  readonly instanceId?: string;
  /**
   * For tests: span processors (e.g. SimpleSpanProcessor over an InMemorySpanExporter) installed
   * beside the OTLP exporter, or alone when there is no endpoint. They install the SDK even when
   * nothing is exported, and even with OTEL_SDK_DISABLED (code that passes them asks for them).
   */
  readonly spanProcessors?: readonly SpanProcessor[];
  /**
   * where the SDK's own problems go, as `{ error: "telemetry: …" }` (a failed export) or
   * `{ warning: "telemetry: …" }`; default: nowhere, as the SDK does
   */
  readonly log?: (event: Record<string, unknown>) => void;
}

type Env = Readonly<Record<string, string | undefined>>;

/** An environment variable; empty counts as unset, as the OTel spec says. */
function envText (env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** A URL from OTEL_EXPORTER_OTLP_*ENDPOINT: http or https; never echoed with its credentials. */
function envUrl (env: Env, name: string): string | undefined {
  const text = envText(env, name);
  if (text === undefined) return undefined;
  const url = URL.canParse(text) ? new URL(text) : undefined;
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new UsageError(`${name} must be an http:// or https:// URL such as http://127.0.0.1:4318, got ${show(text.replace(/\/\/[^@/]*@/, '//…@'))}`);
  }
  return text;
}

/** `base` + `/v1/<signal>`, with one slash between them. */
function signalUrl (base: string, signal: 'traces' | 'metrics'): string {
  return `${base.replace(/\/+$/, '')}/v1/${signal}`;
}

/** OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER: otlp (the default) or none. */
function exporterOn (env: Env, name: string): boolean {
  const list = (envText(env, name) ?? 'otlp').split(',').map((x) => x.trim());
  for (const x of list) {
    if (x !== 'otlp' && x !== 'none') throw new UsageError(`${name} must be otlp or none (vigil exports OTLP over HTTP only), got ${show(envText(env, name))}`);
  }
  return !list.includes('none');
}

/** service.name from OTEL_RESOURCE_ATTRIBUTES (`k=v,k=v`, values percent-encoded). */
function resourceServiceName (env: Env): string | undefined {
  for (const pair of (envText(env, 'OTEL_RESOURCE_ATTRIBUTES') ?? '').split(',')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === 'service.name') {
      try { return decodeURIComponent(pair.slice(eq + 1).trim()) || undefined; } catch { return undefined; }
    }
  }
  return undefined;
}

/**
 * What the SDK reports, short: its global error handler passes an error as the JSON of its
 * name, message and stack; the message is enough for a log line.
 */
function errorText (x: unknown): string {
  if (x instanceof Error) return x.message;
  if (typeof x !== 'string') return show(x, 200);
  if (x.startsWith('{')) {
    try {
      const parsed = JSON.parse(x) as { message?: unknown };
      if (typeof parsed.message === 'string') return parsed.message;
    } catch { /* not JSON: as it is */ }
  }
  return x;
}

/**
 * Applies the sources in order (the config file's keys, then OTEL_* variables, then defaults);
 * throws UsageError for an OTEL_* variable that is set but wrong. Reads:
 * OTEL_SDK_DISABLED, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES (service.name),
 * OTEL_EXPORTER_OTLP_ENDPOINT (a base URL), OTEL_EXPORTER_OTLP_TRACES_ENDPOINT and
 * OTEL_EXPORTER_OTLP_METRICS_ENDPOINT (full URLs, used as they are), OTEL_TRACES_EXPORTER and
 * OTEL_METRICS_EXPORTER (otlp or none), OTEL_EXPORTER_OTLP_PROTOCOL (grpc is refused: the
 * exporter speaks HTTP), OTEL_METRIC_EXPORT_INTERVAL. The SDK itself reads the others
 * (OTEL_TRACES_SAMPLER, OTEL_EXPORTER_OTLP_HEADERS, OTEL_BSP_*, …) when they apply.
 */
export function planTelemetry (settings: TelemetrySettings, env: Env = process.env): TelemetryPlan {
  const disabled = envText(env, 'OTEL_SDK_DISABLED')?.toLowerCase() === 'true';
  for (const name of ['OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL']) {
    const protocol = envText(env, name);
    if (protocol !== undefined && protocol !== 'http/json' && protocol !== 'http/protobuf') {
      throw new UsageError(`${name} must be http/json or http/protobuf (vigil exports OTLP over HTTP, with JSON bodies), got ${show(protocol)}`);
    }
  }
  let tracesUrl: string | undefined;
  let metricsUrl: string | undefined;
  if (settings.endpoint !== undefined) {
    tracesUrl = signalUrl(settings.endpoint, 'traces');
    metricsUrl = signalUrl(settings.endpoint, 'metrics');
  } else {
    const base = envUrl(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
    tracesUrl = envUrl(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ?? (base === undefined ? undefined : signalUrl(base, 'traces'));
    metricsUrl = envUrl(env, 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT') ?? (base === undefined ? undefined : signalUrl(base, 'metrics'));
  }
  if (!exporterOn(env, 'OTEL_TRACES_EXPORTER')) tracesUrl = undefined;
  if (!exporterOn(env, 'OTEL_METRICS_EXPORTER')) metricsUrl = undefined;
  let metricsIntervalMs = settings.metricsIntervalMs;
  if (metricsIntervalMs === undefined) {
    const text = envText(env, 'OTEL_METRIC_EXPORT_INTERVAL');
    if (text !== undefined && !/^[1-9]\d*$/.test(text)) throw new UsageError(`OTEL_METRIC_EXPORT_INTERVAL must be a whole number of milliseconds above 0, got ${show(text)}`);
    metricsIntervalMs = text === undefined ? DEFAULT_METRICS_INTERVAL_MS : Number(text);
  }
  return {
    disabled,
    serviceName: settings.serviceName ?? envText(env, 'OTEL_SERVICE_NAME') ?? resourceServiceName(env) ?? DEFAULT_SERVICE_NAME,
    tracesUrl,
    metricsUrl,
    sampleRatio: settings.sampleRatio,
    metricsIntervalMs,
  };
}

/**
 * Installs the SDK as planTelemetry(settings) says and, with `metrics`, exports them. Resolves
 * to a no-op Telemetry when there is nothing to export (and no test span processor). Throws
 * UsageError for a wrong OTEL_* variable, Error when OpenTelemetry is already installed in this
 * process (one Telemetry at a time: shut the other down first).
 */
export async function startTelemetry (settings: TelemetrySettings, metrics?: Metrics, options: TelemetryOptions = {}): Promise<Telemetry> {
  const plan = planTelemetry(settings);
  const processors = options.spanProcessors ?? [];
  const traces = processors.length > 0 || (!plan.disabled && plan.tracesUrl !== undefined);
  const exportMetrics = !plan.disabled && plan.metricsUrl !== undefined;
  if (!traces && !exportMetrics) return { installed: false, plan, flush: async () => {}, shutdown: async () => {} };

  // Loaded only here: a node without telemetry pays nothing for the SDK.
  const [{ AsyncLocalStorageContextManager }, core, resources, traceBase, sdkMetrics, { OTLPTraceExporter }, { OTLPMetricExporter }] = await Promise.all([
    import('@opentelemetry/context-async-hooks'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/sdk-metrics'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/exporter-metrics-otlp-http'),
  ]);

  const undo: Array<() => void> = [];
  const register = (what: string, ok: boolean, disable: () => void): void => {
    if (!ok) {
      for (const u of undo.reverse()) u();
      throw new Error(`cannot install OpenTelemetry: a global ${what} is already registered in this process (shut the running telemetry down first)`);
    }
    undo.push(disable);
  };
  if (options.log !== undefined) {
    const log = options.log;
    const report = (key: 'error' | 'warning') => (message: string, ...args: unknown[]): void => {
      log({ [key]: `telemetry: ${[errorText(message), ...args.map(errorText)].join(' ')}` });
    };
    diag.setLogger({ error: report('error'), warn: report('warning'), info: () => {}, debug: () => {}, verbose: () => {} }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
    undo.push(() => { diag.disable(); });
  }

  const resource = resources.defaultResource()
    .merge(resources.detectResources({ detectors: [resources.envDetector] }))
    .merge(resources.resourceFromAttributes({
      'service.name': plan.serviceName,
      ...(options.instanceId === undefined ? {} : { 'service.instance.id': options.instanceId }),
    }));

  let tracerProvider: InstanceType<typeof traceBase.BasicTracerProvider> | undefined;
  if (traces) {
    const spanProcessors = [...processors];
    if (!plan.disabled && plan.tracesUrl !== undefined) spanProcessors.push(new traceBase.BatchSpanProcessor(new OTLPTraceExporter({ url: plan.tracesUrl })));
    tracerProvider = new traceBase.BasicTracerProvider({
      resource,
      spanProcessors,
      ...(plan.sampleRatio === undefined ? {} : { sampler: new traceBase.ParentBasedSampler({ root: new traceBase.TraceIdRatioBasedSampler(plan.sampleRatio) }) }),
    });
    const contextManager = new AsyncLocalStorageContextManager().enable();
    register('context manager', context.setGlobalContextManager(contextManager), () => { context.disable(); });
    register('propagator', propagation.setGlobalPropagator(new core.CompositePropagator({ propagators: [new core.W3CTraceContextPropagator(), new core.W3CBaggagePropagator()] })), () => { propagation.disable(); });
    register('tracer provider', trace.setGlobalTracerProvider(tracerProvider), () => { trace.disable(); });
  }

  let meterProvider: InstanceType<typeof sdkMetrics.MeterProvider> | undefined;
  let detach = (): void => {};
  if (exportMetrics) {
    const reader = new sdkMetrics.PeriodicExportingMetricReader({
      exporter: new OTLPMetricExporter({ url: plan.metricsUrl }),
      exportIntervalMillis: plan.metricsIntervalMs,
      exportTimeoutMillis: Math.min(30_000, plan.metricsIntervalMs),
    });
    meterProvider = new sdkMetrics.MeterProvider({ resource, readers: [reader] });
    register('meter provider', otelMetrics.setGlobalMeterProvider(meterProvider), () => { otelMetrics.disable(); });
    if (metrics !== undefined) detach = bridgeMetrics(meterProvider.getMeter('vigil'), metrics);
  }

  let stopped: Promise<void> | undefined;
  return {
    installed: true,
    plan,
    flush: async () => {
      await Promise.all([tracerProvider?.forceFlush(), meterProvider?.forceFlush()]);
    },
    shutdown: () => {
      stopped ??= (async () => {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<void>((resolve) => { timer = setTimeout(resolve, SHUTDOWN_WAIT_MS); });
        // The meter provider's shutdown makes a last collection: the bridge must still be there.
        await Promise.race([Promise.allSettled([tracerProvider?.shutdown(), meterProvider?.shutdown()]), late]);
        clearTimeout(timer);
        detach();
        for (const u of undo.reverse()) u();
      })();
      return stopped;
    },
  };
}

/** `url` without user and password (a URL from the environment may carry them), or null. */
function shownUrl (url: string | undefined): string | null {
  if (url === undefined) return null;
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}

/**
 * The log event that says where telemetry goes, `{"telemetry":SERVICE,"traces":URL|null,
 * "metrics":URL|null}`; undefined when nothing is installed.
 */
export function telemetryEvent (t: Telemetry): Record<string, unknown> | undefined {
  if (!t.installed) return undefined;
  return { telemetry: t.plan.serviceName, traces: t.plan.disabled ? null : shownUrl(t.plan.tracesUrl), metrics: t.plan.disabled ? null : shownUrl(t.plan.metricsUrl) };
}

/**
 * Makes `source`'s counters and gauges observable instruments of `meter` (one per family, its
 * samples as attribute sets) and records its histogram observations into OTel histograms with
 * HISTOGRAM_BUCKETS as bounds. Returns the call that detaches them.
 */
export function bridgeMetrics (meter: Meter, source: Metrics): () => void {
  const instruments = new Map<string, { instrument: Observable, callback: (result: ObservableResult) => void }>();
  let cached: Map<string, MetricFamily> | undefined;
  // A collection calls every instrument's callback in one synchronous pass: they share one
  // snapshot (so beforeRead refreshes run once), dropped once that pass is over.
  const read = (): Map<string, MetricFamily> => {
    if (cached === undefined) {
      const now = new Map(source.snapshot().map((f) => [f.name, f]));
      cached = now;
      queueMicrotask(() => { cached = undefined; });
      // Families defined since (by first use) are observed from the next collection on.
      for (const f of now.values()) add(f);
    }
    return cached;
  };
  const add = (f: MetricFamily): void => {
    if (f.type === 'histogram' || instruments.has(f.name)) return;
    const instrument = f.type === 'counter'
      ? meter.createObservableCounter(f.name, { description: f.help })
      : meter.createObservableGauge(f.name, { description: f.help });
    const callback = (result: ObservableResult): void => {
      const family = read().get(f.name);
      if (family === undefined || family.type === 'histogram') return;
      for (const s of family.samples) result.observe(s.value, s.labels);
    };
    instrument.addCallback(callback);
    instruments.set(f.name, { instrument, callback });
  };
  for (const f of source.snapshot()) add(f);

  const histograms = new Map<string, ReturnType<Meter['createHistogram']>>();
  const stop = source.onObserve((name, help, seconds, labels) => {
    let histogram = histograms.get(name);
    if (histogram === undefined) {
      histogram = meter.createHistogram(name, { description: help, unit: 's', advice: { explicitBucketBoundaries: [...HISTOGRAM_BUCKETS] } });
      histograms.set(name, histogram);
    }
    histogram.record(seconds, labels);
  });
  return () => {
    stop();
    for (const { instrument, callback } of instruments.values()) instrument.removeCallback(callback);
  };
}
