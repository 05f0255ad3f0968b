// Where a counter lives (rules.md): records are sharded by account; a counter keyed by
// something that spans accounts lives on its own key's shard, and the record goes there too.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { compileRules } from '../../core/compile.js';
import { Placement } from '../../core/placement.js';
import { shardOf } from '../../core/hash.js';
import { rule, rules, record } from '../helpers/config.js';

const SHARDS = 64;
const T = Date.UTC(2026, 10, 21, 12);
const by = (...fields: string[]): Array<{ kind: 'field', field: string }> => fields.map((field) => ({ kind: 'field', field }));

const test = suite('core/placement: where a counter lives');

test('a record whose rules are all by account goes to its account\'s shard only', () => {
  const p = new Placement(compileRules(rules([rule({ id: 'a', limit: 1 }), rule({ id: 'b', by: by('account', 'caller'), limit: 1 })])), SHARDS);
  const r = record({ id: 'r1', ts: T, account: 'acct-1', caller: '+491' });
  assert.equal(p.plan(r), [{ shard: shardOf('acct-1', SHARDS), rules: ['a', 'b'] }]);
  const out: number[] = [];
  assert.is(p.route(r, out), 1);
  assert.equal(out, [shardOf('acct-1', SHARDS)]);
});

test('an account_scoped field (caller by default) lives beside the account', () => {
  const p = new Placement(compileRules(rules([rule({ id: 'fanout', by: by('caller'), limit: 1 })])), SHARDS);
  const r = record({ id: 'r1', ts: T, account: 'acct-1', caller: '+491' });
  assert.equal(p.plan(r), [{ shard: shardOf('acct-1', SHARDS), rules: ['fanout'] }]);
});

test('with account_scoped: [] a caller counter spans accounts and lives on the caller\'s shard', () => {
  const p = new Placement(compileRules(rules([rule({ id: 'fanout', by: by('caller'), limit: 1 })], { accountScoped: [] })), SHARDS);
  const r = record({ id: 'r1', ts: T, account: 'acct-1', caller: '+491' });
  const plan = p.plan(r);
  const caller = shardOf('+491', SHARDS);
  const home = shardOf('acct-1', SHARDS);
  assert.equal(plan.find((x) => x.shard === caller)?.rules, ['fanout']);
  assert.equal(plan.find((x) => x.shard === home)?.rules ?? [], caller === home ? ['fanout'] : []);
});

test('a trunk counter sends the record to the trunk\'s shard as well, marked with the trunk rules', () => {
  const p = new Placement(compileRules(rules([rule({ id: 'spend', limit: 1 }), rule({ id: 'trunk', by: by('trunk'), limit: 1 })])), SHARDS);
  const r = record({ id: 'r1', ts: T, account: 'acct-1', trunk: 'sip-7' });
  const home = shardOf('acct-1', SHARDS);
  const trunk = shardOf('sip-7', SHARDS);
  assert.ok(home !== trunk, 'the fixture needs two different shards');
  assert.equal(p.plan(r), [{ shard: home, rules: ['spend'] }, { shard: trunk, rules: ['trunk'] }]);
  const out: number[] = [];
  p.route(r, out);
  assert.equal(out, [home, trunk]);
});

test('a spanning counter whose filter does not hold sends the record nowhere else', () => {
  const p = new Placement(compileRules(rules([
    rule({ id: 'trunk-sms', by: by('trunk'), where: { kind: 'field', field: 'service', cond: { op: 'eq', value: 'sms' } }, limit: 1 }),
  ])), SHARDS);
  const out: number[] = [];
  assert.is(p.route(record({ id: 'r1', ts: T, account: 'acct-1', trunk: 'sip-7', service: 'voice' }), out), 1);
  assert.is(p.route(record({ id: 'r2', ts: T, account: 'acct-1', trunk: 'sip-7', service: 'sms' }), out), shardOf('acct-1', SHARDS) === shardOf('sip-7', SHARDS) ? 1 : 2);
});

test('a record of an account in two groups goes to both groups\' shards', () => {
  const p = new Placement(compileRules(rules([rule({ id: 'grp', by: by('group'), limit: 1 })], {
    groups: new Map([['wholesale', ['acct-1']], ['premium', ['acct-1']]]),
  })), SHARDS);
  const r = record({ id: 'r1', ts: T, account: 'acct-1', group: ['wholesale', 'premium'] });
  const shards = p.plan(r).filter((x) => x.rules.length > 0).map((x) => x.shard).sort((a, b) => a - b);
  assert.equal(shards, [...new Set([shardOf('wholesale', SHARDS), shardOf('premium', SHARDS)])].sort((a, b) => a - b));
});

test('a record lacking the by field of a spanning counter goes to its home shard only', () => {
  const p = new Placement(compileRules(rules([rule({ id: 'trunk', by: by('trunk'), limit: 1 })])), SHARDS);
  const out: number[] = [];
  assert.is(p.route(record({ id: 'r1', ts: T, account: 'acct-1' }), out), 1);
});

test('shards must be a positive integer', () => {
  assert.throws(() => new Placement(compileRules(rules([])), 0), /shards must be a positive integer, got 0/);
});

test.run();
