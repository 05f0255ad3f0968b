/**
 * A reload that changes nothing but per-key `limits` (a credit-limit update: a new
 * `limits_file`) need not restart anything: the engines take the new limits for the keys whose
 * limit changed, and every other key stays as it is. This says whether two rule sets differ so,
 * and how: per rule, the keys whose limit changed (undefined: the key has no own limit now).
 *
 * Only when every rule that changes keeps some per-key limits: a rule whose `limits` become
 * empty (or stop being empty) changes how its counter keeps limits (compile.ts varyingLimits),
 * which only a full reload handles.
 */
import type { RuleConfig, RulesConfig } from './rules-config.js';
import { rulesFingerprint } from './compile.js';

export type LimitChanges = ReadonlyMap<string, ReadonlyMap<string, number | undefined>>;

const NO_LIMITS: ReadonlyMap<string, number> = new Map();

/** `to`'s per-key limit changes from `from`, or undefined when they differ in anything else (or in a way only a full reload handles). */
export function limitsOnlyChange (from: RulesConfig, to: RulesConfig): LimitChanges | undefined {
  if (from.rules.length !== to.rules.length) return undefined;
  const strip = (c: RulesConfig): RulesConfig => ({ ...c, rules: c.rules.map((r): RuleConfig => ({ ...r, limits: NO_LIMITS })) });
  if (rulesFingerprint(strip(from)) !== rulesFingerprint(strip(to))) return undefined;
  const changes = new Map<string, Map<string, number | undefined>>();
  for (let i = 0; i < to.rules.length; i++) {
    const before = from.rules[i]!.limits;
    const after = to.rules[i]!.limits;
    if (before === after) continue;
    const changed = new Map<string, number | undefined>();
    for (const [key, limit] of after) if (before.get(key) !== limit) changed.set(key, limit);
    for (const key of before.keys()) if (!after.has(key)) changed.set(key, undefined);
    if (changed.size === 0) continue;
    if (before.size === 0 || after.size === 0) return undefined;
    changes.set(to.rules[i]!.id, changed);
  }
  return changes;
}
