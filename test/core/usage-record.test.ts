// parseUsageRecord against shared/spec/records.md: one row per kind of bad input with its exact
// message and field, the defaults, `called` normalization with and without a home country,
// the country of a number, derived ids, and the derived local-time fields across DST.
// Run: npx tsc -p tsconfig.json && node dist/test/core/usage-record.test.js
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parsePhoneNumberFromString } from 'libphonenumber-js/min';
import metadata from 'libphonenumber-js/min/metadata';
import { InvalidRecordError } from '../../core/errors.js';
import { stableId } from '../../core/hash.js';
import { parseUsageRecord, MAX_RECORD_BYTES } from '../../core/usage-record.js';
import { countryOfE164, normalizeCalled } from '../../core/e164.js';
import { parseTimestamp } from '../../core/timestamp.js';
import type { RecordContext, UsageRecord } from '../../core/usage-record.js';
import { Zone } from '../../core/zone.js';
import { digits, mulberry32 } from '../helpers/prng.js';

const BERLIN = new Zone('Europe/Berlin');
const GROUPS = new Map<string, readonly string[]>([['A1', ['vip', 'de']]]);
const NONE: readonly string[] = [];
const groupsOf = (account: string): readonly string[] => GROUPS.get(account) ?? NONE;
const CTX: RecordContext = { zone: BERLIN, groupsOf };
const DE: RecordContext = { zone: BERLIN, homeCountry: 'DE', groupsOf };

const BASE = { ts: '2026-07-01T10:00:00Z', account: 'A1', called: '+252612345678' };

function parse (over: Record<string, unknown>, ctx = CTX): UsageRecord {
  return parseUsageRecord({ ...BASE, ...over }, ctx);
}

/** Asserts that parsing throws InvalidRecordError with exactly this field and message. */
function rejects (input: unknown, field: string, message: string, ctx = CTX): void {
  try {
    parseUsageRecord(input, ctx);
  } catch (err) {
    assert.instance(err, InvalidRecordError);
    const e = err as InvalidRecordError;
    assert.is(e.code, 'VIGIL_INVALID_RECORD');
    assert.is(e.message, message);
    assert.is(e.field, field);
    return;
  }
  assert.unreachable(`accepted ${JSON.stringify(input)}`);
}

// ---------------------------------------------------------------------------------------------

const bad = suite('core/usage-record: bad records');

