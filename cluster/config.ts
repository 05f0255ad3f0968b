/**
 * The node config of `vigil serve` (a small YAML file): which rules, where the durable state
 * lives, where the API listens, how many shard threads, where alerts and rejects go, and how
 * streaming input is cut into epochs. Every problem in the file is reported at once as
 * `FILE:LINE:COL config.<field> must be …, got …`, like a rules file. Paths are relative to
 * the config file's folder, so a config and its rules can move together. API tokens and NATS
 * passwords and tokens are secrets: no message ever shows one. Files the node needs to reach
 * NATS (an NKey seed, a creds file, TLS certificates) are read once at load, so a typo fails
 * `vigil serve` at start instead of at the first reconnect. `telemetry:` holds only what the
 * file says: the OTEL_* environment variables fill the rest when the SDK starts (telemetry.ts).
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isIP } from 'node:net';
import { availableParallelism, hostname } from 'node:os';
import { parseDocument, isMap, isScalar, isSeq } from 'yaml';
import { UsageError, formatDiagnostic, show, type Diagnostic } from '../core/errors.js';
import { Diagnostics, Reader, checkStructure, got, gluedKey, isMissing, orList, textOf, type Entry } from '../core/rules-yaml.js';
import { DURATION_TEXT, parseDuration, spanText } from '../core/rules-text.js';
import type { Zone } from '../core/zone.js';
import type { AheadBound } from '../core/ingest.js';
import { DEFAULT_PREFIX, isValidPrefix } from './subjects.js';
import type { NatsAuth, NatsSettings, NatsTls } from '../workers/nats-connect.js';

/** A bearer token of the API; `name` is who the audit log says made a change with it. */
export interface ApiToken { readonly name: string, readonly secret: string }

export interface ServeConfig {
  readonly file: string;
  /** the rules file, resolved */
  readonly rules: string;
  /** the data folder (LMDB: counters, outboxes, checkpoint), resolved */
  readonly data: string;
  readonly listen: { readonly host: string, readonly port: number };
  readonly threads: number;
  /** a file for alert JSON lines, resolved; undefined: standard output (embedded node only: a cluster config refuses a file) */
  readonly alerts: string | undefined;
  /** how long the alert history (GET /v1/alerts) keeps an alert, ms */
  readonly alertRetentionMs: number;
  /** a file for reject JSON lines, resolved (embedded node only: a cluster config refuses one) */
  readonly rejects: string | undefined;
  readonly batch: { readonly maxRecords: number, readonly maxWaitMs: number };
  /**
   * `max_ahead`: a record dated further ahead of the node's clock is rejected as `future`
   * (ms; undefined: `none`, no bound). Live nodes only: a replay's records are history.
   */
  readonly maxAheadMs: number | undefined;
  /** bearer tokens of the write endpoints; none: the API is open (loopback only) */
  readonly api: { readonly tokens: readonly ApiToken[] };
  /**
   * NATS: when set, the node joins a cluster in `cluster.roles` (interfaces.md); `nats`
   * channels publish there too. Undefined: the embedded default, one process.
   */
  readonly nats: NatsSettings | undefined;
  /** the node's part in a cluster; meaningful only with `nats` */
  readonly cluster: ClusterSettings;
  /** OpenTelemetry export (telemetry.ts); DEFAULT_TELEMETRY when the file has no `telemetry:` */
  readonly telemetry: TelemetrySettings;
}

/**
 * `config.telemetry` as the file gives it: undefined where the file says nothing, so that the
 * OTEL_* environment variables (then the defaults) decide there; a key the file sets wins over
 * the environment. See planTelemetry in telemetry.ts.
 */
export interface TelemetrySettings {
  /** `service_name`: the `service.name` resource attribute (else OTEL_SERVICE_NAME, else "vigil") */
  readonly serviceName: string | undefined;
  /**
   * `endpoint`: the base URL of an OTLP/HTTP receiver, without a trailing slash; spans go to
   * `<endpoint>/v1/traces`, metrics to `<endpoint>/v1/metrics` (else OTEL_EXPORTER_OTLP_*ENDPOINT;
   * with neither, nothing is installed)
   */
  readonly endpoint: string | undefined;
  /** `sample_ratio`: the share of new traces kept, 0 to 1, parent-based (else OTEL_TRACES_SAMPLER, else all) */
  readonly sampleRatio: number | undefined;
  /** `metrics_interval`: ms between metric exports (else OTEL_METRIC_EXPORT_INTERVAL, else 60 s) */
  readonly metricsIntervalMs: number | undefined;
}

/** No `telemetry:` in the file. */
export const DEFAULT_TELEMETRY: TelemetrySettings = { serviceName: undefined, endpoint: undefined, sampleRatio: undefined, metricsIntervalMs: undefined };

/** `config.nats`; the types live beside the connect logic (workers/nats-connect.ts). */
export type { NatsAuth, NatsSettings, NatsTls } from '../workers/nats-connect.js';

