// readRawRecords/readRawBatches on real files in an mkdtemp folder: line numbers, blank lines,
// CRLF, a byte-order mark, bad JSON, lines over 64 KiB (within one read and across many),
// CSV records spanning lines, Asterisk files, and the same results whatever the read size
// (down to one byte per read, which cuts every line and every multi-byte character); gzip
// files (known by their magic bytes), several members, and files cut short or damaged.
// Run: npx tsc -p tsconfig.json && node dist/test/cluster/record-source.test.js
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants as zlibConstants, gunzipSync, gzipSync } from 'node:zlib';
import { formatOf, readRawBatches, readRawRecords } from '../../cluster/record-source.js';
import type { RawRecord, ReadOptions, RecordFormat } from '../../cluster/record-source.js';
import { MAX_RECORD_BYTES } from '../../core/usage-record.js';
import { InputDamagedError } from '../../core/errors.js';
import { Zone } from '../../core/zone.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { mulberry32 } from '../helpers/prng.js';

interface Ctx { dir: string }
const BERLIN = new Zone('Europe/Berlin');
const TOO_LARGE = 'record larger than 64 KiB';

async function readAll (path: string, format: RecordFormat | undefined, over: Partial<ReadOptions> = {}): Promise<RawRecord[]> {
  const out: RawRecord[] = [];
  for await (const r of readRawRecords(path, format, { inputZone: BERLIN, ...over })) out.push(r);
  return out;
}

/** A record as a short line: `line ok <value>` or `line reject <reason>`. */
function summary (r: RawRecord): string {
  if (r.ok) return `${r.position.line} ok ${JSON.stringify(r.value)}`;
  return `${r.reject.position.line} reject ${r.reject.reason}`;
}

function write (ctx: Ctx, name: string, content: string | Buffer): string {
  const path = join(ctx.dir, name);
  writeFileSync(path, content);
  return path;
}

// ---------------------------------------------------------------------------------------------

const jsonl = suite<Ctx>('cluster/record-source: JSON lines', { dir: '' });
jsonl.before((ctx) => { ctx.dir = tempDir('vigil-records-'); });
jsonl.after((ctx) => { removeDir(ctx.dir); });

jsonl('numbers lines from 1, skips blank lines and rejects bad JSON with its line', async (ctx) => {
  const path = write(ctx, 'a.jsonl', '{"n":1}\n\n  \n{"n":\n{"n":4}\n');
  const got = await readAll(path, 'jsonl');
  assert.equal(got.map(summary), [
    '1 ok {"n":1}',
    '4 reject record must be valid JSON (Unexpected end of JSON input), got "{\\"n\\":"',
    '5 ok {"n":4}',
  ]);
  const bad = got[1];
  assert.ok(bad !== undefined && !bad.ok);
  assert.equal(bad.reject, {
    reason: 'record must be valid JSON (Unexpected end of JSON input), got "{\\"n\\":"',
    code: 'VIGIL_INVALID_RECORD',
    position: { source: path, line: 4 },
    raw: '{"n":',
  });
});

jsonl('gives each record its source position and text', async (ctx) => {
  const path = write(ctx, 'b.jsonl', '{"a":"x"}\r\n');
  assert.equal(await readAll(path, 'jsonl'), [{ ok: true, value: { a: 'x' }, position: { source: path, line: 1 }, text: '{"a":"x"}' }]);
});

jsonl('handles CRLF, a byte-order mark and a last line without a line break', async (ctx) => {
  const path = write(ctx, 'c.jsonl', '\ufeff{"n":1}\r\n{"n":2}\r\n\r\n{"n":"ü"}');
  assert.equal((await readAll(path, 'jsonl')).map(summary), ['1 ok {"n":1}', '2 ok {"n":2}', '4 ok {"n":"ü"}']);
});

