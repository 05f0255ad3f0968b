// `vigil backtest` and `vigil risk` end to end: two rule sets over the same recorded CDRs, the
// diff checked against alerts worked out by hand; a risk score written to a data folder by the
// threaded engine (shard actors, LMDB) and read back by the CLI.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { compileRules } from '../../core/compile.js';
import { loadRules } from '../../cluster/rules-file.js';
import { backtest, type BacktestReport } from '../../cluster/backtest.js';
import { replay } from '../../cluster/replay.js';
import { tempDir, removeDir } from '../helpers/tmp.js';
import { runVigil } from '../helpers/cli.js';

const T = Date.parse('2026-11-02T10:00:00Z');
const MIN = 60_000;
const RECORDS = [
  { id: 'a1', ts: T, account: 'A', called: '+252612345678' },
  { id: 'a2', ts: T + 5 * MIN, account: 'A', called: '+4930123456' },
  { id: 'a3', ts: T + 10 * MIN, account: 'A', called: '+252612345678' },
  { id: 'a4', ts: T + 15 * MIN, account: 'A', called: '+4930123456' },
  { id: 'b1', ts: T + 20 * MIN, account: 'B', called: '+4930123456' },
  { id: 'b2', ts: T + 25 * MIN, account: 'B', called: '+4930123456' },
  { id: 'b3', ts: T + 30 * MIN, account: 'B', called: '+4930123456' },
].map((r) => ({ ...r, ts: new Date(r.ts).toISOString(), service: 'voice', duration: 30, direction: 'out' }));

const BASELINE = `version: 1
rules:
  - { id: calls-hour, measure: count, window: hour, limit: 2 }
  - { id: dropped, measure: count, window: hour, limit: 3 }
`;
// calls-hour now counts calls to Germany only: A (2 such calls) no longer fires, B (3) still does.
const CANDIDATE = `version: 1
rules:
  - { id: calls-hour, measure: count, window: hour, limit: 2, where: { country: DE } }
  - { id: new-country, measure: new(country), window: hour, limit: 1, history: 30d }
`;

interface Ctx { dir: string, input: string, baseline: string, candidate: string }
const bt = suite<Ctx>('cluster/backtest: two rule sets over the same history', {} as Ctx);
bt.before((ctx) => {
  ctx.dir = tempDir();
  ctx.input = join(ctx.dir, 'cdrs.jsonl');
  ctx.baseline = join(ctx.dir, 'baseline.yaml');
  ctx.candidate = join(ctx.dir, 'candidate.yaml');
  writeFileSync(ctx.input, RECORDS.map((r) => JSON.stringify(r)).join('\n') + '\n');
  writeFileSync(ctx.baseline, BASELINE);
  writeFileSync(ctx.candidate, CANDIDATE);
});
bt.after((ctx) => { removeDir(ctx.dir); });

const summary = (r: BacktestReport): unknown => ({
  totals: [r.records, r.baseline, r.candidate],
  rules: r.rules.map((d) => `${d.rule} ${d.status} ${d.baseline}->${d.candidate} +${d.added} -${d.removed} [${d.keys.join(',')}]`),
  added: r.added.map((a) => `${a.rule} ${a.key} ${a.record}`),
  removed: r.removed.map((a) => `${a.rule} ${a.key} ${a.record}`),
});

const EXPECTED = {
  totals: [7, 3, 2],
  rules: [
    'calls-hour both 2->1 +0 -1 [A]',
    'new-country added 0->1 +1 -0 [A]',
    'dropped removed 1->0 +0 -1 [A]',
  ],
  added: ['new-country A a2'],
  removed: ['calls-hour A a3', 'dropped A a4'],
};

bt('the report lists per rule what the change adds and removes, and the keys affected', async ({ input, baseline, candidate }) => {
  const report = await backtest({ candidate: compileRules(loadRules(candidate)), baseline: compileRules(loadRules(baseline)), inputs: [input] });
  assert.equal(summary(report), EXPECTED);
});

bt('the CLI prints the same report as JSON, and as a table', async ({ input, baseline, candidate }) => {
  const json = await runVigil(['backtest', '--rules', candidate, '--baseline', baseline, '--json', input]);
  assert.is(json.code, 0, json.stderr);
  assert.equal(summary(JSON.parse(json.stdout) as BacktestReport), EXPECTED);
  const table = await runVigil(['backtest', '--rules', candidate, '--baseline', baseline, input]);
  assert.is(table.code, 0, table.stderr);
  const lines = table.stdout.split('\n');
  assert.is(lines[0], 'rule                    baseline  candidate  added  removed  keys affected');
  assert.ok(lines.includes('new-country (new rule)         0          1     +1       -0  A'), table.stdout);
  assert.ok(lines.includes('total                          3          2     +1       -2'), table.stdout);
});

