// Ingest.prepare on raw values no JSON text came with (a caller that passes no `text`): the
// reject's raw is the value written out, clipped, whatever the value; prepare never throws.
// Run: npx tsc -p tsconfig.json && node dist/test/core/ingest.test.js
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { compileRules } from '../../core/compile.js';
import { Ingest } from '../../core/ingest.js';
import type { KeyPart } from '../../core/rules-config.js';
import { rule, rules } from '../helpers/config.js';

const DEEP = 20_000;
const deepArray = (): unknown => JSON.parse(`${'['.repeat(DEEP)}${']'.repeat(DEEP)}`);

const test = suite('core/ingest: rejects of values without their text');

// [name, raw value, reason, raw as the reject carries it]
const ROWS: Array<[string, unknown, string, string]> = [
  ['a number', 42, 'record must be an object, got 42', '42'],
  ['an object without ts', { account: 'A1' }, 'record.ts must be an ISO 8601 time with an offset or epoch milliseconds, got nothing', '{"account":"A1"}'],
  // JSON.stringify and String() both overflow the stack on these: prepare used to throw.
  ['arrays nested 20,000 deep', deepArray(), `record must be an object, got ${'['.repeat(59)}…`, `${'['.repeat(4095)}…`],
  ['a record holding a 64-bit integer', { ts: 2n ** 64n, account: 'A1' }, 'record.ts must be an ISO 8601 time with an offset or epoch milliseconds, got 18446744073709551616n', '{"ts":18446744073709551616n,"account":"A1"}'],
];

for (const [name, raw, reason, clipped] of ROWS) {
  test(`rejects ${name} with its reason and the value as raw`, () => {
    const ingest = new Ingest(compileRules(rules([])));
    const prepared = ingest.prepare(raw, { source: 'nats:vigil.in', seq: 3 });
    assert.equal(prepared, { ok: false, reject: { reason, code: 'VIGIL_INVALID_RECORD', position: { source: 'nats:vigil.in', seq: 3 }, raw: clipped } });
  });
}

test.run();

// ---------------------------------------------------------------------------------------------

// Counter keys over 1024 bytes: LMDB takes keys of at most 1978 bytes, and such a record failed
// every commit of its shard actor until the engine stopped (replay exit 1).
const keys = suite('core/ingest: counter keys longer than MAX_KEY_BYTES');

const field = (name: string): KeyPart => ({ kind: 'field', field: name });
const KEYED = compileRules(rules([
  rule({ id: 'by-account', by: [field('account')] }),
  rule({ id: 'by-pair', by: [field('account'), field('caller')] }),
  rule({ id: 'by-region', by: [field('attrs.region')] }),
  rule({ id: 'by-prefix', by: [{ kind: 'prefix', field: 'called', n: 4 }] }),
]));
const BASE = { ts: 1_782_900_000_000, account: 'A1', called: '+4930123' };
const must = (what: string, rule: string, got: string): string => `record.${what} must be at most 1024 bytes in UTF-8 (the key of rule ${rule}), got ${got}`;

// [name, record, the reject's reason or undefined when accepted]
const KEY_ROWS: Array<[string, Record<string, unknown>, string | undefined]> = [
  ['an account of 1024 ASCII bytes', { ...BASE, account: 'a'.repeat(1024) }, undefined],
  ['an account of 1025 ASCII bytes', { ...BASE, account: 'a'.repeat(1025) }, must('account', 'by-account', `"${'a'.repeat(58)}…`)],
  ['an account of 256 emoji (1024 bytes)', { ...BASE, account: '😀'.repeat(256) }, undefined],
  ['an account of 257 emoji (1028 bytes)', { ...BASE, account: '😀'.repeat(257) }, must('account', 'by-account', `"${'😀'.repeat(29)}…`)],
  ['an account of 342 euro signs (1026 bytes)', { ...BASE, account: '€'.repeat(342) }, must('account', 'by-account', `"${'€'.repeat(58)}…`)],
  ['a caller making the pair key 1025 bytes', { ...BASE, account: 'a'.repeat(500), caller: 'c'.repeat(524) }, must('account|caller', 'by-pair', `"${'a'.repeat(58)}…`)],
  ['an attribute that is a key, 2000 bytes', { ...BASE, attrs: { region: 'r'.repeat(2000) } }, must('attrs.region', 'by-region', `"${'r'.repeat(58)}…`)],
  ['an attribute that is no key, 5000 bytes', { ...BASE, attrs: { note: 'n'.repeat(5000) } }, undefined],
  ['a trunk that is no key, 5000 bytes', { ...BASE, trunk: 't'.repeat(5000) }, undefined],
  ['a called of 5000 digits, keyed by its first 4', { ...BASE, called: `+49${'1'.repeat(5000)}` }, undefined],
];