jsonl('rejects a line over 64 KiB with a clipped raw text, and goes on at the right line', async (ctx) => {
  const big = `{"pad":"${'x'.repeat(70_000)}"}`;
  const path = write(ctx, 'd.jsonl', `{"n":1}\n${big}\n{"n":3}\n`);
  const got = await readAll(path, 'jsonl');
  assert.equal(got.map(summary), ['1 ok {"n":1}', `2 reject ${TOO_LARGE}`, '3 ok {"n":3}']);
  const r = got[1];
  assert.ok(r !== undefined && !r.ok);
  assert.is(r.reject.raw, big.slice(0, 4096));
  assert.is(r.reject.code, 'VIGIL_INVALID_RECORD');
});

jsonl('accepts a line of exactly 64 KiB and rejects one byte more, counting UTF-8 bytes', async (ctx) => {
  const exact = (n: number): string => `{"p":"${'é'.repeat(n)}"}`; // 8 + 2n bytes
  const ok = exact((MAX_RECORD_BYTES - 8) / 2);
  const over = `{"p":"${'é'.repeat((MAX_RECORD_BYTES - 8) / 2)}a"}`;
  assert.is(Buffer.byteLength(ok), MAX_RECORD_BYTES);
  assert.is(Buffer.byteLength(over), MAX_RECORD_BYTES + 1);
  const path = write(ctx, 'e.jsonl', `${ok}\r\n${over}\r\n`);
  for (const chunkBytes of [1 << 20, 1000]) {
    const got = await readAll(path, 'jsonl', { chunkBytes });
    assert.equal(got.map((r) => r.ok ? 'ok' : r.reject.reason), ['ok', TOO_LARGE], `chunks of ${chunkBytes}`);
  }
});

jsonl('rejects a huge line read in many chunks without keeping it', async (ctx) => {
  const path = write(ctx, 'f.jsonl', `{"n":1}\n{"pad":"${'y'.repeat(3 * MAX_RECORD_BYTES)}"}\n{"n":3}`);
  const got = await readAll(path, 'jsonl', { chunkBytes: 4096 });
  assert.equal(got.map(summary), ['1 ok {"n":1}', `2 reject ${TOO_LARGE}`, '3 ok {"n":3}']);
  const r = got[1];
  assert.ok(r !== undefined && !r.ok);
  assert.is(r.reject.raw.length, 4096);
  // A huge last line without a line break too.
  const tail = write(ctx, 'g.jsonl', `{"n":1}\n${'z'.repeat(2 * MAX_RECORD_BYTES)}`);
  assert.equal((await readAll(tail, 'jsonl', { chunkBytes: 1000 })).map(summary), ['1 ok {"n":1}', `2 reject ${TOO_LARGE}`]);
});

jsonl('gives the same records for any read size, down to one byte per read', async (ctx) => {
  const text = '\ufeff{"a":"日本語"}\r\n\n{"b":"😀 Grüße"}\n{bad\r\n{"c":[1,2]}';
  const path = write(ctx, 'h.jsonl', text);
  const want = (await readAll(path, 'jsonl')).map(summary);
  assert.equal(want, ['1 ok {"a":"日本語"}', '3 ok {"b":"😀 Grüße"}', '4 reject record must be valid JSON (Expected property name or \'}\' in JSON at position 1), got "{bad"', '5 ok {"c":[1,2]}']);
  for (const chunkBytes of [1, 2, 3, 5, 7, 64]) {
    assert.equal((await readAll(path, 'jsonl', { chunkBytes })).map(summary), want, `chunks of ${chunkBytes}`);
  }
});

jsonl('batches hold the same records as the one-by-one form', async (ctx) => {
  const lines = Array.from({ length: 5000 }, (_, i) => `{"i":${i}}`);
  const path = write(ctx, 'i.jsonl', `${lines.join('\n')}\n`);
  const batches: RawRecord[][] = [];
  for await (const b of readRawBatches(path, 'jsonl', { inputZone: BERLIN, chunkBytes: 8192 })) batches.push(b);
  assert.ok(batches.length > 1);
  assert.equal(batches.flat(), await readAll(path, 'jsonl', { chunkBytes: 8192 }));
  assert.is(batches.flat().length, 5000);
});

