// cluster/metrics: the exposition `GET /metrics` serves parses as strict Prometheus text
// (test/helpers/prometheus.ts) and holds what was counted; histograms (buckets, _sum, _count);
// snapshot() and the hooks telemetry.ts reads; and the parser refuses broken expositions, one
// table row per kind of break. In-process, needs only the build.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { HISTOGRAM_BUCKETS, Metrics } from '../../cluster/metrics.js';
import { PrometheusParseError, histogramValue, parsePrometheus, sampleValue } from '../helpers/prometheus.js';
import type { Alert } from '../../core/alert.js';
import type { Reject } from '../../core/usage-record.js';

const test = suite('cluster/metrics: counters, gauges and histograms as Prometheus text');

const alert = (rule: string, severity: string): Alert => ({ rule, severity } as unknown as Alert);
const reject = (code: string): Reject => ({ code } as unknown as Reject);

test('the exposition parses and its counters hold what the epochs carried', () => {
  const m = new Metrics();
  m.epoch(10, 8, [reject('VIGIL_INVALID_RECORD'), reject('VIGIL_LATE_RECORD')], [alert('spend-day', 'critical')]);
  m.epoch(5, 5, [], [alert('spend-day', 'critical'), alert('calls-hour', 'warning')]);
  m.count('vigil_lane_retries_total', 'Retries.', 2, { shard: '3' });
  m.gauge('vigil_shard_lag_messages', 'Lag.', 7);
  const e = parsePrometheus(m.render({ blocks: 4, ready: true }));
  assert.is(sampleValue(e, 'vigil_records_received_total'), 15);
  assert.is(sampleValue(e, 'vigil_records_accepted_total'), 13);
  assert.is(sampleValue(e, 'vigil_epochs_committed_total'), 2);
  assert.is(sampleValue(e, 'vigil_records_rejected_total', { code: 'VIGIL_LATE_RECORD' }), 1);
  assert.is(sampleValue(e, 'vigil_alerts_total', { rule: 'spend-day', severity: 'critical' }), 2);
  assert.is(sampleValue(e, 'vigil_alerts_total', { severity: 'warning', rule: 'calls-hour' }), 1, 'labels in any order');
  assert.is(sampleValue(e, 'vigil_lane_retries_total', { shard: '3' }), 2);
  assert.is(sampleValue(e, 'vigil_shard_lag_messages'), 7);
  assert.is(sampleValue(e, 'vigil_blocks'), 4);
  assert.is(sampleValue(e, 'vigil_ready'), 1);
  assert.is(sampleValue(e, 'vigil_rules_reloads_total'), 0, 'a plain counter shows 0');
  assert.equal(e.families.get('vigil_block_changes_total')?.samples, [], 'a labelled one shows nothing until used');
  assert.is(e.families.get('vigil_alerts_total')?.type, 'counter');
  assert.is(e.families.get('vigil_blocks')?.type, 'gauge');
});

test('label values with quotes, backslashes and line feeds survive the round trip', () => {
  const m = new Metrics();
  m.epoch(1, 1, [], [alert('odd "rule"\\x\nnext', 'critical')]);
  const e = parsePrometheus(m.render());
  assert.is(sampleValue(e, 'vigil_alerts_total', { rule: 'odd "rule"\\x\nnext', severity: 'critical' }), 1);
});

test('a histogram counts each duration into the first bucket whose bound holds it, cumulatively', () => {
  const m = new Metrics();
  const seconds = [0.00005, 0.0001, 0.0003, 0.02, 1, 59, 61, 3600];
  for (const s of seconds) m.observe('vigil_epoch_seconds', 'Epoch commit time.', s, { role: 'node' });
  m.observe('vigil_epoch_seconds', 'Epoch commit time.', NaN, { role: 'node' });
  const e = parsePrometheus(m.render());
  assert.is(e.families.get('vigil_epoch_seconds')?.type, 'histogram');
  const h = histogramValue(e, 'vigil_epoch_seconds', { role: 'node' })!;
  assert.is(h.count, seconds.length, 'NaN is dropped');
  assert.is(h.sum, seconds.reduce((a, b) => a + b, 0));
  assert.equal(h.buckets.map(([le]) => le), [...HISTOGRAM_BUCKETS, Infinity]);
  const at = (le: number): number => h.buckets.find(([b]) => b === le)![1];
  assert.is(at(0.0001), 2, 'a bound holds its own value (le is inclusive)');
  assert.is(at(0.00025), 2);
  assert.is(at(0.0005), 3);
  assert.is(at(0.025), 4);
  assert.is(at(1), 5);
  assert.is(at(60), 6);
  assert.is(at(Infinity), 8);
  assert.match(m.render(), /^vigil_epoch_seconds_bucket\{role="node",le="0\.0001"\} 2$/m);
  assert.match(m.render(), /^vigil_epoch_seconds_bucket\{role="node",le="\+Inf"\} 8$/m);
});