const TS = 'record.ts must be an ISO 8601 time with an offset or epoch milliseconds';
const TS_RANGE = 'record.ts must be a time from 1973-03-03T09:46:40Z to 9999-12-31T23:59:59.999Z';
const UNICODE = 'Unicode text (a lone surrogate such as \\ud800 is none)';
const ROWS: Array<[string, unknown, string, string]> = [
  ['a number instead of an object', 42, 'record', 'record must be an object, got 42'],
  ['an array instead of an object', [1], 'record', 'record must be an object, got [1]'],
  ['null instead of an object', null, 'record', 'record must be an object, got null'],
  ['missing ts', { account: 'A1', called: '+49' }, 'ts', `${TS}, got nothing`],
  ['ts null', { ...BASE, ts: null }, 'ts', `${TS}, got nothing`],
  ['ts without an offset', { ...BASE, ts: '2026-07-01T10:00:00' }, 'ts', 'record.ts must be an ISO 8601 time with an offset (Z or ±HH:MM), got "2026-07-01T10:00:00"'],
  ['ts with fractions but no offset', { ...BASE, ts: '2026-07-01T10:00:00.250' }, 'ts', 'record.ts must be an ISO 8601 time with an offset (Z or ±HH:MM), got "2026-07-01T10:00:00.250"'],
  ['ts that is not a time', { ...BASE, ts: 'yesterday' }, 'ts', `${TS}, got "yesterday"`],
  ['ts that is a date only', { ...BASE, ts: '2026-07-01' }, 'ts', `${TS}, got "2026-07-01"`],
  ['ts on a day that does not exist', { ...BASE, ts: '2025-02-29T10:00:00Z' }, 'ts', `${TS}, got "2025-02-29T10:00:00Z"`],
  ['ts at hour 24', { ...BASE, ts: '2026-07-01T24:00:00Z' }, 'ts', `${TS}, got "2026-07-01T24:00:00Z"`],
  ['ts with a cut-off offset', { ...BASE, ts: '2026-07-01T10:00:00+01:' }, 'ts', `${TS}, got "2026-07-01T10:00:00+01:"`],
  ['ts with trailing text', { ...BASE, ts: '2026-07-01T10:00:00Z!' }, 'ts', `${TS}, got "2026-07-01T10:00:00Z!"`],
  ['ts of the wrong type', { ...BASE, ts: true }, 'ts', `${TS}, got true`],
  ['ts in epoch seconds', { ...BASE, ts: 1_782_900_000 }, 'ts', 'record.ts must be epoch milliseconds (not seconds) >= 100000000000, got 1782900000'],
  ['ts in epoch seconds, as CSV text', { ...BASE, ts: '1782900000' }, 'ts', 'record.ts must be epoch milliseconds (not seconds) >= 100000000000, got "1782900000"'],
  ['ts past year 9999', { ...BASE, ts: 3e14 }, 'ts', 'record.ts must be epoch milliseconds <= 253402300799999 (year 9999), got 300000000000000'],
  // ISO times out of the range epoch milliseconds may take: year 0 used to be accepted with
  // its hour and windows in Intl's 19xx, and a late reason said "1901-01-01T00:53:28+16663824:53.46…".
  ['ts in year 0', { ...BASE, ts: '0000-01-01T00:00:00Z' }, 'ts', `${TS_RANGE}, got "0000-01-01T00:00:00Z"`],
  ['ts in year 1 with the largest offset', { ...BASE, ts: '0001-01-01T00:00:00+23:59' }, 'ts', `${TS_RANGE}, got "0001-01-01T00:00:00+23:59"`],
  ['ts in local mean time (1899)', { ...BASE, ts: '1899-06-01T12:00:00+01:00' }, 'ts', `${TS_RANGE}, got "1899-06-01T12:00:00+01:00"`],
  ['ts before the epoch', { ...BASE, ts: '1969-12-31T23:59:59Z' }, 'ts', `${TS_RANGE}, got "1969-12-31T23:59:59Z"`],
  ['ts one ms before 1973-03-03T09:46:40Z', { ...BASE, ts: '1973-03-03T09:46:39.999Z' }, 'ts', `${TS_RANGE}, got "1973-03-03T09:46:39.999Z"`],
  // A MessagePack timestamp decodes to a Date, which the reason showed as an ISO text without saying what was wrong with it.
  ['ts that is a Date (a MessagePack timestamp)', { ...BASE, ts: new Date('2026-07-01T10:00:00Z') }, 'ts', `${TS}, not a MessagePack timestamp, got "2026-07-01T10:00:00.000Z"`],
  ['ts past year 9999 by its offset', { ...BASE, ts: '9999-12-31T23:59:59-23:59' }, 'ts', `${TS_RANGE}, got "9999-12-31T23:59:59-23:59"`],
  // A lone surrogate has no UTF-8 form: MessagePack (threads, LMDB, NATS) turned it into U+FFFD,
  // so --threads 1 wrote other record ids and counted other keys than --threads 0.
  ['an id holding a lone surrogate', { ...BASE, id: '\ud800' }, 'id', `record.id must be ${UNICODE}, got "\\ud800"`],
  ['an account holding a lone low surrogate', { ...BASE, account: 'a\udc00' }, 'account', `record.account must be ${UNICODE}, got "a\\udc00"`],
  ['a caller ending in half an emoji', { ...BASE, caller: '+49\ud83d' }, 'caller', `record.caller must be ${UNICODE}, got "+49\\ud83d"`],
  ['a called with its surrogates swapped', { ...BASE, called: '\ude00\ud83d' }, 'called', `record.called must be ${UNICODE}, got "\\ude00\\ud83d"`],
  ['a trunk holding a lone surrogate', { ...BASE, trunk: 't\ud800t' }, 'trunk', `record.trunk must be ${UNICODE}, got "t\\ud800t"`],
  ['an attrs value holding a lone surrogate', { ...BASE, attrs: { tier: '\udfff' } }, 'attrs.tier', `record.attrs.tier must be ${UNICODE}, got "\\udfff"`],
  ['an attrs name holding a lone surrogate', { ...BASE, attrs: { 'x\ud800': 1 } }, 'attrs', `record.attrs must be an object whose names are ${UNICODE}, got "x\\ud800"`],
  ['an unknown field holding a lone surrogate', { ...BASE, note: '\ud800' }, 'note', `record.note must be ${UNICODE}, got "\\ud800"`],
  ['an unknown field named with a lone surrogate', { ...BASE, '\ud800': 'x' }, 'record', `record must be an object whose field names are ${UNICODE}, got "\\ud800"`],
  ['missing account', { ts: BASE.ts, called: '+49' }, 'account', 'record.account must be a non-empty string, got nothing'],
  ['empty account', { ...BASE, account: '' }, 'account', 'record.account must be a non-empty string, got ""'],
  ['blank account', { ...BASE, account: '  ' }, 'account', 'record.account must be a non-empty string, got "  "'],
  ['account of the wrong type', { ...BASE, account: { id: 1 } }, 'account', 'record.account must be a non-empty string, got {"id":1}'],
  ['id of the wrong type', { ...BASE, id: {} }, 'id', 'record.id must be a string, got {}'],
  ['subscription of the wrong type', { ...BASE, subscription: true }, 'subscription', 'record.subscription must be a string, got true'],
  ['caller of the wrong type', { ...BASE, caller: ['+49'] }, 'caller', 'record.caller must be a string, got ["+49"]'],
  ['bad service', { ...BASE, service: 'fax' }, 'service', 'record.service must be one of voice, sms, data, got "fax"'],
  ['service in capitals', { ...BASE, service: 'SMS' }, 'service', 'record.service must be one of voice, sms, data, got "SMS"'],
  ['called missing for voice (the default service)', { ts: BASE.ts, account: 'A1' }, 'called', 'record.called must be a string (required for voice), got nothing'],
  ['called missing for sms', { ts: BASE.ts, account: 'A1', service: 'sms' }, 'called', 'record.called must be a string (required for sms), got nothing'],
  ['called empty for sms', { ts: BASE.ts, account: 'A1', service: 'sms', called: '' }, 'called', 'record.called must be a string (required for sms), got ""'],
  ['called of the wrong type', { ...BASE, called: { n: 1 } }, 'called', 'record.called must be a string, got {"n":1}'],
  ['negative duration', { ...BASE, duration: -1 }, 'duration', 'record.duration must be a finite number >= 0, got -1'],
  ['duration as text', { ...BASE, duration: '30' }, 'duration', 'record.duration must be a finite number >= 0, got "30"'],
  ['answered of the wrong type', { ...BASE, answered: 'yes' }, 'answered', 'record.answered must be a boolean, got "yes"'],
  ['answered as a number', { ...BASE, answered: 1 }, 'answered', 'record.answered must be a boolean, got 1'],
  ['negative cost', { ...BASE, cost: -0.5 }, 'cost', 'record.cost must be a finite number >= 0, got -0.5'],
  ['cost as text', { ...BASE, cost: '0.5' }, 'cost', 'record.cost must be a finite number >= 0, got "0.5"'],
  ['currency in lowercase', { ...BASE, currency: 'eur' }, 'currency', 'record.currency must be an ISO 4217 code (3 uppercase letters), got "eur"'],
  ['currency of the wrong type', { ...BASE, currency: 978 }, 'currency', 'record.currency must be an ISO 4217 code (3 uppercase letters), got 978'],
  ['trunk of the wrong type', { ...BASE, trunk: false }, 'trunk', 'record.trunk must be a string, got false'],
  ['provider of the wrong type', { ...BASE, provider: {} }, 'provider', 'record.provider must be a string, got {}'],
  ['bad direction', { ...BASE, direction: 'both' }, 'direction', 'record.direction must be one of out, in, got "both"'],
  ['origin of three letters', { ...BASE, origin: 'DEU' }, 'origin', 'record.origin must be an ISO 3166-1 alpha-2 code (2 uppercase letters), got "DEU"'],
  ['device of the wrong type', { ...BASE, device: [1] }, 'device', 'record.device must be a string, got [1]'],
  ['attrs that is not an object', { ...BASE, attrs: [1, 2] }, 'attrs', 'record.attrs must be an object of string, number or boolean values, got [1,2]'],
  ['attrs as text', { ...BASE, attrs: 'tier=gold' }, 'attrs', 'record.attrs must be an object of string, number or boolean values, got "tier=gold"'],
  ['attrs with an object value', { ...BASE, attrs: { tier: { level: 1 } } }, 'attrs.tier', 'record.attrs.tier must be a string, number or boolean, got {"level":1}'],
  ['attrs with an array value', { ...BASE, attrs: { tags: ['a'] } }, 'attrs.tags', 'record.attrs.tags must be a string, number or boolean, got ["a"]'],
  ['an unknown field with an object value', { ...BASE, cell: { lac: 1 } }, 'cell', 'record.cell must be a string, number or boolean (unknown fields are kept under attrs), got {"lac":1}'],
  ['an unknown field with an array value', { ...BASE, hops: [1, 2] }, 'hops', 'record.hops must be a string, number or boolean (unknown fields are kept under attrs), got [1,2]'],
  ['an unknown field named __proto__', JSON.parse('{"ts":"2026-07-01T10:00:00Z","account":"A1","called":"+49","__proto__":"x"}'), '__proto__', 'record.__proto__ must be a field name other than __proto__, got "x"'],
  // Nested deeper than JSON.stringify (or String()) can go: the message used to be "Maximum
  // call stack size exceeded", or "got [object Object]".
  ['a record nested 20,000 arrays deep', JSON.parse(`${'['.repeat(20_000)}${']'.repeat(20_000)}`), 'record', `record must be an object, got ${'['.repeat(59)}…`],
  ['an unknown field nested 20,000 arrays deep', { ...BASE, x: JSON.parse(`${'['.repeat(20_000)}${']'.repeat(20_000)}`) }, 'x', `record.x must be a string, number or boolean (unknown fields are kept under attrs), got ${'['.repeat(59)}…`],
  ['an attrs value nested 20,000 objects deep', { ...BASE, attrs: { x: JSON.parse(`${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`) } }, 'attrs.x', `record.attrs.x must be a string, number or boolean, got ${'{"a":'.repeat(12).slice(0, 59)}…`],
  ['an attrs value holding a 64-bit integer (MessagePack)', { ...BASE, attrs: { n: { v: 2n ** 64n } } }, 'attrs.n', 'record.attrs.n must be a string, number or boolean, got {"v":18446744073709551616n}'],
];

