// The `telemetry:` block of the serve config and how it meets the OTEL_* environment variables:
// every bad value is one table row with its exact message; every precedence rule (the file's
// key, else the variable, else the default) is one row of planTelemetry. Pure: no SDK is
// installed and nothing is sent. Needs only the build.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig, DEFAULT_TELEMETRY, type TelemetrySettings } from '../../cluster/config.js';
import { configError } from '../helpers/config-error.js';
import { planTelemetry, type TelemetryPlan } from '../../cluster/telemetry.js';
import { UsageError } from '../../core/errors.js';

const HEAD = 'rules: r.yaml\ndata: d\n';
const FILE = '/etc/vigil/node.yaml';

function problems (text: string): string[] {
  return configError(HEAD + text + '\n', FILE).message.split('\n');
}

const config = suite('cluster/config: telemetry:');

config('without telemetry: every key is left to the environment', () => {
  assert.equal(parseConfig(HEAD, FILE).telemetry, DEFAULT_TELEMETRY);
  assert.equal(parseConfig(HEAD + 'telemetry: {}\n', FILE).telemetry, DEFAULT_TELEMETRY);
});

config('each key is read as the file writes it', () => {
  const cases: Array<[string, TelemetrySettings]> = [
    ['telemetry: { endpoint: http://collector:4318 }', { ...DEFAULT_TELEMETRY, endpoint: 'http://collector:4318' }],
    ['telemetry: { endpoint: "https://otel.example.com/otlp/" }', { ...DEFAULT_TELEMETRY, endpoint: 'https://otel.example.com/otlp' }],
    ['telemetry: { endpoint: "http://[::1]:4318" }', { ...DEFAULT_TELEMETRY, endpoint: 'http://[::1]:4318' }],
    ['telemetry: { service_name: vigil-fra1 }', { ...DEFAULT_TELEMETRY, serviceName: 'vigil-fra1' }],
    ['telemetry: { sample_ratio: 0 }', { ...DEFAULT_TELEMETRY, sampleRatio: 0 }],
    ['telemetry: { sample_ratio: 0.25 }', { ...DEFAULT_TELEMETRY, sampleRatio: 0.25 }],
    ['telemetry: { sample_ratio: 1 }', { ...DEFAULT_TELEMETRY, sampleRatio: 1 }],
    ['telemetry: { metrics_interval: 15s }', { ...DEFAULT_TELEMETRY, metricsIntervalMs: 15_000 }],
    ['telemetry: { metrics_interval: 1h }', { ...DEFAULT_TELEMETRY, metricsIntervalMs: 3_600_000 }],
    ['telemetry:\n  service_name: v\n  endpoint: http://127.0.0.1:4318\n  sample_ratio: 0.5\n  metrics_interval: 1m', { serviceName: 'v', endpoint: 'http://127.0.0.1:4318', sampleRatio: 0.5, metricsIntervalMs: 60_000 }],
  ];
  for (const [text, want] of cases) assert.equal(parseConfig(HEAD + text + '\n', FILE).telemetry, want, text);
});

