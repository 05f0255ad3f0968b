// A reload that changes only per-key limits, done in place (Engine.relimit), ends exactly where
// the full reload (rows migrated to the new rules, a new engine restored from them) ends: the
// same alerts for the records after it and the same readings, on calendar windows (with an
// adaptive limit and a shape), sliding windows, a raised, a lowered, a removed and an added
// key limit. limitsOnlyChange says which changes qualify.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { compileRules, type CompiledRules } from '../../core/compile.js';
import { Engine, type Row } from '../../core/engine.js';
import { limitsOnlyChange } from '../../core/limits-change.js';
import type { Alert } from '../../core/alert.js';
import type { RuleConfig, RulesConfig } from '../../core/rules-config.js';
import type { UsageRecord } from '../../core/usage-record.js';
import { migrateRow, planMigration } from '../../cluster/reload.js';
import { record, rule, rules } from '../helpers/config.js';
import { mulberry32 } from '../helpers/prng.js';

const test = suite('core/relimit: per-key limits changed in place');
const T0 = Date.UTC(2026, 10, 2, 0, 0, 0); // a Monday
const H = 3_600_000;
const ACCOUNTS = Array.from({ length: 40 }, (_, i) => `a${i}`);

function config (limits: (rule: string) => ReadonlyMap<string, number>): RulesConfig {
  const list: RuleConfig[] = [
    rule({ id: 'credit', measure: { kind: 'sum', field: 'cost' }, limit: 60, limits: limits('credit') }),
    rule({ id: 'surge', measure: { kind: 'sum', field: 'cost' }, limit: 30, limits: limits('surge'), adaptive: { over: 2, factor: 1.5, min: 5 } }),
    rule({ id: 'burst', measure: { kind: 'count' }, window: { kind: 'sliding', ms: 2 * H, text: '2h' }, limit: 9, limits: limits('burst'), shape: { weekday: [1, 1, 1, 1, 1, 0.5, 0.5], hour: [{ from: 22, to: 6, factor: 0.5 }] } }),
    rule({ id: 'calls', measure: { kind: 'count' }, limit: 25 }),
  ];
  return rules(list);
}

const before = config((r) => new Map(ACCOUNTS.slice(0, 20).map((a, i) => [a, r === 'burst' ? 4 + (i % 5) : 20 + i * 3])));
// a3 raised, a5 lowered, a7 removed (back to the rule's limit), a30 added, in every rule but calls.
const afterKeys = config((r) => {
  const m = new Map(before.rules.find((x) => x.id === r)!.limits);
  m.set('a3', (m.get('a3') ?? 0) * 4);
  m.set('a5', 1);
  m.delete('a7');
  m.set('a30', r === 'burst' ? 2 : 3);
  return m;
});
// And calls' limit lowered under what some keys have counted today, and a warning on credit.
const after = rules(afterKeys.rules.map((r) => r.id === 'calls' ? { ...r, limit: 8 } : r.id === 'credit' ? { ...r, warning: { kind: 'share', value: 0.5 } } : r));

function traffic (seed: number, from: number, hours: number): UsageRecord[] {
  const rnd = mulberry32(seed);
  const out: UsageRecord[] = [];
  let ts = from;
  for (let i = 0; ts < from + hours * H; i++) {
    ts += Math.floor(rnd() * 240_000);
    const account = ACCOUNTS[Math.floor(rnd() * rnd() * ACCOUNTS.length)]!;
    out.push(record({ id: `r${seed}-${i}`, ts, account, cost: Math.round(rnd() * 400) / 100 }));
  }
  return out;
}

function feed (engine: Engine, records: readonly UsageRecord[]): string[] {
  const alerts: Alert[] = [];
  for (const r of records) { engine.advance(r.ts); engine.process(r, undefined, alerts); }
  return alerts.map((a) => JSON.stringify({ ...a, detectedAt: 0 }));
}

