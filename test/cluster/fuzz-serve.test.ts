// Fuzz, level 3: a real `vigil serve` node takes seeded POST /v1/records bodies of mutants: JSON
// lines (LF, CRLF, CR only), JSON arrays, gzip-compressed (Content-Encoding gzip or x-gzip) or
// not, and broken ones (damaged gzip, an encoding it does not take, no JSON at all, invalid
// UTF-8, a body or a decompressed body over 16 MiB, 8 million lines). Every answer is JSON: 202 with each reject
// at its line (test/helpers/mutate.ts's model of the body) and a clear reason, or 400, 413 or
// 415 with an error saying what to do; the node stays ready; /metrics counts what the answers
// said, and the node exits 0.
// Run: npx tsc -p tsconfig.json && node dist/test/cluster/fuzz-serve.test.js
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { loadRules } from '../../cluster/rules-file.js';
import { compileRules } from '../../core/compile.js';
import { intBetween, mulberry32, pick, type Rng } from '../helpers/prng.js';
import { request, startServe, stopServe, type Reply } from '../helpers/node.js';
import { parsePrometheus, sampleValue } from '../helpers/prometheus.js';
import { tempDir, removeDir } from '../helpers/tmp.js';
import { WHOLE, assertClear, expectedBody } from '../helpers/fuzz-model.js';
import { calmHead, joinUnits, mutantUnits, type Unit } from '../helpers/mutate-records.js';

const RULES = fileURLToPath(new URL('../../../test/fixtures/replay-rules.yaml', import.meta.url));
const LIMIT = 16 * 1024 * 1024;

interface Ctx { dir: string }
const fuzz = suite<Ctx>('cluster/serve: fuzzed POST /v1/records bodies to a real node', {} as Ctx);
fuzz.before((ctx) => { ctx.dir = tempDir('vigil-fuzz-serve-'); });
fuzz.after((ctx) => { removeDir(ctx.dir); });

/** One POST: its bytes, headers, and what the answer must be. */
interface Post {
  readonly body: Buffer;
  readonly headers: Record<string, string>;
  readonly how: string;
  /** the bytes the node reads, when it reads them (no broken gzip, no other encoding, not too large) */
  readonly plain: Buffer | undefined;
  /** the status when the node must refuse the body whole before reading it */
  readonly refused?: 400 | 413 | 415;
  readonly error?: RegExp;
}

function jsonArray (rnd: Rng, units: readonly Unit[]): string {
  const values = units.map((u) => u.text.toString('utf8')).filter((t) => { try { JSON.parse(t); return true; } catch { return false; } });
  return `[${values.join(pick(rnd, [',', ',\n', ', ']))}]`;
}

function makePost (rnd: Rng, units: readonly Unit[]): Post {
  const lines = (): Buffer => joinUnits(rnd, units, { crOnly: rnd() < 0.2 }).bytes;
  const roll = rnd();
  if (roll < 0.45) { const body = lines(); return { body, headers: {}, how: 'JSON lines', plain: body }; }
  if (roll < 0.6) { const text = jsonArray(rnd, units); return { body: Buffer.from(text), headers: {}, how: 'a JSON array', plain: Buffer.from(text) }; }
  if (roll < 0.8) {
    const plain = rnd() < 0.7 ? lines() : Buffer.from(jsonArray(rnd, units));
    return { body: gzipSync(plain), headers: { 'content-encoding': pick(rnd, ['gzip', 'x-gzip', 'GZIP', ' gzip ']) }, how: 'gzip', plain };
  }
  if (roll < 0.86) {
    // Cut before its trailer, its magic or method changed, or its CRC wrong: each is an error to
    // zlib (unlike a byte of the header's time or OS, which it ignores).
    const broken = Buffer.from(gzipSync(lines()));
    const how = pick(rnd, ['cut', 'magic', 'crc'] as const);
    if (how === 'magic') broken[intBetween(rnd, 0, 2)]! ^= 0xff;
    if (how === 'crc') broken[broken.length - 8 + intBetween(rnd, 0, 3)]! ^= 0xff;
    const body = how === 'cut' ? broken.subarray(0, intBetween(rnd, 0, broken.length - 9)) : broken;
    return { body, headers: { 'content-encoding': 'gzip' }, how: `gzip, ${how}`, plain: undefined, refused: 400, error: /^the body is not gzip data as its Content-Encoding says \(zlib: .+\)$/ };
  }
  if (roll < 0.9) {
    const coding = pick(rnd, ['br', 'deflate', 'zstd', 'gzip, gzip', 'compress']);
    return { body: lines(), headers: { 'content-encoding': coding }, how: `Content-Encoding ${coding}`, plain: undefined, refused: 415, error: /^Content-Encoding ".+" is not supported; send the body as it is or gzip-compressed \(Content-Encoding: gzip\)$/ };
  }
  if (roll < 0.95) {
    const body = pick(rnd, [Buffer.alloc(0), Buffer.from(' \r\n\t'), Buffer.from([0xff, 0xfe, 0x00, 0x01]), Buffer.from('hello\nworld'), Buffer.from('[]'), Buffer.from('[{"ts":1}'), Buffer.from('\ufeff\ufeff')]);
    return { body, headers: {}, how: 'no records', plain: body };
  }
  // Invalid UTF-8 and NUL bytes across the body.
  const body = Buffer.from(lines());
  for (let i = 0; i < 10 && body.length > 0; i++) body[intBetween(rnd, 0, body.length - 1)] = pick(rnd, [0xff, 0x00, 0xc3, 0x80]);
  return { body, headers: {}, how: 'bytes replaced', plain: body };
}

