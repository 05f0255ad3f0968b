// cluster/reload: counter state across a rules change, in-process on the single-threaded core
// (no threads, no LMDB): which counters are kept or dropped, and that an engine restored from
// migrated rows goes on exactly as one that ran the new rules all along (kept counters) or
// only since the reload (changed counters). Also the pending rules file of an interrupted
// reload. Needs only the build.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileRules, rulesFingerprint, type CompiledRules } from '../../core/compile.js';
import { Engine, type Row } from '../../core/engine.js';
import { loadRules } from '../../cluster/rules-file.js';
import { migrateRow, parseRulesText, pendingRulesPath, planMigration, recoverPendingRules, writePendingRules } from '../../cluster/reload.js';
import { disk } from '../../workers/codec.js';
import { trafficLines } from '../helpers/traffic.js';
import { tempDir, removeDir } from '../helpers/tmp.js';
import { alertText, feed, startCore, type CoreRun } from '../fixtures/core-run.js';
import { KEPT_RULES, RESTARTED_RULES, UNCHANGED_RULES, keysFor } from '../fixtures/reload-expect.js';

const RULES_A = fileURLToPath(new URL('../../../test/fixtures/replay-rules.yaml', import.meta.url));
const RULES_B = fileURLToPath(new URL('../../../test/fixtures/reload-rules.yaml', import.meta.url));
const START = Date.UTC(2026, 2, 27, 20, 0, 0);

interface Ctx { a: CompiledRules, b: CompiledRules, lines: string[] }
const plan = suite<Ctx>('cluster/reload: counter migration on the core', {} as Ctx);
plan.before((ctx) => {
  ctx.a = compileRules(loadRules(RULES_A));
  ctx.b = compileRules(loadRules(RULES_B));
  ctx.lines = trafficLines({ seed: 11, records: 6_000, start: START });
});

plan('counters with the same by, measure, window and where are kept; the others dropped', ({ a, b }) => {
  const p = planMigration(a, b);
  // A: 13 counters (calls-hour and baseline share the hourly count by account). B keeps 11:
  // trunk-minute's count and country-avg's unfiltered average are dropped; the hourly count
  // stays with baseline alone.
  assert.is(a.counters.length, 13);
  assert.is(b.counters.length, 15);
  assert.equal({ kept: p.kept, dropped: p.dropped }, { kept: 11, dropped: 2 });
  const kept = new Set<string>();
  p.keyerOf.forEach((k, old) => { p.sources[old]!.forEach((source, slot) => { if (source !== undefined) kept.add(`${k}:${slot}`); }); });
  const keptRules = b.counters.filter((c) => kept.has(`${c.keyer}:${c.slot}`)).flatMap((c) => c.rules.map((r) => r.id));
  assert.equal(keptRules.sort(), [...KEPT_RULES].sort());
});

/** The rows an engine holds, as a store would give them back (deep copies). */
function rowsOf (engine: Engine): Array<{ keyer: number, row: Row }> {
  return engine.takeChanges().rows.map(({ keyer, row }) => ({ keyer, row: disk.unpack(disk.pack(row)) as Row }));
}

function counterOf (engine: Engine, rule: string, key: string, ts: number): unknown {
  return engine.counterValue(rule, key, ts) ?? null;
}

function alertsOf (run: CoreRun, rules: readonly string[], from = 0): string[] {
  return run.alerts.filter((x) => x.line >= from && rules.includes(x.alert.rule)).map((x) => alertText(x.alert)).sort();
}