export type Role = 'coordinator' | 'node' | 'notifier';
export const ROLES: readonly Role[] = ['coordinator', 'node', 'notifier'];

export interface ClusterSettings {
  /** default: all three */
  readonly roles: readonly Role[];
  /** unique per node; names its shard leases (default: the host name and the API port) */
  readonly nodeId: string;
  /** shards of the deployment, fixed once records are in the stream (default 64) */
  readonly shards: number;
  /** a node that has not renewed its lease for this long loses its shards (default 10 s) */
  readonly leaseMs: number;
  /** JetStream replicas of the streams and buckets Vigil creates (default 1) */
  readonly replicas: number;
  /** how long the shard stream keeps records: at least the rules' longest window plus lateness (default 35 d) */
  readonly retentionMs: number;
}

/**
 * The config file is wrong; `diagnostics` holds every problem, in file order. A usage error
 * (exit 2), printed like a rules file's problems, one per line.
 */
export class InvalidConfigError extends UsageError {
  readonly diagnostics: readonly Diagnostic[];
  constructor (diagnostics: readonly Diagnostic[]) {
    super(diagnostics.map(formatDiagnostic).join('\n'));
    this.diagnostics = diagnostics;
  }
}

export const DEFAULT_LISTEN = { host: '127.0.0.1', port: 7800 } as const;
const DEFAULT_MAX_RECORDS = 1000;
const DEFAULT_MAX_WAIT_MS = 5;
/**
 * Switches keep NTP time, so a CDR dated minutes ahead is a clock fault. 15 min tolerates a
 * badly drifting clock and stays well inside the default lateness (1 h), so that records of the
 * present are not made late by the future ones it does take.
 */
export const DEFAULT_MAX_AHEAD_MS = 15 * 60_000;
const TOP_KEYS = ['rules', 'data', 'listen', 'threads', 'alerts', 'rejects', 'batch', 'max_ahead', 'api', 'nats', 'cluster', 'telemetry'] as const;
const TELEMETRY_KEYS = ['service_name', 'endpoint', 'sample_ratio', 'metrics_interval'] as const;
const NATS_KEYS = ['servers', 'prefix', 'user', 'password', 'token', 'nkey', 'creds', 'tls'] as const;
const TLS_KEYS = ['ca', 'cert', 'key'] as const;
const CLUSTER_KEYS = ['roles', 'node_id', 'shards', 'lease', 'replicas', 'retention'] as const;
const BATCH_KEYS = ['max_records', 'max_wait'] as const;
const ALERTS_KEYS = ['file', 'retention'] as const;
const API_KEYS = ['token', 'tokens'] as const;
const DEFAULT_RETENTION_MS = 7 * 24 * 3_600_000;
/** Shorter secrets can be guessed; 16 characters of a random token are far beyond that. */
const MIN_TOKEN_LENGTH = 16;
/** The name the audit log gives the single `api.token`. */
export const DEFAULT_TOKEN_NAME = 'default';
/** Keys of the full node config that this build does not have yet: said so, not "unknown key". */
const LATER: Readonly<Record<string, string>> = {};

/** `host:port` or `[v6]:port`; undefined when it is neither. */
export function parseListen (text: string): { host: string, port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]]+):(\d{1,5})$/.exec(text);
  if (m === null) return undefined;
  const port = Number(m[2]);
  if (port > 65535) return undefined;
  return { host: m[1] as string, port };
}

/** 127.0.0.0/8, ::1 (and `localhost`, which names them). */
export function isLoopback (host: string): boolean {
  if (host === 'localhost') return true;
  const kind = isIP(host);
  if (kind === 4) return host.startsWith('127.');
  if (kind === 6) return /^(0{0,4}:){2,7}0{0,3}1$/.test(host) || host === '::1';
  return false;
}

/** `5ms`, `1s` or a number of milliseconds. */
export function parseWait (text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text);
  if (m === null) return undefined;
  const ms = Number(m[1]) * (m[2] === 's' ? 1000 : 1);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Reads and validates a config file; throws InvalidConfigError listing every problem. */
export function loadConfig (file: string): ServeConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new InvalidConfigError([{ file, line: 1, col: 1, message: `cannot read the config file: ${reason}` }]);
  }
  return parseConfig(text, file);
}