for (const [name, input, field, message] of ROWS) {
  bad(`rejects ${name}`, () => rejects(input, field, message));
}

bad('clips a long value in the message', () => {
  rejects({ ...BASE, ts: 'x'.repeat(1000) }, 'ts', `${TS}, got "${'x'.repeat(58)}…`);
});

bad('reports the first bad field in the order of the spec table', () => {
  rejects({ account: '', duration: -1 }, 'ts', `${TS}, got nothing`);
  rejects({ ts: BASE.ts, account: '', duration: -1 }, 'account', 'record.account must be a non-empty string, got ""');
});

bad.run();

// ---------------------------------------------------------------------------------------------

const fields = suite('core/usage-record: fields and defaults');

fields('applies the defaults of the spec table', () => {
  const r = parse({});
  assert.is(r.service, 'voice');
  assert.is(r.duration, 0);
  assert.is(r.answered, false);
  assert.is(r.direction, 'out');
  assert.is(r.cost, undefined);
  assert.is(r.attrs, undefined);
});

fields('defaults answered to duration > 0, and takes true/false as booleans or CSV text', () => {
  assert.is(parse({ duration: 12 }).answered, true);
  assert.is(parse({ duration: 12, answered: false }).answered, false);
  assert.is(parse({ answered: 'true' }).answered, true);
  assert.is(parse({ duration: 5, answered: 'false' }).answered, false);
});

