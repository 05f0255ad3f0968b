/**
 * `ts` of a usage record: ISO 8601 with an offset (`Z` or ±HH[:MM]) or epoch milliseconds, read
 * by hand (Date.parse accepts too much, e.g. times without an offset in local time).
 */
import { InvalidRecordError } from './errors.js';
import { DAY_MS, HOUR_MS, MINUTE_MS, daysFromCivil } from './zone.js';

/** What a `ts` must be, for messages. */
export const TS_EXPECTED = 'an ISO 8601 time with an offset or epoch milliseconds';
const TS_NO_OFFSET = 'an ISO 8601 time with an offset (Z or ±HH:MM)';
/** 1973-03-03: anything smaller is almost surely epoch seconds, which would land in 1970 silently. */
const MIN_EPOCH_MS = 100_000_000_000;
const MAX_EPOCH_MS = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
const EPOCH_DIGITS = /^\d{1,16}$/;
// parseIso's failures; every real result is finite.
const NO_OFFSET = Number.NEGATIVE_INFINITY;
const NOT_A_TIME = Number.NaN;

function daysInMonth (year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Two decimal digits at `i`, or -1. (NaN from reading past the end fails the range test too.) */
function twoDigits (s: string, i: number): number {
  const a = s.charCodeAt(i) - 48;
  const b = s.charCodeAt(i + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/**
 * `YYYY-MM-DDTHH:MM[:SS[.fff…]](Z|±HH[[:]MM])` to epoch ms, NO_OFFSET when the zone part is
 * missing, NOT_A_TIME otherwise. `t` or a space may separate date and time (RFC 3339 allows
 * it); digits past milliseconds are truncated. Hand-written: it runs once per record, and a
 * regex plus Date costs four times as much.
 */
function parseIso (s: string): number {
  const c1 = twoDigits(s, 0); const c2 = twoDigits(s, 2);
  const month = twoDigits(s, 5); const day = twoDigits(s, 8);
  const hour = twoDigits(s, 11); const minute = twoDigits(s, 14);
  const sep = s.charCodeAt(10);
  if (c1 < 0 || c2 < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 ||
    s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(13) !== 58 ||
    (sep !== 84 && sep !== 116 && sep !== 32)) return NOT_A_TIME;
  let i = 16;
  let second = 0;
  let ms = 0;
  if (s.charCodeAt(i) === 58) {
    second = twoDigits(s, i + 1);
    if (second < 0) return NOT_A_TIME;
    i += 3;
    const dot = s.charCodeAt(i);
    if (dot === 46 || dot === 44) {
      const start = ++i;
      for (let c = s.charCodeAt(i) - 48; c >= 0 && c <= 9; c = s.charCodeAt(++i) - 48) {
        if (i - start < 3) ms = ms * 10 + c;
      }
      if (i === start) return NOT_A_TIME;
      for (let k = i - start; k < 3; k++) ms *= 10;
    }
  }
  if (i === s.length) return NO_OFFSET;
  let offset = 0;
  const z = s.charCodeAt(i);
  if (z === 90 || z === 122) {
    i++;
  } else if (z === 43 || z === 45) {
    const oh = twoDigits(s, i + 1);
    i += 3;
    let om = 0;
    if (i < s.length) {
      if (s.charCodeAt(i) === 58) i++;
      om = twoDigits(s, i);
      i += 2;
    }
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return NOT_A_TIME;
    offset = (z === 45 ? -1 : 1) * (oh * 60 + om) * MINUTE_MS;
  } else {
    return NOT_A_TIME;
  }
  const year = c1 * 100 + c2;
  if (i !== s.length || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) ||
    hour > 23 || minute > 59 || second > 59) return NOT_A_TIME;
  return daysFromCivil(year, month, day) * DAY_MS + hour * HOUR_MS + minute * MINUTE_MS + second * 1000 + ms - offset;
}

/**
 * A time read from text (ISO 8601, an Asterisk wall time), when it lies where epoch
 * milliseconds may: zone offsets before 1973 are local mean times of seconds (Berlin +0:53:28)
 * and before year 100 Intl reads the year as 19xx, so hours, windows and messages would come out
 * wrong; past 9999 no ISO text can write it. `got` is the text, for the message.
 */
export function inTsRange (ms: number, got: unknown): number {
  if (ms < MIN_EPOCH_MS || ms > MAX_EPOCH_MS) throw new InvalidRecordError('ts', 'a time from 1973-03-03T09:46:40Z to 9999-12-31T23:59:59.999Z', got);
  return ms;
}

function fromEpoch (ms: number, got: unknown): number {
  if (ms < MIN_EPOCH_MS) throw new InvalidRecordError('ts', `epoch milliseconds (not seconds) >= ${MIN_EPOCH_MS}`, got);
  if (ms > MAX_EPOCH_MS) throw new InvalidRecordError('ts', `epoch milliseconds <= ${MAX_EPOCH_MS} (year 9999)`, got);
  return Math.floor(ms);
}

/**
 * Event time in epoch ms. Not Date.parse: it reads an ISO time without an offset as local time
 * of the machine (a replay's result would depend on where it ran) and accepts non-ISO forms.
 */
export function parseTimestamp (value: unknown): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new InvalidRecordError('ts', TS_EXPECTED, value);
    return fromEpoch(value, value);
  }
  // A MessagePack timestamp (extension -1) decodes to a Date, which would show as an ISO text.
  if (value instanceof Date) throw new InvalidRecordError('ts', `${TS_EXPECTED}, not a MessagePack timestamp`, value);
  if (typeof value !== 'string') throw new InvalidRecordError('ts', TS_EXPECTED, value);
  const t = parseIso(value);
  if (Number.isFinite(t)) return inTsRange(t, value);
  // A CSV cell the reader did not convert, or a producer quoting its numbers.
  if (EPOCH_DIGITS.test(value)) return fromEpoch(Number(value), value);
  throw new InvalidRecordError('ts', t === NO_OFFSET ? TS_NO_OFFSET : TS_EXPECTED, value);
}