jsonl('fails when the input cannot be read at all', async (ctx) => {
  try {
    await readAll(join(ctx.dir, 'missing.jsonl'), 'jsonl');
    assert.unreachable();
  } catch (err) {
    assert.is((err as NodeJS.ErrnoException).code, 'ENOENT');
  }
});

// A file whose lines end in CR alone is one line: the reason says so, not only "not JSON" or "too large".
jsonl('a line with a CR and no LF after it says the file may end its lines in CR alone', async (ctx) => {
  const hint = "; the line holds a CR with no LF after it: if the file's lines end in CR alone, it reads as one line (convert it with tr '\\r' '\\n')";
  const small = write(ctx, 'cr.jsonl', '{"n":1}\r{"n":2}\r');
  assert.equal((await readAll(small, 'jsonl')).map(summary), [`1 reject record must be valid JSON (Unexpected non-whitespace character after JSON at position 8), got "{\\"n\\":1}\\r{\\"n\\":2}"${hint}`]);
  const large = write(ctx, 'cr-large.jsonl', '{"n":1}\r'.repeat(10_000));
  assert.equal((await readAll(large, 'jsonl')).map(summary), [`1 reject record larger than 64 KiB${hint}`]);
  const crlf = write(ctx, 'crlf.jsonl', '{"n":1}\r\n{"n":\r\n');
  assert.equal((await readAll(crlf, 'jsonl')).map(summary), ['1 ok {"n":1}', '2 reject record must be valid JSON (Unexpected end of JSON input), got "{\\"n\\":"'], 'CRLF is no CR-only line end');
});

jsonl.run();

// ---------------------------------------------------------------------------------------------

const csv = suite<Ctx>('cluster/record-source: CSV', { dir: '' });
csv.before((ctx) => { ctx.dir = tempDir('vigil-records-'); });
csv.after((ctx) => { removeDir(ctx.dir); });

csv('reads a header, CRLF rows and a quoted field spanning lines, at the line it starts on', async (ctx) => {
  const path = write(ctx, 'a.csv', 'ts,account,note,duration\r\n1782900000000,A1,"two\r\nlines",30\r\n\r\n1782900000001,A2,,0\r\n');
  const got = await readAll(path, undefined);
  assert.equal(got.map(summary), [
    '2 ok {"ts":1782900000000,"account":"A1","note":"two\\nlines","duration":30}',
    '5 ok {"ts":1782900000001,"account":"A2","duration":0}',
  ]);
  const first = got[0];
  assert.ok(first !== undefined && first.ok);
  assert.is(first.text, '1782900000000,A1,"two\nlines",30');
});

csv('keeps blank lines inside a quoted field', async (ctx) => {
  const path = write(ctx, 'b.csv', 'account,note\nA1,"a\n\n\nb"\nA2,c\n');
  assert.equal((await readAll(path, 'csv')).map(summary), ['2 ok {"account":"A1","note":"a\\n\\n\\nb"}', '6 ok {"account":"A2","note":"c"}']);
});

csv('rejects a row with the wrong number of fields, naming its line', async (ctx) => {
  const path = write(ctx, 'c.csv', 'ts,account\n1,A1,extra\n2,A2\n');
  assert.equal((await readAll(path, 'csv')).map(summary), [
    '2 reject record must be 2 CSV fields as in the header (line 2), got 3',
    '3 ok {"ts":2,"account":"A2"}',
  ]);
});

csv('rejects a quoted field still open at the end of the input', async (ctx) => {
  const path = write(ctx, 'd.csv', 'account,note\nA1,ok\nA2,"never closed\nmore\n');
  assert.equal((await readAll(path, 'csv')).map(summary), [
    '2 ok {"account":"A1","note":"ok"}',
    '3 reject record must be RFC 4180 CSV (a quoted field is still open at the end of the input), got "A2,\\"never closed"',
  ]);
});