/** Validates config text named `file`; paths in it are resolved against `file`'s folder. */
export function parseConfig (text: string, file: string): ServeConfig {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: false });
  const d = new Diagnostics(file, text);
  if (doc.errors.length > 0) {
    d.syntax(doc.errors);
    throw new InvalidConfigError(d.sorted());
  }
  const structure = checkStructure(doc.contents, d, 'config files');
  // As in a rules file: reading on would report every alias a second time, as a wrong value.
  if (structure.hasAliases) throw new InvalidConfigError(d.sorted());
  const r = new Reader(d, structure.skip);
  const base = dirname(resolve(file));
  const entries = r.map(doc.contents, 'config', 'a map with at least rules: and data:') ?? [];
  const known = entries.filter((e) => {
    const later = LATER[e.key];
    if (later === undefined) return true;
    d.at(e.keyNode, later);
    return false;
  });
  const top = new Map(r.onlyKnown(known, 'config', TOP_KEYS).map((e) => [e.key, e]));
  const path = (key: string): string | undefined => {
    const e = top.get(key);
    if (e === undefined) return undefined;
    const value = r.text(e.value, `config.${key}`, 'a path');
    return value === undefined ? undefined : resolve(base, value);
  };

  const rules = path('rules');
  const data = path('data');
  // A missing key is reported at the top of the file: there is no node to point at.
  if (!top.has('rules')) d.atOffset(0, 'config.rules must be the path of a rules file, got nothing');
  if (!top.has('data')) d.atOffset(0, 'config.data must be a folder for the durable state (counters, checkpoint), got nothing; a node without it would lose acknowledged records on a crash');
  const api = readApi(top.get('api'), r);
  const listen = readListen(top.get('listen'), r, (api?.tokens.length ?? 0) > 0);
  const threads = top.has('threads')
    ? r.number(top.get('threads')!.value, 'config.threads', 'a whole number of shard threads from 1 to 256', (n) => Number.isInteger(n) && n >= 1 && n <= 256)
    // One per core but one, as `vigil replay`: the coordinator (HTTP, validation, routing,
    // checkpoints) keeps a core busy; on 2 cores two actors beside it gave 35k records/s
    // against 41k for one, and the same latency at 2,000/s (bench/RESULTS.md, 2026-12-07).
    : Math.max(1, availableParallelism() - 1);
  const alertsOut = readAlerts(top.get('alerts'), r);
  const alerts = alertsOut?.file;
  const batch = readBatch(top.get('batch'), r);
  const maxAhead = readMaxAhead(top.get('max_ahead'), r);
  const nats = readNats(top.get('nats'), r, base);
  const clusterEntry = top.get('cluster');
  if (clusterEntry !== undefined && !top.has('nats')) {
    d.at(clusterEntry.keyNode, 'config.cluster needs config.nats.servers: the cluster roles talk to each other over NATS, got no nats:');
  }
  const cluster = readCluster(clusterEntry, r, defaultCluster(listen ?? DEFAULT_LISTEN));
  if (top.has('nats')) refuseOutputFiles(alertsOut, top.get('rejects'), r, nats?.prefix ?? DEFAULT_PREFIX);
  const telemetry = readTelemetry(top.get('telemetry'), r);

  if (d.count > 0 || rules === undefined || data === undefined || listen === undefined || threads === undefined || batch === undefined || maxAhead === undefined || alertsOut === undefined || api === undefined || cluster === undefined || telemetry === undefined) {
    throw new InvalidConfigError(d.sorted());
  }
  return {
    file,
    rules,
    data,
    listen,
    threads,
    alerts: alerts === undefined || alerts === '-' ? undefined : resolve(base, alerts),
    alertRetentionMs: alertsOut.retentionMs,
    rejects: path('rejects'),
    batch,
    maxAheadMs: maxAhead === 'none' ? undefined : maxAhead,
    api,
    nats: nats ?? undefined,
    cluster,
    telemetry,
  };
}

/** `telemetry: { service_name, endpoint, sample_ratio, metrics_interval }`, every key optional. */
function readTelemetry (e: Entry | undefined, r: Reader): TelemetrySettings | undefined {
  if (e === undefined) return DEFAULT_TELEMETRY;
  const entries = r.knownMap(e.value, 'config.telemetry', 'config.telemetry', TELEMETRY_KEYS, 'a map with endpoint (an OTLP/HTTP URL) and optionally service_name, sample_ratio and metrics_interval');
  if (entries === undefined) return undefined;
  const of = new Map(entries.map((x) => [x.key, x.value]));
  const serviceName = of.has('service_name') ? r.text(of.get('service_name'), 'config.telemetry.service_name', 'a service name such as vigil') : undefined;
  const endpoint = of.has('endpoint') ? readEndpoint(of.get('endpoint'), r) : undefined;
  const sampleRatio = of.has('sample_ratio')
    ? r.number(of.get('sample_ratio'), 'config.telemetry.sample_ratio', 'a number from 0 to 1 (the share of new traces kept)', (n) => n >= 0 && n <= 1)
    : undefined;
  const metricsIntervalMs = of.has('metrics_interval')
    ? duration(of.get('metrics_interval'), r, 'config.telemetry.metrics_interval', 'a duration from 1s to 1h such as 60s (the time between metric exports)', (ms) => ms >= 1_000 && ms <= 3_600_000)
    : undefined;
  const failed = (key: string, value: unknown): boolean => of.has(key) && value === undefined;
  if (failed('service_name', serviceName) || failed('endpoint', endpoint) || failed('sample_ratio', sampleRatio) || failed('metrics_interval', metricsIntervalMs)) return undefined;
  return { serviceName, endpoint, sampleRatio, metricsIntervalMs };
}

