/**
 * core: records per second of the single-threaded core (JSON.parse of each line, then
 * Ingest.prepare: validate, normalize, derive, rate; then Engine.process: every counter and
 * every threshold of examples/rules.yaml), beside two baselines on the same lines in the
 * same run:
 *   - ceiling: JSON.parse of each line and one Float64Array slot bumped per counter of the
 *     compiled rules, found through a per-account integer id interned once. No rule logic:
 *     the least any engine must do to count this traffic with that many counters.
 *   - naive-map: JSON.parse and a Map<string, number> keyed by a composed string
 *     ("rule:account") per counter per record: the obvious way, for contrast.
 * The goal (issue: core throughput) is core >= 40 % of ceiling.
 *
 * Run: npx tsc -p tsconfig.json && node dist/bench/index.js core
 *      (or directly: node --expose-gc dist/bench/core.bench.js [--samples 5] [--warmup 1]
 *       [--records N] [--budget SECONDS]: no new round of samples after SECONDS (default 40),
 *       but at least 3 rounds, so the bench stays near a minute on a busy machine)
 * Needs: nothing but the build. Traffic is generated in memory (examples/dataset.ts, seed 42,
 * the demo's defaults: ~174k records over 3 days), so inputs are fixed and reproducible.
 * Every sample starts from an empty engine and replays the whole stream in order.
 */
import { DEFAULTS, generateTraffic } from '../examples/dataset.js';
import type { BenchCase } from './harness.js';
import { intArg, report, runCases, sink, stringArg } from './harness.js';
import { loadRules, namedRules } from './rules.js';
import { SlotTable } from './slot-table.js';
import { coreCase, parseLine } from './core-path.js';

/** Decode, intern the account once, bump one slot per counter. */
function ceilingCase (counters: number, lines: readonly string[]): BenchCase {
  let table = new SlotTable(counters);
  return {
    name: 'ceiling',
    setup: () => { table = new SlotTable(counters); },
    run: () => {
      for (let i = 0; i < lines.length; i++) {
        const account = (parseLine(lines[i] as string) as { account?: unknown } | undefined)?.account;
        if (typeof account === 'string') table.bump(account);
      }
      sink.value += table.checksum;
      return lines.length;
    },
  };
}

/** Decode, then one composed string key per counter per record in a Map. */
function naiveCase (names: readonly string[], lines: readonly string[]): BenchCase {
  let counts = new Map<string, number>();
  return {
    name: 'naive-map',
    setup: () => { counts = new Map(); },
    run: () => {
      for (let i = 0; i < lines.length; i++) {
        const raw = parseLine(lines[i] as string) as { account?: unknown } | undefined;
        const account = raw?.account;
        if (typeof account !== 'string') continue;
        for (let c = 0; c < names.length; c++) {
          const key = `${names[c] as string}:${account}`;
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
      }
      sink.value += counts.size;
      return lines.length;
    },
  };
}

function main (): void {
  const samples = intArg('samples', 5);
  const warmup = intArg('warmup', 1);
  const which = stringArg('rules', 'examples');
  // `--rules spec` runs on the seven rules of rules.md's example instead of the demo's.
  const file = namedRules(which);
  const compiled = loadRules(file);
  const traffic = generateTraffic(DEFAULTS);
  const limit = intArg('records', traffic.lines.length);
  const lines = traffic.lines.slice(0, limit);
  const counters = compiled.counters.length;
  const names = compiled.counters.map((c) => c.rules[0]?.id ?? String(c.index));

  const results = runCases([
    coreCase('core', compiled, lines),
    ceilingCase(counters, lines),
    naiveCase(names, lines),
  ], { warmup, samples, minSamples: Math.min(3, samples), budgetMs: intArg('budget', 40) * 1000 });
  report('core', results, {
    rulesFile: which,
    records: lines.length,
    rules: compiled.rules.length,
    counters,
    keyers: compiled.keyers.length,
    seed: DEFAULTS.seed,
    days: DEFAULTS.days,
    accounts: DEFAULTS.accounts,
  }, 'ceiling');
  const core = results.find((r) => r.name === 'core');
  const ceiling = results.find((r) => r.name === 'ceiling');
  if (core !== undefined && ceiling !== undefined) {
    const ratio = core.opsPerSec / ceiling.opsPerSec;
    console.log(`core / ceiling = ${(ratio * 100).toFixed(1)} % (goal >= 40 %): ${ratio >= 0.4 ? 'holds' : 'does NOT hold'}`);
  }
}

main();
