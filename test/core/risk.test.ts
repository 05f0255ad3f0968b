/**
 * Risk scores (`score` + `measure: risk`), shadow rules and the persistence of seen-sets and
 * risk cells. Expected values are computed here from the formula in core/risk.ts,
 * score(t) = Σ score_i × 2^(−(t − t_i) / half_life), by hand; the differential test checks the
 * engine against the oracle's own computation of it on random rules.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RuleConfig, RulesConfig } from '../../core/rules-config.js';
import type { Alert } from '../../core/alert.js';
import { compileRules } from '../../core/compile.js';
import { Engine } from '../../core/engine.js';
import { InvalidRulesError } from '../../core/errors.js';
import { parseRules } from '../../core/rules-parse.js';
import { Zone, DAY_MS, HOUR_MS, MINUTE_MS } from '../../core/zone.js';
import { disk } from '../../workers/codec.js';
import { type RecordInput, config, rule, usage } from '../helpers/random-rules.js';

const at = (iso: string): number => Date.parse(iso);
const round6 = (v: number): number => Math.round(v * 1e6) / 1e6;

/** Runs records in order through one engine; returns every alert, in order. */
function run (cfg: RulesConfig, inputs: readonly RecordInput[], engine = new Engine(compileRules(cfg), () => 0)): Alert[] {
  const zone = new Zone(cfg.timezone);
  const out: Alert[] = [];
  for (const input of inputs) {
    engine.advance(input.ts);
    engine.process(usage(zone, input, cfg.groups), undefined, out);
  }
  return out;
}

const calls = rule({ id: 'calls', window: { kind: 'calendar', unit: 'minute' }, limit: 0, score: 4 });
const spend = rule({ id: 'spend', measure: { kind: 'sum', field: 'cost' }, window: { kind: 'calendar', unit: 'hour' }, limit: 10, score: 6 });
const risky = rule({ id: 'risky', measure: { kind: 'risk' }, window: { kind: 'decay' }, limit: 7 });
const H = HOUR_MS;

const risk = suite('core/risk: decaying scores per key');

risk('several weak signals add up, halve every half-life, and cross the risk limit once', () => {
  const cfg = config([calls, spend, risky], { risk: { halfLife: H } });
  const t0 = at('2026-11-02T10:00:00Z');
  const t1 = t0 + H;
  const t2 = t0 + H + 30_000;
  const alerts = run(cfg, [
    { id: 'r0', ts: t0, account: 'A', cost: 1 },
    { id: 'r1', ts: t1, account: 'A', cost: 1 },
    { id: 'r2', ts: t2, account: 'A', cost: 20 },
    { id: 'b0', ts: t2 + 1000, account: 'B', cost: 1 },
  ]);
  assert.equal(alerts.map((a) => `${a.record} ${a.rule} ${a.key} ${a.value}>${a.limit}`), [
    'r0 calls A 1>0',
    'r1 calls A 1>0',
    'r2 spend A 21>10',
    `r2 risky A ${round6(4 * 2 ** (-(t2 - t0) / H) + 4 * 2 ** (-(t2 - t1) / H) + 6)}>7`,
    'b0 calls B 1>0',
  ]);
  assert.equal(alerts[0]!.score, 4);
  const r = alerts[3]!;
  assert.equal(r.by, ['account']);
  assert.equal(r.window, { start: '2026-11-02T10:00:00Z', end: '2026-11-02T11:00:30Z' });
  assert.equal(r.contributions?.map((c) => `${c.rule} ${c.score} ${c.ts}`), [
    'calls 4 2026-11-02T10:00:00Z', 'calls 4 2026-11-02T11:00:00Z', 'spend 6 2026-11-02T11:00:30Z',
  ]);
  assert.equal(r.contributions?.map((c) => c.alert), alerts.slice(0, 3).map((a) => a.id));
  assert.is(r.score, undefined);
});

risk('the score read later has decayed by 2^(-elapsed/half-life)', () => {
  const cfg = config([calls, risky], { risk: { halfLife: 6 * H } });
  const t0 = at('2026-11-02T10:00:00Z');
  const engine = new Engine(compileRules(cfg), () => 0);
  run(cfg, [{ id: 'r0', ts: t0, account: 'A' }, { id: 'r1', ts: t0 + MINUTE_MS, account: 'A' }], engine);
  const now = t0 + MINUTE_MS;
  const score = 4 * 2 ** (-MINUTE_MS / (6 * H)) + 4;
  assert.equal(engine.counterValue('risky', 'A', now)?.value, round6(score));
  assert.equal(engine.counterValue('risky', 'A', now + 6 * H)?.value, round6(score / 2));
  assert.equal(engine.counterValue('risky', 'A', now + 9 * H)?.value, round6(score * 2 ** -1.5));
  // Reading never moves the score: the earlier time still sees it undecayed.
  assert.equal(engine.counterValue('risky', 'A', now)?.value, round6(score));
  assert.equal(engine.counterValue('risky', 'B', now), undefined);
});

risk('a risk rule fires again only after the score has decayed to or below the limit', () => {
  const cfg = config([calls, risky], { risk: { halfLife: H } });
  const t0 = at('2026-11-02T10:00:00Z');
  const alerts = run(cfg, [
    { id: 'a', ts: t0, account: 'A' },
    { id: 'b', ts: t0 + MINUTE_MS, account: 'A' }, // 4·2^(-1/60) + 4 > 7: fires
    { id: 'c', ts: t0 + 2 * MINUTE_MS, account: 'A' }, // still above: no second alert
    { id: 'd', ts: t0 + 10 * H, account: 'A' }, // decayed to ~0.01 before it: re-armed, 4.01 ≤ 7
    { id: 'e', ts: t0 + 10 * H + MINUTE_MS, account: 'A' }, // above again: fires
  ]).filter((a) => a.rule === 'risky');
  assert.equal(alerts.map((a) => a.record), ['b', 'e']);
  assert.is.not(alerts[0]!.id, alerts[1]!.id);
});

