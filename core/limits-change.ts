/**
 * A reload that changes nothing but limits need not restart anything. This says whether two rule
 * sets differ only so, and how:
 *
 * - per-key `limits` (a credit-limit update: a new `limits_file`): the keys whose own limit
 *   changed, per rule. The engines give those keys' open windows the limit they would have
 *   opened with; every other key stays as it is. Only while the rule keeps some per-key limits:
 *   a rule whose `limits` become empty (or stop being empty) changes how its counter keeps
 *   limits (compile.ts varyingLimits), which only a full reload handles.
 * - a rule's `limit`, when the rule's limit is the same for every key and window (no `limits`,
 *   `shape` or `adaptive`, before and after: the engine reads it when a record comes, and no
 *   window keeps it), and a rule's `warning` (always read when a record comes). What the rule
 *   fired in the open windows stays, as a full reload keeps it: a lowered limit under the
 *   current value alerts with the next record.
 */
import type { RuleConfig, RulesConfig, Warning } from './rules-config.js';
import { rulesFingerprint } from './compile.js';

export interface RuleThreshold { readonly limit: number | undefined, readonly warning: Warning | undefined }

export interface LimitChanges {
  /** per rule id: the keys whose own limit changed (undefined: the key has no own limit now) */
  readonly keys: ReadonlyMap<string, ReadonlyMap<string, number | undefined>>;
  /** per rule id whose `limit` (a constant one) or `warning` changed: its new ones */
  readonly rules: ReadonlyMap<string, RuleThreshold>;
}

const NO_LIMITS: ReadonlyMap<string, number> = new Map();

/** The same `limit` for every key and window. */
const constant = (r: RuleConfig): boolean => r.limits.size === 0 && r.shape === undefined && r.adaptive === undefined;

/** `to`'s limit changes from `from`, or undefined when they differ in anything else (or in a way only a full reload handles). */
export function limitsOnlyChange (from: RulesConfig, to: RulesConfig): LimitChanges | undefined {
  if (from.rules.length !== to.rules.length) return undefined;
  const loose = (i: number): boolean => constant(from.rules[i]!) && constant(to.rules[i]!);
  // Only for the fingerprint of the rest: JSON leaves undefined out.
  const strip = (c: RulesConfig): unknown => ({
    ...c,
    rules: c.rules.map((r, i) => ({ ...r, limits: NO_LIMITS, warning: undefined, ...(loose(i) ? { limit: undefined } : {}) })),
  });
  const fingerprintOf = (c: RulesConfig): string => rulesFingerprint(strip(c) as RulesConfig);
  if (fingerprintOf(from) !== fingerprintOf(to)) return undefined;
  const keys = new Map<string, Map<string, number | undefined>>();
  const rules = new Map<string, RuleThreshold>();
  for (let i = 0; i < to.rules.length; i++) {
    const old = from.rules[i]!;
    const now = to.rules[i]!;
    if (old.limit !== now.limit || JSON.stringify(old.warning ?? null) !== JSON.stringify(now.warning ?? null)) rules.set(now.id, { limit: now.limit, warning: now.warning });
    const before = old.limits;
    const after = now.limits;
    if (before === after) continue;
    const changed = new Map<string, number | undefined>();
    for (const [key, limit] of after) if (before.get(key) !== limit) changed.set(key, limit);
    for (const key of before.keys()) if (!after.has(key)) changed.set(key, undefined);
    if (changed.size === 0) continue;
    if (before.size === 0 || after.size === 0) return undefined;
    keys.set(now.id, changed);
  }
  return { keys, rules };
}