for (const [name, input, reason] of KEY_ROWS) {
  keys(`${reason === undefined ? 'accepts' : 'rejects'} ${name}`, () => {
    const prepared = new Ingest(KEYED).prepare(input, { source: 'f.jsonl', line: 7 }, 'raw');
    if (reason === undefined) assert.ok(prepared.ok, prepared.ok ? '' : prepared.reject.reason);
    else assert.equal(prepared, { ok: false, reject: { reason, code: 'VIGIL_INVALID_RECORD', position: { source: 'f.jsonl', line: 7 }, raw: 'raw' } });
  });
}

keys.run();

// ---------------------------------------------------------------------------------------------

// A live node bounds how far ahead of its clock a record may be dated: one CDR dated 9999 (or
// in epoch seconds read as ms, or from a switch whose clock is off) would move the watermark
// there and make every record of the present late.
const ahead = suite('core/ingest: records dated ahead of a live node\'s clock');

const NOW = Date.UTC(2026, 11, 7, 12, 0, 0);
const BOUND = { maxMs: 15 * 60_000, now: (): number => NOW };
const at = (ts: number | string): Record<string, unknown> => ({ ts, account: 'A1', called: '+4930123' });

// [name, ts, the reject's reason or undefined when accepted]
const AHEAD_ROWS: Array<[string, number | string, string | undefined]> = [
  ['a record of the present', NOW, undefined],
  ['a record an hour old', NOW - 3_600_000, undefined],
  ['a record exactly max_ahead ahead', NOW + 15 * 60_000, undefined],
  ['a record 1 ms beyond max_ahead', NOW + 15 * 60_000 + 1, 'future: record.ts 2026-12-07T12:15:00.001Z is 15 min ahead of this node\'s clock (2026-12-07T12:00:00Z); config.max_ahead allows 15 min'],
  ['a record of a switch an hour ahead (a time zone taken for UTC)', '2026-12-07T13:00:00Z', 'future: record.ts 2026-12-07T13:00:00Z is 60 min ahead of this node\'s clock (2026-12-07T12:00:00Z); config.max_ahead allows 15 min'],
  ['a record of a switch three days ahead', '2026-12-10T12:00:00Z', 'future: record.ts 2026-12-10T12:00:00Z is 3 days ahead of this node\'s clock (2026-12-07T12:00:00Z); config.max_ahead allows 15 min'],
  ['a record dated 9999', '9999-01-01T00:00:00Z', 'future: record.ts 9999-01-01T00:00:00Z is 7972.1 years ahead of this node\'s clock (2026-12-07T12:00:00Z); config.max_ahead allows 15 min'],
];

for (const [name, ts, reason] of AHEAD_ROWS) {
  ahead(`${reason === undefined ? 'accepts' : 'rejects'} ${name}`, () => {
    const prepared = new Ingest(compileRules(rules([])), BOUND).prepare(at(ts), { source: 'http#1', line: 2 }, 'raw');
    if (reason === undefined) assert.ok(prepared.ok, prepared.ok ? '' : prepared.reject.reason);
    else assert.equal(prepared, { ok: false, reject: { reason, code: 'VIGIL_FUTURE_RECORD', position: { source: 'http#1', line: 2 }, raw: 'raw' } });
  });
}

ahead('a rejected future record leaves the watermark where it was, so the present is not late', () => {
  const ingest = new Ingest(compileRules(rules([rule({ id: 'per-minute', window: { kind: 'calendar', unit: 'minute' } })])), BOUND);
  assert.ok(ingest.prepare(at(NOW - 60_000), { source: 's', line: 1 }).ok);
  assert.is(ingest.prepare(at('9999-01-01T00:00:00Z'), { source: 's', line: 2 }).ok, false);
  assert.is(ingest.watermark, NOW - 60_000);
  assert.ok(ingest.prepare(at(NOW), { source: 's', line: 3 }).ok);
});

ahead('without a bound (a replay: records are history), a far-future record is taken and the present is late after it', () => {
  const ingest = new Ingest(compileRules(rules([rule({ id: 'per-minute', window: { kind: 'calendar', unit: 'minute' } })])));
  assert.ok(ingest.prepare(at('9999-01-01T00:00:00Z'), { source: 's', line: 1 }).ok);
  const present = ingest.prepare(at(NOW), { source: 's', line: 2 });
  assert.is(present.ok ? '' : present.reject.code, 'VIGIL_LATE_RECORD');
});

ahead('the clock is read for each record: a record once too far ahead is taken when its time has come', () => {
  let now = NOW;
  const ingest = new Ingest(compileRules(rules([])), { maxMs: 60_000, now: () => now });
  assert.is(ingest.prepare(at(NOW + 120_000), { source: 's', line: 1 }).ok, false);
  now += 61_000;
  assert.ok(ingest.prepare(at(NOW + 120_000), { source: 's', line: 2 }).ok);
});

ahead.run();
