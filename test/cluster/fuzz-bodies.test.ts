// Fuzz, level 1 for what arrives over the network: HTTP POST bodies (parseBody; JSON lines or a
// JSON array) and `<prefix>.in` payloads (decodeInput; JSON, or MessagePack as other languages'
// encoders write it) built from seeded mutants of valid records, then Ingest.prepare. Nothing
// throws; a body or message is refused whole only with a reason that says how to send records;
// otherwise each record comes out once, at its line or seq, accepted (an unchanged one always)
// or rejected with a clear reason.
// Run: npx tsc -p tsconfig.json && node dist/test/cluster/fuzz-bodies.test.js
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseBody, type ParsedBody } from '../../cluster/http-body.js';
import { decodeInput } from '../../cluster/coordinator.js';
import type { RawRecord } from '../../cluster/record-source.js';
import { loadRules } from '../../cluster/rules-file.js';
import { compileRules } from '../../core/compile.js';
import { Ingest } from '../../core/ingest.js';
import { fileURLToPath } from 'node:url';
import { intBetween, mulberry32, pick } from '../helpers/prng.js';
import { WHOLE, assertClear, expectedBody } from '../helpers/fuzz-model.js';
import { joinUnits, mutantMessage, mutantUnits } from '../helpers/mutate-records.js';

const RULES = fileURLToPath(new URL('../../../test/fixtures/replay-rules.yaml', import.meta.url));
const TOO_LARGE = 'record larger than 64 KiB';
const compiled = compileRules(loadRules(RULES));

/** Validates every decoded record of `items`; rejects must be clear. Returns how many were accepted. */
function validate (items: readonly RawRecord[], where: string): { accepted: Set<number>, rejected: number } {
  const ingest = new Ingest(compiled);
  const accepted = new Set<number>();
  let rejected = 0;
  for (const [k, item] of items.entries()) {
    if (!item.ok) { assertClear(item.reject, `${where} #${k + 1}`); rejected++; continue; }
    ingest.watermark = -Infinity;
    const prepared = ingest.prepare(item.value, item.position, item.text);
    if (prepared.ok) accepted.add(k);
    else { assert.equal(prepared.reject.position, item.position); assertClear(prepared.reject, `${where} #${k + 1}`); rejected++; }
  }
  return { accepted, rejected };
}

const positionOf = (item: RawRecord): { line?: number, seq?: number } => item.ok ? item.position : item.reject.position;

/** Checks parseBody's answer on `text` against the model; returns the accepted items' lines. */
function checkBody (parsed: ParsedBody, text: string, where: string): Set<number> {
  const want = expectedBody(text);
  if (want === 'refused') {
    assert.not.ok(parsed.ok, `${where}: refused whole`);
    if (!parsed.ok) assert.match(parsed.error, WHOLE, where);
    return new Set();
  }
  assert.ok(parsed.ok, `${where}: read, got ${parsed.ok ? '' : parsed.error}`);
  if (!parsed.ok) return new Set();
  assert.equal(parsed.items.map((i) => positionOf(i).line), want.lines, `${where}: one record per line`);
  for (const item of parsed.items) {
    if (want.tooLarge.has(positionOf(item).line!)) assert.is(item.ok ? '' : item.reject.reason, TOO_LARGE, where);
  }
  const { accepted } = validate(parsed.items, where);
  return new Set([...accepted].map((k) => positionOf(parsed.items[k]!).line!));
}

const test = suite('cluster/http-body and coordinator: fuzzed bodies and payloads');

