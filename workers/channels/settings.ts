/**
 * A channel's settings as the notifier uses them. The rules parser (core/rules-channels.ts)
 * checks which settings a channel type may have and the shape of URLs, addresses and
 * `min_severity`; it keeps the values as written. This module reads the rest (`rate`,
 * `digest`, `retry`, `timeout`, `headers`, `secret`, `auth`) and refuses what it cannot use,
 * without echoing values that may be secret. Pure: no I/O, so the main thread validates before
 * it starts the notifier's thread.
 */
import type { ChannelConfig, Severity } from '../../core/rules-config.js';
import { SEVERITIES } from '../../core/rules-config.js';
import { DURATION_TEXT, parseDuration } from '../../core/rules-text.js';
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

function parseCommon (path: string, s: Readonly<Record<string, unknown>>): CommonSettings {
  const min = s.min_severity;
  if (min !== undefined && !SEVERITIES.includes(min as Severity)) throw InvalidChannelError.of(`${path}.min_severity`, SEVERITIES.join(', '), min);
  let retryMaxMs = DAY_MS;
  if (s.retry !== undefined) {
    const retry = s.retry;
    if (typeof retry !== 'object' || retry === null || Array.isArray(retry) || Object.keys(retry).some((k) => k !== 'max')) {
      throw InvalidChannelError.of(`${path}.retry`, '{ max: DURATION }', retry);
    }
    const max = (retry as { max?: unknown }).max;
    if (max !== undefined) retryMaxMs = duration(`${path}.retry.max`, max);
  }
  return {
    minSeverity: (min as Severity | undefined) ?? 'info',
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
      const raw = typeof s.smtp === 'string' ? s.smtp : '';
      let smtp: URL | undefined;
      try { smtp = new URL(raw); } catch { smtp = undefined; }
      if (smtp === undefined || (smtp.protocol !== 'smtp:' && smtp.protocol !== 'smtps:') || smtp.hostname === '') {
        throw InvalidChannelError.of(`${path}.smtp`, 'a URL such as smtp://user:password@host:587 or smtps://host', s.smtp, true);
      }
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

function duration (path: string, value: unknown): number {
  const ms = typeof value === 'string' ? parseDuration(value) : undefined;
  if (ms === undefined || ms <= 0) throw InvalidChannelError.of(path, DURATION_TEXT, value);
  return ms;
}

/** `10/1m`: at most 10 messages a minute. */
function parseRate (path: string, value: unknown): Rate {
  const m = typeof value === 'string' ? /^(\d+)\/(\w+)$/.exec(value) : null;
  const count = m === null ? NaN : Number(m[1]);
  const perMs = m === null ? undefined : parseDuration(m[2] as string);
  if (!(count >= 1) || perMs === undefined) throw InvalidChannelError.of(path, 'N/DURATION such as 10/1m (at most N messages per DURATION)', value);
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