fields('reads ts as ISO 8601 with Z or an offset, epoch ms, or epoch ms as text', () => {
  const at = Date.UTC(2026, 6, 1, 10, 0, 0);
  assert.is(parse({ ts: '2026-07-01T10:00:00Z' }).ts, at);
  assert.is(parse({ ts: '2026-07-01T12:00:00+02:00' }).ts, at);
  assert.is(parse({ ts: '2026-07-01T06:30:00-0330' }).ts, at);
  assert.is(parse({ ts: '2026-07-01T11:00+01' }).ts, at);
  assert.is(parse({ ts: '2026-07-01 10:00:00.000z' }).ts, at);
  assert.is(parse({ ts: '2026-07-01T10:00:00.123456Z' }).ts, at + 123);
  assert.is(parse({ ts: '2026-07-01T10:00:00,5Z' }).ts, at + 500);
  assert.is(parse({ ts: at }).ts, at);
  assert.is(parse({ ts: String(at) }).ts, at);
  // The ends of the range, as ISO text.
  assert.is(parse({ ts: '1973-03-03T09:46:40Z' }).ts, 100_000_000_000);
  assert.is(parse({ ts: '9999-12-31T23:59:59.999Z' }).ts, 253_402_300_799_999);
  assert.is(parse({ ts: '1973-03-03T10:46:40+01:00' }).ts, 100_000_000_000);
  assert.is(parseTimestamp('2024-02-29T00:00:00Z'), Date.UTC(2024, 1, 29));
});