test('JSON-lines bodies of mutants: each record at its line, the body refused only when nothing in it is JSON', () => {
  let accepted = 0;
  for (let seed = 1; seed <= 60; seed++) {
    const rnd = mulberry32(seed * 31);
    const input = joinUnits(rnd, mutantUnits('jsonl', rnd, intBetween(rnd, 1, 40), seed, false), { crOnly: seed % 4 === 0 });
    const text = input.bytes.toString('utf8');
    const where = `body ${seed}`;
    const lines = checkBody(parseBody(text, `http#${seed}`), text, where);
    accepted += lines.size;
    const arrayBody = /^\s*\[/.test(text);
    input.units.forEach((u, i) => {
      if (u.valid === true && input.alone[i] && !arrayBody) assert.ok(lines.has(input.lineOf[i]!), `${where}:${input.lineOf[i]!}: ${u.how} must be accepted`);
    });
    // The same bytes on <prefix>.in: the same records, by seq, when they start as JSON does.
    const items = decodeInput(input.bytes, 'nats:t.in');
    if (/^[ \t\r\n]*[{[]/.test(text)) {
      const parsed = parseBody(text, 'nats:t.in');
      if (parsed.ok) assert.equal(items.map((i) => positionOf(i).seq), parsed.items.map((i) => positionOf(i).line), `${where} on NATS`);
      else assert.equal(items.map((i) => i.ok ? 'ok' : i.reject.reason), [parsed.error]);
    } else {
      assert.equal(items.map((i) => positionOf(i).seq), items.map((_, k) => k + 1), `${where} on NATS as MessagePack`);
      if (items.length === 1 && !items[0]!.ok && items[0]!.reject.raw === '') assert.match(items[0]!.reject.reason, WHOLE);
      else validate(items, `${where} on NATS as MessagePack`);
    }
  }
  assert.ok(accepted > 300, `accepted ${accepted}`);
});

test('JSON-array bodies of mutants: each element at its place, held to 64 KiB', () => {
  for (let seed = 1; seed <= 60; seed++) {
    const rnd = mulberry32(seed * 131);
    const values = mutantUnits('jsonl', rnd, intBetween(rnd, 1, 30), seed + 1000, false).filter((u) => {
      try { JSON.parse(u.text.toString('utf8')); return true; } catch { return false; }
    });
    const sep = (): string => pick(rnd, [',', ', ', ',\n', '\r\n,\t']);
    let text = `${pick(rnd, ['', ' ', '\n', '\ufeff'])}[${values.map((u) => u.text.toString('utf8')).join(sep())}]${pick(rnd, ['', '\n', ' x'])}`;
    if (rnd() < 0.1) text = text.slice(0, intBetween(rnd, 0, text.length));
    const where = `array ${seed}`;
    const accepted = checkBody(parseBody(text, `http#${seed}`), text, where);
    const want = expectedBody(text);
    if (want !== 'refused') {
      values.forEach((u, i) => {
        if (u.valid === true) assert.ok(accepted.has(i + 1), `${where} #${i + 1}: ${u.how} must be accepted`);
      });
    }
  }
});

test('MessagePack payloads of mutants, as Python and Go write them: never a throw, each record at its seq', () => {
  let accepted = 0;
  let wholes = 0;
  for (let seed = 1; seed <= 150; seed++) {
    const rnd = mulberry32(seed * 977);
    const { payload, records, refusable, damaged, unchanged } = mutantMessage(rnd, seed);
    const where = `message ${seed}`;
    let items: RawRecord[] = [];
    try {
      items = decodeInput(payload, 'nats:t.in');
    } catch (err) {
      assert.unreachable(`${where}: decodeInput threw ${String(err)}`);
    }
    assert.equal(items.map((i) => positionOf(i).seq), items.map((_, k) => k + 1), `${where}: seq 1..n`);
    const first = items[0];
    const whole = items.length === 1 && first !== undefined && !first.ok && first.reject.raw === '' && /^the message/.test(first.reject.reason);
    if (whole) {
      assert.match(first.reject.reason, WHOLE, where);
      assert.ok(refusable || damaged, `${where}: refused whole: ${first.reject.reason}`);
      wholes++;
      continue;
    }
    const result = validate(items, where);
    accepted += result.accepted.size;
    if (!damaged && !(payload[0] === 0x7b || payload[0] === 0x5b)) {
      assert.is(items.length, records.length, `${where}: one result per record`);
      for (const i of unchanged) assert.ok(result.accepted.has(i), `${where} #${i + 1}: an unchanged record must be accepted`);
    }
  }
  assert.ok(accepted > 150 && wholes < 75, `accepted ${accepted}, ${wholes} messages refused whole`);
});

test.run();
