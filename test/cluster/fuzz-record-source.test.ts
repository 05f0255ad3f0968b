// Fuzz, level 1: files of seeded mutants of valid records (test/helpers/mutate.ts) through
// readRawRecords and Ingest.prepare, as JSON lines, CSV and Asterisk Master.csv, plain and
// gzip, read in chunks of every size down to one byte. Whatever the bytes, every record of the
// input (as test/helpers/mutate.ts's model counts them) comes out once, at the line it starts
// on, accepted or rejected with a code and a reason that says what is wrong; nothing throws;
// an unchanged record is accepted whole.
// Run: npx tsc -p tsconfig.json && node dist/test/cluster/fuzz-record-source.test.js
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { readRawRecords, type RawRecord, type RecordFormat } from '../../cluster/record-source.js';
import { loadRules } from '../../cluster/rules-file.js';
import { compileRules, type CompiledRules } from '../../core/compile.js';
import { Ingest } from '../../core/ingest.js';
import { Zone } from '../../core/zone.js';
import { mulberry32 } from '../helpers/prng.js';
import { tempDir, removeDir } from '../helpers/tmp.js';
import { assertClear, assertKept, recordSpans, splitLines, type Span } from '../helpers/fuzz-model.js';
import { CSV_HEADER, joinUnits, mutantUnits, type Input } from '../helpers/mutate-records.js';

const RULES = fileURLToPath(new URL('../../../test/fixtures/replay-rules.yaml', import.meta.url));
const BERLIN = new Zone('Europe/Berlin');
const TOO_LARGE = 'record larger than 64 KiB';
interface Ctx { dir: string, compiled: CompiledRules }

async function readAll (path: string, format: RecordFormat, chunkBytes?: number): Promise<RawRecord[]> {
  const out: RawRecord[] = [];
  for await (const r of readRawRecords(path, format, { inputZone: BERLIN, ...(chunkBytes === undefined ? {} : { chunkBytes }) })) out.push(r);
  return out;
}

const brief = (r: RawRecord): string => r.ok ? `${r.position.line} ok ${r.text}` : `${r.reject.position.line} reject ${r.reject.reason}`;

/**
 * Reads `input` (written to `path`) with each read size and checks it against the model:
 * one result per span, at its line; every reject clear; an unchanged record accepted whole.
 * Returns accepted and rejected counts.
 */
async function check (ctx: Ctx, path: string, input: Input, format: RecordFormat, chunkSizes: ReadonlyArray<number | undefined>, header = true): Promise<{ accepted: number, rejected: number }> {
  let spans: Span[] = recordSpans(splitLines(input.bytes), format === 'jsonl' ? 'jsonl' : 'csv');
  // A good header is no record; a bad one is rejected, and every row after it.
  if (format === 'csv' && header) spans = spans.slice(1);
  const got = await readAll(path, format, chunkSizes[0]);
  for (const size of chunkSizes.slice(1)) {
    assert.equal((await readAll(path, format, size)).map(brief), got.map(brief), `${path}: the same records in reads of ${size ?? 'default'} bytes`);
  }
  assert.equal(got.map((r) => r.ok ? r.position.line : r.reject.position.line), spans.map((sp) => sp.line), `${path}: one result per record, at the line it starts on`);
  const byLine = new Map<number, RawRecord>();
  const ingest = new Ingest(ctx.compiled);
  let accepted = 0;
  let rejected = 0;
  for (const [k, r] of got.entries()) {
    const span = spans[k]!;
    const position = r.ok ? r.position : r.reject.position;
    const where = `${path}:${span.line}`;
    assert.equal(position, { source: path, line: span.line }, `${where}: position`);
    byLine.set(span.line, r);
    if (span.tooLarge) assert.is(r.ok ? undefined : r.reject.reason, TOO_LARGE, where);
    if (span.open) assert.match(r.ok ? '' : r.reject.reason, 'a quoted field is still open at the end of the input', where);
    if (!r.ok) { assertClear(r.reject, where); rejected++; continue; }
    assert.ok(header, `${where}: a row under a bad header must be rejected`);
    ingest.watermark = -Infinity; // lateness is the replay tests' business; here each record alone
    const prepared = ingest.prepare(r.value, r.position, r.text);
    if (prepared.ok) {
      accepted++;
      if (format === 'jsonl') assertKept(r.value, prepared.record, where);
    } else {
      assert.equal(prepared.reject.position, position, `${where}: reject position`);
      assertClear(prepared.reject, where);
      rejected++;
    }
  }
  for (const [i, unit] of input.units.entries()) {
    if (unit.valid !== true || !input.alone[i] || !header) continue;
    const r = byLine.get(input.lineOf[i]!);
    if (r === undefined) continue; // inside a record a quote before it left open
    assert.ok(r.ok, `${path}:${input.lineOf[i]!}: ${unit.how} must be read, got ${brief(r)}`);
    ingest.watermark = -Infinity;
    const prepared = ingest.prepare(r.value, r.position, r.text);
    assert.ok(prepared.ok, `${path}:${input.lineOf[i]!}: ${unit.how} must be accepted, got ${prepared.ok ? '' : prepared.reject.reason}`);
  }
  assert.is(accepted + rejected, spans.length);
  return { accepted, rejected };
}

