// The pure readers: JSON lines, RFC 4180 CSV with a header row (quoting, doubled quotes,
// fields spanning lines, typed cells, column counts) and Asterisk's Master.csv with and
// without its optional columns, read in Europe/Berlin in summer and in winter.
// Run: npx tsc -p tsconfig.json && node dist/test/core/readers.test.js
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { InvalidRecordError } from '../../core/errors.js';
import { AsteriskReader, asteriskRecord, parseAsteriskTime } from '../../core/readers/asterisk.js';
import { CsvParser, CsvReader, csvValue } from '../../core/readers/csv.js';
import { JsonlReader, parseJsonLine } from '../../core/readers/jsonl.js';
import { parseUsageRecord } from '../../core/usage-record.js';
import { Zone } from '../../core/zone.js';

const BERLIN = new Zone('Europe/Berlin');

/** Asserts that `f` throws InvalidRecordError with exactly this field and message. */
function throwsInvalid (f: () => unknown, field: string, message: string): void {
  try {
    f();
  } catch (err) {
    assert.instance(err, InvalidRecordError);
    assert.is((err as InvalidRecordError).message, message);
    assert.is((err as InvalidRecordError).field, field);
    return;
  }
  assert.unreachable('did not throw');
}

// ---------------------------------------------------------------------------------------------

const jsonl = suite('core/readers/jsonl: parseJsonLine');

jsonl('decodes one JSON value per line', () => {
  assert.equal(parseJsonLine('{"ts":1782900000000,"account":"A1"}'), { ts: 1782900000000, account: 'A1' });
  assert.equal(new JsonlReader().push('[1,2]'), [1, 2]);
});

jsonl('drops a byte-order mark', () => {
  assert.equal(parseJsonLine('\ufeff{"a":1}'), { a: 1 });
});

jsonl('says what JSON.parse complained about', () => {
  throwsInvalid(() => parseJsonLine('{"account":'), 'record', 'record must be valid JSON (Unexpected end of JSON input), got "{\\"account\\":"');
  throwsInvalid(() => parseJsonLine('{"a":1'), 'record', 'record must be valid JSON (Expected \',\' or \'}\' after property value in JSON at position 6), got "{\\"a\\":1"');
});

jsonl('clips the line in the message', () => {
  try {
    parseJsonLine(`{"x":"${'y'.repeat(10_000)}`);
    assert.unreachable();
  } catch (err) {
    assert.ok((err as Error).message.length < 400, (err as Error).message);
  }
});

jsonl.run();

// ---------------------------------------------------------------------------------------------

const parser = suite('core/readers/csv: CsvParser (RFC 4180 fields)');

parser('splits plain fields, keeping empty ones', () => {
  const p = new CsvParser();
  assert.equal(p.feed('a,b,c'), ['a', 'b', 'c']);
  assert.equal(p.feed(',x,'), ['', 'x', '']);
  assert.equal(p.feed(''), ['']);
  assert.equal(p.feed('single'), ['single']);
});

parser('reads quoted fields with commas, doubled quotes and empty quotes', () => {
  const p = new CsvParser();
  assert.equal(p.feed('"a,b","say ""hi""","",x'), ['a,b', 'say "hi"', '', 'x']);
  assert.equal(p.feed('"""quoted"""'), ['"quoted"']);
  assert.equal(p.feed('x,"y"'), ['x', 'y']);
});

parser('keeps a quote inside an unquoted field as text', () => {
  assert.equal(new CsvParser().feed('5" floppy,x'), ['5" floppy', 'x']);
});

parser('continues a quoted field across lines, with the break as \\n', () => {
  const p = new CsvParser();
  assert.is(p.feed('1,"first'), undefined);
  assert.ok(p.pending);
  assert.is(p.feed(''), undefined);
  assert.is(p.feed('third ""line"",still'), undefined);
  assert.equal(p.feed('end",2'), ['1', 'first\n\nthird "line",still\nend', '2']);
  assert.not.ok(p.pending);
});