plan('an engine restored from migrated rows goes on as B from the start (kept) or B since the reload (restarted)', ({ a, b, lines }) => {
  const split = 2_500;
  const before = feed(startCore(a), lines.slice(0, split));
  const p = planMigration(a, b);
  const migrated = rowsOf(before.engine).flatMap(({ keyer, row }) => {
    const next = migrateRow(p, b, { shard: -1, keyer, row });
    return next === undefined ? [] : [{ keyer: next.keyer, row: next.row }];
  });
  const engine = new Engine(b, () => 0, { trackChanges: true });
  engine.restore(before.engine.meta(), migrated);
  const after = feed(startCore(b, before.ingest.watermark, engine), lines.slice(split), split);

  const allB = feed(startCore(b), lines);
  const sinceB = feed(startCore(b, before.ingest.watermark), lines.slice(split), split);

  const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const keysOf = (rule: string): string[] => keysFor(b.rules.find((r) => r.id === rule)!.by[0]!, records);
  const at = allB.ingest.watermark;
  let compared = 0;
  let differs = 0;
  for (const rule of [...KEPT_RULES, ...RESTARTED_RULES]) {
    const oracle = KEPT_RULES.includes(rule) ? allB.engine : sinceB.engine;
    for (const key of keysOf(rule)) {
      const got = counterOf(after.engine, rule, key, at);
      assert.equal(got, counterOf(oracle, rule, key, at), `${rule}/${key}`);
      if (got !== null) compared++;
      if (RESTARTED_RULES.includes(rule) && JSON.stringify(got) !== JSON.stringify(counterOf(allB.engine, rule, key, at))) differs++;
    }
  }
  assert.ok(compared > 60, `expected many live counters, got ${compared}`);
  assert.ok(differs > 3, 'restarted counters did restart (they differ from B run from the start)');

  assert.equal(alertsOf(after, UNCHANGED_RULES), alertsOf(allB, UNCHANGED_RULES, split), 'unchanged rules raise what B from the start raises');
  assert.equal(alertsOf(after, RESTARTED_RULES), alertsOf(sinceB, RESTARTED_RULES), 'restarted rules raise what B since the reload raises');
  assert.ok(alertsOf(after, RESTARTED_RULES).length > 10);
  // A rule that kept its counter never raises an alert it raised before the reload again.
  const ids = [...before.alerts, ...after.alerts].filter((x) => x.alert.rule === 'spend-day').map((x) => `${x.alert.id}`);
  assert.is(new Set(ids).size, ids.length);
});

plan('a rule that moves to another slot keeps what it fired and the limit its window opened with', ({ a, b }) => {
  // In A the hourly count by account holds calls-hour (slot 0) and baseline (slot 1); in B baseline alone (slot 0).
  const p = planMigration(a, b);
  const keyer = a.keyers.findIndex((k) => k.counters.some((c) => c.rules.some((r) => r.id === 'baseline')));
  const counterA = a.keyers[keyer]!.counters.find((c) => c.rules.some((r) => r.id === 'baseline'))!;
  assert.equal(counterA.rules.map((r) => r.id), ['calls-hour', 'baseline']);
  const cells: Row['cells'] = [];
  cells[counterA.slot] = { windows: [{ start: START, end: START + 3_600_000, n: 20, a: 20, distinct: undefined, ends: undefined, starts: undefined, newestStart: -Infinity, limits: [15, 8], fired: [2, 2] }] };
  const migrated = migrateRow(p, b, { shard: 3, keyer, row: { key: 'acct-1', shard: 3, cells } });
  assert.ok(migrated !== undefined);
  const counterB = b.keyers[migrated.keyer]!.counters.find((c) => c.rules.some((r) => r.id === 'baseline'))!;
  assert.equal(counterB.rules.map((r) => r.id), ['baseline']);
  const w = (migrated.row.cells[counterB.slot] as { windows: Array<{ fired: number[], limits: number[] }> }).windows[0]!;
  assert.equal(w.fired, [2], 'baseline had fired; it still has');
  assert.equal(w.limits, [8], 'its limit, fixed when the window opened, is kept');
  assert.is(migrated.shard, 3);
  assert.is(migrated.row.cells.filter(Boolean).length, 1, 'the other cells of the row were not kept');
});

plan('a named list counts by its name: new entries keep the counters that filter on it; a changed inline list or another list restarts them', () => {
  const rules = (lists: string, where: string): CompiledRules => compileRules(parseRulesText([
    'version: 1',
    `lists: { ${lists} }`,
    'rules:',
    `  - { id: risky, by: account, measure: sum(cost), window: day, where: ${where}, limit: 10 }`,
    '  - { id: hot, by: caller, measure: count, window: day, where: { called: { prefix: $hot } }, limit: 0 }',
    '',
  ].join('\n'), '/etc/vigil/rules.yaml'));
  const before = rules('risky: [SO, NG], other: [SO, NG], hot: ["+88213"]', '{ country: $risky }');
  const refreshed = rules('risky: [SO, NG, TH], other: [SO, NG], hot: ["+88213", "+4930999"]', '{ country: $risky }');
  assert.is.not(rulesFingerprint(refreshed.config), rulesFingerprint(before.config), 'the entries are part of the rules');
  assert.equal(pick(planMigration(before, refreshed)), { kept: 2, dropped: 0 }, 'typed (country) and text (prefix) lists alike');
  assert.equal(pick(planMigration(before, rules('risky: [SO, NG], other: [SO, NG], hot: ["+88213"]', '{ country: $other }'))), { kept: 1, dropped: 1 }, 'the same entries under another name: another filter');
  const inline = rules('hot: ["+88213"]', '{ country: [SO, NG] }');
  assert.equal(pick(planMigration(inline, rules('hot: ["+88213"]', '{ country: [SO, NG, TH] }'))), { kept: 1, dropped: 1 }, 'an inline list is the rule\'s own text');
  assert.equal(pick(planMigration(inline, rules('risky: [SO, NG], hot: ["+88213"]', '{ country: $risky }'))), { kept: 1, dropped: 1 }, 'inline turned into a reference: restarts too');
});

