/**
 * A usage record (CDR) after validation, normalization and derivation: the one shape every
 * rule sees. See ../shared/spec/records.md. Field names follow the spec (`called_raw`), so a
 * rule's `by` and `where` name them as written there.
 */
import type { CountryCode } from 'libphonenumber-js/min';
import { Metadata, isSupportedCountry, parsePhoneNumberFromString } from 'libphonenumber-js/min';
import metadata from 'libphonenumber-js/min/metadata';
import { EngineError, InvalidRecordError, show } from './errors.js';
import { stableId } from './hash.js';
import { DAY_MS, HOUR_MS, MINUTE_MS, daysFromCivil } from './zone.js';
import type { Zone } from './zone.js';

export const SERVICES = ['voice', 'sms', 'data'] as const;
export type Service = typeof SERVICES[number];
export const DIRECTIONS = ['out', 'in'] as const;
export type Direction = typeof DIRECTIONS[number];
/** Index 0 is Monday, as in ISO 8601 and in `week` windows. */
export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = typeof WEEKDAYS[number];

export type AttrValue = string | number | boolean;

export interface UsageRecord {
  id: string;
  /** Event time, epoch milliseconds (UTC). */
  ts: number;
  account: string;
  subscription?: string;
  caller?: string;
  /** E.164 with a leading `+` when it could be normalized; otherwise as received. */
  called?: string;
  called_raw?: string;
  service: Service;
  duration: number;
  answered: boolean;
  cost?: number;
  currency?: string;
  trunk?: string;
  provider?: string;
  direction: Direction;
  origin?: string;
  device?: string;
  attrs?: Record<string, AttrValue>;
  // Derived, in the rules' time zone.
  country?: string;
  hour: number;
  weekday: Weekday;
  /** Minutes since local midnight (0–1439): what `hours: "22:00-06:00"` filters on. */
  minuteOfDay: number;
  /** Groups the rules' `groups` map the account to; empty when none. */
  group: readonly string[];
}

/** Where a raw record came from, for rejects: `file:line` or `subject#sequence`. */
export interface SourcePosition {
  readonly source: string;
  readonly line?: number;
  readonly seq?: number;
}

/** A record that was not accepted, with the reason and where it came from. Never silently dropped. */
export interface Reject {
  readonly reason: string;
  readonly code: string;
  readonly position: SourcePosition;
  /** The raw input, clipped to a few KiB. */
  readonly raw: string;
}

/** A raw record larger than this (in UTF-8 bytes) is rejected before it is parsed. */
export const MAX_RECORD_BYTES = 65536;

/** What parsing needs besides the record itself; built once from the compiled rules. */
export interface RecordContext {
  /** The rules' `timezone`: `hour`, `weekday` and `minuteOfDay` are local to it. */
  zone: Zone;
  /** The rules' `home_country` (ISO 3166-1 alpha-2): the numbering plan of a `called` without `+`. */
  homeCountry?: string;
  groupsOf(account: string): readonly string[];
}

// ---------------------------------------------------------------------------------------------
// ts

const TS_EXPECTED = 'an ISO 8601 time with an offset or epoch milliseconds';
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
  if (typeof value !== 'string') throw new InvalidRecordError('ts', TS_EXPECTED, value);
  const t = parseIso(value);
  if (Number.isFinite(t)) return t;
  // A CSV cell the reader did not convert, or a producer quoting its numbers.
  if (EPOCH_DIGITS.test(value)) return fromEpoch(Number(value), value);
  throw new InvalidRecordError('ts', t === NO_OFFSET ? TS_NO_OFFSET : TS_EXPECTED, value);
}

// ---------------------------------------------------------------------------------------------
// called: E.164 normalization and country

/**
 * calling code -> countries, main country first, from libphonenumber-js's own metadata (the
 * `min` set: it carries every pattern needed to tell countries sharing a calling code apart,
 * e.g. US from CA by area code, at half the size of `max`; both give the same country).
 * Non-geographic codes (+800, +881-883, …) are absent, so they get no country.
 */