csv('rejects a record spanning lines once it passes 64 KiB, then reads on', async (ctx) => {
  const line = 'x'.repeat(1000);
  const open = Array.from({ length: 70 }, () => line).join('\n');
  const path = write(ctx, 'e.csv', `account,note\nA1,"${open}"\nA2,fine\n`);
  const got = await readAll(path, 'csv');
  assert.is(got[0]?.ok, false);
  assert.is(summary(got[0] as RawRecord), `2 reject ${TOO_LARGE}`);
  // The rest of the oversized record is read as rows of its own: its quote state is lost with it.
  assert.ok(got.some((r) => r.ok && JSON.stringify(r.value) === '{"account":"A2","note":"fine"}'));
});

// A header that cannot be read is rejected, and so is every row after it: the first row used
// to become the header in its place, silently, and the rows after it were read by the wrong names.
const UNREADABLE = 'record must be CSV with a header row that can be read (the header was rejected), got';
const BAD_HEADERS: Array<[string, string, string[]]> = [
  ['text after a closing quote', '"ts"x,account\n1782900000000,A1\n1782900000001,A2\n', [
    '1 reject record must be RFC 4180 CSV (a closing quote must be followed by a comma or the end of the line), got "\\"ts\\"x,account"',
    `2 reject ${UNREADABLE} "\\"ts\\"x,account"`,
    `3 reject ${UNREADABLE} "\\"ts\\"x,account"`,
  ]],
  ['a quote closed by junk on its second line', '"ts\n"x,account\nts,account\n1782900000000,A1\n', [
    '1 reject record must be RFC 4180 CSV (a closing quote must be followed by a comma or the end of the line), got "\\"x,account"',
    `3 reject ${UNREADABLE} "\\"ts"`,
    `4 reject ${UNREADABLE} "\\"ts"`,
  ]],
  ['a line over 64 KiB', `ts,account,${'n'.repeat(70_000)}\n1782900000000,A1,x\n1782900000001,A2,y\n`, [
    `1 reject ${TOO_LARGE}`,
    `2 reject ${UNREADABLE} "ts,account,${'n'.repeat(47)}…`,
    `3 reject ${UNREADABLE} "ts,account,${'n'.repeat(47)}…`,
  ]],
  // Lines ending in CR alone are one line: it made a header of unique names and no rows, and
  // the whole file was read as nothing ("0 records read, 0 rejected").
  ['line ends of CR alone', 'id,ts,account\r1,1782900000000,A1\r2,1782900000001,A2\r', [
    '1 reject record must be CSV whose lines end in LF or CRLF (this header holds a CR, which ends no line alone), got "id,ts,account\\r1,1782900000000,A1\\r2,1782900000001,A2"',
  ]],
  ['a CR inside a quoted name', 'ts,"acc\rount"\n1782900000000,A1\n', [
    '1 reject record must be CSV whose lines end in LF or CRLF (this header holds a CR, which ends no line alone), got "ts,acc\\rount"',
    '2 reject record must be CSV whose lines end in LF or CRLF (this header holds a CR, which ends no line alone), got "ts,acc\\rount"',
  ]],
  // The header passes 64 KiB on line 66; the rest of it is read as rows of its own (its quote
  // state is lost with it), then the real rows: all rejected.
  ['a quoted name spanning lines past 64 KiB', `ts,"${Array.from({ length: 70 }, () => 'x'.repeat(1000)).join('\n')}"\nts,account\n1782900000000,A1\n`, [
    `1 reject ${TOO_LARGE}`,
    ...[67, 68, 69, 70, 71, 72].map((n) => `${n} reject ${UNREADABLE} "ts,\\"${'x'.repeat(53)}…`),
  ]],
];
for (const [name, text, want] of BAD_HEADERS) {
  csv(`rejects every row under a header with ${name}`, async (ctx) => {
    const path = write(ctx, `bad-header-${name.length}.csv`, text);
    assert.equal((await readAll(path, 'csv')).map(summary), want);
  });
}