config('every bad value is reported as FILE:LINE:COL config.telemetry.<key> must be …, got …', () => {
  const URL_EXPECT = 'the http:// or https:// base URL of an OTLP/HTTP receiver such as http://127.0.0.1:4318';
  const cases: Array<[string, string[]]> = [
    ['telemetry: http://collector:4318', ['3:12 config.telemetry must be a map with endpoint (an OTLP/HTTP URL) and optionally service_name, sample_ratio and metrics_interval, got "http://collector:4318"']],
    ['telemetry: { endpiont: http://c:4318 }', ['3:14 unknown key "endpiont" in config.telemetry; did you mean "endpoint"?']],
    ['telemetry: { endpoint: collector:4318 }', [`3:24 config.telemetry.endpoint must be ${URL_EXPECT}, got "collector:4318"`]],
    ['telemetry: { endpoint: "grpc://c:4317" }', [`3:24 config.telemetry.endpoint must be ${URL_EXPECT}, got "grpc://c:4317"`]],
    ['telemetry: { endpoint: "http://c:4318/?x=1" }', [`3:24 config.telemetry.endpoint must be ${URL_EXPECT}, got "http://c:4318/?x=1"`]],
    ['telemetry: { endpoint: }', [`3:24 config.telemetry.endpoint must be ${URL_EXPECT}, got nothing`]],
    ['telemetry: { endpoint: [a] }', [`3:24 config.telemetry.endpoint must be ${URL_EXPECT}, got ["a"]`]],
    ['telemetry: { endpoint: "http://otel:hunter2-secret@c:4318" }', ['3:24 config.telemetry.endpoint must be a URL without credentials (give the receiver\'s token in OTEL_EXPORTER_OTLP_HEADERS), got "http://…@c:4318"']],
    ['telemetry: { service_name: "" }', ['3:28 config.telemetry.service_name must be a service name such as vigil, got ""']],
    ['telemetry: { sample_ratio: 1.5 }', ['3:28 config.telemetry.sample_ratio must be a number from 0 to 1 (the share of new traces kept), got 1.5']],
    ['telemetry: { sample_ratio: "half" }', ['3:28 config.telemetry.sample_ratio must be a number from 0 to 1 (the share of new traces kept), got "half"']],
    ['telemetry: { sample_ratio: -0.1 }', ['3:28 config.telemetry.sample_ratio must be a number from 0 to 1 (the share of new traces kept), got -0.1']],
    ['telemetry: { metrics_interval: 500ms }', ['3:32 config.telemetry.metrics_interval must be a duration from 1s to 1h such as 60s (the time between metric exports), got "500ms"']],
    ['telemetry: { metrics_interval: 2h }', ['3:32 config.telemetry.metrics_interval must be a duration from 1s to 1h such as 60s (the time between metric exports), got "2h"']],
    ['telemetry: { metrics_interval: 60 }', ['3:32 config.telemetry.metrics_interval must be a duration from 1s to 1h such as 60s (the time between metric exports), got 60']],
    ['telemetry: { sample_ratio: 2, metrics_interval: 0s }', [
      '3:28 config.telemetry.sample_ratio must be a number from 0 to 1 (the share of new traces kept), got 2',
      '3:49 config.telemetry.metrics_interval must be a duration from 1s to 1h such as 60s (the time between metric exports), got "0s"',
    ]],
  ];
  for (const [text, messages] of cases) {
    const got = problems(text);
    assert.equal(got, messages.map((m) => `${FILE}:${m}`), text);
    assert.not.ok(got.join('\n').includes('hunter2'), `a message shows the secret: ${text}`);
  }
});

const plan = suite('cluster/telemetry: planTelemetry, the file over the environment over the defaults');

const NONE: TelemetryPlan = { disabled: false, serviceName: 'vigil', tracesUrl: undefined, metricsUrl: undefined, sampleRatio: undefined, metricsIntervalMs: 60_000 };
const FULL: TelemetrySettings = { serviceName: 'from-file', endpoint: 'http://file:4318', sampleRatio: 0.5, metricsIntervalMs: 5_000 };

