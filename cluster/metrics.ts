/**
 * The node's metrics: the single source of both `GET /metrics` (the Prometheus text exposition
 * format 0.0.4, written by hand: `# HELP`, `# TYPE`, then `name{label="value"} number` lines)
 * and the OTLP export (telemetry.ts reads snapshot() on every collection and turns counters and
 * gauges into observable instruments; histogram observations reach it through onObserve, so
 * both sides count the same observations into the same buckets). Counted when an epoch's
 * output is written, so the figures are those of committed records; they start at 0 with the
 * process, as Prometheus counters do.
 */
import type { Alert } from '../core/alert.js';
import type { Reject } from '../core/usage-record.js';
import type { BlockChange } from '../core/blocklist.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type Labels = Readonly<Record<string, string>>;

/**
 * Upper bounds, in seconds, of every histogram's buckets: 0.1 ms to 60 s in 1-2.5-5 steps (a
 * `+Inf` bucket follows). Fixed, so that a histogram's buckets never change while a process runs
 * and every node's buckets can be summed.
 */
export const HISTOGRAM_BUCKETS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

/** One series of a counter or a gauge. */
export interface ValueSample { readonly labels: Labels, readonly value: number }

/** One series of a histogram; `counts` has one entry per HISTOGRAM_BUCKETS bound plus `+Inf`, each bucket's own (not cumulative). */
export interface HistogramSample { readonly labels: Labels, readonly counts: readonly number[], readonly sum: number, readonly count: number }

/** A family as snapshot() copies it. */
export type MetricFamily =
  | { readonly name: string, readonly help: string, readonly type: 'counter' | 'gauge', readonly samples: readonly ValueSample[] }
  | { readonly name: string, readonly help: string, readonly type: 'histogram', readonly samples: readonly HistogramSample[] };

/** Called after each histogram observation is counted (telemetry.ts feeds an OTel histogram with it). */
export type ObserveListener = (name: string, help: string, seconds: number, labels: Labels) => void;

interface Family {
  readonly help: string;
  readonly type: MetricFamily['type'];
  /** has labels: shows nothing until a sample exists (a plain counter shows 0) */
  readonly labelled: boolean;
  /** a counter's or gauge's series, by seriesId */
  readonly values: Map<string, { labels: Labels, value: number }>;
  /** a histogram's series, by seriesId */
  readonly histograms: Map<string, { labels: Labels, counts: number[], sum: number, count: number }>;
}