parser('gives the same fields whichever line the breaks fall on', () => {
  const doc = 'a,"b\nc",d\n"e""\n""f",g,"\n"\n"",",",h';
  const lines = doc.split('\n');
  const p = new CsvParser();
  const records = lines.map((l) => p.feed(l)).filter((r) => r !== undefined);
  assert.equal(records, [['a', 'b\nc', 'd'], ['e"\n"f', 'g', '\n'], ['', ',', 'h']]);
});

parser('rejects text after a closing quote, then reads the next line afresh', () => {
  const p = new CsvParser();
  throwsInvalid(() => p.feed('"a"b,c'), 'record', 'record must be RFC 4180 CSV (a closing quote must be followed by a comma or the end of the line), got "\\"a\\"b,c"');
  assert.not.ok(p.pending);
  assert.equal(p.feed('x,y'), ['x', 'y']);
});

parser('reset drops a record in progress', () => {
  const p = new CsvParser();
  p.feed('"open');
  p.reset();
  assert.equal(p.feed('a,b'), ['a', 'b']);
});

parser.run();

// ---------------------------------------------------------------------------------------------

const csv = suite('core/readers/csv: CsvReader (header row, typed cells)');

csv('maps rows by the header and turns numeric and boolean record fields into values', () => {
  const r = new CsvReader();
  assert.is(r.push('id,ts,account,called,duration,cost,answered,note', 1), undefined);
  assert.equal(r.push('007,1782900000000,A1,0049301234567,30,0.12,true,hello', 2), {
    id: '007', ts: 1782900000000, account: 'A1', called: '0049301234567', duration: 30, cost: 0.12, answered: true, note: 'hello',
  });
});

csv('leaves empty cells out and non-numeric text in number fields as text (parseUsageRecord names it)', () => {
  const r = new CsvReader();
  r.push('ts,account,duration,cost,answered', 1);
  assert.equal(r.push('2026-07-01T10:00:00Z,A1,,abc,yes', 2), { ts: '2026-07-01T10:00:00Z', account: 'A1', cost: 'abc', answered: 'yes' });
});

csv('types ts, duration, cost and answered among the record fields', () => {
  assert.is(csvValue('duration', ' 30 '), 30);
  assert.is(csvValue('cost', '-1.5e2'), -150);
  assert.is(csvValue('ts', '1782900000000'), 1782900000000);
  assert.is(csvValue('answered', 'false'), false);
  assert.is(csvValue('caller', '4930123'), '4930123');
  assert.is(csvValue('account', 'true'), 'true');
  assert.is(csvValue('duration', '1.2.3'), '1.2.3');
});

csv('a number in an attrs column is a number (records.md: in CSV numbers are parsed as decimal numbers)', () => {
  // Otherwise `attrs.score: { gt: 5 }` and `sum(attrs.score)` never match a CSV record.
  assert.is(csvValue('score', '7'), 7);
  assert.is(csvValue('rate', '-1.5'), -1.5);
  // Only when the number reads back as the same text: leading zeros, a `+`, trailing zeros
  // and digits beyond double precision (an ICCID) stay text, as a JSON producer would send them.
  assert.is(csvValue('redirect', '0049301'), '0049301');
  assert.is(csvValue('redirect', '+4930'), '+4930');
  assert.is(csvValue('price', '1.50'), '1.50');
  assert.is(csvValue('iccid', '89490200001234567890'), '89490200001234567890');
  assert.is(csvValue('tier', 'gold'), 'gold');
  const r = new CsvReader();
  r.push('ts,account,called,score', 1);
  assert.equal(r.push('2026-07-01T10:00:00Z,A1,+4930,7', 2), { ts: '2026-07-01T10:00:00Z', account: 'A1', called: '+4930', score: 7 });
});

