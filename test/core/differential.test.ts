/**
 * Differential test: the optimized engine (core/compile.ts + core/engine.ts) against the
 * brute-force oracle (test/helpers/oracle.ts) on seeded random rules files and records. Both
 * must raise exactly the same alerts for every record (as a multiset per record: the core groups
 * a record's alerts by counter, not by rule).
 *
 * On a mismatch the test shrinks the case (as few rules, then records, as still disagree) and
 * prints it with the seed. Reproduce one seed with
 *   VIGIL_DIFF_SEED=<seed> VIGIL_DIFF_SEEDS=1 node dist/test/core/differential.test.js
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RulesConfig } from '../../core/rules-config.js';
import type { UsageRecord } from '../../core/usage-record.js';
import { mulberry32 } from '../helpers/prng.js';
import { Oracle } from '../helpers/oracle.js';
import { type Comparable, comparable, randomScenario, runCore, show, sortAlerts } from '../helpers/random-rules.js';

const FIRST_SEED = Number(process.env.VIGIL_DIFF_SEED ?? 1);
const SEEDS = Number(process.env.VIGIL_DIFF_SEEDS ?? 200);
const RECORDS = Number(process.env.VIGIL_DIFF_RECORDS ?? 500);
interface Mismatch { readonly index: number, readonly want: Comparable[], readonly got: Comparable[] }
interface Outcome { readonly mismatch: Mismatch | undefined, readonly late: number[], readonly alerts: Comparable[] }

function compare (cfg: RulesConfig, records: readonly UsageRecord[]): Outcome {
  // The core gets its own copies: nothing it does to a record may leak into the oracle.
  const core = runCore(cfg, records.map((r) => structuredClone(r)));
  const oracle = new Oracle(cfg);
  const alerts: Comparable[] = [];
  for (let i = 0; i < records.length; i++) {
    const want = sortAlerts(oracle.process(records[i] as UsageRecord).map(comparable));
    const got = sortAlerts((core.alerts[i] ?? []).map(comparable));
    if (show(want) !== show(got)) return { mismatch: { index: i, want, got }, late: core.late, alerts };
    alerts.push(...got);
  }
  return { mismatch: undefined, late: core.late, alerts };
}

/** A small case that still disagrees: rules dropped one by one while it does, then ddmin on the records. */
function shrink (cfg: RulesConfig, records: readonly UsageRecord[]): { cfg: RulesConfig, records: UsageRecord[], mismatch: Mismatch } {
  const fails = (c: RulesConfig, rs: readonly UsageRecord[]): Mismatch | undefined => compare(c, rs).mismatch;
  let c = { ...cfg, rules: cfg.rules.filter((r) => r.enabled) };
  for (let i = c.rules.length - 1; i >= 0 && c.rules.length > 1; i--) {
    const fewer = { ...c, rules: c.rules.filter((_r, j) => j !== i) };
    if (fails(fewer, records) !== undefined) c = fewer;
  }
  let rs = records.slice(0, (fails(c, records) as Mismatch).index + 1);
  let chunk = Math.max(1, Math.floor(rs.length / 2));
  while (chunk >= 1) {
    let removed = false;
    for (let at = 0; at < rs.length; at += chunk) {
      const candidate = [...rs.slice(0, at), ...rs.slice(at + chunk)];
      if (candidate.length > 0 && fails(c, candidate) !== undefined) { rs = candidate; removed = true; at -= chunk; }
    }
    if (!removed) chunk = Math.floor(chunk / 2);
  }
  const mismatch = fails(c, rs) as Mismatch;
  return { cfg: c, records: rs.slice(0, mismatch.index + 1), mismatch };
}

function report (seed: number, cfg: RulesConfig, records: readonly UsageRecord[]): string {
  const s = shrink(cfg, records);
  const lines = [
    `seed ${seed} (zone ${cfg.timezone}, lateness ${cfg.lateness} ms): core and oracle disagree`,
    `  reproduce: VIGIL_DIFF_SEED=${seed} VIGIL_DIFF_SEEDS=1 node dist/test/core/differential.test.js`,
    `  shrunk to ${s.cfg.rules.length} rule(s) and ${s.records.length} record(s); mismatch on the last record`,
    ...s.cfg.rules.map((r) => `  rule   ${show(r)}`),
    ...s.records.map((r) => `  record ${show(r)}`),
    `  oracle ${show(s.mismatch.want)}`,
    `  core   ${show(s.mismatch.got)}`,
  ];
  return lines.join('\n');
}

const diff = suite('core/engine: differential against a brute-force oracle');

diff('the engine raises exactly the oracle\'s alerts on random rules and records', () => {
  const failures: string[] = [];
  const byMeasure = new Map<string, number>();
  const byKind = new Map<string, number>();
  let records = 0;
  let rules = 0;
  let alerts = 0;
  for (let seed = FIRST_SEED; seed < FIRST_SEED + SEEDS; seed++) {
    const generated = randomScenario(mulberry32(seed), seed, RECORDS);
    const sc = generated;
    records += sc.records.length;
    rules += sc.config.rules.length;
    const out = compare(sc.config, sc.records);
    assert.equal(out.late, [], `seed ${seed}: the generator made records behind a discarded window`);
    if (out.mismatch !== undefined) {
      failures.push(report(seed, sc.config, sc.records));
      continue;
    }
    alerts += out.alerts.length;
    const ruleOf = new Map(sc.config.rules.map((r) => [r.id, r]));
    for (const a of out.alerts) {
      const r = ruleOf.get(a.rule);
      if (r === undefined) continue;
      const m = r.measure.kind;
      byMeasure.set(m, (byMeasure.get(m) ?? 0) + 1);
      const kinds = [r.window.kind === 'calendar' ? r.window.unit : 'sliding', a.severity];
      if (r.adaptive !== undefined) kinds.push('adaptive');
      if (r.shape !== undefined) kinds.push('shape');
      if (r.limits.has(a.key)) kinds.push('limits');
      for (const k of kinds) byKind.set(k, (byKind.get(k) ?? 0) + 1);
    }
  }
  console.log(`  differential: ${SEEDS} seeds, ${records} records, ${rules} rules, ${alerts} alerts;`,
    show(Object.fromEntries(byMeasure)), show(Object.fromEntries(byKind)));
  if (failures.length > 0) {
    console.error(failures.slice(0, 3).join('\n\n'));
    assert.unreachable(`${failures.length} of ${SEEDS} seeds disagree with the oracle; the first (shrunk) cases are printed above`);
  }
  if (SEEDS >= 100) {
    // The comparison means little unless every kind of alert actually happens.
    for (const m of ['count', 'sum', 'avg', 'max', 'distinct', 'ratio', 'concurrent']) {
      assert.ok((byMeasure.get(m) ?? 0) >= 10, `too few ${m} alerts to trust the comparison`);
    }
    for (const k of ['minute', 'hour', 'day', 'week', 'month', 'sliding', 'warning', 'info', 'critical', 'adaptive', 'shape', 'limits']) {
      assert.ok((byKind.get(k) ?? 0) >= 10, `too few ${k} alerts to trust the comparison`);
    }
  }
});

diff.run();
