/**
 * The blocklist, the pure part (notifications.md, "Blocklist"): which alerts put a key on the
 * blocklist, what a block and an audit entry hold, and how the one who made a change is named.
 * A rule with `action: block` blocks its key when it fires at `critical`; a warning of the
 * same rule does not. Storage lives in cluster/blocklist.ts.
 *
 * In a cluster the blocklist is a replica on every notifier: a change is an event in the blocks
 * stream (BlockEvent) and every notifier folds the events, in stream order, with
 * applyBlockEvent, so all of them hold the same blocks and the same audit log.
 */
import type { Alert } from './alert.js';
import type { RuleConfig } from './rules-config.js';
import { InvalidBlockEventError } from './errors.js';

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

/**
 * A change asked of a cluster's blocklist, as the blocks stream carries it. Everything the
 * audit entry holds is decided by the one who publishes it (times included), so every notifier
 * applying it writes the same entry. `node` names the publishing node (its metrics count it).
 */
export type BlockEvent =
  | { readonly action: 'block', readonly key: string, readonly since: string, readonly by: string, readonly rule: string, readonly alert: Alert, readonly node: string }
  | { readonly action: 'lift', readonly key: string, readonly at: string, readonly by: string, readonly node: string };

/** The event that blocks a blocking alert's key (see blockingAlerts); `now` stands in for a detection time that does not parse. */
export function blockEvent (alert: Alert, now: number, node: string): BlockEvent {
  return { action: 'block', key: alert.key, since: toUtcIso(alert.detectedAt, now), by: actor.rule(alert.rule), rule: alert.rule, alert, node };
}

/** The event that lifts `key`, asked by `by` (see `actor`) at `now`. */
export function liftEvent (key: string, by: string, now: number, node: string): BlockEvent {
  return { action: 'lift', key, at: new Date(now).toISOString(), by, node };
}

/** What one event does to its key: the key's block after it, and the audit entry (none when it changes nothing). */
export interface BlockStep {
  readonly block: Block | undefined;
  readonly change: BlockChange | undefined;
}

/**
 * Folds one event into the key's current block, by the rule of the single-node blocklist: a
 * key already blocked stays blocked as it was, and lifting a key that is not blocked changes
 * nothing.
 */
export function applyBlockEvent (current: Block | undefined, event: BlockEvent): BlockStep {
  if (event.action === 'block') {
    if (current !== undefined) return { block: current, change: undefined };
    return {
      block: { key: event.key, since: event.since, rule: event.rule, alert: event.alert },
      change: { action: 'block', key: event.key, at: event.since, by: event.by, rule: event.rule, alert: event.alert.id },
    };
  }
  if (current === undefined) return { block: undefined, change: undefined };
  return { block: undefined, change: { action: 'lift', key: event.key, at: event.at, by: event.by, rule: current.rule } };
}

/** Validates a decoded blocks-stream message; InvalidBlockEventError names the first field that is wrong. */
export function parseBlockEvent (input: unknown): BlockEvent {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new InvalidBlockEventError('', 'an object', input);
  const o = input as Record<string, unknown>;
  const text = (field: string): string => {
    const v = o[field];
    if (typeof v !== 'string' || v === '') throw new InvalidBlockEventError(field, 'a non-empty string', v);
    return v;
  };
  const action = o.action;
  if (action !== 'block' && action !== 'lift') throw new InvalidBlockEventError('action', '"block" or "lift"', action);
  const key = text('key');
  const by = text('by');
  const node = text('node');
  if (action === 'lift') return { action, key, at: text('at'), by, node };
  const alert = o.alert as Record<string, unknown> | undefined;
  if (typeof alert !== 'object' || alert === null || typeof alert.id !== 'string' || alert.key !== key) {
    throw new InvalidBlockEventError('alert', `an alert (with an id) of key ${JSON.stringify(key)}`, alert);
  }
  return { action, key, since: text('since'), by, rule: text('rule'), alert: alert as unknown as Alert, node };
}
