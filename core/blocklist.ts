/**
 * The blocklist, the pure part (notifications.md, "Blocklist"): which alerts put a key on the
 * blocklist, what a block and an audit entry hold, and how the one who made a change is named.
 * A rule with `action: block` blocks its key when it fires at `critical`; a warning of the
 * same rule does not. Storage lives in cluster/blocklist.ts.
 */
import type { Alert } from './alert.js';
import type { RuleConfig } from './rules-config.js';

/** A key on the blocklist, with the alert that put it there. */
export interface Block {
  readonly key: string;
  /** when the block was made: the alert's detection time, or the time of the change (UTC ISO 8601) */
  readonly since: string;
  readonly rule: string;
  readonly alert: Alert;
}

/** One change of the blocklist, kept forever in the audit log. */
export interface BlockChange {
  readonly action: 'block' | 'lift';
  readonly key: string;
  /** UTC ISO 8601 */
  readonly at: string;
  /** `rule:<id>` (the engine), `api:<token name>` or `api:anonymous`, `cli:<user>` */
  readonly by: string;
  readonly rule?: string;
  /** for a block: the id of the alert that caused it */
  readonly alert?: string;
}

/**
 * The alerts of one epoch that block their key, in the order given, first alert per key only:
 * a critical, non-shadow alert of a rule with `action: block`.
 */
export function blockingAlerts (rules: readonly RuleConfig[], alerts: Iterable<Alert>): Alert[] {
  const blocking = new Set(rules.filter((r) => r.action === 'block').map((r) => r.id));
  if (blocking.size === 0) return [];
  const out: Alert[] = [];
  const seen = new Set<string>();
  for (const alert of alerts) {
    // A shadow rule's alerts never reach the blocklist (rules.md, `enabled: shadow`).
    if (alert.severity !== 'critical' || alert.shadow === true || !blocking.has(alert.rule) || seen.has(alert.key)) continue;
    seen.add(alert.key);
    out.push(alert);
  }
  return out;
}

/** Who made a change, as the audit log names it. */
export const actor = {
  rule: (id: string): string => `rule:${id}`,
  api: (tokenName: string | undefined): string => `api:${tokenName ?? 'anonymous'}`,
  cli: (user: string): string => `cli:${user}`,
} as const;

/** An ISO time (with any offset) as UTC ISO 8601, so every time in the blocklist reads alike. */
export function toUtcIso (iso: string, fallback: number): string {
  const ms = Date.parse(iso);
  return new Date(Number.isFinite(ms) ? ms : fallback).toISOString();
}