/**
 * An OTLP/HTTP base URL: http or https, no credentials (they would be printed wherever the URL
 * is; a collector's token goes in OTEL_EXPORTER_OTLP_HEADERS), no query; without its trailing slash.
 */
function readEndpoint (node: unknown, r: Reader): string | undefined {
  const expect = 'the http:// or https:// base URL of an OTLP/HTTP receiver such as http://127.0.0.1:4318';
  const text = r.text(node, 'config.telemetry.endpoint', expect);
  if (text === undefined) return undefined;
  const url = URL.canParse(text) ? new URL(text) : undefined;
  if (url !== undefined && (url.username !== '' || url.password !== '')) {
    r.d.at(node, `config.telemetry.endpoint must be a URL without credentials (give the receiver's token in OTEL_EXPORTER_OTLP_HEADERS), got ${show(text.replace(/\/\/[^@/]*@/, '//…@'))}`);
    return undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '' || /[?#]/.test(text)) {
    r.d.at(node, `config.telemetry.endpoint must be ${expect}, got ${got(node)}`);
    return undefined;
  }
  return url.href.replace(/\/+$/, '');
}

export const DEFAULT_SHARDS = 64;
const DEFAULT_LEASE_MS = 10_000;
const DEFAULT_STREAM_RETENTION_MS = 35 * 24 * 3_600_000;

/** Letters, digits, `_` and `-`: a node id is one token of a NATS KV key (`.` would split it). */
const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function defaultCluster (listen: ServeConfig['listen']): ClusterSettings {
  // A fully qualified host name has dots; they would split the node id's KV key token.
  const host = hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 57);
  return { roles: ROLES, nodeId: `${host}-${listen.port}`, shards: DEFAULT_SHARDS, leaseMs: DEFAULT_LEASE_MS, replicas: 1, retentionMs: DEFAULT_STREAM_RETENTION_MS };
}

/** `cluster: { roles, node_id, shards, lease, replicas, retention }`; each key falls back to `defaults`. */
function readCluster (e: Entry | undefined, r: Reader, defaults: ClusterSettings): ClusterSettings | undefined {
  if (e === undefined) return defaults;
  const entries = r.knownMap(e.value, 'config.cluster', 'config.cluster', CLUSTER_KEYS, 'a map with roles, node_id, shards, lease, replicas and retention');
  if (entries === undefined) return undefined;
  const of = new Map(entries.map((x) => [x.key, x.value]));
  const roles = of.has('roles') ? readRoles(of.get('roles'), r) : defaults.roles;
  let nodeId: string | undefined = defaults.nodeId;
  if (of.has('node_id')) {
    const node = of.get('node_id');
    nodeId = isScalar(node) && (typeof node.value === 'string' || typeof node.value === 'number') ? textOf(node) : undefined;
    if (nodeId === undefined || !NODE_ID.test(nodeId)) {
      r.d.at(node, `config.cluster.node_id must be 1 to 64 letters, digits, _ or - (it names the node's leases in a NATS KV bucket), got ${got(node)}`);
      nodeId = undefined;
    }
  }
  const shards = of.has('shards')
    ? r.number(of.get('shards'), 'config.cluster.shards', 'a whole number of shards from 1 to 4096', (n) => Number.isInteger(n) && n >= 1 && n <= 4096)
    : defaults.shards;
  const replicas = of.has('replicas')
    ? r.number(of.get('replicas'), 'config.cluster.replicas', 'a whole number of JetStream replicas from 1 to 5', (n) => Number.isInteger(n) && n >= 1 && n <= 5)
    : defaults.replicas;
  const leaseMs = of.has('lease')
    ? duration(of.get('lease'), r, 'config.cluster.lease', 'a duration from 1s to 5m such as 10s', (ms) => ms >= 1_000 && ms <= 300_000)
    : defaults.leaseMs;
  const retentionMs = of.has('retention')
    ? duration(of.get('retention'), r, 'config.cluster.retention', `${DURATION_TEXT} (how long the shard stream keeps records)`, (ms) => ms > 0)
    : defaults.retentionMs;
  if (roles === undefined || nodeId === undefined || shards === undefined || replicas === undefined || leaseMs === undefined || retentionMs === undefined) return undefined;
  return { roles, nodeId, shards, leaseMs, replicas, retentionMs };
}

/** A non-empty list of distinct roles. */
function readRoles (node: unknown, r: Reader): Role[] | undefined {
  if (!isSeq(node) || node.items.length === 0) {
    r.d.at(node, `config.cluster.roles must be a list of one or more of ${orList(ROLES)}, got ${got(node)}`);
    return undefined;
  }
  const roles: Role[] = [];
  let ok = true;
  for (const item of node.items) {
    const role = r.oneOf(item, 'config.cluster.roles', ROLES);
    if (role === undefined) { ok = false; continue; }
    if (roles.includes(role)) { r.d.at(item, `config.cluster.roles must name each role once, got "${role}" twice`); ok = false; continue; }
    roles.push(role);
  }
  return ok ? roles : undefined;
}

