/**
 * A channel's settings as the notifier uses them. The rules parser (rules-channels.ts) checks
 * which settings a channel type may have and the shape of URLs, addresses and `min_severity`,
 * keeps the values as written, and reads each one through readChannelSetting here as well, so
 * that `vigil check` and a rules reload refuse what the notifier could not use. This module
 * reads the rest (`rate`, `digest`, `retry`, `timeout`, `headers`, `secret`, `auth`, whether a
 * URL parses) and refuses what it cannot use, without echoing values that may be secret.
 */
import type { ChannelConfig, Severity } from './rules-config.js';
import { SEVERITIES } from './rules-config.js';
import { DURATION_TEXT, parseDuration } from './rules-text.js';
import { InvalidChannelError } from './errors.js';

export const DAY_MS = 86_400_000;
const DEFAULT_TIMEOUT_MS = 10_000;

export interface Rate { readonly count: number, readonly perMs: number }

/** What every channel may set. */
export interface CommonSettings {
  readonly minSeverity: Severity;
  /** at most `count` messages per `perMs`; the rest are folded into the next digest */
  readonly rate?: Rate;
  /** one message per interval, folding every alert queued meanwhile */
  readonly digestMs?: number;
  /** undelivered this long after entering the outbox: dead letter */
  readonly retryMaxMs: number;
}

export type TypedSettings =
  | { readonly type: 'webhook', readonly url: URL, readonly raw: string, readonly secret?: string, readonly headers: Readonly<Record<string, string>>, readonly timeoutMs: number }
  | { readonly type: 'email', readonly to: readonly string[], readonly from?: string, readonly smtp: URL, readonly raw: string }
  | { readonly type: 'sms', readonly url: URL, readonly raw: string, readonly to: readonly string[], readonly auth?: string }
  | { readonly type: 'nats', readonly subject: string }
  | { readonly type: 'file', readonly path: string }
  | { readonly type: 'log' };

export interface ChannelSpec {
  readonly name: string;
  readonly common: CommonSettings;
  readonly settings: TypedSettings;
}

/** Reads every channel; the first unusable setting throws InvalidChannelError. */
export function parseChannelSpecs (channels: ReadonlyMap<string, ChannelConfig>): ChannelSpec[] {
  return [...channels].map(([name, config]) => parseChannelSpec(name, config));
}

export function parseChannelSpec (name: string, config: ChannelConfig): ChannelSpec {
  const s = config.settings;
  const path = `channels.${name}`;
  return { name, common: parseCommon(path, s), settings: parseTyped(path, config.type, s) };
}

/**
 * Reads one setting, `value` as the rules parser keeps it, the way parseChannelSpec does;
 * throws InvalidChannelError naming it (`path`, or a part of it such as `path.max`). Settings
 * without a reader here (`type`) are taken as they are.
 */
export function readChannelSetting (path: string, key: string, value: unknown): void {
  READERS[key]?.(path, value);
}

const READERS: Readonly<Record<string, (path: string, value: unknown) => unknown>> = {
  min_severity: severity,
  rate: parseRate,
  digest: duration,
  retry: retryMax,
  timeout: duration,
  url: httpUrl,
  smtp: smtpUrl,
  to: addresses,
  from: text,
  secret: secretText,
  auth: secretText,
  headers,
  subject: text,
  path: text,
};

function parseCommon (path: string, s: Readonly<Record<string, unknown>>): CommonSettings {
  const min = s.min_severity === undefined ? 'info' : severity(`${path}.min_severity`, s.min_severity);
  const retryMaxMs = s.retry === undefined ? DAY_MS : retryMax(`${path}.retry`, s.retry);
  return {
    minSeverity: min,
    retryMaxMs,
    ...(s.rate === undefined ? {} : { rate: parseRate(`${path}.rate`, s.rate) }),
    ...(s.digest === undefined ? {} : { digestMs: duration(`${path}.digest`, s.digest) }),
  };
}