risk('scores feed only the risk rules with the same by; a shadow rule is marked and feeds nothing', () => {
  const byCaller = rule({ id: 'caller-calls', by: [{ kind: 'field', field: 'caller' }], window: { kind: 'calendar', unit: 'minute' }, limit: 0, score: 100 });
  const shadow = rule({ id: 'shadow-calls', window: { kind: 'calendar', unit: 'minute' }, limit: 0, score: 100, shadow: true });
  const cfg = config([byCaller, shadow, risky], { risk: { halfLife: H } });
  const alerts = run(cfg, [{ id: 'r0', ts: at('2026-11-02T10:00:00Z'), account: 'A', caller: '+4930999' }]);
  assert.equal(alerts.map((a) => `${a.rule} ${a.key} ${a.shadow === true ? 'shadow' : 'live'}`), [
    'caller-calls +4930999 live',
    'shadow-calls A shadow',
  ]);
});

const checks = suite('core/risk: rules that cannot work are refused with their position');

function refused (rules: RuleConfig[]): string {
  try {
    compileRules(config(rules));
  } catch (err) {
    assert.instance(err, InvalidRulesError);
    return (err as InvalidRulesError).diagnostics.map((d) => `${d.line}:${d.col} ${d.message}`).join('\n');
  }
  assert.unreachable('compiled');
  return '';
}

checks('a risk rule must be kept beside the account, take no where, and have no score', () => {
  const pos = { line: 7, col: 5 };
  assert.is(refused([rule({ ...risky, by: [{ kind: 'field', field: 'trunk' }], position: pos })]),
    '7:5 rule "risky": measure risk needs a by kept on the account\'s shard (one of account, subscription, caller), got by: [trunk]');
  assert.is(refused([rule({ ...risky, where: { kind: 'field', field: 'service', cond: { op: 'eq', value: 'sms' } }, position: pos })]),
    '7:5 rule "risky": measure risk takes no where: alerts feed it, not records');
  assert.is(refused([rule({ ...risky, score: 1, position: pos })]),
    '7:5 rule "risky": a risk rule cannot have a score: its alerts would feed the score it measures');
});

checks('the rules file: risk.half_life, new(F) with history and its default, enabled: shadow', () => {
  const c = parseRules([
    'version: 1',
    'risk: { half_life: 12h }',
    'rules:',
    '  - { id: n1, measure: new(country), window: day, limit: 0, history: 7d, score: 2 }',
    '  - { id: n2, measure: new(attrs.device), window: day, limit: 0, enabled: shadow }',
    '  - { id: r, by: subscription, measure: risk, limit: 5 }',
  ].join('\n'), 'rules.yaml', { readFile: () => { throw new Error('no files'); } });
  assert.equal(c.risk, { halfLife: 12 * H });
  // Without `risk:` the config has none (the engine uses 24h), so the rules fingerprint of a
  // data folder written before risk scores existed stays the same.
  const plain = parseRules('version: 1\nrules:\n  - { id: c, measure: count, window: day, limit: 1 }\n', 'rules.yaml', { readFile: () => '' });
  assert.is(plain.risk, undefined);
  assert.is(compileRules(plain).halfLife, DAY_MS);
  assert.equal(c.rules.map((r) => [r.measure, r.window, r.history, r.score, r.shadow, r.enabled]), [
    [{ kind: 'new', field: 'country' }, { kind: 'calendar', unit: 'day' }, 7 * DAY_MS, 2, undefined, true],
    [{ kind: 'new', field: 'attrs.device' }, { kind: 'calendar', unit: 'day' }, 30 * DAY_MS, undefined, true, true],
    [{ kind: 'risk' }, { kind: 'decay' }, undefined, undefined, undefined, true],
  ]);
});

const state = suite('core/risk: seen-sets and risk cells are row state');

state('they survive the store codec and a restore, and expire with the horizon', () => {
  const newCountry = rule({ id: 'new-country', measure: { kind: 'new', field: 'country' }, window: { kind: 'calendar', unit: 'hour' }, limit: 0, history: DAY_MS, score: 5 });
  const cfg = config([newCountry, risky], { risk: { halfLife: H } });
  const compiled = compileRules(cfg);
  const t0 = at('2026-11-02T10:00:00Z');
  const first = new Engine(compiled, () => 0, { trackChanges: true });
  run(cfg, [{ id: 'a', ts: t0, account: 'A', called: '+252612345678' }], first);
  const rows = first.takeChanges().rows.map((r) => disk.unpack(disk.pack(r)) as typeof r);
  const second = new Engine(compiled, () => 0, { trackChanges: true });
  second.restore(first.meta(), rows);
  const alerts = run(cfg, [
    { id: 'b', ts: t0 + H, account: 'A', called: '+252612345679' }, // SO again: not new
    { id: 'c', ts: t0 + H + 1, account: 'A', called: '+66812345678' }, // TH: new, score 5·2^-1 + 5 > 7
  ], second);
  assert.equal(alerts.map((a) => `${a.record} ${a.rule} ${a.value}`), ['c new-country 1', `c risky ${round6(5 * 2 ** (-(H + 1) / H) + 5)}`]);
  // Past the history, the horizon and the risk cell's 40 half-lives, nothing of A is left.
  second.advance(t0 + 3 * DAY_MS);
  assert.equal(second.stats(), { keys: 0, windows: 0 });
  // (new-country and risky are both by account: one row holds both cells.)
  assert.equal(second.takeChanges().removed.map((r) => r.key), ['A']);
});

risk.run();
checks.run();
state.run();