/** Checks one answer against the body's model; returns the counts a 202 gave. */
function checkAnswer (post: Post, reply: Reply, where: string): { accepted: number, rejected: number } {
  assert.ok(reply.headers['content-type']?.toString().startsWith('application/json'), `${where}: a JSON answer, got ${String(reply.headers['content-type'])}`);
  const json = reply.json as { accepted?: number, rejected?: number, rejects?: Array<{ line: number, reason: string }>, error?: string };
  if (post.refused !== undefined) {
    assert.is(reply.status, post.refused, `${where}: ${reply.text}`);
    assert.match(json.error ?? '', post.error!, where);
    return { accepted: 0, rejected: 0 };
  }
  const want = expectedBody(post.plain!);
  if (want === 'refused') {
    assert.is(reply.status, 400, `${where}: ${reply.text.slice(0, 300)}`);
    assert.match(json.error ?? '', WHOLE, where);
    return { accepted: 0, rejected: 0 };
  }
  assert.is(reply.status, 202, `${where}: ${reply.text.slice(0, 300)}`);
  assert.is(json.accepted! + json.rejected!, want.lines.length, `${where}: every record answered for`);
  assert.is(json.rejects!.length, json.rejected);
  const lines = new Set(want.lines);
  for (const r of json.rejects!) {
    assert.ok(lines.has(r.line), `${where}: a reject at line ${r.line}, where a record is`);
    if (want.tooLarge.has(r.line)) assert.is(r.reason, 'record larger than 64 KiB');
    assertClear({ reason: r.reason, code: /^late: /.test(r.reason) ? 'VIGIL_LATE_RECORD' : /^future: /.test(r.reason) ? 'VIGIL_FUTURE_RECORD' : 'VIGIL_INVALID_RECORD', raw: '', position: { source: 'http', line: r.line } }, `${where}:${r.line}`);
  }
  for (const line of want.tooLarge) assert.ok(json.rejects!.some((r) => r.line === line), `${where}: line ${line} over 64 KiB is rejected`);
  return { accepted: json.accepted!, rejected: json.rejected! };
}

fuzz('every answer is JSON and accounts for each record; the node stays ready and /metrics agrees', async ({ dir }) => {
  const config = join(dir, 'node.yaml');
  writeFileSync(config, [`rules: ${RULES}`, `data: ${join(dir, 'data')}`, 'listen: 127.0.0.1:0', 'threads: 1',
    `alerts: ${join(dir, 'alerts.jsonl')}`, `rejects: ${join(dir, 'rejects.jsonl')}`, 'batch: { max_records: 500, max_wait: 5ms }', ''].join('\n'));
  const node = await startServe(config);
  const totals = { accepted: 0, rejected: 0, refused: 0 };
  try {
    const rnd = mulberry32(2026);
    const units = calmHead('jsonl', mutantUnits('jsonl', rnd, 3000, 23, false, 0.6), compileRules(loadRules(RULES)), 30);
    let posts = 0;
    for (let at = 0; at < units.length; posts++) {
      const n = intBetween(rnd, 1, 60);
      const post = makePost(rnd, units.slice(at, at + n));
      at += n;
      const where = `POST ${posts} (${post.how})`;
      const reply = await request(node.port, 'POST', '/v1/records', { body: post.body, headers: post.headers });
      const got = checkAnswer(post, reply, where);
      totals.accepted += got.accepted;
      totals.rejected += got.rejected;
      if (reply.status !== 202) totals.refused++;
      if (posts % 10 === 0) assert.equal((await request(node.port, 'GET', '/readyz')).json, { status: 'ready' }, `ready after ${where}`);
    }
    // Too large, and too large once decompressed: 413, and the node goes on.
    const big = await request(node.port, 'POST', '/v1/records', { body: Buffer.alloc(LIMIT + 1, 0x20) });
    assert.equal([big.status, big.json], [413, { error: `the body is larger than ${LIMIT} bytes; send fewer records per request` }]);
    const bomb = await request(node.port, 'POST', '/v1/records', { body: gzipSync(Buffer.alloc(LIMIT + 1, 0x20)), headers: { 'content-encoding': 'gzip' } });
    assert.equal([bomb.status, bomb.json], [413, { error: `the body decompresses to more than ${LIMIT} bytes; send fewer records per request` }]);
    // 16 MiB of tiny lines: refused at once (8M rejects held the event loop a minute and a half).
    const started = Date.now();
    const many = await request(node.port, 'POST', '/v1/records', { body: 'x\n'.repeat(LIMIT / 2) });
    assert.equal([many.status, many.json], [413, { error: 'the body holds more than 100000 records; send fewer records per request' }]);
    assert.ok(Date.now() - started < 10_000, `answered in ${Date.now() - started} ms`);
    assert.equal((await request(node.port, 'GET', '/readyz')).json, { status: 'ready' });

    assert.ok(totals.accepted > 1000 && totals.rejected > 300 && totals.refused > 10, JSON.stringify(totals));
    const metrics = parsePrometheus((await request(node.port, 'GET', '/metrics')).text);
    const rejected = metrics.samples.filter((s) => s.name === 'vigil_records_rejected_total').reduce((sum, s) => sum + s.value, 0);
    assert.equal({
      accepted: sampleValue(metrics, 'vigil_records_accepted_total'),
      rejected,
      received: sampleValue(metrics, 'vigil_records_received_total'),
    }, { accepted: totals.accepted, rejected: totals.rejected, received: totals.accepted + totals.rejected });
    // No record made a commit fail (a key too long for LMDB did, until the engine stopped).
    assert.not.match(node.stderr(), /commit to the data folder failed|engine failure/);
  } finally {
    const result = await stopServe(node);
    assert.is(result.code, 0, result.stderr);
  }
});

fuzz.run();