csv('gives the same records for any read size', async (ctx) => {
  const path = write(ctx, 'f.csv', '\ufeffaccount,note\r\nA1,"é\r\n""😀"""\r\nA2,plain\r\n');
  const want = (await readAll(path, 'csv')).map(summary);
  assert.equal(want, ['2 ok {"account":"A1","note":"é\\n\\"😀\\""}', '4 ok {"account":"A2","note":"plain"}']);
  for (const chunkBytes of [1, 2, 3, 5]) assert.equal((await readAll(path, 'csv', { chunkBytes })).map(summary), want);
});

csv.run();

// ---------------------------------------------------------------------------------------------

const asterisk = suite<Ctx>('cluster/record-source: Asterisk Master.csv', { dir: '' });
asterisk.before((ctx) => { ctx.dir = tempDir('vigil-records-'); });
asterisk.after((ctx) => { removeDir(ctx.dir); });

asterisk('reads lines with and without uniqueid/userfield in the input zone', async (ctx) => {
  const base = (start: string, tail: string): string => `"acc1","201","0049301234567","from-internal","","SIP/201-1","SIP/trunk-2","Dial","SIP/trunk/0049301234567","${start}","${start}","${start}",10,8,"ANSWERED","DOCUMENTATION"${tail}`;
  const path = write(ctx, 'Master.csv', [
    base('2026-07-01 12:00:00', ''),
    base('2026-01-15 12:00:00', ',"1768474800.5","note"'),
    'garbage,line',
  ].join('\n'));
  const got = await readAll(path, 'asterisk', { inputZone: BERLIN });
  assert.equal(got.map((r) => r.ok ? (r.value as { ts: number }).ts : r.reject.reason), [
    Date.UTC(2026, 6, 1, 10),
    Date.UTC(2026, 0, 15, 11),
    'record must be 16 to 21 Asterisk Master.csv fields, got 2',
  ]);
  const second = got[1];
  assert.ok(second !== undefined && second.ok);
  assert.is((second.value as { id: string }).id, '1768474800.5');
  assert.equal(second.position, { source: path, line: 2 });
});

asterisk.run();

// ---------------------------------------------------------------------------------------------

const text = suite<Ctx>('cluster/record-source: bytes that are not UTF-8', { dir: '' });
text.before((ctx) => { ctx.dir = tempDir('vigil-records-'); });
text.after((ctx) => { removeDir(ctx.dir); });

// Müller and Möller written in Latin-1 (0xFC, 0xF6): decoded as UTF-8 both were M\ufffdller,
// one account. Each is rejected, naming its byte; the UTF-8 lines around them are read.
const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');
const NOT_UTF8 = (byte: string, line: number, column: number): string =>
  `record is not UTF-8 text: byte 0x${byte} at line ${line}, column ${column} is not UTF-8; vigil reads UTF-8 (a Latin-1 text converts with iconv -f latin1 -t utf-8)`;

text('a JSON line with a Latin-1 byte is rejected with the byte, its line and column; UTF-8 lines are read, at every read size', async (ctx) => {
  const content = Buffer.concat([
    Buffer.from('{"account":"Müller"}\n'),
    latin1('{"account":"Müller"}\r\n'),
    latin1('{"account":"Möller"}\n'),
    Buffer.from('{"account":"Ωmega"}\n'),
  ]);
  const path = write(ctx, 'latin1.jsonl', content);
  const expected = [
    '1 ok {"account":"Müller"}',
    `2 reject ${NOT_UTF8('FC', 2, 14)}`,
    `3 reject ${NOT_UTF8('F6', 3, 14)}`,
    '4 ok {"account":"Ωmega"}',
  ];
  for (const chunkBytes of [1, 3, 7, 64 * 1024]) {
    assert.equal((await readAll(path, 'jsonl', { chunkBytes })).map(summary), expected, `chunkBytes ${chunkBytes}`);
  }
});

