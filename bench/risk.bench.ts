/**
 * risk: what novelty and risk rules cost the core. Two cases over the same lines in the same
 * run (interleaved sample by sample, so a busy machine hits both alike):
 *   - without: examples/rules.yaml as it is (the demo's rules), the core path of core.bench.ts
 *     (bench/core-path.ts: JSON.parse, Ingest.prepare, Engine.process);
 *   - with: the same rules, each given `score: 10`, plus four novelty rules (new origin
 *     country and new destination country per account, new called number per caller, new
 *     device per subscription, each with `history: 30d`) and two risk rules (by account and by
 *     caller, half-life 24h): every alert then also feeds a decaying score, and every record
 *     looks up and updates up to four seen-sets.
 *
 * Run: npx tsc -p tsconfig.json && node dist/bench/index.js risk
 *      (or directly: node --expose-gc dist/bench/risk.bench.js [--samples 5] [--warmup 1]
 *       [--records N] [--budget SECONDS], default budget 60)
 * Needs: nothing but the build. Traffic is examples/dataset.ts's (seed 42, ~174k records over
 * 3 days), generated in memory; every sample starts from an empty engine.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileRules } from '../core/compile.js';
import { parseRules } from '../core/rules-parse.js';
import type { RuleConfig, RulesConfig } from '../core/rules-config.js';
import { DEFAULTS, generateTraffic } from '../examples/dataset.js';
import { intArg, report, runCases } from './harness.js';
import { coreCase } from './core-path.js';

const RULES = fileURLToPath(new URL('../../examples/rules.yaml', import.meta.url));
const DAY_MS = 86_400_000;

function extraRule (id: string, by: string, measure: RuleConfig['measure'], over: Partial<RuleConfig> = {}): RuleConfig {
  return {
    id,
    by: [{ kind: 'field', field: by }],
    measure,
    window: measure.kind === 'risk' ? { kind: 'decay' } : { kind: 'calendar', unit: 'day' },
    limit: 0,
    limits: new Map(),
    severity: 'warning',
    minCount: 0,
    enabled: true,
    position: { line: 1, col: 1 },
    ...(measure.kind === 'new' ? { history: 30 * DAY_MS, score: 5 } : {}),
    ...over,
  };
}

/** examples/rules.yaml with scores, novelty and risk rules. */
function withRisk (base: RulesConfig): RulesConfig {
  return {
    ...base,
    risk: { halfLife: DAY_MS },
    rules: [
      ...base.rules.map((r) => ({ ...r, score: 10 })),
      extraRule('new-origin-country', 'account', { kind: 'new', field: 'origin' }),
      extraRule('new-destination-country', 'account', { kind: 'new', field: 'country' }),
      extraRule('new-callee', 'caller', { kind: 'new', field: 'called' }, { limit: 20 }),
      extraRule('new-device', 'subscription', { kind: 'new', field: 'device' }),
      extraRule('risky-account', 'account', { kind: 'risk' }, { limit: 50, severity: 'critical' }),
      extraRule('risky-caller', 'caller', { kind: 'risk' }, { limit: 30, severity: 'critical' }),
    ],
  };
}

function main (): void {
  const text = readFileSync(RULES, 'utf8');
  const base = parseRules(text, RULES, { readFile: (p) => readFileSync(resolve(dirname(RULES), p), 'utf8') });
  const without = compileRules(base);
  const withR = compileRules(withRisk(base));
  const traffic = generateTraffic(DEFAULTS);
  const lines = traffic.lines.slice(0, intArg('records', traffic.lines.length));
  const samples = intArg('samples', 5);
  const tallyWithout = { alerts: 0 };
  const tallyWith = { alerts: 0 };
  const results = runCases([
    coreCase('without', without, lines, tallyWithout),
    coreCase('with novelty+risk', withR, lines, tallyWith),
  ], { warmup: intArg('warmup', 1), samples, minSamples: Math.min(3, samples), budgetMs: intArg('budget', 60) * 1000 });
  report('risk', results, {
    records: lines.length,
    rulesWithout: without.rules.length,
    rulesWith: withR.rules.length,
    alertsWithout: tallyWithout.alerts,
    alertsWith: tallyWith.alerts,
    seed: DEFAULTS.seed,
  }, 'without');
  const a = results.find((r) => r.name === 'without');
  const b = results.find((r) => r.name === 'with novelty+risk');
  if (a !== undefined && b !== undefined) console.log(`with / without = ${(b.opsPerSec / a.opsPerSec * 100).toFixed(1)} % of the records/s`);
}

main();