csv('an attrs.NAME column is attrs.NAME of the record (as examples/csv.ts writes them), so rules reach it', () => {
  const r = new CsvReader();
  r.push('ts,account,called,attrs.mb,attrs.apn,tier', 1);
  const row = r.push('2026-07-01T10:00:00Z,A1,+4930,4.06,internet.example.de,gold', 2);
  assert.equal(row, { ts: '2026-07-01T10:00:00Z', account: 'A1', called: '+4930', attrs: { mb: 4.06, apn: 'internet.example.de' }, tier: 'gold' });
  const rec = parseUsageRecord(row, { zone: BERLIN, groupsOf: () => [] });
  assert.equal(rec.attrs, { mb: 4.06, apn: 'internet.example.de', tier: 'gold' });
});

csv('a header with an attrs column beside attrs.NAME columns, or an empty attribute name, is refused', () => {
  throwsInvalid(() => new CsvReader().push('ts,attrs,attrs.mb', 1), 'record', 'record must be CSV with a header row of unique, non-empty column names, got "ts,attrs,attrs.mb"');
  throwsInvalid(() => new CsvReader().push('ts,attrs.', 1), 'record', 'record must be CSV with a header row of unique, non-empty column names, got "ts,attrs."');
});

csv('reads a quoted field spanning lines and fields with commas and quotes', () => {
  const r = new CsvReader();
  r.push('account,called,note', 1);
  assert.is(r.push('A1,+49301234567,"line one', 2), undefined);
  assert.ok(r.pending);
  assert.equal(r.push('line ""two"", with comma"', 3), { account: 'A1', called: '+49301234567', note: 'line one\nline "two", with comma' });
});

csv('trims header names and drops a byte-order mark', () => {
  const r = new CsvReader();
  r.push('\ufeffts , account', 1);
  assert.equal(r.push('1782900000000,A1', 2), { ts: 1782900000000, account: 'A1' });
});

csv('rejects a row with the wrong number of fields, naming the line', () => {
  const r = new CsvReader();
  r.push('ts,account,called', 1);
  throwsInvalid(() => r.push('1782900000000,A1', 4), 'record', 'record must be 3 CSV fields as in the header (line 4), got 2');
  throwsInvalid(() => r.push('1782900000000,A1,x,y', 5), 'record', 'record must be 3 CSV fields as in the header (line 5), got 4');
  assert.equal(r.push('1782900000000,A1,x', 6), { ts: 1782900000000, account: 'A1', called: 'x' });
});

csv('rejects a header with a repeated or empty name, and then every row', () => {
  const r = new CsvReader();
  const message = 'record must be CSV with a header row of unique, non-empty column names, got "ts,account,ts"';
  throwsInvalid(() => r.push('ts,account,ts', 1), 'record', message);
  throwsInvalid(() => r.push('1,2,3', 2), 'record', message);
  throwsInvalid(() => new CsvReader().push('ts,,account', 1), 'record', 'record must be CSV with a header row of unique, non-empty column names, got "ts,,account"');
});

csv('feeds parseUsageRecord: a CSV row is a valid record', () => {
  const r = new CsvReader();
  r.push('ts,account,called,duration,answered,cost,currency', 1);
  const raw = r.push('1782900000000,A1,+252612345678,61,false,1.5,EUR', 2);
  const rec = parseUsageRecord(raw, { zone: BERLIN, groupsOf: () => [] });
  assert.equal([rec.ts, rec.duration, rec.answered, rec.cost, rec.country], [1782900000000, 61, false, 1.5, 'SO']);
});

csv.run();

// ---------------------------------------------------------------------------------------------

const asterisk = suite('core/readers/asterisk: Master.csv');

// As cdr_csv writes them: text quoted (quotes doubled), numbers bare, times in local wall time.
const BASE16 = '"acc1","4930123456","00252612345678","from-internal","""Alice"" <201>","SIP/201-00000001","SIP/trunk-00000002","Dial","SIP/trunk/00252612345678,60","2026-07-01 12:00:00","2026-07-01 12:00:05","2026-07-01 12:01:05",65,60,"ANSWERED","DOCUMENTATION"';
const WINTER16 = '"acc2","201","004930999","from-internal","","PJSIP/201-0000000a","","Dial","PJSIP/004930999@trunk","2026-01-15 12:00:00",,"2026-01-15 12:00:30",30,0,"NO ANSWER","DOCUMENTATION"';