text('a CSV record is rejected for a bad byte on any of its lines, at the line the record starts on', async (ctx) => {
  const content = Buffer.concat([Buffer.from('account,note\n1,"first\n'), latin1('sécond"\n'), Buffer.from('2,fine\n')]);
  const got = await readAll(write(ctx, 'spans.csv', content), 'csv');
  assert.equal(got.map(summary), [`2 reject ${NOT_UTF8('E9', 3, 2)}`, '4 ok {"account":"2","note":"fine"}']);
});

text('sequences UTF-8 does not allow: a lone continuation byte, an overlong form, a surrogate, past U+10FFFF, cut short', async (ctx) => {
  const lines: Array<[Buffer, string]> = [
    [Buffer.from([0x80]), '80'],
    [Buffer.from([0xc0, 0x80]), 'C0'],
    [Buffer.from([0xed, 0xa0, 0x80]), 'ED'],
    [Buffer.from([0xf4, 0x90, 0x80, 0x80]), 'F4'],
    [Buffer.from([0xe2, 0x82]), 'E2'],
  ];
  const content = Buffer.concat(lines.map(([bytes]) => Buffer.concat([Buffer.from('{"a":"x'), bytes, Buffer.from('"}\n')])));
  const got = await readAll(write(ctx, 'invalid.jsonl', content), 'jsonl');
  assert.equal(got.map(summary), lines.map(([, byte], i) => `${i + 1} reject ${NOT_UTF8(byte, i + 1, 8)}`));
});

text.run();

// ---------------------------------------------------------------------------------------------

const formats = suite('cluster/record-source: formatOf');

formats('knows JSON lines and CSV by extension, and nothing else', () => {
  assert.is(formatOf('in/a.jsonl'), 'jsonl');
  assert.is(formatOf('a.NDJSON'), 'jsonl');
  assert.is(formatOf('a.json'), 'jsonl');
  assert.is(formatOf('/var/cdr/Master.csv'), 'csv');
  assert.is(formatOf('a.txt'), undefined);
  assert.is(formatOf('-'), undefined);
});

formats('looks past a trailing .gz', () => {
  assert.is(formatOf('/var/cdr/cdr-2026-12-01.jsonl.gz'), 'jsonl');
  assert.is(formatOf('Master.csv.gz'), 'csv');
  assert.is(formatOf('A.CSV.GZ'), 'csv');
  assert.is(formatOf('a.ndjson.gz'), 'jsonl');
  assert.is(formatOf('cdrs.gz'), undefined);
  assert.is(formatOf('a.txt.gz'), undefined);
});

formats.run();

// ---------------------------------------------------------------------------------------------

const gzip = suite<Ctx>('cluster/record-source: gzip', { dir: '' });
gzip.before((ctx) => { ctx.dir = tempDir('vigil-records-'); });
gzip.after((ctx) => { removeDir(ctx.dir); });

/** Records, then how the read ended: `end`, or the InputDamagedError's line and reason. */
async function readUntilBroken (path: string, format: RecordFormat | undefined, over: Partial<ReadOptions> = {}): Promise<{ records: string[], end: string }> {
  const records: string[] = [];
  try {
    for await (const r of readRawRecords(path, format, { inputZone: BERLIN, ...over })) records.push(summary(r));
  } catch (err) {
    if (!(err instanceof InputDamagedError)) throw err;
    assert.is(err.code, 'VIGIL_INPUT_DAMAGED');
    assert.is(err.source, path);
    assert.is(err.message, `${path}:${err.line}: ${err.reason}; the records before line ${err.line} were read, nothing from there on`);
    return { records, end: `${err.line} ${err.reason}` };
  }
  return { records, end: 'end' };
}

const TEXT = '\ufeff{"a":"日本語"}\r\n\n{"b":"😀 Grüße"}\n{bad\r\n{"c":[1,2]}';