const CALLING_CODES = metadata.country_calling_codes as Readonly<Record<string, readonly string[] | undefined>>;
// Bounded memo tables; cleared when full (a replay touches far fewer distinct numbers at once).
const MEMO_LIMIT = 100_000;
const sharedCountries = new Map<string, string | null>();
const nationalNumbers = new Map<string, Normalized | null>();
const homePlans = new Map<string, HomePlan>();

interface Normalized { readonly called: string, readonly country: string | undefined }
interface HomePlan { readonly idd: RegExp }

function remember<V> (memo: Map<string, V>, key: string, value: V): V {
  if (memo.size >= MEMO_LIMIT) memo.clear();
  memo.set(key, value);
  return value;
}

/**
 * What libphonenumber-js's Metadata exposes at run time beyond its typings; read once per
 * shared calling code to precompile the patterns it would otherwise compile on every call.
 */
interface PlanInternals {
  leadingDigits(): string | undefined;
  nationalNumberPattern(): string;
  nationalPrefixForParsing(): string | undefined;
  type(name: string): { pattern(): string, possibleLengths(): readonly number[] | undefined } | undefined;
}
interface Candidate {
  readonly country: string;
  readonly leading: RegExp | undefined;
  readonly general: RegExp;
  readonly types: ReadonlyArray<{ readonly re: RegExp, readonly lengths: readonly number[] | undefined }>;
}
interface SharedPlan { readonly nationalPrefix: RegExp | undefined, readonly candidates: readonly Candidate[] }

const NUMBER_TYPES = ['FIXED_LINE', 'MOBILE', 'PREMIUM_RATE', 'TOLL_FREE', 'SHARED_COST', 'VOIP', 'PERSONAL_NUMBER', 'PAGER', 'UAN', 'VOICEMAIL'];
const sharedPlans = new Map<string, SharedPlan | null>();

function sharedPlan (callingCode: string, countries: readonly string[]): SharedPlan | null {
  let plan = sharedPlans.get(callingCode);
  if (plan !== undefined) return plan;
  try {
    const meta = new Metadata();
    const candidates: Candidate[] = [];
    let nationalPrefix: RegExp | undefined;
    for (const country of countries) {
      meta.selectNumberingPlan(country as CountryCode);
      const p = meta.numberingPlan as unknown as PlanInternals;
      // The main (first) country's plan is the one a `+` number is parsed in.
      if (candidates.length === 0) {
        const np = p.nationalPrefixForParsing();
        nationalPrefix = np ? new RegExp(`^(?:${np})`) : undefined;
      }
      const leading = p.leadingDigits();
      const types = [];
      for (const name of NUMBER_TYPES) {
        const t = p.type(name);
        const pattern = t?.pattern();
        if (t !== undefined && pattern) types.push({ re: new RegExp(`^(?:${pattern})$`), lengths: t.possibleLengths() });
      }
      candidates.push({ country, leading: leading ? new RegExp(`^(?:${leading})`) : undefined, general: new RegExp(`^(?:${p.nationalNumberPattern()})$`), types });
    }
    plan = { nationalPrefix, candidates };
  } catch {
    // The library's internals moved: every shared-code number takes the (slower) parse.
    plan = null;
  }
  sharedPlans.set(callingCode, plan);
  return plan;
}

/**
 * libphonenumber-js's getCountryByNationalNumber (helpers/getCountryByNationalNumber.js and
 * getNumberType.js, MIT), with the patterns compiled once instead of on every call: the first
 * country whose leading digits match, or, for one without leading digits, whose general and
 * some type pattern match. A test compares it with parsePhoneNumberFromString.
 */
function countryByNationalNumber (plan: SharedPlan, national: string): string | undefined {
  for (const c of plan.candidates) {
    if (c.leading !== undefined) {
      if (c.leading.test(national)) return c.country;
    } else if (c.general.test(national)) {
      for (const t of c.types) {
        if ((t.lengths === undefined || t.lengths.includes(national.length)) && t.re.test(national)) return c.country;
      }
    }
  }
  return undefined;
}

