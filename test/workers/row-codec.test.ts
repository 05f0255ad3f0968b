// The row codec: counter rows as LMDB stores them. An engine restored from rows that went
// through the codec carries on exactly as the engine that wrote them; rows written as objects
// by earlier versions still read; a value that is not a row says so.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { Engine, type Row } from '../../core/engine.js';
import { Ingest } from '../../core/ingest.js';
import type { Alert } from '../../core/alert.js';
import type { UsageRecord } from '../../core/usage-record.js';
import type { RiskCell } from '../../core/risk.js';
import { loadRules } from '../../cluster/rules-file.js';
import { compileRules } from '../../core/compile.js';
import { generateTraffic } from '../../examples/dataset.js';
import { disk } from '../../workers/codec.js';
import { BadRowError, decodeRow, encodeRow } from '../../workers/row-codec.js';

const RULES = fileURLToPath(new URL('../../../examples/rules.yaml', import.meta.url));
const test = suite('workers/row-codec');

function prepared (): { compiled: ReturnType<typeof compileRules>, records: UsageRecord[], watermarks: number[] } {
  const compiled = compileRules(loadRules(RULES));
  const ingest = new Ingest(compiled);
  const records: UsageRecord[] = [];
  const watermarks: number[] = [];
  generateTraffic({ days: 2, seed: 7, accounts: 300, start: '2026-11-20' }).lines.forEach((line, i) => {
    let raw: unknown;
    try { raw = JSON.parse(line); } catch { return; }
    const p = ingest.prepare(raw, { source: 'test', line: i + 1 });
    if (p.ok) { records.push(p.record); watermarks.push(ingest.watermark); }
  });
  return { compiled, records, watermarks };
}

function feed (engine: Engine, records: readonly UsageRecord[], watermarks: readonly number[], from: number, to: number): Alert[] {
  const out: Alert[] = [];
  for (let i = from; i < to; i++) {
    engine.advance(watermarks[i]!);
    engine.process(records[i]!, undefined, out);
  }
  return out;
}

test('an engine restored from encoded rows raises the same alerts and keeps the same state as the one that wrote them', () => {
  const { compiled, records, watermarks } = prepared();
  const half = Math.floor(records.length / 2);
  const writer = new Engine(compiled, () => 0, { trackChanges: true });
  // Rows as a store holds them: the newest bytes per key, removed keys gone.
  const stored = new Map<string, { keyer: number, bytes: Buffer }>();
  for (let at = 0; at < half; at += 500) {
    feed(writer, records, watermarks, at, Math.min(half, at + 500));
    const changes = writer.takeChanges();
    for (const { keyer, row } of changes.rows) stored.set(`${keyer}:${row.key}`, { keyer, bytes: encodeRow(row) });
    for (const { keyer, key } of changes.removed) stored.delete(`${keyer}:${key}`);
  }
  const rows = [...stored.values()].map(({ keyer, bytes }) => ({ keyer, row: decodeRow(bytes) }));
  const cells = rows.flatMap(({ row }) => row.cells.filter((c) => c !== undefined));
  assert.ok(cells.some((c) => 'ts' in c), 'sliding windows among the rows');
  assert.ok(cells.some((c) => 'windows' in c && c.windows.some((w) => w.distinct instanceof Set && w.distinct.size > 0)), 'distinct sets among the rows');
  assert.ok(cells.some((c) => 'windows' in c && c.windows.some((w) => (w.ends?.length ?? 0) > 0)), 'held calls of concurrent among the rows');

  const reader = new Engine(compiled, () => 0);
  reader.restore(writer.meta(), rows);
  assert.equal(reader.stats(), writer.stats());
  const expected = feed(writer, records, watermarks, half, records.length);
  const got = feed(reader, records, watermarks, half, records.length);
  assert.ok(expected.length > 10, `expected alerts in the second half, got ${expected.length}`);
  assert.equal(got, expected);
  // Sweeps trail event time by a few records (engine.ts, sweepDue) and a restore reschedules
  // every key, so the two may hold a few expired keys apiece until a sweep; none after one.
  writer.sweep();
  reader.sweep();
  assert.equal(reader.stats(), writer.stats());
});

test('a tuple row is smaller than the same row packed as an object', () => {
  const { compiled, records, watermarks } = prepared();
  const engine = new Engine(compiled, () => 0, { trackChanges: true });
  feed(engine, records, watermarks, 0, 5000);
  const rows = engine.takeChanges().rows.map((r) => r.row);
  const tuples = rows.reduce((n, r) => n + encodeRow(r).length, 0);
  const objects = rows.reduce((n, r) => n + disk.pack(r).length, 0);
  assert.ok(tuples < objects * 0.8, `tuples ${tuples} B against objects ${objects} B`);
});

test('a risk cell keeps its score, contributions and fired bits', () => {
  const risk: RiskCell = { score: 7.5, at: 1_800_000_000_000, n: 2, contributions: [['a1', 'r1', 5, 1_799_999_000_000], ['a2', 'r2', 2.5, 1_800_000_000_000]], limits: [10], fired: [2] };
  const row: Row = { key: 'acct-1', shard: 3, cells: [undefined, risk] };
  assert.equal(decodeRow(encodeRow(row)), row);
});

test('a row written as an object by an earlier version still reads', () => {
  const row: Row = { key: 'k', shard: 0, cells: [{ windows: [{ start: 0, end: 60_000, n: 1, a: 4, fired: [0], distinct: undefined, ends: undefined, starts: undefined, newestStart: -Infinity, limits: undefined }] }] };
  assert.equal(decodeRow(disk.pack(row)).cells, disk.unpack(disk.pack(row)).cells);
});

test('a value that is not a row is a BadRowError that says why', () => {
  const cases: Array<[Uint8Array, string]> = [
    [Uint8Array.from([0xc1, 0xc1]), 'not MessagePack'],
    [disk.pack('a string'), 'neither a row tuple nor a row object'],
    [disk.pack([9, 'k', 0, []]), 'not a row tuple'],
    [disk.pack([1, 'k', 0, [[7]]]), 'a cell of unknown kind 7'],
    [disk.pack([1, 'k', 0, [[0, 'x', null, null]]]), 'a calendar cell without windows'],
  ];
  for (const [bytes, message] of cases) {
    try {
      decodeRow(bytes);
      assert.unreachable(`decoded: ${message}`);
    } catch (err) {
      assert.instance(err, BadRowError);
      assert.is((err as Error).message, message);
    }
  }
});

test.run();