gzip('a gzip file gives the records of its text, at the lines of the text, for any read size', async (ctx) => {
  const plain = write(ctx, 'h.jsonl', TEXT);
  const packed = write(ctx, 'h.jsonl.gz', gzipSync(TEXT));
  const want = (await readAll(plain, 'jsonl')).map(summary);
  assert.is(want.length, 4);
  for (const chunkBytes of [1, 2, 7, 64, 65_536]) {
    assert.equal((await readAll(packed, 'jsonl', { chunkBytes })).map(summary), want, `chunks of ${chunkBytes}`);
  }
  const got = await readAll(packed, undefined);
  assert.equal(got.map((r) => r.ok ? r.position : r.reject.position), [1, 3, 4, 5].map((line) => ({ source: packed, line })), 'positions name the file as given');
  const bad = got[2];
  assert.ok(bad !== undefined && !bad.ok);
  assert.is(bad.reject.raw, '{bad');
});

gzip('gzip is known by its magic bytes, not by the name', async (ctx) => {
  const want = (await readAll(write(ctx, 'ref.jsonl', TEXT), 'jsonl')).map(summary);
  assert.equal((await readAll(write(ctx, 'packed-but-named.jsonl', gzipSync(TEXT)), undefined)).map(summary), want, 'gzip named .jsonl');
  assert.equal((await readAll(write(ctx, 'plain-but-named.jsonl.gz', TEXT), undefined)).map(summary), want, 'text named .gz');
  assert.equal(await readAll(write(ctx, 'empty.jsonl.gz', ''), undefined), [], 'an empty file');
  assert.equal(await readAll(write(ctx, 'empty-member.jsonl.gz', gzipSync('')), undefined), [], 'an empty member');
  assert.equal((await readAll(write(ctx, 'one-byte.jsonl', '\x1f'), undefined, { chunkBytes: 1 })).map((r) => r.ok), [false], 'one byte of the magic: text');
});

gzip('CSV by the extension under .gz, and Asterisk with the format given', async (ctx) => {
  const csvText = 'ts,account,note,duration\r\n1782900000000,A1,"two\r\nlines",30\r\n\r\n1782900000001,A2,,0\r\n';
  const got = await readAll(write(ctx, 'a.csv.gz', gzipSync(csvText)), undefined);
  assert.equal(got.map(summary), [
    '2 ok {"ts":1782900000000,"account":"A1","note":"two\\nlines","duration":30}',
    '5 ok {"ts":1782900000001,"account":"A2","duration":0}',
  ]);
  const line = (start: string): string => `"acc1","201","0049301234567","from-internal","","SIP/201-1","SIP/trunk-2","Dial","","${start}","${start}","${start}",10,8,"ANSWERED","DOCUMENTATION","1768474800.5"`;
  const master = write(ctx, 'Master.csv.gz', gzipSync([line('2026-07-01 12:00:00'), line('2026-01-15 12:00:00')].join('\n') + '\n'));
  const cdrs = await readAll(master, 'asterisk', { inputZone: BERLIN });
  assert.equal(cdrs.map((r) => r.ok ? [(r.value as { ts: number }).ts, r.position.line] : r.reject.reason), [[Date.UTC(2026, 6, 1, 10), 1], [Date.UTC(2026, 0, 15, 11), 2]]);
});

gzip('several members read one after another, as zcat reads them, also when a boundary cuts a line and a character', async (ctx) => {
  const lines = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ n: i, s: 'ü😀'.repeat(i % 7) }));
  const text = Buffer.from(lines.join('\n') + '\n');
  // Cut inside the four bytes of an emoji, so the character is split across members.
  const emoji = text.indexOf(Buffer.from('😀'), Math.floor(text.length / 3));
  const cuts = [emoji + 2, Math.floor(text.length * 0.8)];
  const members = [text.subarray(0, cuts[0]), text.subarray(cuts[0], cuts[1]), text.subarray(cuts[1])].map((part) => gzipSync(part));
  // Zero bytes after the last member are padding (tape, some archivers), as for zcat.
  const path = write(ctx, 'multi.jsonl.gz', Buffer.concat([...members, Buffer.alloc(512)]));
  for (const chunkBytes of [100, 65_536]) {
    const got = await readAll(path, undefined, { chunkBytes });
    assert.is(got.length, 3000, `chunks of ${chunkBytes}`);
    assert.ok(got.every((r, i) => r.ok && r.position.line === i + 1 && r.text === lines[i]), `chunks of ${chunkBytes}: every line whole and in order`);
  }
});

