/**
 * A usage record (CDR) after validation, normalization and derivation: the one shape every
 * rule sees. See ../shared/spec/records.md. Field names follow the spec (`called_raw`), so a
 * rule's `by` and `where` name them as written there.
 */
import { InvalidRecordError } from './errors.js';
import { stableId } from './hash.js';
import { TS_EXPECTED, parseTimestamp } from './timestamp.js';
import { normalizeCalled } from './e164.js';
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
// the record

/** Fields with a meaning of their own; every other top-level field goes under `attrs`. */
const KNOWN_FIELDS: ReadonlySet<string> = new Set([
  'id', 'ts', 'account', 'subscription', 'caller', 'called', 'service', 'duration', 'answered', 'cost',
  'currency', 'trunk', 'provider', 'direction', 'origin', 'device', 'attrs',
  // Derived: recomputed from the fields above, so a record Vigil wrote can be read again.
  'called_raw', 'country', 'hour', 'weekday', 'minuteOfDay', 'group',
]);
const SERVICE_SET: ReadonlySet<string> = new Set(SERVICES);
const SCALAR = 'a string, number or boolean';
const ATTRS = 'an object of string, number or boolean values';

type Input = Record<string, unknown>;

const UNICODE = 'Unicode text (a lone surrogate such as \\ud800 is none)';

/**
 * `s`, when it is Unicode text. A UTF-16 surrogate without its pair (JSON may write one,
 * `"\ud800"`) has no UTF-8 form: MessagePack, which carries records to shard threads, into
 * LMDB and over NATS, turned it into U+FFFD, so a threaded run counted another key and wrote
 * another record id than the single-threaded core. isWellFormed is native, and constant time
 * on the one-byte strings most texts are.
 */
function unicode (s: string, field: string): string {
  if (!s.isWellFormed()) throw new InvalidRecordError(field, UNICODE, s);
  return s;
}

/**
 * A string field. A finite number is accepted and converted (`"4930…"` and `4930…` are the same
 * caller; JSON producers and spreadsheets drop the quotes), as is null or "" for "absent".
 */
function optionalString (v: unknown, field: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'string') return unicode(v, field);
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  throw new InvalidRecordError(field, 'a string', v);
}

function optionalNumber (v: unknown, field: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new InvalidRecordError(field, 'a finite number >= 0', v);
  return v;
}

/** Three uppercase ASCII letters, by hand: a regex test costs more than the record's other checks. */
function isCurrency (v: string): boolean {
  if (v.length !== 3) return false;
  const a = v.charCodeAt(0); const b = v.charCodeAt(1); const c = v.charCodeAt(2);
  return a >= 65 && a <= 90 && b >= 65 && b <= 90 && c >= 65 && c <= 90;
}

function isAlpha2 (v: string): boolean {
  if (v.length !== 2) return false;
  const a = v.charCodeAt(0); const b = v.charCodeAt(1);
  return a >= 65 && a <= 90 && b >= 65 && b <= 90;
}

function optionalCode (v: unknown, field: string, test: (v: string) => boolean, expected: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || !test(v)) throw new InvalidRecordError(field, expected, v);
  return v;
}

function isScalar (v: unknown): v is AttrValue {
  return typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
}