/** A `parseDuration` text in ms that passes `ok`, or undefined (reported). */
function duration (node: unknown, r: Reader, path: string, expect: string, ok: (ms: number) => boolean): number | undefined {
  const ms = isScalar(node) && typeof node.value === 'string' ? parseDuration(node.value) : undefined;
  if (ms !== undefined && ok(ms)) return ms;
  r.d.at(node, `${path} must be ${expect}, got ${got(node)}`);
  return undefined;
}

/**
 * `nats: { servers: [nats://host:port, …], prefix: vigil, <one way to authenticate>, tls }`;
 * null when absent or wrong.
 */
function readNats (e: Entry | undefined, r: Reader, base: string): ServeConfig['nats'] | null {
  if (e === undefined) return null;
  const entries = secretMap(e.value, 'config.nats', 'a map with servers (a list of nats:// URLs) and optionally prefix, user and password, token, nkey, creds and tls', r, NATS_KEYS);
  if (entries === undefined) return null;
  const of = new Map(entries.map((x) => [x.key, x.value]));
  const servers: string[] = [];
  const list = of.get('servers');
  if (!isSeq(list) || list.items.length === 0) {
    r.d.at(list ?? e.keyNode, `config.nats.servers must be a list of server URLs such as nats://127.0.0.1:4222, got ${list === undefined ? 'nothing' : got(list)}`);
  } else {
    for (const item of list.items) {
      const url = isScalar(item) && typeof item.value === 'string' ? item.value : undefined;
      if (url !== undefined && /^(nats|tls):\/\/[^\s/]*@/.test(url)) {
        // A URL's user:password would show up wherever the server list is printed.
        r.d.at(item, `config.nats.servers must hold URLs without credentials (give them as config.nats.user and password, or token), got ${show(url.replace(/\/\/[^@]*@/, '//…@'))}`);
      } else if (url === undefined || !/^(nats|tls):\/\/[^\s/]+$/.test(url)) {
        r.d.at(item, `config.nats.servers must hold URLs such as nats://127.0.0.1:4222, got ${got(item)}`);
      } else {
        servers.push(url);
      }
    }
  }
  let prefix: string = DEFAULT_PREFIX;
  if (of.has('prefix')) {
    const node = of.get('prefix');
    const text = isScalar(node) && typeof node.value === 'string' ? node.value : undefined;
    if (text === undefined || !isValidPrefix(text)) r.d.at(node, `config.nats.prefix must be NATS subject tokens such as vigil or acme.fraud (no spaces or wildcards), got ${got(node)}`);
    else prefix = text;
  }
  const auth = readNatsAuth(entries, of, r, base);
  const tls = of.has('tls') ? readNatsTls(of.get('tls'), r, base) : null;
  return servers.length > 0 && auth !== undefined && tls !== undefined ? { servers, prefix, auth, tls: tls ?? undefined } : null;
}

const AUTH_METHODS: Readonly<Record<string, string>> = { user: 'user/password', password: 'user/password', token: 'token', nkey: 'nkey', creds: 'creds' };

/** At most one way to authenticate: user + password, token, nkey (a seed file) or creds (a JWT creds file). */
function readNatsAuth (entries: readonly Entry[], of: ReadonlyMap<string, unknown>, r: Reader, base: string): NatsAuth | undefined {
  const methods: string[] = [];
  let ok = true;
  for (const entry of entries) {
    const method = AUTH_METHODS[entry.key];
    if (method === undefined || methods.includes(method)) continue;
    if (methods.length > 0) {
      r.d.at(entry.keyNode, `config.nats must have one way to authenticate (user and password, token, nkey or creds), got ${methods.join(', ')} and ${method}`);
      ok = false;
    }
    methods.push(method);
  }
  const user = of.has('user') ? r.text(of.get('user'), 'config.nats.user', 'a user name') : undefined;
  const password = of.has('password') ? readNatsSecret(of.get('password'), 'config.nats.password', 'the password of config.nats.user', r) : undefined;
  const token = of.has('token') ? readNatsSecret(of.get('token'), 'config.nats.token', 'the token the server expects', r) : undefined;
  const nkey = of.has('nkey') ? readFileSetting(of.get('nkey'), r, base, 'config.nats.nkey', 'a readable NKey seed file (its text starts with SU)', (text) => text.trimStart().startsWith('SU') ? undefined : 'it does not hold a user seed (SU…)') : undefined;
  const creds = of.has('creds') ? readFileSetting(of.get('creds'), r, base, 'config.nats.creds', 'a readable JWT credentials file (.creds)', (text) => /-----BEGIN NATS USER JWT-----/.test(text) && /-----BEGIN USER NKEY SEED-----/.test(text) ? undefined : 'it does not hold a NATS user JWT and seed') : undefined;
  const userNode = entries.find((x) => x.key === 'user');
  const passwordNode = entries.find((x) => x.key === 'password');
  if (userNode !== undefined && passwordNode === undefined) {
    r.d.at(userNode.keyNode, 'config.nats.password must be given with config.nats.user, got nothing');
    ok = false;
  }
  if (passwordNode !== undefined && userNode === undefined) {
    r.d.at(passwordNode.keyNode, 'config.nats.user must be given with config.nats.password, got nothing');
    ok = false;
  }
  if (!ok) return undefined;
  switch (methods[0]) {
    case undefined: return { kind: 'none' };
    case 'user/password': return user === undefined || password === undefined ? undefined : { kind: 'user', user, password };
    case 'token': return token === undefined ? undefined : { kind: 'token', token };
    case 'nkey': return nkey === undefined ? undefined : { kind: 'nkey', seedFile: nkey };
    default: return creds === undefined ? undefined : { kind: 'creds', credsFile: creds };
  }
}