gzip('a file cut short gives every line before the cut, then says where it broke', async (ctx) => {
  const lines = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ n: i, pad: 'x'.repeat(i % 50) }));
  const whole = gzipSync(lines.join('\n') + '\n');
  for (const [at, what] of [[5, 'inside the header'], [Math.floor(whole.length / 3), 'inside the data'], [whole.length - 4, 'inside the trailer']] as Array<[number, string]>) {
    const path = write(ctx, `cut-${at}.jsonl.gz`, whole.subarray(0, at));
    // What zlib can give from the bytes there are: its complete lines are what must be read.
    const readable = gunzipSync(whole.subarray(0, at), { finishFlush: zlibConstants.Z_SYNC_FLUSH }).toString('utf8');
    const complete = readable.split('\n').length - 1;
    for (const chunkBytes of [1000, 65_536]) {
      const got = await readUntilBroken(path, undefined, { chunkBytes });
      assert.equal(got.records, lines.slice(0, complete).map((l, i) => `${i + 1} ok ${l}`), `${what}, chunks of ${chunkBytes}`);
      assert.is(got.end, `${complete + 1} the gzip data is truncated (zlib: unexpected end of file)`, `${what}, chunks of ${chunkBytes}`);
    }
  }
});

gzip('a CSV record open across lines where the file is cut is not read, and the break is at its first line', async (ctx) => {
  // Letters at random, so the cut in the middle of the compressed bytes falls in the middle of the field.
  const rnd = mulberry32(5);
  const field = Array.from({ length: 4000 }, () => String.fromCharCode(97 + Math.floor(rnd() * 26))).join('');
  const text = `account,note\nA1,ok\nA2,"spans\nlines\n${field}"\nA3,x\n`;
  const whole = gzipSync(text);
  const cut = whole.subarray(0, Math.floor(whole.length / 2));
  const readable = gunzipSync(cut, { finishFlush: zlibConstants.Z_SYNC_FLUSH }).toString('utf8');
  assert.ok(readable.includes('lines\n') && !readable.includes('"\nA3'), 'the cut is inside the quoted field');
  const path = write(ctx, 'cut.csv.gz', cut);
  const got = await readUntilBroken(path, undefined);
  assert.equal(got, { records: ['2 ok {"account":"A1","note":"ok"}'], end: '3 the gzip data is truncated (zlib: unexpected end of file)' });
});

gzip('damaged data is an InputDamagedError after the records read before it, never a crash', async (ctx) => {
  const lines = Array.from({ length: 4000 }, (_, i) => JSON.stringify({ n: i }));
  const whole = gzipSync(lines.join('\n') + '\n');
  const flipped = Buffer.from(whole);
  flipped[Math.floor(whole.length / 2)]! ^= 0x55;
  const badCrc = Buffer.from(whole);
  badCrc[whole.length - 6]! ^= 0xff;
  const cases: Array<[string, Buffer, RegExp]> = [
    ['a flipped byte', flipped, /^the gzip data is damaged \(zlib: .+\)$/],
    ['a wrong checksum', badCrc, /^the gzip data is damaged \(zlib: incorrect data check\)$/],
    ['text after the last member', Buffer.concat([whole, Buffer.from('appended by mistake\n')]), /^the gzip data is damaged \(zlib: incorrect header check\)$/],
  ];
  for (const [what, bytes, reason] of cases) {
    const got = await readUntilBroken(write(ctx, `damaged-${what.replace(/ /g, '-')}.jsonl.gz`, bytes), undefined);
    const [line, ...words] = got.end.split(' ');
    assert.match(words.join(' '), reason, what);
    // Those read are the file's first records, each whole; the break is right after them.
    assert.equal(got.records, lines.slice(0, got.records.length).map((l, i) => `${i + 1} ok ${l}`), what);
    assert.is(Number(line), got.records.length + 1, what);
  }
});

gzip.run();