const fuzz = suite<Ctx>('cluster/record-source: fuzzed inputs', {} as Ctx);
const EXT = { jsonl: 'jsonl', csv: 'csv', asterisk: 'csv' };

fuzz.before((ctx) => {
  ctx.dir = tempDir('vigil-fuzz-');
  ctx.compiled = compileRules(loadRules(RULES));
});
fuzz.after((ctx) => { removeDir(ctx.dir); });

for (const format of ['jsonl', 'csv', 'asterisk'] as const) {
  fuzz(`${format}: small files of mutants, in reads of 1 to 5 bytes, CR-only line ends among them`, async (ctx) => {
    const totals = { accepted: 0, rejected: 0 };
    for (let seed = 1; seed <= 8; seed++) {
      const rnd = mulberry32(seed * 7919);
      const input = joinUnits(rnd, mutantUnits(format, rnd, 40, seed, true), { crOnly: seed % 3 === 0 });
      const path = join(ctx.dir, `small-${seed}.${EXT[format]}`);
      writeFileSync(path, input.bytes);
      const r = await check(ctx, path, input, format, [undefined, seed === 1 ? 1 : 1 + (seed % 5), 64]);
      totals.accepted += r.accepted; totals.rejected += r.rejected;
    }
    assert.ok(totals.accepted > 50 && totals.rejected > 50, `both kinds: ${JSON.stringify(totals)}`);
  });

  fuzz(`${format}: large files of mutants with lines of 1 MB and deep nesting, plain and gzip`, async (ctx) => {
    for (let seed = 1; seed <= 3; seed++) {
      const rnd = mulberry32(seed * 104_729);
      const input = joinUnits(rnd, mutantUnits(format, rnd, 700, seed + 100, false));
      const path = join(ctx.dir, `large-${seed}.${EXT[format]}`);
      writeFileSync(path, input.bytes);
      await check(ctx, path, input, format, [undefined, 4093]);
      const gz = `${path}.gz`;
      writeFileSync(gz, gzipSync(input.bytes));
      const plain = (await readAll(path, format)).map(brief);
      assert.equal((await readAll(gz, format, 4093)).map(brief), plain, 'gzip reads as plain');
    }
  });
}

// [what, header line, extra cells per row, whether the header is good]
const HEADERS: Array<[string, string, string, boolean]> = [
  ['the usual header', CSV_HEADER.join(','), '', true],
  ['a byte-order mark and spaces around names', `\ufeff ${CSV_HEADER.join(' , ')} `, '', true],
  ['quoted names', CSV_HEADER.map((h) => `"${h}"`).join(','), '', true],
  ['columns named constructor, prototype and toString', `${CSV_HEADER.join(',')},constructor,prototype,toString`, ',c,p,t', true],
  ['an empty name', `${CSV_HEADER.join(',')},,x`, ',a,b', false],
  ['a trailing comma', `${CSV_HEADER.join(',')},`, ',', false],
  ['a duplicate name', `${CSV_HEADER.join(',')},account`, ',A9', false],
  ['a duplicate name but for spaces', `${CSV_HEADER.join(',')}, account `, ',A9', false],
  ['a column named __proto__', `${CSV_HEADER.join(',')},__proto__`, ',x', false],
  ['a column named attrs. with no attribute', `${CSV_HEADER.join(',')},attrs.`, ',x', false],
  ['attrs beside attrs.NAME', `${CSV_HEADER.join(',')},attrs`, ',x', false],
  ['an unbalanced quote', `"${CSV_HEADER.join(',')}`, '', false],
];

for (const [what, header, extra, good] of HEADERS) {
  fuzz(`csv: a header with ${what}, over mutated rows and header only`, async (ctx) => {
    const rnd = mulberry32(header.length);
    const rows = mutantUnits('csv', rnd, 30, header.length, true).slice(1).map((u) => ({ ...u, text: Buffer.concat([u.text, Buffer.from(extra)]) }));
    for (const [n, units] of [[0, []], [1, rows]] as const) {
      const input = joinUnits(rnd, [{ text: Buffer.from(header), how: 'header', valid: undefined }, ...units]);
      const path = join(ctx.dir, `header-${header.length}-${n}.csv`);
      writeFileSync(path, input.bytes);
      const r = await check(ctx, path, input, 'csv', [undefined, 3], good);
      if (good) assert.is(r.rejected + r.accepted, recordSpans(splitLines(input.bytes), 'csv').length - 1);
      else assert.is(r.accepted, 0);
    }
  });
}

fuzz.run();