test('limitsOnlyChange gives the changed keys per rule, a constant limit and a warning, and nothing for any other change', () => {
  const changes = limitsOnlyChange(before, after)!;
  assert.ok(changes !== undefined);
  assert.equal([...changes.keys.keys()], ['credit', 'surge', 'burst']);
  assert.equal([...changes.keys.get('credit')!], [['a3', 116], ['a5', 1], ['a30', 3], ['a7', undefined]]);
  assert.equal([...changes.rules], [['credit', { limit: 60, warning: { kind: 'share', value: 0.5 } }], ['calls', { limit: 8, warning: undefined }]]);
  const same = limitsOnlyChange(before, before)!;
  assert.equal([same.keys.size, same.rules.size], [0, 0], 'the same rules: no change');
  const withRule = (id: string, over: Partial<RuleConfig>): RulesConfig => rules(before.rules.map((r) => r.id === id ? { ...r, ...over } : r));
  assert.equal([...limitsOnlyChange(before, withRule('calls', { limit: 12 }))!.rules], [['calls', { limit: 12, warning: undefined }]], 'a constant limit');
  const warned = limitsOnlyChange(before, withRule('credit', { warning: { kind: 'share', value: 0.5 } }))!;
  assert.equal([...warned.rules], [['credit', { limit: 60, warning: { kind: 'share', value: 0.5 } }]], 'a warning, on any rule');
  assert.is(limitsOnlyChange(before, withRule('credit', { limit: 61 })), undefined, 'the limit of a rule with per-key limits: windows keep it');
  assert.is(limitsOnlyChange(before, withRule('calls', { minCount: 2 })), undefined, 'anything else');
  assert.is(limitsOnlyChange(before, withRule('credit', { limits: new Map() })), undefined, 'limits emptied: the counter keeps its limits otherwise');
  assert.is(limitsOnlyChange(before, withRule('calls', { limits: new Map([['a1', 3]]) })), undefined, 'first per-key limits of a rule');
});

test('in place and by migration, the engines then raise the same alerts and read the same', () => {
  const from = compileRules(before);
  const to = compileRules(after);
  const early = traffic(1, T0, 60);
  const late = traffic(2, T0 + 60 * H, 40);

  const inPlace = new Engine(compileRules(before), () => 0, { trackChanges: true });
  feed(inPlace, early);
  inPlace.takeChanges();
  const relimited = inPlace.relimit(limitsOnlyChange(before, after)!);
  assert.ok(relimited.length >= 3, `rows of the changed keys, got ${relimited.length}`);
  assert.equal(inPlace.takeChanges().rows, [], 'the caller stores them: not reported again');

  const old = new Engine(from, () => 0, { trackChanges: true });
  feed(old, early);
  const plan = planMigration(from, to);
  const migrated = new Engine(to, () => 0, { trackChanges: true });
  migrated.restore(old.meta(), old.takeChanges().rows.flatMap(({ keyer, row }) => {
    const m = migrateRow(plan, to, { shard: row.shard, keyer, row: structuredClone(row) as Row });
    return m === undefined ? [] : [{ keyer: m.keyer, row: m.row }];
  }));

  const unchanged = new Engine(compileRules(before), () => 0);
  feed(unchanged, early);

  const a = feed(inPlace, late);
  const b = feed(migrated, late);
  assert.ok(a.length > 20, `alerts after the reload, got ${a.length}`);
  assert.equal(a, b);
  assert.not.equal(feed(unchanged, late), a, 'the new limits change what is raised');
  const end = late.at(-1)!.ts;
  for (const id of ['credit', 'surge', 'burst', 'calls']) {
    for (const key of ['a3', 'a5', 'a7', 'a30', 'a11']) {
      assert.equal(inPlace.counterValue(id, key, end), migrated.counterValue(id, key, end), `${id} ${key}`);
    }
  }
});

/** An engine's compiled rules, as the relimit left them, equal new rules compiled: a window opened later takes the new limit. */
test('windows opened after the change take the new limits', () => {
  const engine = new Engine(compileRules(before), () => 0);
  engine.relimit(limitsOnlyChange(before, after)!);
  const fresh: CompiledRules = compileRules(after);
  for (const [i, r] of engine.compiled.rules.entries()) {
    const f = fresh.rules[i]!;
    assert.equal([[...r.limits].sort(), r.limit, r.constantLimit, r.warning], [[...f.limits].sort(), f.limit, f.constantLimit, f.warning], r.id);
  }
});

test.run();
