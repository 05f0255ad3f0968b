/**
 * What one counter key costs, measured with a million keys (README, "Memory and disk").
 * One rule (`count` by caller over a day) is fed one record for each of N distinct callers;
 * the heap growth over the empty engine, divided by N, is the memory per key (the engine's own
 * state: key, id, the counter's numbers; not the row snapshots a commit packs). The rows are then
 * committed to a fresh LMDB folder through the shard store, and the used pages divided by N are
 * the disk per key.
 *
 * Run: npx tsc -p tsconfig.json && node --expose-gc dist/bench/key-cost.js [--keys N]
 * Needs: about 2 GB of memory for a million keys, a temporary folder. Stops by itself.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { compileRules } from '../core/compile.js';
import { Engine } from '../core/engine.js';
import type { RulesConfig } from '../core/rules-config.js';
import type { UsageRecord } from '../core/usage-record.js';
import { LmdbStore } from '../workers/store.js';

const arg = process.argv.indexOf('--keys');
const N = arg > 0 ? Number(process.argv[arg + 1]) : 1_000_000;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

const config: RulesConfig = {
  version: 1,
  file: 'key-cost',
  timezone: 'Europe/Berlin',
  accountScoped: ['subscription', 'caller'],
  lateness: 3_600_000,
  lists: new Map(),
  groups: new Map(),
  channels: new Map(),
  rules: [{
    id: 'calls-day',
    by: [{ kind: 'field', field: 'caller' }],
    measure: { kind: 'count' },
    window: { kind: 'calendar', unit: 'day' },
    limit: 1000,
    limits: new Map(),
    severity: 'critical',
    minCount: 0,
    enabled: true,
    position: { line: 1, col: 1 },
  }],
};

const compiled = compileRules(config);
const engine = new Engine(compiled, () => 0, { trackChanges: true });
const ts = Date.UTC(2026, 10, 21, 10);
// The JS heap plus typed-array storage: the engine's arenas live outside the heap.
const heap = (): number => { gc(); gc(); const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers; };

const before = heap();
const out: never[] = [];
for (let i = 0; i < N; i++) {
  const record: UsageRecord = {
    id: `r${i}`,
    ts,
    account: `acct-${i % 1000}`,
    caller: `+4917${String(i).padStart(9, '0')}`,
    service: 'voice',
    duration: 60,
    answered: true,
    direction: 'out',
    hour: 11,
    minuteOfDay: 660,
    weekday: 'sat',
    group: [],
  };
  engine.process(record, { shards: 1, owns: () => true }, out);
}
// Measured before takeChanges(): the engine's own state, not the snapshots of the rows a commit packs.
const after = heap();
const memoryPerKey = (after - before) / N;
const changes = engine.takeChanges();

const dir = mkdtempSync(join(tmpdir(), 'vigil-keycost-'));
const store = new LmdbStore(join(dir, 'data'));
const BATCH = 50_000;
for (let i = 0; i < changes.rows.length; i += BATCH) {
  await store.commit({
    epoch: 1 + i / BATCH,
    shards: [0],
    meta: engine.meta(),
    rows: changes.rows.slice(i, i + BATCH).map(({ keyer, row }) => ({ shard: 0, keyer, row })),
    removed: [],
    output: { alerts: [], failures: [] },
  });
}
await store.close();
const env = open({ path: join(dir, 'data'), readOnly: true });
const stat = env.getStats() as { pageSize: number, treeBranchPageCount: number, treeLeafPageCount: number, overflowPages: number, entryCount: number };
const pages = stat.treeBranchPageCount + stat.treeLeafPageCount + stat.overflowPages;
const diskPerKey = pages * stat.pageSize / N;
await env.close();
rmSync(dir, { recursive: true, force: true });

const result = { bench: 'key-cost', node: process.version, keys: N, rows: changes.rows.length, memoryBytesPerKey: Math.round(memoryPerKey), diskBytesPerKey: Math.round(diskPerKey), lmdbEntries: stat.entryCount };
console.table([{ keys: N, 'memory B/key': result.memoryBytesPerKey, 'disk B/key': result.diskBytesPerKey }]);
console.log(JSON.stringify(result));