/** `tls: { ca, cert, key }`: any of them, `cert` and `key` together; `tls: {}` asks for TLS verified by the system's CAs. */
function readNatsTls (node: unknown, r: Reader, base: string): NatsTls | undefined {
  const entries = r.knownMap(node, 'config.nats.tls', 'config.nats.tls', TLS_KEYS, 'a map with ca (a CA certificate file) and/or cert and key (a client certificate and its key)');
  if (entries === undefined) return undefined;
  const out: { ca?: string, cert?: string, key?: string } = {};
  let ok = true;
  const what = { ca: 'a readable CA certificate file (PEM)', cert: 'a readable client certificate file (PEM)', key: 'a readable private key file (PEM) of config.nats.tls.cert' } as const;
  for (const entry of entries) {
    const key = entry.key as keyof typeof what;
    const file = readFileSetting(entry.value, r, base, `config.nats.tls.${key}`, what[key]);
    if (file === undefined) ok = false; else out[key] = file;
  }
  const cert = entries.find((x) => x.key === 'cert');
  const key = entries.find((x) => x.key === 'key');
  if (cert !== undefined && key === undefined) { r.d.at(cert.keyNode, 'config.nats.tls.key must be given with config.nats.tls.cert (the client certificate\'s private key), got nothing'); ok = false; }
  if (key !== undefined && cert === undefined) { r.d.at(key.keyNode, 'config.nats.tls.cert must be given with config.nats.tls.key (the client certificate), got nothing'); ok = false; }
  return ok ? out : undefined;
}

/** A NATS password or token: non-empty text. Never echoed; the message says only what kind of value it got. */
function readNatsSecret (node: unknown, path: string, what: string, r: Reader): string | undefined {
  if (isScalar(node) && !isMissing(node) && (typeof node.value === 'string' || typeof node.value === 'number')) {
    const text = textOf(node);
    if (text !== '') return text;
  }
  r.d.at(node, `${path} must be text (${what}), got ${kindOf(node)}`);
  return undefined;
}

/** What `node` is, for a message about a setting that holds secrets: never the value itself. */
function kindOf (node: unknown): string {
  if (isMissing(node)) return 'nothing';
  if (isScalar(node)) return node.value === '' ? 'empty text' : node.value === null ? 'null' : `a ${typeof node.value}`;
  return isMap(node) ? 'a map' : 'a list';
}

/**
 * The entries of a map that holds secrets (config.api, its tokens, config.nats), or undefined
 * (reported): a token given where the map belongs (`tokens: SECRET`), or the map written as a
 * list, must not be echoed back.
 */
function secretMap (node: unknown, path: string, expect: string, r: Reader, known?: readonly string[]): Entry[] | undefined {
  if (!isMap(node)) {
    r.d.at(node, `${path} must be ${expect}, got ${kindOf(node)}${isMissing(node) ? '' : ' (not shown: it may hold a secret)'}`);
    return undefined;
  }
  return known === undefined ? r.map(node, path) : r.knownMap(node, path, path, known);
}

/**
 * A file named in the config, resolved against `base`, that must be readable now; `check`
 * looks at its text (it must never be quoted: it holds a secret). Undefined (reported) otherwise.
 */
