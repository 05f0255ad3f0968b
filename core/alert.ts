/**
 * An alert: one crossing of one threshold by one key in one window, with everything a fraud
 * analyst needs to act on it without opening another tool (rules.md, "Alerts").
 */
import type { Severity } from './rules-config.js';
import { stableId } from './hash.js';

export interface Alert {
  /** Derived from rule, key, window start (sliding: the crossing record's id) and severity: a replay yields the same id. */
  readonly id: string;
  readonly rule: string;
  readonly severity: Severity;
  readonly by: readonly string[];
  readonly key: string;
  readonly window: { readonly start: string, readonly end: string };
  readonly value: number;
  readonly limit: number;
  /** The id of the record that crossed. */
  readonly record: string;
  /** Event time of that record. */
  readonly ts: string;
  /** Wall-clock time of detection; the only field that differs between two replays. */
  readonly detectedAt: string;
  readonly description?: string;
  /** The rule's `score`: what this alert adds to its key's risk. */
  readonly score?: number;
  /** From a rule with `enabled: shadow`: for the log and metrics only, never channels or the blocklist. */
  readonly shadow?: true;
  /** A risk alert: the scored alerts its score is made of (the newest 32), each with its undecayed score. */
  readonly contributions?: ReadonlyArray<{ readonly alert: string, readonly rule: string, readonly score: number, readonly ts: string }>;
}

export function alertId (rule: string, key: string, anchor: string | number, severity: Severity): string {
  return stableId(`${rule}\u0000${key}\u0000${anchor}\u0000${severity}`);
}

/** Measures are floating point sums; six decimals is finer than any currency and hides float noise. */
export function roundValue (v: number): number {
  return Math.round(v * 1e6) / 1e6;
}
