// parseBody then Ingest.prepare, one row per kind of body that used to go wrong: each record
// of the body comes out at its place, accepted or rejected with this exact reason.
// Run: npx tsc -p tsconfig.json && node dist/test/cluster/http-body.test.js
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseBody } from '../../cluster/http-body.js';
import { compileRules } from '../../core/compile.js';
import { Ingest } from '../../core/ingest.js';
import { rules } from '../helpers/config.js';

const OK = '{"ts":1782900000000,"account":"A1","called":"+4930123"}';
const DEEP = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;

/** Each record of the body as `line ok` or `line reject <reason>`, after validation. */
function outcome (body: string): string[] {
  const parsed = parseBody(body, 'http#1');
  if (!parsed.ok) return [`refused ${parsed.status ?? 400}: ${parsed.error}`];
  const ingest = new Ingest(compileRules(rules([])));
  return parsed.items.map((item) => {
    if (!item.ok) return `${item.reject.position.line} reject ${item.reject.reason}`;
    const prepared = ingest.prepare(item.value, item.position, item.text);
    return prepared.ok ? `${item.position.line} ok` : `${prepared.reject.position.line} reject ${prepared.reject.reason}`;
  });
}

const test = suite('cluster/http-body: bodies that used to go wrong');

const ROWS: Array<[string, string, string[]]> = [
  // JSON.stringify of the element overflowed the stack: the POST was answered 500.
  ['an array element nested 20,000 deep', `[${DEEP},${OK}]`, [`1 reject record must be an object, got ${'['.repeat(59)}…`, '2 ok']],
  ['an array element holding a field nested 20,000 deep', `[{"ts":1782900000000,"account":"A1","called":"+49","x":${DEEP}},${OK}]`,
    [`1 reject record.x must be a string, number or boolean (unknown fields are kept under attrs), got ${'['.repeat(59)}…`, '2 ok']],
  // The 64 KiB limit held for JSON lines only: an array element of any size was accepted.
  ['an array element over 64 KiB', `[{"ts":1782900000000,"account":"A1","called":"+49","pad":"${'p'.repeat(70_000)}"},${OK}]`, ['1 reject record larger than 64 KiB', '2 ok']],
  ['an array element of exactly 64 KiB in JSON', `[{"pad":"${'é'.repeat((65_536 - 10) / 2)}"},${OK}]`, ['1 reject record.ts must be an ISO 8601 time with an offset or epoch milliseconds, got nothing', '2 ok']],
  ['a JSON line nested 30,000 deep', `${OK}\n${'['.repeat(30_000)}${']'.repeat(30_000)}\n${OK}`, ['1 ok', `2 reject record must be an object, got ${'['.repeat(59)}…`, '3 ok']],
  // 16 MiB of tiny lines were millions of rejects: the POST held the node's event loop for a
  // minute and a half (8M lines of "x"), and its answer listed every one.
  ['100,000 records', '{}\n'.repeat(100_000), Array.from({ length: 100_000 }, (_, i) => `${i + 1} reject record.ts must be an ISO 8601 time with an offset or epoch milliseconds, got nothing`)],
  ['100,001 records', '{}\n'.repeat(100_001), ['refused 413: the body holds more than 100000 records; send fewer records per request']],
  ['8 million lines that are not JSON', 'x\n'.repeat(8_000_000), ['refused 413: the body holds more than 100000 records; send fewer records per request']],
  ['100,000 records and blank lines', '\n \n{}\n'.repeat(100_000), Array.from({ length: 100_000 }, (_, i) => `${3 * i + 3} reject record.ts must be an ISO 8601 time with an offset or epoch milliseconds, got nothing`)],
  ['an array of 100,001 records', `[${'{},'.repeat(100_000)}{}]`, ['refused 413: the body holds more than 100000 records; send fewer records per request']],
];

for (const [name, body, want] of ROWS) {
  test(name, () => {
    assert.equal(outcome(body), want);
  });
}

test.run();