fields('accepts numbers for string fields (account, id, caller, called)', () => {
  const r = parse({ account: 12345, id: 987, caller: 4930123456, called: 252612345678 });
  assert.is(r.account, '12345');
  assert.is(r.id, '987');
  assert.is(r.caller, '4930123456');
  assert.is(r.called, '+252612345678');
  assert.is(r.called_raw, '252612345678');
});

fields('keeps every given field', () => {
  const r = parse({
    id: 'r-1',
    subscription: 'S1',
    caller: '+4930111',
    service: 'sms',
    duration: 0,
    answered: true,
    cost: 0.09,
    currency: 'EUR',
    trunk: 'T1',
    provider: 'P1',
    direction: 'in',
    origin: 'SO',
    device: '35-209900-176148-1',
  });
  assert.equal({ ...r }, {
    id: 'r-1',
    ts: Date.UTC(2026, 6, 1, 10),
    account: 'A1',
    service: 'sms',
    duration: 0,
    answered: true,
    direction: 'in',
    hour: 12,
    weekday: 'wed',
    minuteOfDay: 720,
    group: ['vip', 'de'],
    subscription: 'S1',
    caller: '+4930111',
    called: '+252612345678',
    called_raw: '+252612345678',
    country: 'SO',
    cost: 0.09,
    currency: 'EUR',
    trunk: 'T1',
    provider: 'P1',
    origin: 'SO',
    device: '35-209900-176148-1',
    // Every record carries every key (one hidden class for the engine); absent ones are undefined.
    attrs: undefined,
  });
  assert.equal(Object.keys(r), ['id', 'ts', 'account', 'subscription', 'caller', 'called', 'called_raw', 'service', 'duration', 'answered',
    'cost', 'currency', 'trunk', 'provider', 'direction', 'origin', 'device', 'attrs', 'country', 'hour', 'weekday', 'minuteOfDay', 'group']);
});

fields('does not need called for data', () => {
  const r = parseUsageRecord({ ts: BASE.ts, account: 'A1', service: 'data', duration: 600 }, CTX);
  assert.is(r.called, undefined);
  assert.is(r.country, undefined);
});

fields('treats null and empty optional text as absent', () => {
  const r = parse({ caller: null, trunk: '', cost: null, attrs: null, answered: null, service: null, id: '' });
  assert.is(r.caller, undefined);
  assert.is(r.trunk, undefined);
  assert.is(r.cost, undefined);
  assert.is(r.service, 'voice');
  assert.match(r.id, /^[0-9a-f]{16}$/);
});

fields('keeps unknown scalar fields under attrs; explicit attrs win on a clash', () => {
  const r = parse({ attrs: { tier: 'gold', roaming: false }, tier: 'silver', cell_id: 4711, vip: true, note: null });
  assert.equal(r.attrs, { tier: 'gold', roaming: false, cell_id: 4711, vip: true });
});