/**
 * The country of an international number given as its digits (no `+`), or undefined.
 * "Country" is attributed, not validated: a calling code that belongs to one country gives
 * that country whatever the rest of the number is (IRSF ranges are often unassigned or
 * premium numbers that strict validation would refuse); a calling code shared by several
 * countries (+1, +7, +44, +61, …) is resolved as libphonenumber-js resolves it, from the
 * national number (leading digits, then number patterns), and stays absent when no country
 * claims it. As in libphonenumber-js, a national part shorter than 2 or longer than 17 digits
 * gets none. A plain parse costs 4-13 µs, so it is only the fallback for the rare national
 * number that starts with a national prefix (the library strips that first).
 */
export function countryOfE164 (digits: string): string | undefined {
  for (let len = 1; len <= 3 && len < digits.length; len++) {
    const callingCode = digits.slice(0, len);
    const countries = CALLING_CODES[callingCode];
    if (countries === undefined) continue;
    const rest = digits.length - len;
    if (rest < 2 || rest > 17) return undefined;
    if (countries.length === 1) return countries[0];
    const national = digits.slice(len);
    const plan = sharedPlan(callingCode, countries);
    if (plan !== null && (plan.nationalPrefix === undefined || !plan.nationalPrefix.test(national))) {
      return countryByNationalNumber(plan, national);
    }
    const known = sharedCountries.get(digits);
    if (known !== undefined) return known ?? undefined;
    return remember(sharedCountries, digits, parsePhoneNumberFromString(`+${digits}`)?.country ?? null) ?? undefined;
  }
  return undefined;
}

function homePlan (country: string): HomePlan {
  let plan = homePlans.get(country);
  if (plan === undefined) {
    if (!isSupportedCountry(country)) {
      throw new EngineError('VIGIL_ENGINE_FAILED', `home country must be a country with a numbering plan, got ${show(country)}`);
    }
    const meta = new Metadata();
    meta.selectNumberingPlan(country);
    const idd = meta.numberingPlan?.IDDPrefix() ?? '00';
    plan = { idd: new RegExp(`^(?:${idd})`) };
    homePlans.set(country, plan);
  }
  return plan;
}

/**
 * `called` as E.164 plus its country (records.md): spaces, dashes, dots, slashes and
 * parentheses are dropped; `+digits` stays; without `+`, the home country's international
 * prefix (00 in DE, 011 in US) makes the rest international, and anything else is a national
 * number parsed in the home plan by libphonenumber-js (national prefix, trunk codes). With no
 * home country, digits are E.164 without the `+`. A value that is none of these (a SIP URI, an
 * alphanumeric SMS sender, a number starting with 0 and no home plan) stays as received.
 */
export function normalizeCalled (raw: string, homeCountry: string | undefined): Normalized {
  let plus = false;
  let digits = '';
  let clean = true;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c >= 48 && c <= 57) continue;
    if (c === 43 && i === 0) { plus = true; continue; }
    // space, tab, ( ) - . /
    if (c === 32 || c === 9 || c === 40 || c === 41 || c === 45 || c === 46 || c === 47) { clean = false; continue; }
    return { called: raw, country: undefined };
  }
  digits = clean ? (plus ? raw.slice(1) : raw) : raw.replace(/[^0-9]/g, '');
  if (digits.length === 0) return { called: raw, country: undefined };
  if (plus) return { called: clean ? raw : `+${digits}`, country: countryOfE164(digits) };
  if (homeCountry === undefined) {
    if (digits.charCodeAt(0) === 48) return { called: raw, country: undefined };
    return { called: `+${digits}`, country: countryOfE164(digits) };
  }
  const idd = homePlan(homeCountry).idd.exec(digits);
  // As libphonenumber-js: after an international prefix a calling code follows, never a 0.
  if (idd !== null && digits.length > idd[0].length && digits.charCodeAt(idd[0].length) !== 48) {
    const rest = digits.slice(idd[0].length);
    return { called: `+${rest}`, country: countryOfE164(rest) };
  }
  const key = `${homeCountry}|${digits}`;
  const known = nationalNumbers.get(key);
  if (known !== undefined) return known ?? { called: raw, country: undefined };
  const parsed = parsePhoneNumberFromString(digits, homeCountry as CountryCode);
  const result = parsed === undefined ? null : { called: parsed.number, country: parsed.country };
  remember(nationalNumbers, key, result);
  return result ?? { called: raw, country: undefined };
}

