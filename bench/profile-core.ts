/**
 * A driver for profiling the core path, and a rough split of where a record's time goes.
 * Not a bench (index.ts does not run it): it times each stage once, cumulatively, on the
 * same traffic core.bench uses:
 *   decode   JSON.parse of each line
 *   prepare  + Ingest.prepare (validate, normalize numbers, derive country/hour/group, rate)
 *   process  + Engine.advance and Engine.process (every counter and threshold)
 *
 * With --per-rule it instead times Engine.process alone (records prepared beforehand) for all
 * rules, then for each enabled rule compiled on its own: which rules the engine pays most for.
 *
 * Run: npx tsc -p tsconfig.json
 *      node dist/bench/profile-core.js [--records N]                  stage split
 *      node dist/bench/profile-core.js --per-rule                     engine cost per rule
 *      (either with --rules spec: the spec's seven rules, as `core.bench.js --rules spec`)
 *      node --cpu-prof --cpu-prof-dir=/tmp/vigil-prof dist/bench/profile-core.js --only process
 *      node dist/bench/cpuprofile-top.js /tmp/vigil-prof [N]          top N functions by self time
 * Needs: nothing but the build.
 */
import { Engine } from '../core/engine.js';
import { Ingest } from '../core/ingest.js';
import { compileRules } from '../core/compile.js';
import type { CompiledRules } from '../core/compile.js';
import type { Alert } from '../core/alert.js';
import type { UsageRecord } from '../core/usage-record.js';
import { DEFAULTS, generateTraffic } from '../examples/dataset.js';
import { loadRules, namedRules } from './rules.js';
import { intArg, sink, stringArg } from './harness.js';

const STAGES = ['decode', 'prepare', 'process'] as const;
type Stage = typeof STAGES[number];

const compiled = loadRules(namedRules(stringArg('rules', 'examples')));
const all = generateTraffic(DEFAULTS).lines;
const lines = all.slice(0, intArg('records', all.length));
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt < 0 ? undefined : process.argv[onlyAt + 1] as Stage;
if (only !== undefined && !STAGES.includes(only)) throw new RangeError(`--only must be one of ${STAGES.join(', ')}, got ${only}`);

function pass (upTo: Stage): number {
  const ingest = new Ingest(compiled);
  const engine = new Engine(compiled, () => 0);
  const alerts: Alert[] = [];
  const t0 = performance.now();
  for (let i = 0; i < lines.length; i++) {
    let raw: unknown;
    try { raw = JSON.parse(lines[i] as string); } catch { continue; }
    if (upTo === 'decode') { sink.value += raw === null ? 0 : 1; continue; }
    const p = ingest.prepare(raw, { source: 'profile', line: i + 1 });
    if (!p.ok || upTo === 'prepare') { sink.value += p.ok ? 1 : 0; continue; }
    engine.advance(ingest.watermark);
    engine.process(p.record, undefined, alerts);
  }
  sink.value += alerts.length;
  return performance.now() - t0;
}

/** Best of two passes of Engine.process over prepared records, in microseconds per record. */
function engineOnly (rules: CompiledRules, records: readonly UsageRecord[]): number {
  let best = Infinity;
  for (let round = 0; round < 2; round++) {
    const engine = new Engine(rules, () => 0);
    const alerts: Alert[] = [];
    let watermark = -Infinity;
    const t0 = performance.now();
    for (const r of records) {
      if (r.ts > watermark) watermark = r.ts;
      engine.advance(watermark);
      engine.process(r, undefined, alerts);
    }
    best = Math.min(best, performance.now() - t0);
    sink.value += alerts.length;
  }
  return best * 1000 / records.length;
}

function perRule (): void {
  const ingest = new Ingest(compiled);
  const records: UsageRecord[] = [];
  lines.forEach((line, i) => {
    let raw: unknown;
    try { raw = JSON.parse(line); } catch { return; }
    const p = ingest.prepare(raw, { source: 'profile', line: i + 1 });
    if (p.ok) records.push(p.record);
  });
  const config = compiled.config;
  const rows = [{ rules: 'all', 'us/rec': engineOnly(compiled, records) }, { rules: 'none (advance only)', 'us/rec': engineOnly(compileRules({ ...config, rules: [] }), records) }];
  for (const rule of config.rules.filter((r) => r.enabled)) rows.push({ rules: rule.id, 'us/rec': engineOnly(compileRules({ ...config, rules: [rule] }), records) });
  console.table(rows.map((r) => ({ ...r, 'us/rec': Math.round(r['us/rec'] * 100) / 100 })));
  console.log(`(${records.length} records; rules alone add up to more or less than "all": shared keyers, cache and GC pressure)`);
}

if (process.argv.includes('--per-rule')) {
  perRule();
  process.exit(0);
}

const stages = only === undefined ? STAGES : [only];
let previous = 0;
for (const stage of stages) {
  pass(stage); // warm-up
  const ms = pass(stage);
  const perRecordUs = ms * 1000 / lines.length;
  const delta = only === undefined ? perRecordUs - previous : perRecordUs;
  previous = perRecordUs;
  console.log(`${stage.padEnd(8)} ${Math.round(lines.length / ms * 1000).toLocaleString('en-US').padStart(9)} rec/s  ${perRecordUs.toFixed(2).padStart(7)} us/rec cumulative  ${delta.toFixed(2).padStart(7)} us/rec this stage`);
}
console.log(`(${lines.length} records, ${compiled.counters.length} counters, sink ${sink.value})`);