// Fields named like a member of Object.prototype are fields like any other (they used to be
// dropped: `name in attrs` saw the prototype's). JSON.parse, as a producer's JSON arrives.
const PROTO_NAMED: Array<[string, string, Record<string, unknown>]> = [
  ['toString', '{"toString":"x"}', { toString: 'x' }],
  ['constructor', '{"constructor":"Object"}', { constructor: 'Object' }],
  ['hasOwnProperty', '{"hasOwnProperty":1}', { hasOwnProperty: 1 }],
  ['valueOf', '{"valueOf":false}', { valueOf: false }],
  ['prototype', '{"prototype":"p"}', { prototype: 'p' }],
  ['isPrototypeOf and __defineGetter__', '{"isPrototypeOf":2,"__defineGetter__":"g"}', { isPrototypeOf: 2, __defineGetter__: 'g' }],
  ['constructor under attrs and at the top (attrs win)', '{"attrs":{"constructor":"a"},"constructor":"top"}', { constructor: 'a' }],
];
for (const [name, extra, attrs] of PROTO_NAMED) {
  fields(`keeps an unknown field named ${name} under attrs`, () => {
    const input = JSON.parse(`{"ts":"2026-07-01T10:00:00Z","account":"A1","called":"+252612345678",${extra.slice(1)}`) as Record<string, unknown>;
    const r = parseUsageRecord(input, CTX);
    assert.equal(r.attrs, attrs);
    assert.ok(Object.keys(attrs).every((k) => Object.hasOwn(r.attrs!, k)));
  });
}

fields('ignores derived fields in the input and computes them', () => {
  const r = parse({ country: 'XX', hour: 99, weekday: 'fri', minuteOfDay: -1, group: ['x'], called_raw: 'nope' });
  assert.is(r.country, 'SO');
  assert.is(r.hour, 12);
  assert.is(r.weekday, 'wed');
  assert.equal(r.group, ['vip', 'de']);
  assert.is(r.called_raw, '+252612345678');
  assert.is(r.attrs, undefined);
});

fields('exports the record size limit', () => {
  assert.is(MAX_RECORD_BYTES, 65536);
});

fields.run();

// ---------------------------------------------------------------------------------------------

const ids = suite('core/usage-record: record ids');

ids('keeps a given id', () => {
  assert.is(parse({ id: 'cdr-0001' }).id, 'cdr-0001');
});

ids('derives a 16-hex-digit id that is the same on every run for the same content', () => {
  const a = parse({ duration: 30, attrs: { b: 1, a: 'x' } });
  const b = parse({ attrs: { a: 'x', b: 1 }, duration: 30 });
  assert.match(a.id, /^[0-9a-f]{16}$/);
  assert.is(a.id, b.id, 'field and attr order do not matter');
  // Pinned: a change of the canonical form changes every derived id, so it must be deliberate.
  const canonical = '["v1",1782900000000,"A1",null,null,"+252612345678","voice",0,false,null,null,null,null,"out",null,null,null]';
  assert.is(stableId(canonical), '77f574efbec3f1d7');
  assert.is(parseUsageRecord({ ts: '2026-07-01T10:00:00Z', account: 'A1', called: '+252612345678' }, CTX).id, '77f574efbec3f1d7');
});

ids('derives the same id for the same instant written as ISO or epoch ms, and for any home country', () => {
  const iso = parse({ ts: '2026-07-01T12:00:00+02:00', called: '00252612345678' }, DE);
  const epoch = parse({ ts: Date.UTC(2026, 6, 1, 10), called: '00252612345678' }, CTX);
  assert.is(iso.id, epoch.id);
  assert.is.not(iso.called, epoch.called);
});

ids('derives different ids for records that differ in any field', () => {
  const seen = new Set<string>();
  const variants = [{}, { duration: 1 }, { answered: true }, { caller: '+4930' }, { called: '+252612345679' }, { account: 'A2' },
    { ts: '2026-07-01T10:00:00.001Z' }, { service: 'sms' }, { cost: 0 }, { currency: 'EUR' }, { trunk: 'T' }, { provider: 'P' },
    { direction: 'in' }, { origin: 'DE' }, { device: 'd' }, { subscription: 's' }, { attrs: { a: 1 } }, { attrs: { a: '1' } }];
  for (const v of variants) seen.add(parse(v).id);
  assert.is(seen.size, variants.length);
});

