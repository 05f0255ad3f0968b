/**
 * One order for the alerts of a batch, whichever engine raised them: by the record that
 * crossed, then by rule as the rules file lists them, warning before the rule's own severity,
 * then by key. Shard actors raise a record's alerts in parallel, so without this order the
 * output of the threaded engine could differ from the single-threaded core's.
 */
import type { Alert } from './alert.js';
import type { RuleConfig } from './rules-config.js';

export interface IndexedAlert { readonly index: number, readonly alert: Alert }

const SEVERITY_RANK: Readonly<Record<string, number>> = { info: 0, warning: 1, critical: 2 };

export function alertComparator (rules: readonly RuleConfig[]): (a: IndexedAlert, b: IndexedAlert) => number {
  const order = new Map(rules.map((r, i) => [r.id, i]));
  return (a, b) =>
    a.index - b.index ||
    (order.get(a.alert.rule) ?? 0) - (order.get(b.alert.rule) ?? 0) ||
    (a.alert.severity === 'warning' ? 0 : 1) - (b.alert.severity === 'warning' ? 0 : 1) ||
    (SEVERITY_RANK[a.alert.severity] ?? 0) - (SEVERITY_RANK[b.alert.severity] ?? 0) ||
    (a.alert.key < b.alert.key ? -1 : a.alert.key > b.alert.key ? 1 : 0);
}