// ---------------------------------------------------------------------------------------------
// the record

/** Fields with a meaning of their own; every other top-level field goes under `attrs`. */
const KNOWN_FIELDS: ReadonlySet<string> = new Set([
  'id', 'ts', 'account', 'subscription', 'caller', 'called', 'service', 'duration', 'answered', 'cost',
  'currency', 'trunk', 'provider', 'direction', 'origin', 'device', 'attrs',
  // Derived: recomputed from the fields above, so a record Vigil wrote can be read again.
  'called_raw', 'country', 'hour', 'weekday', 'minuteOfDay', 'group',
]);
const SERVICE_SET: ReadonlySet<string> = new Set(SERVICES);
const CURRENCY = /^[A-Z]{3}$/;
const ALPHA2 = /^[A-Z]{2}$/;
const SCALAR = 'a string, number or boolean';
const ATTRS = 'an object of string, number or boolean values';

type Input = Record<string, unknown>;

/**
 * A string field. A finite number is accepted and converted (`"4930…"` and `4930…` are the same
 * caller; JSON producers and spreadsheets drop the quotes), as is null or "" for "absent".
 */
function optionalString (o: Input, field: string): string | undefined {
  const v = o[field];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  throw new InvalidRecordError(field, 'a string', v);
}

function optionalNumber (o: Input, field: string): number | undefined {
  const v = o[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new InvalidRecordError(field, 'a finite number >= 0', v);
  return v;
}

function optionalCode (o: Input, field: string, pattern: RegExp, expected: string): string | undefined {
  const v = o[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || !pattern.test(v)) throw new InvalidRecordError(field, expected, v);
  return v;
}

function isScalar (v: unknown): v is AttrValue {
  return typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
}

function parseAttrs (o: Input): Record<string, AttrValue> | undefined {
  const given = o.attrs;
  let attrs: Record<string, AttrValue> | undefined;
  if (given !== undefined && given !== null) {
    if (typeof given !== 'object' || Array.isArray(given)) throw new InvalidRecordError('attrs', ATTRS, given);
    for (const name in given) {
      const v = (given as Input)[name];
      if (v === undefined || v === null) continue;
      if (name === '__proto__') throw new InvalidRecordError(`attrs.${name}`, 'a name other than __proto__', v);
      if (!isScalar(v)) throw new InvalidRecordError(`attrs.${name}`, SCALAR, v);
      (attrs ??= {})[name] = v;
    }
  }
  // for…in, not Object.keys: no array per record. JSON.parse and msgpack give plain objects.
  for (const name in o) {
    if (KNOWN_FIELDS.has(name)) continue;
    const v = o[name];
    if (v === undefined || v === null) continue;
    if (name === '__proto__') throw new InvalidRecordError(name, 'a field name other than __proto__', v);
    if (!isScalar(v)) throw new InvalidRecordError(name, `${SCALAR} (unknown fields are kept under attrs)`, v);
    attrs ??= {};
    // `attrs.NAME` given explicitly wins over a top-level NAME.
    if (!(name in attrs)) attrs[name] = v;
  }
  return attrs;
}

/**
 * The text a derived id is the hash of: every given field in a fixed order, `called` as
 * received (so that changing `home_country` does not change ids) and attrs sorted by name.
 * The `v1` tag makes a future change of this form a visible, deliberate one.
 */
function canonicalText (r: Omit<UsageRecord, 'id' | 'hour' | 'weekday' | 'minuteOfDay' | 'group' | 'country'>): string {
  const attrs = r.attrs === undefined ? null : Object.keys(r.attrs).sort().map((k) => [k, (r.attrs as Record<string, AttrValue>)[k]]);
  return JSON.stringify(['v1', r.ts, r.account, r.subscription ?? null, r.caller ?? null, r.called_raw ?? null, r.service,
    r.duration, r.answered, r.cost ?? null, r.currency ?? null, r.trunk ?? null, r.provider ?? null, r.direction,
    r.origin ?? null, r.device ?? null, attrs]);
}

/**
 * Validates one raw record (decoded JSON, CSV row or MessagePack map), normalizes `called`
 * and computes the derived fields. Throws InvalidRecordError naming the first bad field, in
 * the order of records.md's table (but `service` before `called`, whose need depends on it).
 * null means absent, for every field; a derived field in the input is ignored and computed.
 */
export function parseUsageRecord (input: unknown, ctx: RecordContext): UsageRecord {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new InvalidRecordError('record', 'an object', input);
  const o = input as Input;

  const givenId = optionalString(o, 'id');
  if (o.ts === undefined || o.ts === null) throw new InvalidRecordError('ts', TS_EXPECTED, undefined);
  const ts = parseTimestamp(o.ts);
  const givenAccount = o.account;
  const account = typeof givenAccount === 'string' ? givenAccount : typeof givenAccount === 'number' && Number.isFinite(givenAccount) ? String(givenAccount) : '';
  if (account.trim() === '') throw new InvalidRecordError('account', 'a non-empty string', givenAccount);
  const subscription = optionalString(o, 'subscription');
  const caller = optionalString(o, 'caller');

  const givenService = o.service;
  let service: Service = 'voice';
  if (givenService !== undefined && givenService !== null) {
    if (typeof givenService !== 'string' || !SERVICE_SET.has(givenService)) throw new InvalidRecordError('service', `one of ${SERVICES.join(', ')}`, givenService);
    service = givenService as Service;
  }
  const calledRaw = optionalString(o, 'called');
  if (calledRaw === undefined && service !== 'data') throw new InvalidRecordError('called', `a string (required for ${service})`, o.called);

  const duration = optionalNumber(o, 'duration') ?? 0;
  const givenAnswered = o.answered;
  let answered = duration > 0;
  if (givenAnswered !== undefined && givenAnswered !== null) {
    if (givenAnswered === true || givenAnswered === 'true') answered = true;
    else if (givenAnswered === false || givenAnswered === 'false') answered = false;
    else throw new InvalidRecordError('answered', 'a boolean', givenAnswered);
  }
  const cost = optionalNumber(o, 'cost');
  const currency = optionalCode(o, 'currency', CURRENCY, 'an ISO 4217 code (3 uppercase letters)');
  const trunk = optionalString(o, 'trunk');
  const provider = optionalString(o, 'provider');
  const givenDirection = o.direction;
  let direction: Direction = 'out';
  if (givenDirection !== undefined && givenDirection !== null) {
    if (givenDirection !== 'out' && givenDirection !== 'in') throw new InvalidRecordError('direction', `one of ${DIRECTIONS.join(', ')}`, givenDirection);
    direction = givenDirection;
  }
  const origin = optionalCode(o, 'origin', ALPHA2, 'an ISO 3166-1 alpha-2 code (2 uppercase letters)');
  const device = optionalString(o, 'device');
  const attrs = parseAttrs(o);

  const local = ctx.zone.local(ts);
  const record: UsageRecord = {
    id: '',
    ts,
    account,
    service,
    duration,
    answered,
    direction,
    hour: local.hour,
    weekday: WEEKDAYS[local.weekday] as Weekday,
    minuteOfDay: local.minuteOfDay,
    group: ctx.groupsOf(account),
  };
  if (subscription !== undefined) record.subscription = subscription;
  if (caller !== undefined) record.caller = caller;
  if (calledRaw !== undefined) {
    const { called, country } = normalizeCalled(calledRaw, ctx.homeCountry);
    record.called = called;
    record.called_raw = calledRaw;
    if (country !== undefined) record.country = country;
  }
  if (cost !== undefined) record.cost = cost;
  if (currency !== undefined) record.currency = currency;
  if (trunk !== undefined) record.trunk = trunk;
  if (provider !== undefined) record.provider = provider;
  if (origin !== undefined) record.origin = origin;
  if (device !== undefined) record.device = device;
  if (attrs !== undefined) record.attrs = attrs;
  record.id = givenId ?? stableId(canonicalText(record));
  return record;
}