/** `given` is the record's `attrs`; `unknown` says whether the record has fields outside KNOWN_FIELDS. */
function parseAttrs (o: Input, given: unknown, unknown: boolean): Record<string, AttrValue> | undefined {
  let attrs: Record<string, AttrValue> | undefined;
  if (given !== undefined && given !== null) {
    if (typeof given !== 'object' || Array.isArray(given)) throw new InvalidRecordError('attrs', ATTRS, given);
    for (const name in given) {
      const v = (given as Input)[name];
      if (v === undefined || v === null) continue;
      if (name === '__proto__') throw new InvalidRecordError(`attrs.${name}`, 'a name other than __proto__', v);
      if (!isScalar(v)) throw new InvalidRecordError(`attrs.${name}`, SCALAR, v);
      if (!name.isWellFormed()) throw new InvalidRecordError('attrs', `an object whose names are ${UNICODE}`, name);
      if (typeof v === 'string' && !v.isWellFormed()) throw new InvalidRecordError(`attrs.${name}`, UNICODE, v);
      (attrs ??= {})[name] = v;
    }
  }
  if (!unknown) return attrs;
  // for…in, not Object.keys: no array per record. JSON.parse and msgpack give plain objects.
  for (const name in o) {
    if (KNOWN_FIELDS.has(name)) continue;
    const v = o[name];
    if (v === undefined || v === null) continue;
    if (name === '__proto__') throw new InvalidRecordError(name, 'a field name other than __proto__', v);
    if (!isScalar(v)) throw new InvalidRecordError(name, `${SCALAR} (unknown fields are kept under attrs)`, v);
    if (!name.isWellFormed()) throw new InvalidRecordError('record', `an object whose field names are ${UNICODE}`, name);
    if (typeof v === 'string' && !v.isWellFormed()) throw new InvalidRecordError(name, UNICODE, v);
    attrs ??= {};
    // `attrs.NAME` given explicitly wins over a top-level NAME. Own keys only: `in` would see
    // Object.prototype's, and drop a field named toString or constructor.
    if (!Object.hasOwn(attrs, name)) attrs[name] = v;
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

  // One pass over the fields the record has, instead of a property read per known field: the
  // records' shapes vary (producers omit fields, order them differently), so each named read
  // would be a megamorphic lookup. Validation below still runs in records.md's order.
  let givenId: unknown; let givenTs: unknown; let givenAccount: unknown; let givenSubscription: unknown;
  let givenCaller: unknown; let givenCalled: unknown; let givenService: unknown; let givenDuration: unknown;
  let givenAnswered: unknown; let givenCost: unknown; let givenCurrency: unknown; let givenTrunk: unknown;
  let givenProvider: unknown; let givenDirection: unknown; let givenOrigin: unknown; let givenDevice: unknown;
  let givenAttrs: unknown;
  let unknown = false;
  for (const name in o) {
    const v = o[name];
    switch (name) {
      case 'ts': givenTs = v; break;
      case 'account': givenAccount = v; break;
      case 'called': givenCalled = v; break;
      case 'service': givenService = v; break;
      case 'duration': givenDuration = v; break;
      case 'caller': givenCaller = v; break;
      case 'subscription': givenSubscription = v; break;
      case 'id': givenId = v; break;
      case 'cost': givenCost = v; break;
      case 'currency': givenCurrency = v; break;
      case 'answered': givenAnswered = v; break;
      case 'trunk': givenTrunk = v; break;
      case 'device': givenDevice = v; break;
      case 'origin': givenOrigin = v; break;
      case 'direction': givenDirection = v; break;
      case 'provider': givenProvider = v; break;
      case 'attrs': givenAttrs = v; break;
      case 'called_raw': case 'country': case 'hour': case 'weekday': case 'minuteOfDay': case 'group': break;
      default: unknown = true;
    }
  }

  const givenIdText = optionalString(givenId, 'id');
  if (givenTs === undefined || givenTs === null) throw new InvalidRecordError('ts', TS_EXPECTED, undefined);
  const ts = parseTimestamp(givenTs);
  const account = typeof givenAccount === 'string' ? unicode(givenAccount, 'account') : typeof givenAccount === 'number' && Number.isFinite(givenAccount) ? String(givenAccount) : '';
  if (account.trim() === '') throw new InvalidRecordError('account', 'a non-empty string', givenAccount);
  const subscription = optionalString(givenSubscription, 'subscription');
  const caller = optionalString(givenCaller, 'caller');

  let service: Service = 'voice';
  if (givenService !== undefined && givenService !== null) {
    if (typeof givenService !== 'string' || !SERVICE_SET.has(givenService)) throw new InvalidRecordError('service', `one of ${SERVICES.join(', ')}`, givenService);
    service = givenService as Service;
  }
  const calledRaw = optionalString(givenCalled, 'called');
  if (calledRaw === undefined && service !== 'data') throw new InvalidRecordError('called', `a string (required for ${service})`, givenCalled);

  const duration = optionalNumber(givenDuration, 'duration') ?? 0;
  let answered = duration > 0;
  if (givenAnswered !== undefined && givenAnswered !== null) {
    if (givenAnswered === true || givenAnswered === 'true') answered = true;
    else if (givenAnswered === false || givenAnswered === 'false') answered = false;
    else throw new InvalidRecordError('answered', 'a boolean', givenAnswered);
  }
  const cost = optionalNumber(givenCost, 'cost');
  const currency = optionalCode(givenCurrency, 'currency', isCurrency, 'an ISO 4217 code (3 uppercase letters)');
  const trunk = optionalString(givenTrunk, 'trunk');
  const provider = optionalString(givenProvider, 'provider');
  let direction: Direction = 'out';
  if (givenDirection !== undefined && givenDirection !== null) {
    if (givenDirection !== 'out' && givenDirection !== 'in') throw new InvalidRecordError('direction', `one of ${DIRECTIONS.join(', ')}`, givenDirection);
    direction = givenDirection;
  }
  const origin = optionalCode(givenOrigin, 'origin', isAlpha2, 'an ISO 3166-1 alpha-2 code (2 uppercase letters)');
  const device = optionalString(givenDevice, 'device');
  const attrs = givenAttrs === undefined && !unknown ? undefined : parseAttrs(o, givenAttrs, unknown);

  const local = ctx.zone.local(ts);
  let called: string | undefined;
  let country: string | undefined;
  if (calledRaw !== undefined) ({ called, country } = normalizeCalled(calledRaw, ctx.homeCountry));
  // Every record has every key, absent ones undefined, in one order: one hidden class, so the
  // engine's filters, keys and measures read each field with a monomorphic load (records of a
  // dozen shapes made every such read a megamorphic lookup).
  const record = {
    id: '',
    ts,
    account,
    subscription,
    caller,
    called,
    called_raw: calledRaw,
    service,
    duration,
    answered,
    cost,
    currency,
    trunk,
    provider,
    direction,
    origin,
    device,
    attrs,
    country,
    hour: local.hour,
    weekday: WEEKDAYS[local.weekday] as Weekday,
    minuteOfDay: local.minuteOfDay,
    group: ctx.groupsOf(account),
  } as UsageRecord;
  record.id = givenIdText ?? stableId(canonicalText(record));
  return record;
}
