// Ingest.prepare on raw values no JSON text came with (a caller that passes no `text`): the
// reject's raw is the value written out, clipped, whatever the value; prepare never throws.
// Run: npx tsc -p tsconfig.json && node dist/test/core/ingest.test.js
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { compileRules } from '../../core/compile.js';
import { Ingest } from '../../core/ingest.js';
import { rules } from '../helpers/config.js';

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