function fields (line: string): string[] {
  const f = new CsvParser().feed(line);
  if (f === undefined) throw new Error('incomplete test line');
  return f;
}

asterisk('maps the 16 base columns (no uniqueid: the id is derived later)', () => {
  assert.equal(asteriskRecord(fields(BASE16), { zone: BERLIN }), {
    service: 'voice',
    account: 'acc1',
    caller: '4930123456',
    called: '00252612345678',
    ts: Date.UTC(2026, 6, 1, 10, 0, 0), // 12:00 CEST
    duration: 60,
    answered: true,
    attrs: {
      dcontext: 'from-internal',
      clid: '"Alice" <201>',
      channel: 'SIP/201-00000001',
      dstchannel: 'SIP/trunk-00000002',
      lastapp: 'Dial',
      lastdata: 'SIP/trunk/00252612345678,60',
      total_duration: 65,
      disposition: 'ANSWERED',
      amaflags: 'DOCUMENTATION',
    },
  });
});

asterisk('reads a winter time in Europe/Berlin as UTC+1, and an unanswered call', () => {
  const r = asteriskRecord(fields(WINTER16), { zone: BERLIN });
  assert.is(r.ts, Date.UTC(2026, 0, 15, 11, 0, 0));
  assert.is(r.answered, false);
  assert.is(r.duration, 0);
  assert.equal(r.attrs, { dcontext: 'from-internal', channel: 'PJSIP/201-0000000a', lastapp: 'Dial', lastdata: 'PJSIP/004930999@trunk', total_duration: 30, disposition: 'NO ANSWER', amaflags: 'DOCUMENTATION' });
});

asterisk('reads times as UTC when the zone is UTC (usegmtime)', () => {
  assert.is(asteriskRecord(fields(BASE16), { zone: new Zone('UTC') }).ts, Date.UTC(2026, 6, 1, 12, 0, 0));
});

asterisk('takes uniqueid and userfield (loguniqueid, loguserfield)', () => {
  const r = asteriskRecord(fields(`${BASE16},"1782900000.17","campaign 7"`), { zone: BERLIN });
  assert.is(r.id, '1782900000.17');
  assert.is((r.attrs as Record<string, unknown>).userfield, 'campaign 7');
});

asterisk('tells a lone uniqueid from a lone userfield by its shape, unless told', () => {
  assert.is(asteriskRecord(fields(`${BASE16},"pbx1-1782900000.17"`), { zone: BERLIN }).id, 'pbx1-1782900000.17');
  const user = asteriskRecord(fields(`${BASE16},"campaign 7"`), { zone: BERLIN });
  assert.is(user.id, undefined);
  assert.is((user.attrs as Record<string, unknown>).userfield, 'campaign 7');
  const forced = asteriskRecord(fields(`${BASE16},"1782900000.17"`), { zone: BERLIN, single: 'userfield' });
  assert.is(forced.id, undefined);
  assert.is((forced.attrs as Record<string, unknown>).userfield, '1782900000.17');
});

asterisk('takes peeraccount, linkedid and sequence (newcdrcolumns), with and without the optional columns', () => {
  for (const [extra, id] of [['', undefined], [',"1782900000.17"', '1782900000.17'], [',"1782900000.17","u"', '1782900000.17']] as const) {
    const r = asteriskRecord(fields(`${BASE16}${extra},"peer9","1782900000.16",3`), { zone: BERLIN });
    assert.is(r.id, id);
    const attrs = r.attrs as Record<string, unknown>;
    assert.equal([attrs.peeraccount, attrs.linkedid, attrs.sequence], ['peer9', '1782900000.16', 3]);
  }
});

