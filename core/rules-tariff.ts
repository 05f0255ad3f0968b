/**
 * `tariff:` rates records that arrive without `cost`: the longest matching prefix of `called`
 * wins, `""` is the default rate. Prefixes are kept as written (`+252` stays text).
 */
import type { Tariff, TariffRate } from './rules-config.js';
import { isScalar } from 'yaml';
import type { Reader } from './rules-yaml.js';
import { got, textOf } from './rules-yaml.js';

const RATE_KEYS = ['prefix', 'per_minute', 'per_sms', 'connect', 'increment'];
const PREFIX = /^\+?\d*$/;
const INCREMENT = /^(\d+)\/(\d+)$/;

export function parseTariff (node: unknown, r: Reader): Tariff | undefined {
  const entries = r.knownMap(node, 'tariff', 'tariff', ['currency', 'rates'], 'a map { currency, rates }');
  if (entries === undefined) return undefined;
  let currency: string | undefined;
  const currencyEntry = entries.find((e) => e.key === 'currency');
  if (currencyEntry !== undefined) {
    currency = r.text(currencyEntry.value, 'tariff.currency', 'an ISO 4217 currency code such as EUR');
    if (currency !== undefined && !/^[A-Z]{3}$/.test(currency)) {
      r.d.at(currencyEntry.value, `tariff.currency must be an ISO 4217 currency code such as EUR, got ${got(currencyEntry.value)}`);
    }
  }
  const ratesEntry = entries.find((e) => e.key === 'rates');
  if (ratesEntry === undefined) {
    r.d.at(node, 'tariff.rates is required');
    return undefined;
  }
  const items = r.seq(ratesEntry.value, 'tariff.rates', 'a list of { prefix, per_minute, per_sms, connect, increment }') ?? [];
  const rates: TariffRate[] = [];
  const firstAt = new Map<string, unknown>();
  for (const [i, item] of items.entries()) {
    const rate = parseRate(item, `tariff.rates[${i}]`, r, firstAt);
    if (rate !== undefined) rates.push(rate);
  }
  return currency === undefined ? { rates } : { currency, rates };
}

function parseRate (node: unknown, path: string, r: Reader, firstAt: Map<string, unknown>): TariffRate | undefined {
  const entries = r.knownMap(node, path, path, RATE_KEYS, 'a map { prefix, per_minute, per_sms, connect, increment }');
  if (entries === undefined) return undefined;
  const get = (key: string): unknown => entries.find((e) => e.key === key)?.value;
  let ok = true;
  const need = (key: string): unknown => {
    const value = get(key);
    if (value === undefined) { r.d.at(node, `${path}.${key} is required`); ok = false; }
    return value;
  };

  const prefixNode = need('prefix');
  // `prefix: ""` is the default rate, so the empty text is valid here (unlike in lists).
  const prefix = isScalar(prefixNode) && prefixNode.value !== null && typeof prefixNode.value !== 'boolean' ? textOf(prefixNode) : undefined;
  if (prefixNode !== undefined) {
    if (prefix === undefined || !PREFIX.test(prefix)) {
      r.d.at(prefixNode, `${path}.prefix must be digits with an optional leading + such as "+252", or "" for the default rate, got ${got(prefixNode)}`);
      ok = false;
    } else if (firstAt.has(prefix)) {
      r.d.at(prefixNode, `duplicate prefix "${prefix}" in tariff.rates; first defined at line ${r.d.lineOf(firstAt.get(prefix))}`);
      ok = false;
    } else {
      firstAt.set(prefix, prefixNode);
    }
  }
  const money = (key: string, value: unknown): number | undefined => {
    if (value === undefined) return undefined;
    const n = r.number(value, `${path}.${key}`, 'a number >= 0', (x) => x >= 0);
    if (n === undefined) ok = false;
    return n;
  };
  // A voice-only range (premium 0900) has no SMS price and an SMS short code no minute price,
  // so either may be left out (0), but a rate with neither prices nothing.
  if (get('per_minute') === undefined && get('per_sms') === undefined) {
    r.d.at(node, `${path} must set per_minute, per_sms or both`);
    ok = false;
  }
  const perMinute = money('per_minute', get('per_minute')) ?? 0;
  const perSms = money('per_sms', get('per_sms')) ?? 0;
  const connect = money('connect', get('connect')) ?? 0;
  let first = 1;
  let next = 1;
  const incrementNode = get('increment');
  if (incrementNode !== undefined) {
    const m = isScalar(incrementNode) && typeof incrementNode.value === 'string' ? INCREMENT.exec(incrementNode.value) : null;
    if (m === null || Number(m[1]) < 1 || Number(m[2]) < 1) {
      r.d.at(incrementNode, `${path}.increment must be "FIRST/NEXT" in whole seconds >= 1 such as "60/1", got ${got(incrementNode)}`);
      ok = false;
    } else {
      first = Number(m[1]);
      next = Number(m[2]);
    }
  }
  if (!ok || prefix === undefined) return undefined;
  return { prefix, perMinute, perSms, connect, first, next };
}
