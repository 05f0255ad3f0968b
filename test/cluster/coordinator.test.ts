// decodeInput (a `<prefix>.in` payload) then Ingest.prepare, one row per kind of payload that
// used to go wrong: each record comes out at its place in the message (seq), accepted or
// rejected with this exact reason, and decodeInput never throws (a throw lost the message:
// no reject, no reply). MessagePack is written by hand here, as other languages' encoders do.
// Run: npx tsc -p tsconfig.json && node dist/test/cluster/coordinator.test.js
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeInput, replyText } from '../../cluster/coordinator.js';
import type { Reject } from '../../core/usage-record.js';
import { compileRules } from '../../core/compile.js';
import { Ingest } from '../../core/ingest.js';
import { rules } from '../helpers/config.js';

const str = (s: string): Buffer => { const b = Buffer.from(s); return Buffer.concat([Buffer.from([0xa0 | b.length]), b]); };
const map = (entries: Array<[string, Buffer]>): Buffer => Buffer.concat([Buffer.from([0x80 | entries.length]), ...entries.flatMap(([k, v]) => [str(k), v])]);
const u64 = (n: bigint): Buffer => { const b = Buffer.alloc(9); b[0] = 0xcf; b.writeBigUInt64BE(n, 1); return b; };
const i64 = (n: bigint): Buffer => { const b = Buffer.alloc(9); b[0] = 0xd3; b.writeBigInt64BE(n, 1); return b; };
/** A record whose ts is `ts` (already MessagePack). */
const record = (ts: Buffer, more: Array<[string, Buffer]> = []): Buffer => map([['ts', ts], ['account', str('A1')], ['called', str('+4930123')], ...more]);
const TS = 1_782_900_000_000n;

/** Each record of the payload as `seq ok` or `seq reject <reason>`, after validation. */
function outcome (payload: Buffer): string[] {
  const ingest = new Ingest(compileRules(rules([])));
  return decodeInput(payload, 'nats:vigil.in').map((item) => {
    if (!item.ok) return `${item.reject.position.seq} reject ${item.reject.reason}`;
    const prepared = ingest.prepare(item.value, item.position, item.text);
    return prepared.ok ? `${item.position.seq} ok` : `${prepared.reject.position.seq} reject ${prepared.reject.reason}`;
  });
}

const test = suite('cluster/coordinator: decodeInput on payloads that used to go wrong');

const ROWS: Array<[string, Buffer, string[]]> = [
  // A uint64 or int64 became a bigint, JSON.stringify threw and the message was lost. Python's
  // and Go's encoders write every integer past 32 bits so: an epoch-ms ts always.
  ['a ts written as uint64 (Python, Go)', record(u64(TS)), ['1 ok']],
  ['a ts written as int64', record(i64(TS)), ['1 ok']],
  ['a uint64 of 1 in an attribute', record(u64(TS), [['hops', u64(1n)]]), ['1 ok']],
  ['a ts of 2^64 - 1', record(u64(2n ** 64n - 1n)), ['1 reject record.ts must be an ISO 8601 time with an offset or epoch milliseconds, got 18446744073709551615n']],
  ['an id past 2^53 (not exactly a number)', record(u64(TS), [['id', u64(2n ** 53n + 1n)]]), ['1 reject record.id must be a string, got 9007199254740993n']],
  ['an array of a good record and one with a negative int64 ts', Buffer.concat([Buffer.from([0x92]), record(u64(TS)), record(i64(-(2n ** 63n)))]),
    ['1 ok', '2 reject record.ts must be an ISO 8601 time with an offset or epoch milliseconds, got -9223372036854775808n']],
  // The timestamp extension (-1) decoded to a Date, shown as an ISO text the reason said it was not.
  ['a ts as a MessagePack timestamp', record(Buffer.from([0xd6, 0xff, 0x6a, 0x44, 0xe5, 0x20])),
    ['1 reject record.ts must be an ISO 8601 time with an offset or epoch milliseconds, not a MessagePack timestamp, got "2026-07-01T10:00:00.000Z"']],
  // msgpackr reads nesting by recursion; its stack overflow was the reason.
  ['MessagePack nested 20,000 deep', Buffer.concat([Buffer.from([0x92, 0x81, 0xa1, 0x61]), Buffer.alloc(20_000, 0x91), Buffer.from([0x01]), record(u64(TS))]),
    ['1 reject the message is neither JSON nor MessagePack (nested too deeply)']],
  ['an array element nested 2,000 deep', Buffer.concat([Buffer.from([0x92]), map([['ts', Buffer.concat([Buffer.alloc(2_000, 0x91), Buffer.from([0x01])])]]), record(u64(TS))]),
    [`1 reject record.ts must be an ISO 8601 time with an offset or epoch milliseconds, got ${'['.repeat(59)}…`, '2 ok']],
  ['a JSON line that is not JSON, at its seq (it was given a line)', Buffer.from(`{"ts":${TS},"account":"A1","called":"+49"}\nnope\n`),
    ['1 ok', '2 reject record must be valid JSON (Unexpected token \'o\', "nope" is not valid JSON), got "nope"']],
  // A Latin-1 byte became U+FFFD: Müller and Möller were one account.
  ['JSON lines with a Latin-1 ü, each rejected at its seq, the UTF-8 line read', Buffer.concat([Buffer.from(`{"ts":${TS},"account":"Müller","called":"+49"}\n`), Buffer.from(`{"ts":${TS},"account":"Müller","called":"+49"}\n{"ts":${TS},"account":"Möller","called":"+49"}`, 'latin1')]),
    ['1 ok', '2 reject record is not UTF-8 text: byte 0xFC at column 33 is not UTF-8; vigil reads UTF-8 (a Latin-1 text converts with iconv -f latin1 -t utf-8)',
      '3 reject record is not UTF-8 text: byte 0xF6 at column 33 is not UTF-8; vigil reads UTF-8 (a Latin-1 text converts with iconv -f latin1 -t utf-8)']],
  ['a JSON array with a Latin-1 byte, refused whole', Buffer.from(`[{"ts":${TS},"account":"A1","called":"+49"},\n{"ts":${TS},"account":"Müller","called":"+49"}]`, 'latin1'),
    ['1 reject the body is not UTF-8 text: byte 0xFC at line 2, column 33 is not UTF-8; JSON is UTF-8 (a Latin-1 text converts with iconv -f latin1 -t utf-8)']],
  // Millions of tiny records in a message held the coordinator's event loop for seconds.
  ['a JSON message of 100,001 records', Buffer.from('{}\n'.repeat(100_001)), ['1 reject the body holds more than 100000 records; send fewer records per request']],
  ['a MessagePack array of 1,000,000 nils (under 1 MB)', Buffer.concat([Buffer.from([0xdd, 0x00, 0x0f, 0x42, 0x40]), Buffer.alloc(1_000_000, 0xc0)]), ['1 reject the message holds more than 100000 records; send fewer records per message']],
];