asterisk('rejects a line with too few or too many columns', () => {
  throwsInvalid(() => asteriskRecord(['a', 'b'], { zone: BERLIN }), 'record', 'record must be 16 to 21 Asterisk Master.csv fields, got 2');
  throwsInvalid(() => asteriskRecord(fields(`${BASE16},"1","2","3","4","5","6"`), { zone: BERLIN }), 'record', 'record must be 16 to 21 Asterisk Master.csv fields, got 22');
});

asterisk('rejects a start time that is not YYYY-MM-DD HH:MM:SS, and leaves an empty one to validation', () => {
  throwsInvalid(() => parseAsteriskTime('2026-07-01T12:00:00', BERLIN), 'ts', 'record.ts must be an Asterisk start time YYYY-MM-DD HH:MM:SS, got "2026-07-01T12:00:00"');
  throwsInvalid(() => parseAsteriskTime('2026-02-30 12:00:00', BERLIN), 'ts', 'record.ts must be an Asterisk start time YYYY-MM-DD HH:MM:SS, got "2026-02-30 12:00:00"');
  const noStart = fields(BASE16);
  noStart[9] = '';
  assert.is(asteriskRecord(noStart, { zone: BERLIN }).ts, undefined);
});

// Wall times out of the range of event times: year 0 came out as an epoch of -62… and the
// reason spoke of epoch seconds, which the line does not hold.
const ASTERISK_RANGE = 'record.ts must be a time from 1973-03-03T09:46:40Z to 9999-12-31T23:59:59.999Z';
const OUT_OF_RANGE: Array<[string, string, string]> = [
  ['year 0', '0000-01-01 00:00:00', 'Europe/Berlin'],
  ['1969', '1969-12-31 23:59:59', 'Europe/Berlin'],
  ['local mean time (1890)', '1890-06-01 12:00:00', 'Europe/Berlin'],
  ['the last second of 9999 in New York (10000 in UTC)', '9999-12-31 23:59:59', 'America/New_York'],
];
for (const [name, text, zone] of OUT_OF_RANGE) {
  asterisk(`rejects a start time in ${name}, naming the range`, () => {
    throwsInvalid(() => parseAsteriskTime(text, new Zone(zone)), 'ts', `${ASTERISK_RANGE}, got "${text}"`);
  });
}

asterisk('reads start times at the ends of the range', () => {
  assert.is(parseAsteriskTime('9999-12-31 23:59:59', BERLIN), Date.UTC(9999, 11, 31, 22, 59, 59));
  assert.is(parseAsteriskTime('1973-03-03 10:46:40', BERLIN), 100_000_000_000);
});

asterisk('reads a wall time that repeats (clocks falling back) as the earlier instant', () => {
  assert.is(parseAsteriskTime('2026-10-25 02:30:00', BERLIN), Date.UTC(2026, 9, 25, 0, 30));
});

asterisk('feeds parseUsageRecord: called in the home plan, id derived when uniqueid is absent', () => {
  const ctx = { zone: BERLIN, homeCountry: 'DE', groupsOf: () => [] };
  const rec = parseUsageRecord(new AsteriskReader({ zone: BERLIN }).push(BASE16), ctx);
  assert.is(rec.called, '+252612345678');
  assert.is(rec.country, 'SO');
  assert.is(rec.hour, 12);
  assert.match(rec.id, /^[0-9a-f]{16}$/);
  assert.is(parseUsageRecord(new AsteriskReader({ zone: BERLIN }).push(BASE16), ctx).id, rec.id);
});

asterisk('a line with an empty accountcode is rejected by validation, as the spec maps it to account', () => {
  const line = BASE16.replace('"acc1"', '""');
  try {
    parseUsageRecord(new AsteriskReader({ zone: BERLIN }).push(line), { zone: BERLIN, groupsOf: () => [] });
    assert.unreachable();
  } catch (err) {
    assert.is((err as Error).message, 'record.account must be a non-empty string, got nothing');
  }
});

asterisk.run();
