/**
 * The node's counters for `GET /metrics`, written by hand in the Prometheus text exposition
 * format 0.0.4 (`# HELP`, `# TYPE`, then `name{label="value"} number` lines). Counted when an
 * epoch's output is written, so the figures are those of committed records; they start at 0
 * with the process, as Prometheus counters do. OpenTelemetry replaces this in a later issue.
 */
import type { Alert } from '../core/alert.js';
import type { Reject } from '../core/usage-record.js';
import type { BlockChange } from '../core/blocklist.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Labels = Readonly<Record<string, string>>;

interface Family {
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  /** has labels: shows nothing until a sample exists (a plain counter shows 0) */
  readonly labelled: boolean;
  /** by the labels' text */
  readonly samples: Map<string, { labels: Labels, value: number }>;
}

/** A label value as the format wants it: backslash, double quote and line feed escaped. */
function escapeLabel (value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelText (labels: Labels): string {
  const entries = Object.entries(labels);
  return entries.length === 0 ? '' : `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
}

export class Metrics {
  private readonly families = new Map<string, Family>();

  constructor () {
    this.define('vigil_records_received_total', 'counter', 'Input records in committed epochs (accepted and rejected).');
    this.define('vigil_records_accepted_total', 'counter', 'Records counted by the engine in committed epochs.');
    this.define('vigil_records_rejected_total', 'counter', 'Records rejected, by reason code (VIGIL_INVALID_RECORD, VIGIL_LATE_RECORD, VIGIL_RULE_FAILED).', true);
    this.define('vigil_alerts_total', 'counter', 'Alerts raised in committed epochs, by rule and severity.', true);
    this.define('vigil_epochs_committed_total', 'counter', 'Epochs whose output was written.');
    this.define('vigil_block_changes_total', 'counter', 'Changes to the blocklist made through this node, by action (block, lift).', true);
    this.define('vigil_rules_reloads_total', 'counter', 'Rules hot-reloads completed.');
    this.define('vigil_blocks', 'gauge', 'Keys on the blocklist now.');
    this.define('vigil_ready', 'gauge', '1 while the node takes records, else 0.');
  }

  private define (name: string, type: Family['type'], help: string, labelled = false): void {
    this.families.set(name, { help, type, labelled, samples: new Map() });
  }

  private add (name: string, labels: Labels, by: number): void {
    const family = this.families.get(name)!;
    const id = labelText(labels);
    const sample = family.samples.get(id);
    if (sample === undefined) family.samples.set(id, { labels, value: by });
    else sample.value += by;
  }

  private set (name: string, labels: Labels, value: number): void {
    this.families.get(name)!.samples.set(labelText(labels), { labels, value });
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

  reloaded (): void {
    this.add('vigil_rules_reloads_total', {}, 1);
  }

  /** The exposition, with the gauges read now. */
  render (gauges: { blocks: number, ready: boolean }): string {
    this.set('vigil_blocks', {}, gauges.blocks);
    this.set('vigil_ready', {}, gauges.ready ? 1 : 0);
    let out = '';
    for (const [name, f] of this.families) {
      out += `# HELP ${name} ${f.help}\n# TYPE ${name} ${f.type}\n`;
      if (f.samples.size === 0 && !f.labelled) out += `${name} 0\n`;
      for (const s of f.samples.values()) out += `${name}${labelText(s.labels)} ${s.value}\n`;
    }
    return out;
  }
}