bt('gzip inputs give the same report: a .csv.gz by its extension; one cut short gives no report and exit 1, naming where', async ({ dir, baseline, candidate }) => {
  const columns = ['id', 'ts', 'account', 'called', 'service', 'duration', 'direction'] as const;
  const csv = join(dir, 'cdrs.csv.gz');
  writeFileSync(csv, gzipSync([columns.join(','), ...RECORDS.map((r) => columns.map((c) => String(r[c])).join(','))].join('\n') + '\n'));
  const json = await runVigil(['backtest', '--rules', candidate, '--baseline', baseline, '--json', csv]);
  assert.is(json.code, 0, json.stderr);
  assert.equal(summary(JSON.parse(json.stdout) as BacktestReport), EXPECTED);

  const whole = gzipSync(RECORDS.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const cut = join(dir, 'cut.jsonl.gz');
  writeFileSync(cut, whole.subarray(0, whole.length - 4));
  const r = await runVigil(['backtest', '--rules', candidate, '--baseline', baseline, cut]);
  assert.equal([r.code, r.stdout, r.stderr], [1, '', `vigil: ${cut}:8: the gzip data is truncated (zlib: unexpected end of file); backtest compares the rule sets over every INPUT whole: no report was made\n`]);
});

bt('standard input cannot be backtested: it is read once', async ({ baseline, candidate }) => {
  const r = await runVigil(['backtest', '--rules', candidate, '--baseline', baseline, '-']);
  assert.is(r.code, 2);
  assert.match(r.stderr, 'vigil: backtest reads each INPUT twice: give files, not - (standard input)');
});

/** Two scored rules and a risk rule over them, for the `vigil risk` cases. */
const RISK_RULES = `version: 1
risk: { half_life: 1h }
rules:
  - { id: calls-hour, measure: count, window: hour, limit: 2, score: 3 }
  - { id: new-country, measure: new(country), window: hour, limit: 1, score: 2 }
  - { id: risky, measure: risk, limit: 4 }
`;

bt('vigil risk reads a key\'s score and the alerts that made it from a data folder', async ({ dir, input }) => {
  const rules = join(dir, 'risk.yaml');
  writeFileSync(rules, RISK_RULES);
  const data = join(dir, 'data');
  const alerts = join(dir, 'risk-alerts.jsonl');
  // 5 shards, not the default 64 (A and B would land on shards 12 and 5 of 64): vigil risk finds the count in the checkpoint.
  await replay({ compiled: compileRules(loadRules(rules)), inputs: [input], alerts, threads: 1, dataPath: data, epochSize: 3, shards: 5 });
  const r = await runVigil(['risk', '--rules', rules, '--data', data, '--json', 'A']);
  assert.is(r.code, 0, r.stderr);
  const [report] = JSON.parse(r.stdout) as Array<{ rule: string, score: number, at: string, contributions: Array<{ rule: string, ts: string }> }>;
  // new-country at a2 (10:05, +2), calls-hour at a3 (10:10, +3); decayed to the watermark, b3 at 10:30.
  const score = 2 * 2 ** (-25 / 60) + 3 * 2 ** (-20 / 60);
  assert.is(report?.rule, 'risky');
  assert.is(report?.score, Math.round(score * 1e6) / 1e6);
  assert.is(report?.at, '2026-11-02T10:30:00Z');
  assert.equal(report?.contributions.map((c) => `${c.rule} ${c.ts}`), ['new-country 2026-11-02T10:05:00Z', 'calls-hour 2026-11-02T10:10:00Z']);
  const text = await runVigil(['risk', '--rules', rules, '--data', data, 'B']);
  assert.match(text.stdout, /^risky \(by account\) B: score 3 at 2026-11-02T10:30:00Z, limit 4\n {2}2026-11-02T10:30:00Z {2}\+3 {2}calls-hour {2}alert /);
});

bt('vigil risk --at before the key\'s newest scored alert is refused (exit 2) naming the earliest time it can answer', async ({ dir, input }) => {
  const rules = join(dir, 'risk-at.yaml');
  writeFileSync(rules, RISK_RULES);
  const data = join(dir, 'data-at');
  await replay({ compiled: compileRules(loadRules(rules)), inputs: [input], alerts: join(dir, 'risk-at.jsonl'), threads: 1, dataPath: data, epochSize: 3, shards: 5 });
  // A's alerts: new-country at 10:05 (+2), calls-hour at 10:10 (+3).
  const early = await runVigil(['risk', '--rules', rules, '--data', data, '--at', '2026-11-02T10:07:00Z', '--json', 'A']);
  assert.equal([early.code, early.stdout, early.stderr], [2, '', 'vigil: --at 2026-11-02T10:07:00Z is before the newest scored alert of key "A" (rule risky, 2026-11-02T10:10:00Z): a risk score is kept as of its newest alert and can only be decayed forward; give --at 2026-11-02T10:10:00Z or later\n']);
  const atNewest = await runVigil(['risk', '--rules', rules, '--data', data, '--at', '2026-11-02T10:10:00Z', '--json', 'A']);
  assert.is(atNewest.code, 0, atNewest.stderr);
  const [report] = JSON.parse(atNewest.stdout) as Array<{ score: number, at: string }>;
  assert.equal([report?.score, report?.at], [Math.round((2 * 2 ** (-5 / 60) + 3) * 1e6) / 1e6, '2026-11-02T10:10:00Z']);
});

bt.run();