test('snapshot() copies the numbers after the beforeRead refreshes; onObserve sees each observation until stopped', () => {
  const m = new Metrics();
  let blocks = 3;
  m.beforeRead(() => { m.gauge('vigil_blocks', '', blocks); });
  const first = m.snapshot();
  blocks = 9;
  m.count('vigil_rules_reloads_total', '', 1);
  const value = (s: ReturnType<Metrics['snapshot']>, name: string): unknown => s.find((f) => f.name === name)?.samples[0];
  assert.equal(value(first, 'vigil_blocks'), { labels: {}, value: 3 });
  assert.equal(value(first, 'vigil_rules_reloads_total'), { labels: {}, value: 0 }, 'a copy, not a live view');
  assert.equal(value(m.snapshot(), 'vigil_blocks'), { labels: {}, value: 9 });
  assert.is(sampleValue(parsePrometheus(m.render()), 'vigil_blocks'), 9, 'render runs them too');
  m.beforeRead(() => { throw new Error('the blocklist is closed'); });
  blocks = 10;
  assert.is(sampleValue(parsePrometheus(m.render()), 'vigil_blocks'), 10, 'a refresh that throws spoils no other');

  const seen: unknown[] = [];
  const stop = m.onObserve((name, help, seconds, labels) => { seen.push([name, help, seconds, labels]); });
  m.observe('vigil_x_seconds', 'X.', 0.5);
  stop();
  m.observe('vigil_x_seconds', 'X.', 0.7);
  assert.equal(seen, [['vigil_x_seconds', 'X.', 0.5, {}]]);
  const h = m.snapshot().find((f) => f.name === 'vigil_x_seconds');
  assert.ok(h?.type === 'histogram');
  assert.is(h.samples[0]?.count, 2);
  assert.is(h.samples[0]?.counts.length, HISTOGRAM_BUCKETS.length + 1);
});

const parser = suite('test/helpers/prometheus: the strict parser refuses broken expositions');

parser('each broken exposition is refused with its line and reason', () => {
  const cases: Array<[string, string]> = [
    ['a 1', 'line 1: the exposition must end with a line feed'],
    ['1a 1\n', 'line 1: invalid metric name "1a"'],
    ['a{1b="x"} 1\n', 'line 1: invalid label name "1b"'],
    ['a{__x="x"} 1\n', 'line 1: label names starting with __ are reserved, got __x'],
    ['a{b="x",b="y"} 1\n', 'line 1: label b given twice'],
    ['a{b="x\\t"} 1\n', 'line 1: invalid escape \\t'],
    ['a{b="x} 1\n', 'line 1: unterminated value of label b'],
    ['a{b="x" c="y"} 1\n', 'line 1: expected , or } after label b'],
    ['a one\n', 'line 1: invalid value "one"'],
    ['a 1 2 3\n', 'line 1: expected "name{labels} value [timestamp]", got "a 1 2 3"'],
    ['a 1 1.5\n', 'line 1: invalid timestamp "1.5"'],
    ['# TYPE a counter\n# TYPE a counter\n', 'line 2: a second TYPE for a'],
    ['# HELP a x\n# HELP a y\n', 'line 2: a second HELP for a'],
    ['# TYPE a meter\n', 'line 1: TYPE of a must be counter, gauge, histogram, summary, untyped, got "meter"'],
    ['a 1\n# TYPE a counter\n', 'line 2: TYPE of a after its samples'],
    ['a 1\nb 1\na{x="1"} 2\n', 'line 3: the lines of a are split by another family\'s'],
    ['a 1\na 2\n', 'line 2: the series a{} twice'],
    ['# TYPE a counter\na -1\n', 'line 2: counter a must not be negative or NaN, got -1'],
    ['# TYPE h histogram\nh_bucket 1\n', 'line 2: bucket of h without le'],
    ['# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', 'line 4: histogram h: series [] has no le="+Inf" bucket'],
    ['# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', 'line 5: histogram h: series []: bucket le=Infinity holds 1, fewer than le=1 (2); buckets are cumulative'],
    ['# TYPE h histogram\nh_bucket{le="2"} 1\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', 'line 6: histogram h: series []: le 1 after 2'],
    ['# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n', 'line 4: histogram h: series []: _count 1 differs from the +Inf bucket 2'],
    ['# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 2\n', 'line 3: histogram h: series [] lacks _sum or _count'],
  ];
  for (const [text, message] of cases) {
    try {
      parsePrometheus(text);
      assert.unreachable(JSON.stringify(text));
    } catch (err) {
      assert.instance(err, PrometheusParseError, JSON.stringify(text));
      assert.is((err as Error).message, message, JSON.stringify(text));
    }
  }
});

parser('comments, blank lines, untyped samples, timestamps and special values are fine', () => {
  const e = parsePrometheus('# a comment\n\nup 1 1700000000000\n# TYPE g gauge\ng{a="b",} +Inf\ng{a="c"} NaN\ng{a="d"} -1.5e-3\n');
  assert.equal(e.samples.map((s) => [s.name, s.value, s.timestamp]), [['up', 1, 1700000000000], ['g', Infinity, undefined], ['g', NaN, undefined], ['g', -0.0015, undefined]]);
  assert.is(e.families.get('up')?.type, 'untyped');
  assert.equal(parsePrometheus('').samples, []);
});

test.run();
parser.run();
