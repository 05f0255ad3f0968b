// A record that makes a rule throw (a bug, or a value no validation foresaw) is rejected with
// the rule and the record's position, and the engine goes on with the next record.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileRules, type CompiledCounter } from '../../core/compile.js';
import { Engine } from '../../core/engine.js';
import { RuleFailedError } from '../../core/errors.js';
import type { UsageRecord } from '../../core/usage-record.js';
import type { Alert } from '../../core/alert.js';
import { replay } from '../../cluster/replay.js';
import { rule, rules, record } from '../helpers/config.js';
import { tempDir, removeDir } from '../helpers/tmp.js';

const T = Date.parse('2026-11-21T10:00:00Z');

/** Fault injection: the counter's contribution throws for records whose id is `poison`. */
function poisoned () {
  const compiled = compileRules(rules([rule({ id: 'calls', limit: 1 })]));
  const counter = compiled.counters[0] as CompiledCounter & { contribute: (r: UsageRecord) => number | string | undefined };
  const real = counter.contribute;
  counter.contribute = (r) => {
    if (r.id === 'poison') throw new TypeError('cannot read properties of undefined');
    return real(r);
  };
  return compiled;
}

const test = suite('cluster/rule-failure: a rule that throws rejects the record, not the run');

test('the engine throws RuleFailedError naming the rule and goes on with the next record', () => {
  const engine = new Engine(poisoned(), () => 0);
  const out: Alert[] = [];
  engine.process(record({ id: 'a', ts: T, account: 'x' }), undefined, out);
  try {
    engine.process(record({ id: 'poison', ts: T + 1, account: 'x' }), undefined, out);
    assert.unreachable('should throw');
  } catch (err) {
    assert.instance(err, RuleFailedError);
    assert.is((err as RuleFailedError).code, 'VIGIL_RULE_FAILED');
    assert.is((err as Error).message, 'rule calls failed on this record: cannot read properties of undefined');
  }
  engine.process(record({ id: 'b', ts: T + 2, account: 'x' }), undefined, out);
  assert.equal(out.map((a) => a.record), ['b']);
});

test('replay writes the reject with the reason and the line, and goes on', async () => {
  const dir = tempDir();
  try {
    const input = join(dir, 'in.jsonl');
    writeFileSync(input, ['a', 'poison', 'b'].map((id, i) => JSON.stringify({ id, ts: T + i, account: 'x', called: '+4930' })).join('\n') + '\n');
    const summary = await replay({ compiled: poisoned(), inputs: [input], alerts: join(dir, 'alerts.jsonl'), rejects: join(dir, 'rejects.jsonl'), threads: 0 });
    assert.equal([summary.read, summary.rejected, summary.alerts], [3, 1, 1]);
    const reject = JSON.parse(readFileSync(join(dir, 'rejects.jsonl'), 'utf8')) as Record<string, unknown>;
    assert.equal([reject.code, reject.reason, reject.source, reject.line], ['VIGIL_RULE_FAILED', 'rule calls failed on this record: cannot read properties of undefined', input, 2]);
  } finally {
    removeDir(dir);
  }
});

test.run();