plan('a credit limit changed for one key gives that key its new limit; every other key keeps the limit its window opened with', () => {
  const rules = (limits: string, floors: string): CompiledRules => compileRules(parseRulesText([
    'version: 1',
    'rules:',
    `  - { id: credit, by: account, measure: sum(cost), window: month, limit: 100, limits: { ${limits} } }`,
    `  - { id: surge, by: account, measure: sum(cost), window: month, limit: 50, limits: { ${floors} }, adaptive: { over: 2, factor: 3 } }`,
    '',
  ].join('\n'), '/etc/vigil/rules.yaml'));
  const before = rules('acct-1: 500, acct-2: 700', 'acct-1: 60');
  const after = rules('acct-1: 20, acct-2: 700', 'acct-1: 40');
  const p = planMigration(before, after);
  const counter = before.keyers[0]!.counters[0]!;
  assert.equal(counter.rules.map((r) => r.id), ['credit', 'surge']);
  // Limits as fixed when the window opened; the surge limit of 66 came from history since pruned.
  const row = (key: string): Row['cells'] => {
    const cells: Row['cells'] = [];
    cells[counter.slot] = { windows: [{ start: START, end: START + 86_400_000, n: 3, a: 30, distinct: undefined, ends: undefined, starts: undefined, newestStart: -Infinity, limits: [key === 'acct-1' ? 500 : 700, 66], fired: [0, 0] }] };
    return cells;
  };
  const limitsOf = (key: string): number[] => {
    const migrated = migrateRow(p, after, { shard: 0, keyer: 0, row: { key, shard: 0, cells: row(key) } });
    return (migrated!.row.cells[counter.slot] as { windows: Array<{ limits: number[] }> }).windows[0]!.limits;
  };
  // acct-1's surge floor changed: its limit is computed again, from a history with nothing left in it.
  assert.equal(limitsOf('acct-1'), [20, 40], 'acct-1 gets its new credit limit and surge floor');
  assert.equal(limitsOf('acct-2'), [700, 66], 'acct-2 keeps both, its surge limit as its window opened with');
});

function pick (p: { kept: number, dropped: number }): { kept: number, dropped: number } {
  return { kept: p.kept, dropped: p.dropped };
}

plan.run();

// ---------------------------------------------------------------------------------------------

interface FileCtx { dir: string }
const files = suite<FileCtx>('cluster/reload: the rules file of an interrupted reload', {} as FileCtx);
files.before.each((ctx) => { ctx.dir = tempDir(); });
files.after.each((ctx) => { removeDir(ctx.dir); });

files('a pending file whose fingerprint is the folder\'s replaces the rules file; any other is removed', ({ dir }) => {
  const file = join(dir, 'rules.yaml');
  writeFileSync(file, readFileSync(RULES_A, 'utf8'));
  const textB = readFileSync(RULES_B, 'utf8');
  const fpA = rulesFingerprint(loadRules(RULES_A));
  const fpB = rulesFingerprint(loadRules(RULES_B));

  writePendingRules(file, textB);
  assert.ok(existsSync(pendingRulesPath(file)));
  assert.not.ok(recoverPendingRules(file, fpA), 'the folder still has the old rules: the reload never committed');
  assert.not.ok(existsSync(pendingRulesPath(file)));
  assert.is(readFileSync(file, 'utf8'), readFileSync(RULES_A, 'utf8'));

  writePendingRules(file, textB);
  assert.ok(recoverPendingRules(file, fpB), 'the folder has the new rules: finish the rename');
  assert.is(readFileSync(file, 'utf8'), textB);
  assert.not.ok(existsSync(pendingRulesPath(file)));
  assert.not.ok(recoverPendingRules(file, fpB), 'nothing pending');
});

files.run();