plan('each source applies where the ones above it say nothing', () => {
  const cases: Array<[string, TelemetrySettings, Record<string, string>, Partial<TelemetryPlan>]> = [
    ['nothing anywhere: no export, defaults', DEFAULT_TELEMETRY, {}, {}],
    ['the file\'s endpoint gives both signals', { ...DEFAULT_TELEMETRY, endpoint: 'http://c:4318' }, {}, { tracesUrl: 'http://c:4318/v1/traces', metricsUrl: 'http://c:4318/v1/metrics' }],
    ['the file\'s endpoint keeps its path', { ...DEFAULT_TELEMETRY, endpoint: 'http://gw/otlp' }, {}, { tracesUrl: 'http://gw/otlp/v1/traces', metricsUrl: 'http://gw/otlp/v1/metrics' }],
    ['OTEL_EXPORTER_OTLP_ENDPOINT is a base URL', DEFAULT_TELEMETRY, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env:4318/' }, { tracesUrl: 'http://env:4318/v1/traces', metricsUrl: 'http://env:4318/v1/metrics' }],
    ['the per-signal variables are full URLs, over the base', DEFAULT_TELEMETRY, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:1/spans' }, { tracesUrl: 'http://t:1/spans', metricsUrl: 'http://env:4318/v1/metrics' }],
    ['only metrics', DEFAULT_TELEMETRY, { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://m:1/x' }, { metricsUrl: 'http://m:1/x' }],
    ['the file\'s endpoint wins over every endpoint variable', { ...DEFAULT_TELEMETRY, endpoint: 'http://file:4318' }, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:1/spans' }, { tracesUrl: 'http://file:4318/v1/traces', metricsUrl: 'http://file:4318/v1/metrics' }],
    ['the file wins for every key it sets', FULL, { OTEL_SERVICE_NAME: 'from-env', OTEL_METRIC_EXPORT_INTERVAL: '1000', OTEL_TRACES_SAMPLER: 'always_off' }, { serviceName: 'from-file', tracesUrl: 'http://file:4318/v1/traces', metricsUrl: 'http://file:4318/v1/metrics', sampleRatio: 0.5, metricsIntervalMs: 5_000 }],
    ['OTEL_SERVICE_NAME, then service.name in OTEL_RESOURCE_ATTRIBUTES', DEFAULT_TELEMETRY, { OTEL_SERVICE_NAME: 'svc', OTEL_RESOURCE_ATTRIBUTES: 'service.name=other' }, { serviceName: 'svc' }],
    ['service.name in OTEL_RESOURCE_ATTRIBUTES, percent-decoded', DEFAULT_TELEMETRY, { OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod, service.name=vigil%20eu' }, { serviceName: 'vigil eu' }],
    ['OTEL_METRIC_EXPORT_INTERVAL in ms', DEFAULT_TELEMETRY, { OTEL_METRIC_EXPORT_INTERVAL: '250' }, { metricsIntervalMs: 250 }],
    ['an empty variable is unset', DEFAULT_TELEMETRY, { OTEL_EXPORTER_OTLP_ENDPOINT: '', OTEL_SERVICE_NAME: ' ' }, {}],
    ['OTEL_TRACES_EXPORTER=none drops spans only', { ...DEFAULT_TELEMETRY, endpoint: 'http://c:4318' }, { OTEL_TRACES_EXPORTER: 'none' }, { metricsUrl: 'http://c:4318/v1/metrics' }],
    ['OTEL_METRICS_EXPORTER=none drops metrics only', { ...DEFAULT_TELEMETRY, endpoint: 'http://c:4318' }, { OTEL_METRICS_EXPORTER: 'none' }, { tracesUrl: 'http://c:4318/v1/traces' }],
    ['OTEL_SDK_DISABLED=true disables, whatever the file says', FULL, { OTEL_SDK_DISABLED: 'TRUE' }, { disabled: true, serviceName: 'from-file', tracesUrl: 'http://file:4318/v1/traces', metricsUrl: 'http://file:4318/v1/metrics', sampleRatio: 0.5, metricsIntervalMs: 5_000 }],
    ['OTEL_SDK_DISABLED=false does not', DEFAULT_TELEMETRY, { OTEL_SDK_DISABLED: 'false' }, {}],
    ['http/protobuf is accepted (bodies are JSON; receivers take both)', DEFAULT_TELEMETRY, { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }, {}],
  ];
  for (const [name, settings, env, want] of cases) assert.equal(planTelemetry(settings, env), { ...NONE, ...want }, name);
});

plan('a wrong OTEL_* variable is a usage error that names it', () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, 'OTEL_EXPORTER_OTLP_ENDPOINT must be an http:// or https:// URL such as http://127.0.0.1:4318, got "collector:4318"'],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'ftp://u:pw@c/x' }, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT must be an http:// or https:// URL such as http://127.0.0.1:4318, got "ftp://…@c/x"'],
    [{ OTEL_METRIC_EXPORT_INTERVAL: '1s' }, 'OTEL_METRIC_EXPORT_INTERVAL must be a whole number of milliseconds above 0, got "1s"'],
    [{ OTEL_METRIC_EXPORT_INTERVAL: '0' }, 'OTEL_METRIC_EXPORT_INTERVAL must be a whole number of milliseconds above 0, got "0"'],
    [{ OTEL_TRACES_EXPORTER: 'zipkin' }, 'OTEL_TRACES_EXPORTER must be otlp or none (vigil exports OTLP over HTTP only), got "zipkin"'],
    [{ OTEL_METRICS_EXPORTER: 'otlp,prometheus' }, 'OTEL_METRICS_EXPORTER must be otlp or none (vigil exports OTLP over HTTP only), got "otlp,prometheus"'],
    [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, 'OTEL_EXPORTER_OTLP_PROTOCOL must be http/json or http/protobuf (vigil exports OTLP over HTTP, with JSON bodies), got "grpc"'],
  ];
  for (const [env, message] of cases) {
    try {
      planTelemetry(DEFAULT_TELEMETRY, env);
      assert.unreachable(message);
    } catch (err) {
      assert.instance(err, UsageError, message);
      assert.is((err as UsageError).code, 'VIGIL_USAGE');
      assert.is((err as Error).message, message);
    }
  }
});

plan('the file\'s endpoint makes an OTLP variable that is wrong irrelevant', () => {
  assert.is(planTelemetry(FULL, { OTEL_EXPORTER_OTLP_ENDPOINT: 'nonsense' }).tracesUrl, 'http://file:4318/v1/traces');
});

config.run();
plan.run();