ids.run();

// ---------------------------------------------------------------------------------------------

const called = suite('core/usage-record: called normalized to E.164');

const CALLED: Array<[string, string, string | undefined, string, string | undefined]> = [
  // [description, raw, home country, called, country]
  ['+ stays as it is', '+252612345678', undefined, '+252612345678', 'SO'],
  ['+ with spaces, dashes and parentheses', '+1 (416) 555-0123', undefined, '+14165550123', 'CA'],
  ['+ stays as it is with a home country', '+49301234567', 'DE', '+49301234567', 'DE'],
  ['DE: 00 + calling code', '0049301234567', 'DE', '+49301234567', 'DE'],
  ['DE: 00 + a foreign calling code', '00252612345678', 'DE', '+252612345678', 'SO'],
  ['DE: national with area code and a space', '030 1234567', 'DE', '+49301234567', 'DE'],
  ['DE: national mobile', '0170-1234567', 'DE', '+491701234567', 'DE'],
  ['DE: premium rate 0900', '09001234567', 'DE', '+499001234567', 'DE'],
  ['DE: 00 + US', '0012125550123', 'DE', '+12125550123', 'US'],
  ['US: 011 is the international prefix', '011442079460000', 'US', '+442079460000', 'GB'],
  ['US: a national number', '(212) 555-0123', 'US', '+12125550123', 'US'],
  ['no home country: E.164 digits without +', '252612345678', undefined, '+252612345678', 'SO'],
  ['no home country: a leading 0 is not E.164, kept', '0049301234567', undefined, '0049301234567', undefined],
  ['an alphanumeric SMS sender is kept', 'AMAZON', undefined, 'AMAZON', undefined],
  ['a SIP URI is kept', 'sip:201@pbx.example', 'DE', 'sip:201@pbx.example', undefined],
  ['a + in the middle is kept', '49+301234', undefined, '49+301234', undefined],
];

for (const [name, raw, home, want, country] of CALLED) {
  called(name, () => {
    const r = parse({ called: raw }, home === undefined ? CTX : { ...CTX, homeCountry: home });
    assert.is(r.called, want);
    assert.is(r.called_raw, raw);
    assert.is(r.country, country);
  });
}

called('gives the same answer from its memo as on first sight', () => {
  for (let i = 0; i < 3; i++) {
    assert.equal(normalizeCalled('030 1234567', 'DE'), { called: '+49301234567', country: 'DE' });
    assert.equal(normalizeCalled('4711', 'DE'), { called: '+494711', country: 'DE' });
  }
});

called('reads a national number in every home plan as libphonenumber-js parsePhoneNumberFromString does', () => {
  // normalizeCalled reads a national number itself for a home country that has its calling
  // code to itself; this holds it to the library for random numbers that start with a
  // national prefix, the home calling code, 00 or anything, in every plan.
  const rnd = mulberry32(20261203);
  const plans = metadata.countries as unknown as Record<string, [string, string, ...unknown[]]>;
  let n = 0;
  for (const [home, plan] of Object.entries(plans)) {
    const [code, idd] = plan;
    const international = new RegExp(`^(?:${idd})`);
    for (let k = 0; k < 120; k++) {
      const r = rnd();
      const lead = r < 0.3 ? '0' : r < 0.5 ? code : r < 0.6 ? '00' : r < 0.65 ? `0${code}` : '';
      const d = lead + digits(rnd, Math.floor(rnd() * 16));
      const m = international.exec(d);
      // An international prefix and a calling code: E.164 as written, not the library's reading.
      if (d === '' || (m !== null && d.length > m[0].length && d[m[0].length] !== '0')) continue;
      const parsed = parsePhoneNumberFromString(d, home as Parameters<typeof parsePhoneNumberFromString>[1]);
      const want = parsed === undefined ? { called: d, country: undefined } : { called: parsed.number, country: parsed.country };
      assert.equal(normalizeCalled(d, home), want, `${home} ${d}`);
      n++;
    }
  }
  assert.ok(n > 15_000);
});

called('refuses a home country without a numbering plan', () => {
  assert.throws(() => normalizeCalled('030 1234567', 'XX'), /home country must be a country with a numbering plan, got "XX"/);
});