/** A label value as the format wants it: backslash, double quote and line feed escaped. */
function escapeLabel (value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text: backslash and line feed escaped (a double quote is fine there). */
function escapeHelp (text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function labelText (labels: Labels, extra = ''): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  if (extra !== '') parts.push(extra);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/** The series' identity: the same labels in any order are one series. */
function seriesId (labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** A sample value as the format spells it (`+Inf`, `-Inf`, `NaN`). */
function formatValue (value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

export class Metrics {
  private readonly families = new Map<string, Family>();
  private readonly refreshers: Array<() => void> = [];
  private readonly observers = new Set<ObserveListener>();

  constructor () {
    this.define('vigil_records_received_total', 'counter', 'Input records in committed epochs (accepted and rejected).');
    this.define('vigil_records_accepted_total', 'counter', 'Records counted by the engine in committed epochs.');
    this.define('vigil_records_rejected_total', 'counter', 'Records rejected, by reason code (VIGIL_INVALID_RECORD, VIGIL_LATE_RECORD, VIGIL_FUTURE_RECORD, VIGIL_RULE_FAILED).', true);
    this.define('vigil_alerts_total', 'counter', 'Alerts raised in committed epochs, by rule and severity.', true);
    this.define('vigil_epochs_committed_total', 'counter', 'Epochs whose output was written.');
    this.define('vigil_block_changes_total', 'counter', 'Changes to the blocklist made through this node, by action (block, lift).', true);
    this.define('vigil_rules_reloads_total', 'counter', 'Rules hot-reloads completed.');
    this.define('vigil_blocks', 'gauge', 'Keys on the blocklist now.');
    this.define('vigil_ready', 'gauge', '1 while the node takes records, else 0.');
  }

  private define (name: string, type: Family['type'], help: string, labelled = false): void {
    this.families.set(name, { help, type, labelled, values: new Map(), histograms: new Map() });
  }

  private add (name: string, labels: Labels, by: number): void {
    const family = this.families.get(name)!;
    const id = seriesId(labels);
    const sample = family.values.get(id);
    if (sample === undefined) family.values.set(id, { labels, value: by });
    else sample.value += by;
  }

  private set (name: string, labels: Labels, value: number): void {
    this.families.get(name)!.values.set(seriesId(labels), { labels, value });
  }

  /** One committed epoch: its input size, what the engine counted, its rejects and alerts. */
  epoch (size: number, accepted: number, rejects: readonly Reject[], alerts: Iterable<Alert>): void {
    this.add('vigil_epochs_committed_total', {}, 1);
    this.add('vigil_records_received_total', {}, size);
    this.add('vigil_records_accepted_total', {}, accepted);
    for (const r of rejects) this.add('vigil_records_rejected_total', { code: r.code }, 1);
    for (const a of alerts) this.add('vigil_alerts_total', { rule: a.rule, severity: a.severity }, 1);
  }

  blockChanges (changes: readonly BlockChange[]): void {
    for (const c of changes) this.add('vigil_block_changes_total', { action: c.action }, 1);
  }

  /** Sets a gauge defined by its first use (the cluster roles' lag, lanes, leases, …). */
  gauge (name: string, help: string, value: number, labels: Labels = {}): void {
    if (!this.families.has(name)) this.define(name, 'gauge', help, Object.keys(labels).length > 0);
    this.set(name, labels, value);
  }

  /** Adds to a counter defined by its first use. */
  count (name: string, help: string, by: number, labels: Labels = {}): void {
    if (!this.families.has(name)) this.define(name, 'counter', help, Object.keys(labels).length > 0);
    this.add(name, labels, by);
  }

  /**
   * Counts one duration, in seconds, into a histogram defined by its first use (name it
   * `…_seconds`; the exposition adds `_bucket`, `_sum` and `_count`). A value that is not a
   * finite number is dropped: it would make `_sum` useless for good.
   */
  observe (name: string, help: string, seconds: number, labels: Labels = {}): void {
    if (!Number.isFinite(seconds)) return;
    if (!this.families.has(name)) this.define(name, 'histogram', help, Object.keys(labels).length > 0);
    const family = this.families.get(name)!;
    const id = seriesId(labels);
    let sample = family.histograms.get(id);
    if (sample === undefined) {
      sample = { labels, counts: new Array<number>(HISTOGRAM_BUCKETS.length + 1).fill(0), sum: 0, count: 0 };
      family.histograms.set(id, sample);
    }
    let bucket = 0;
    while (bucket < HISTOGRAM_BUCKETS.length && seconds > (HISTOGRAM_BUCKETS[bucket] as number)) bucket++;
    sample.counts[bucket] = (sample.counts[bucket] as number) + 1;
    sample.sum += seconds;
    sample.count += 1;
    for (const listener of this.observers) listener(name, family.help, seconds, labels);
  }

  /** Calls `listener` after every histogram observation; returns the call that stops it. */
  onObserve (listener: ObserveListener): () => void {
    this.observers.add(listener);
    return () => { this.observers.delete(listener); };
  }

  /**
   * Runs `refresh` before every read (render, snapshot): the place to set gauges read from live
   * state (blocklist size, readiness, lag), so `/metrics` and the OTLP export see the same value.
   * A refresh that throws (a store closed while the node stops) leaves its gauges as they were.
   */
  beforeRead (refresh: () => void): void {
    this.refreshers.push(refresh);
  }

  reloaded (): void {
    this.add('vigil_rules_reloads_total', {}, 1);
  }

  /**
   * Every family with copies of its samples, after the beforeRead refreshes. An unlabelled
   * counter or gauge that was never set shows one sample of 0, as in the exposition; a labelled
   * one shows none until a series exists.
   */
  snapshot (): MetricFamily[] {
    for (const refresh of this.refreshers) {
      try { refresh(); } catch { /* the gauges keep their last values */ }
    }
    const out: MetricFamily[] = [];
    for (const [name, f] of this.families) {
      if (f.type === 'histogram') {
        out.push({ name, help: f.help, type: f.type, samples: [...f.histograms.values()].map((s) => ({ labels: s.labels, counts: [...s.counts], sum: s.sum, count: s.count })) });
      } else {
        const samples = [...f.values.values()].map((s) => ({ labels: s.labels, value: s.value }));
        if (samples.length === 0 && !f.labelled) samples.push({ labels: {}, value: 0 });
        out.push({ name, help: f.help, type: f.type, samples });
      }
    }
    return out;
  }

  /**
   * The exposition. `gauges` sets vigil_blocks and vigil_ready first (for callers that do not
   * register a beforeRead refresh).
   */
  render (gauges?: { blocks: number, ready: boolean }): string {
    if (gauges !== undefined) {
      this.set('vigil_blocks', {}, gauges.blocks);
      this.set('vigil_ready', {}, gauges.ready ? 1 : 0);
    }
    let out = '';
    for (const f of this.snapshot()) {
      out += `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
      if (f.type !== 'histogram') {
        for (const s of f.samples) out += `${f.name}${labelText(s.labels)} ${formatValue(s.value)}\n`;
        continue;
      }
      for (const s of f.samples) {
        let cumulative = 0;
        for (let i = 0; i <= HISTOGRAM_BUCKETS.length; i++) {
          cumulative += s.counts[i] as number;
          const le = i < HISTOGRAM_BUCKETS.length ? String(HISTOGRAM_BUCKETS[i]) : '+Inf';
          out += `${f.name}_bucket${labelText(s.labels, `le="${le}"`)} ${cumulative}\n`;
        }
        out += `${f.name}_sum${labelText(s.labels)} ${formatValue(s.sum)}\n`;
        out += `${f.name}_count${labelText(s.labels)} ${s.count}\n`;
      }
    }
    return out;
  }
}