for (const [name, payload, want] of ROWS) {
  test(name, () => {
    assert.equal(outcome(payload), want);
  });
}

// The 64 KiB limit held for JSON lines only.
test('a MessagePack record over 64 KiB is rejected at its seq, the next one read', () => {
  const str32 = Buffer.alloc(5 + 70_000, 0x70); // str 32 of 70,000 p
  str32[0] = 0xdb;
  str32.writeUInt32BE(70_000, 1);
  assert.equal(outcome(Buffer.concat([Buffer.from([0x92]), record(u64(TS), [['pad', str32]]), record(u64(TS))])), ['1 reject record larger than 64 KiB', '2 ok']);
});

test.run();

// ---------------------------------------------------------------------------------------------

// An answer over NATS's max_payload was refused, so the producer got none and timed out on
// records that were taken: 20,000 bad lines in one request were enough.
const reply = suite('cluster/coordinator: the answer to a <prefix>.in request fits in a NATS message');

const rejectAt = (seq: number): Reject => ({ reason: `record.ts must be an ISO 8601 time with an offset or epoch milliseconds, got ${seq}`, code: 'VIGIL_INVALID_RECORD', position: { source: 'nats:vigil.in', seq }, raw: String(seq) });
const MAX = 1024 * 1024;

reply('lists every reject when they fit', () => {
  assert.is(replyText({ accepted: 3, rejects: [rejectAt(2), rejectAt(5)] }, MAX),
    '{"accepted":3,"rejected":2,"rejects":[{"seq":2,"reason":"record.ts must be an ISO 8601 time with an offset or epoch milliseconds, got 2"},{"seq":5,"reason":"record.ts must be an ISO 8601 time with an offset or epoch milliseconds, got 5"}]}');
  assert.is(replyText({ accepted: 0, rejects: [] }, MAX), '{"accepted":0,"rejected":0,"rejects":[]}');
});

reply('lists the first rejects that fit and says how many it leaves out', () => {
  const rejects = Array.from({ length: 20_000 }, (_, i) => rejectAt(i + 1));
  const text = replyText({ accepted: 7, rejects }, MAX);
  assert.ok(Buffer.byteLength(text) <= MAX, `${Buffer.byteLength(text)} bytes`);
  const answer = JSON.parse(text) as { accepted: number, rejected: number, rejects: Array<{ seq: number, reason: string }>, omitted: number };
  assert.equal(Object.keys(answer), ['accepted', 'rejected', 'rejects', 'omitted']);
  assert.is(answer.accepted, 7);
  assert.is(answer.rejected, 20_000);
  assert.ok(answer.rejects.length > 9_000, `${answer.rejects.length} listed`);
  assert.is(answer.omitted, 20_000 - answer.rejects.length);
  assert.equal(answer.rejects.map((r) => r.seq), answer.rejects.map((_, i) => i + 1));
  assert.is(answer.rejects[0]!.reason, rejectAt(1).reason);
});

reply('counts bytes, not characters', () => {
  const wide = Array.from({ length: 2_000 }, (_, i): Reject => ({ ...rejectAt(i + 1), reason: `record.account must be a non-empty string, got "${'😀'.repeat(100)}"` }));
  const text = replyText({ accepted: 0, rejects: wide }, 100_000);
  assert.ok(Buffer.byteLength(text) <= 100_000, `${Buffer.byteLength(text)} bytes`);
  assert.ok((JSON.parse(text) as { omitted: number }).omitted > 0);
});

reply.run();