function parseTyped (path: string, type: string, s: Readonly<Record<string, unknown>>): TypedSettings {
  switch (type) {
    case 'webhook': {
      const { url, raw } = httpUrl(`${path}.url`, s.url);
      const secret = s.secret === undefined ? undefined : secretText(`${path}.secret`, s.secret);
      const timeoutMs = s.timeout === undefined ? DEFAULT_TIMEOUT_MS : duration(`${path}.timeout`, s.timeout);
      return { type, url, raw, headers: headers(`${path}.headers`, s.headers), timeoutMs, ...(secret === undefined ? {} : { secret }) };
    }
    case 'email': {
      const { smtp, raw } = smtpUrl(`${path}.smtp`, s.smtp);
      const from = s.from === undefined ? undefined : text(`${path}.from`, s.from);
      return { type, to: addresses(`${path}.to`, s.to), smtp, raw, ...(from === undefined ? {} : { from }) };
    }
    case 'sms': {
      const { url, raw } = httpUrl(`${path}.url`, s.url);
      const auth = s.auth === undefined ? undefined : secretText(`${path}.auth`, s.auth);
      return { type, url, raw, to: addresses(`${path}.to`, s.to), ...(auth === undefined ? {} : { auth }) };
    }
    case 'nats': return { type, subject: text(`${path}.subject`, s.subject) };
    case 'file': return { type, path: text(`${path}.path`, s.path) };
    case 'log': return { type };
    default: throw InvalidChannelError.of(`${path}.type`, 'one of webhook, email, sms, nats, file, log', type);
  }
}

function severity (path: string, value: unknown): Severity {
  if (SEVERITIES.includes(value as Severity)) return value as Severity;
  throw InvalidChannelError.of(path, SEVERITIES.join(', '), value);
}

/** `retry: { max: DURATION }`: the time an alert may stay undelivered, default a day. */
function retryMax (path: string, retry: unknown): number {
  if (typeof retry !== 'object' || retry === null || Array.isArray(retry) || Object.keys(retry).some((k) => k !== 'max')) {
    throw InvalidChannelError.of(path, '{ max: DURATION }', retry);
  }
  const max = (retry as { max?: unknown }).max;
  return max === undefined ? DAY_MS : duration(`${path}.max`, max);
}

function duration (path: string, value: unknown): number {
  const ms = typeof value === 'string' ? parseDuration(value) : undefined;
  if (ms === undefined || ms <= 0) throw InvalidChannelError.of(path, DURATION_TEXT, value);
  return ms;
}

/** `10/1m`: at most 10 messages a minute. An interval of zero would limit nothing: refused, as `digest: 0s` is. */
function parseRate (path: string, value: unknown): Rate {
  const m = typeof value === 'string' ? /^(\d+)\/(\w+)$/.exec(value) : null;
  const count = m === null ? NaN : Number(m[1]);
  const perMs = m === null ? undefined : parseDuration(m[2] as string);
  if (!(count >= 1) || perMs === undefined || perMs <= 0) throw InvalidChannelError.of(path, 'N/DURATION such as 10/1m (at most N messages per DURATION)', value);
  return { count, perMs };
}

function text (path: string, value: unknown): string {
  if (typeof value === 'string' && value.trim() !== '') return value;
  if (typeof value === 'number') return String(value);
  throw InvalidChannelError.of(path, 'a text', value);
}

function secretText (path: string, value: unknown): string {
  if (typeof value === 'string' && value !== '') return value;
  throw InvalidChannelError.of(path, 'a non-empty text', value, true);
}

function addresses (path: string, value: unknown): string[] {
  const list = Array.isArray(value) ? value : [value];
  const out = list.map((v) => (typeof v === 'string' || typeof v === 'number' ? String(v).trim() : ''));
  if (out.length === 0 || out.some((v) => v === '')) throw InvalidChannelError.of(path, 'an address or a non-empty list of addresses', value);
  return out;
}

function httpUrl (path: string, value: unknown): { url: URL, raw: string } {
  const raw = typeof value === 'string' ? value : '';
  let url: URL | undefined;
  try { url = new URL(raw); } catch { url = undefined; }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw InvalidChannelError.of(path, 'a URL starting with http:// or https://', value, true);
  }
  return { url, raw };
}

function smtpUrl (path: string, value: unknown): { smtp: URL, raw: string } {
  const raw = typeof value === 'string' ? value : '';
  let smtp: URL | undefined;
  try { smtp = new URL(raw); } catch { smtp = undefined; }
  if (smtp === undefined || (smtp.protocol !== 'smtp:' && smtp.protocol !== 'smtps:') || smtp.hostname === '') {
    throw InvalidChannelError.of(path, 'a URL such as smtp://user:password@host:587 or smtps://host', value, true);
  }
  return { smtp, raw };
}

function headers (path: string, value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw InvalidChannelError.of(path, 'a map of header name: value', value, true);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k)) throw InvalidChannelError.of(`${path}`, 'a map of header name: value (a name is letters, digits and -)', k);
    if (typeof v !== 'string' && typeof v !== 'number') throw InvalidChannelError.of(`${path}.${k}`, 'a text', v, true);
    out[k] = String(v);
  }
  return out;
}