called.run();

// ---------------------------------------------------------------------------------------------

const country = suite('core/usage-record: country of a number');

const COUNTRIES: Array<[string, string | undefined]> = [
  ['+252612345678', 'SO'], // a single-country code: no validation needed
  ['+252901234567', 'SO'], // premium-style range, still Somalia
  ['+66812345678', 'TH'],
  ['+2348031234567', 'NG'],
  ['+442079460000', 'GB'],
  ['+447400123456', 'GB'],
  ['+447781123456', 'GG'], // +44 shared with Guernsey, Jersey, Isle of Man
  ['+49301234567', 'DE'],
  ['+12125550123', 'US'], // +1: US against CA by area code
  ['+14165550123', 'CA'],
  ['+16045550123', 'CA'],
  ['+18765550123', 'JM'],
  ['+18095550123', 'DO'],
  ['+12845550123', 'VG'],
  ['+79161234567', 'RU'],
  ['+77011234567', 'KZ'],
  ['+5351234567', 'CU'],
  ['+37190123456', 'LV'],
  ['+881612345678', undefined], // satellite: no country
  ['+882345678901', undefined], // international networks: no country
  ['+4412345', undefined], // +44, too short for any of its countries
  ['+2521', undefined], // national part shorter than 2 digits
  ['+999123456', undefined], // no such calling code
];

for (const [number, want] of COUNTRIES) {
  country(`${number} is ${want ?? 'no country'}`, () => {
    assert.is(parse({ called: number }).country, want);
  });
}

country('agrees with libphonenumber-js parsePhoneNumberFromString for random numbers of every calling code', () => {
  const rnd = mulberry32(20260701);
  const codes = metadata.country_calling_codes as Record<string, string[]>;
  let n = 0;
  for (const [code, countries] of Object.entries(codes)) {
    const tries = countries.length > 1 ? 400 : 8;
    for (let len = 0; len <= 17; len++) {
      for (let k = 0; k < tries; k++) {
        const d = code + digits(rnd, len);
        assert.is(countryOfE164(d), parsePhoneNumberFromString(`+${d}`)?.country, `+${d}`);
        n++;
      }
    }
  }
  assert.ok(n > 100_000);
});

country.run();

// ---------------------------------------------------------------------------------------------

const local = suite('core/usage-record: derived hour, weekday, minuteOfDay and group in Europe/Berlin');

const LOCAL: Array<[string, string, number, string, number]> = [
  // [what, ts, hour, weekday, minuteOfDay]
  ['winter, UTC+1', '2026-01-15T23:30:00Z', 0, 'fri', 30],
  ['summer, UTC+2', '2026-07-01T21:59:00Z', 23, 'wed', 1439],
  ['the last minute before clocks spring forward', '2026-03-29T00:59:00Z', 1, 'sun', 119],
  ['the first minute after (02:00 does not exist)', '2026-03-29T01:00:00Z', 3, 'sun', 180],
  ['02:30 the first time, clocks falling back', '2026-10-25T00:30:00Z', 2, 'sun', 150],
  ['02:30 the second time', '2026-10-25T01:30:00Z', 2, 'sun', 150],
  ['Sunday night to Monday', '2026-10-25T23:00:00Z', 0, 'mon', 0],
  ['an offset in the input changes nothing', '2026-07-01T00:00:00-05:00', 7, 'wed', 420],
];

for (const [what, ts, hour, weekday, minuteOfDay] of LOCAL) {
  local(what, () => {
    const r = parse({ ts });
    assert.equal([r.hour, r.weekday, r.minuteOfDay], [hour, weekday, minuteOfDay]);
  });
}

local('group comes from the context', () => {
  assert.equal(parse({ account: 'A1' }).group, ['vip', 'de']);
  assert.equal(parse({ account: 'A2' }).group, []);
});

local('UTC needs no offset lookups', () => {
  const r = parseUsageRecord({ ...BASE, ts: '2026-07-01T23:59:00+00:00' }, { zone: new Zone('UTC'), groupsOf });
  assert.equal([r.hour, r.weekday, r.minuteOfDay], [23, 'wed', 1439]);
});

local.run();