function readFileSetting (node: unknown, r: Reader, base: string, path: string, expect: string, check?: (text: string) => string | undefined): string | undefined {
  const written = r.text(node, path, `${expect}, given as a path`);
  if (written === undefined) return undefined;
  const file = resolve(base, written);
  let why: string | undefined;
  try {
    if (statSync(file).isDirectory()) why = 'it is a folder';
    else {
      const text = readFileSync(file, 'utf8');
      why = check?.(text);
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
  }
  if (why === undefined) return file;
  r.d.at(node, `${path} must be ${expect}, got ${got(node)} (${file}): ${why}`);
  return undefined;
}

/**
 * A cluster node (cluster-serve.ts) writes neither an alerts nor a rejects file: both are
 * refused with where that output goes instead, rather than silently ignored. `alerts:
 * { retention }` stays: the notifier's alert history keeps alerts for that long.
 */
function refuseOutputFiles (alerts: AlertsSetting | undefined, rejects: Entry | undefined, r: Reader, prefix: string): void {
  const instead = `alerts go to the ${prefix}.alerts stream, GET /v1/alerts and the rules' channels (a file channel appends them as JSON lines)`;
  if (alerts?.fileNode !== undefined) {
    const path = isMap(alerts.node) ? 'config.alerts.file' : 'config.alerts';
    const expect = isMap(alerts.node) ? 'left out' : 'left out or { retention: DURATION }';
    r.d.at(alerts.fileNode, `${path} must be ${expect} when config.nats is set, got ${got(alerts.fileNode)}: a cluster node writes no alerts file; ${instead}`);
  }
  if (rejects !== undefined) {
    r.d.at(rejects.value, `config.rejects must be left out when config.nats is set, got ${got(rejects.value)}: a cluster node writes no rejects file; rejects go to ${prefix}.rejected and into the answer to each POST /v1/records and each ${prefix}.in request`);
  }
}

/** `config.alerts` as read; `fileNode` is where the file was given, when it was. */
interface AlertsSetting { readonly file: string | undefined, readonly retentionMs: number, readonly node?: unknown, readonly fileNode?: unknown }

/** `alerts: FILE`, or `alerts: { file: FILE, retention: 7d }`. */
function readAlerts (e: Entry | undefined, r: Reader): AlertsSetting | undefined {
  if (e === undefined) return { file: undefined, retentionMs: DEFAULT_RETENTION_MS };
  if (!isMap(e.value)) {
    const file = r.text(e.value, 'config.alerts', 'a file path (or - for standard output), or a map with file and retention');
    return file === undefined ? undefined : { file, retentionMs: DEFAULT_RETENTION_MS, node: e.value, fileNode: e.value };
  }
  const entries = r.knownMap(e.value, 'config.alerts', 'config.alerts', ALERTS_KEYS);
  if (entries === undefined) return undefined;
  const of = new Map(entries.map((x) => [x.key, x.value]));
  const file = of.has('file') ? r.text(of.get('file'), 'config.alerts.file', 'a file path (or - for standard output)') : undefined;
  let retentionMs: number | undefined = DEFAULT_RETENTION_MS;
  if (of.has('retention')) {
    const node = of.get('retention');
    const ms = isScalar(node) && typeof node.value === 'string' ? parseDuration(node.value) : undefined;
    if (ms === undefined || ms <= 0) {
      r.d.at(node, `config.alerts.retention must be ${DURATION_TEXT} (how long GET /v1/alerts keeps an alert), got ${got(node)}`);
      retentionMs = undefined;
    } else {
      retentionMs = ms;
    }
  }
  if ((of.has('file') && file === undefined) || retentionMs === undefined) return undefined;
  return { file, retentionMs, node: e.value, ...(of.has('file') ? { fileNode: of.get('file') } : {}) };
}

/** One secret: long enough, no white space. Never echoed: the message says what is wrong with it, not what it is. */
function readSecret (node: unknown, path: string, r: Reader): string | undefined {
  const value = isScalar(node) && (typeof node.value === 'string' || typeof node.value === 'number') ? String(node.value) : undefined;
  if (value === undefined) {
    r.d.at(node, `${path} must be a secret of at least ${MIN_TOKEN_LENGTH} characters, got ${isScalar(node) ? typeof node.value : 'a ' + (isMap(node) ? 'map' : 'list')}`);
    return undefined;
  }
  if (value.length < MIN_TOKEN_LENGTH || /\s/.test(value)) {
    r.d.at(node, `${path} must be a secret of at least ${MIN_TOKEN_LENGTH} characters without spaces, got one of ${value.length} characters${/\s/.test(value) ? ' with white space' : ''}`);
    return undefined;
  }
  return value;
}

/** `api: { token: SECRET }` and/or `api: { tokens: { NAME: SECRET, … } }`. */
function readApi (e: Entry | undefined, r: Reader): ServeConfig['api'] | undefined {
  if (e === undefined) return { tokens: [] };
  const entries = secretMap(e.value, 'config.api', 'a map with token (a secret) or tokens (name: secret)', r, API_KEYS);
  if (entries === undefined) return undefined;
  const tokens: ApiToken[] = [];
  let ok = true;
  for (const entry of entries) {
    if (entry.key === 'token') {
      const secret = readSecret(entry.value, 'config.api.token', r);
      if (secret === undefined) ok = false; else tokens.push({ name: DEFAULT_TOKEN_NAME, secret });
      continue;
    }
    const named = secretMap(entry.value, 'config.api.tokens', 'a map of token name: secret', r);
    if (named === undefined) { ok = false; continue; }
    for (const t of named) {
      if (!/^[A-Za-z0-9_.-]+$/.test(t.key)) {
        // `ops:SECRET` is one key to YAML: never shown past its colon.
        const glued = gluedKey(t.key);
        const shown = glued === undefined ? got(t.keyNode) : `"${glued.shown}"; did you mean "${glued.key}: …" (a space after the colon)?`;
        r.d.at(t.keyNode, `config.api.tokens: a token name must be letters, digits, _ . or -, got ${shown}`);
        ok = false;
        continue;
      }
      const secret = readSecret(t.value, `config.api.tokens.${t.key}`, r);
      if (secret === undefined) ok = false; else tokens.push({ name: t.key, secret });
    }
  }
  const names = new Set<string>();
  for (const t of tokens) {
    if (names.has(t.name)) { r.d.at(e.keyNode, `config.api.tokens: the name "${t.name}" is given twice`); ok = false; }
    names.add(t.name);
  }
  return ok ? { tokens } : undefined;
}

function readListen (e: Entry | undefined, r: Reader, hasToken: boolean): ServeConfig['listen'] | undefined {
  if (e === undefined) return DEFAULT_LISTEN;
  const text = r.text(e.value, 'config.listen', 'host:port such as 127.0.0.1:7800');
  if (text === undefined) return undefined;
  const listen = parseListen(text);
  if (listen === undefined) {
    r.d.at(e.value, `config.listen must be host:port such as 127.0.0.1:7800 or [::1]:7800, got ${got(e.value)}`);
    return undefined;
  }
  if (!isLoopback(listen.host) && !hasToken) {
    r.d.at(e.value, `config.listen must be a loopback address (127.0.0.0/8 or [::1]) unless config.api.token is set, got ${got(e.value)}: a node refuses to listen beyond loopback without an API token`);
    return undefined;
  }
  return listen;
}

/** The bound a live node's ingest puts on records dated ahead of its clock; none with `max_ahead: none`. */
export function aheadBound (config: Pick<ServeConfig, 'maxAheadMs'>): AheadBound | undefined {
  return config.maxAheadMs === undefined ? undefined : { maxMs: config.maxAheadMs, now: Date.now };
}

/**
 * The warning a node logs when the watermark it starts from (restored from `from`) is further
 * ahead of its clock than `max_ahead` allows: records of the present would all be late, so the
 * node would count nothing, and an operator should hear why at start rather than infer it from
 * the rejects. Undefined when it is not.
 */
export function watermarkAheadWarning (watermark: number, from: string, config: Pick<ServeConfig, 'maxAheadMs'>, zone: Zone): { warning: string, watermark: string } | undefined {
  const ahead = watermark - Date.now();
  if (config.maxAheadMs === undefined || !(ahead > config.maxAheadMs)) return undefined;
  const iso = zone.toIso(watermark);
  return { warning: `the watermark restored from ${from} is ${iso}, ${spanText(ahead)} ahead of this node's clock: records of the present fall in windows that closed before it and will be rejected as late; a record dated that far ahead was taken before config.max_ahead bounded it`, watermark: iso };
}

/** `max_ahead: 15m`, or `none` for no bound on records dated ahead of the clock. */
function readMaxAhead (e: Entry | undefined, r: Reader): number | 'none' | undefined {
  if (e === undefined) return DEFAULT_MAX_AHEAD_MS;
  if (isScalar(e.value) && e.value.value === 'none') return 'none';
  return duration(e.value, r, 'config.max_ahead', `${DURATION_TEXT}, or none (how far ahead of this node's clock a record may be dated)`, () => true);
}

function readBatch (e: Entry | undefined, r: Reader): ServeConfig['batch'] | undefined {
  if (e === undefined) return { maxRecords: DEFAULT_MAX_RECORDS, maxWaitMs: DEFAULT_MAX_WAIT_MS };
  const entries = r.knownMap(e.value, 'config.batch', 'config.batch', BATCH_KEYS, 'a map with max_records and max_wait');
  if (entries === undefined) return undefined;
  const of = new Map(entries.map((x) => [x.key, x.value]));
  const records = of.has('max_records')
    ? r.number(of.get('max_records'), 'config.batch.max_records', 'a whole number of records from 1 to 100000', (n) => Number.isInteger(n) && n >= 1 && n <= 100_000)
    : DEFAULT_MAX_RECORDS;
  let wait: number | undefined = DEFAULT_MAX_WAIT_MS;
  if (of.has('max_wait')) {
    const node = of.get('max_wait');
    const ms = isScalar(node) && (typeof node.value === 'string' || typeof node.value === 'number') ? parseWait(String(node.value)) : undefined;
    // Longer than a second is not "a short timer": records would sit unacknowledged.
    if (ms === undefined || ms < 0 || ms > 1000) {
      r.d.at(node, `config.batch.max_wait must be a time from 0ms to 1s such as 5ms, got ${got(node)}`);
      wait = undefined;
    } else {
      wait = ms;
    }
  }
  return records === undefined || wait === undefined ? undefined : { maxRecords: records, maxWaitMs: wait };
}
