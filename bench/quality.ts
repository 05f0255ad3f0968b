/**
 * Detection quality of a load run against the generator's labels (examples/frauds.ts), as
 * examples/score.ts scores a replay: for each injected fraud, whether any of its expected
 * (rule, key) alerts came and how long after the case's earliest record, both in event time
 * (traffic minutes) and in wall time at the run's arrival rate (from that record's scheduled
 * arrival to the alert coming out of the engine); control cases that must stay quiet; and
 * clean accounts (no case of theirs) whose records raised alerts no case explains.
 * Used by `vigil bench`.
 */
import type { Label } from '../examples/frauds.js';
import type { LoadResult } from './load.js';

export interface CaseScore {
  readonly fraud: string;
  readonly kind: 'fraud' | 'control';
  readonly detected: boolean;
  /** expectations met / listed */
  readonly met: number;
  readonly expected: number;
  /** first alert's event time minus the case's first record's, seconds */
  readonly eventSeconds?: number;
  /** wall ms from the case's earliest record's scheduled arrival to the first alert */
  readonly wallMs?: number;
  readonly firstRule?: string;
}

export interface Quality {
  readonly cases: readonly CaseScore[];
  readonly frauds: number;
  readonly detected: number;
  readonly recall: number;
  readonly controlsQuiet: number;
  readonly controls: number;
  readonly cleanAccounts: number;
  readonly cleanAlerted: number;
  /** cleanAlerted / cleanAccounts */
  readonly falseAlertRate: number;
  readonly unexplainedAlerts: number;
  readonly medianWallMs: number;
  readonly medianEventSeconds: number;
}

function median (xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}

/** `accounts`: every account that has traffic in the run. */
export function scoreQuality (labels: readonly Label[], run: LoadResult, accounts: ReadonlySet<string>): Quality {
  const cases: CaseScore[] = [];
  const labelled = new Set<string>();
  const explained = new Set<string>();
  for (const l of labels) {
    if (l.kind === 'reject') continue;
    if (l.account !== undefined) labelled.add(l.account);
    if (l.key !== undefined) explained.add(l.key);
    for (const e of l.expect) explained.add(e.key);
  }
  for (const l of labels) {
    // A case whose records start after the run's last record (a preset that runs only the
    // head of the traffic) is not scored.
    if (l.kind === 'reject' || (l.line !== undefined && l.line > run.records)) continue;
    const firstTs = Date.parse(l.firstTs);
    const arrival = l.line === undefined ? undefined : run.scheduledAt[l.line - 1];
    let met = 0;
    let first: { atMs: number, ts: number, rule: string } | undefined;
    for (const e of l.expect) {
      let hit = false;
      for (const a of run.alertList) {
        if (a.rule !== e.rule || a.key !== e.key) continue;
        hit = true;
        if (first === undefined || a.atMs < first.atMs) first = { atMs: a.atMs, ts: a.ts, rule: a.rule };
      }
      if (hit) met++;
    }
    cases.push({
      fraud: l.fraud,
      kind: l.kind,
      detected: met > 0,
      met,
      expected: l.expect.length,
      ...(first === undefined
        ? {}
        : {
            eventSeconds: Math.round((first.ts - firstTs) / 1000),
            ...(arrival === undefined ? {} : { wallMs: Math.round((first.atMs - arrival) * 100) / 100 }),
            firstRule: first.rule,
          }),
    });
  }
  const frauds = cases.filter((c) => c.kind === 'fraud');
  const controls = cases.filter((c) => c.kind === 'control');
  const cleanAlerted = new Set<string>();
  let unexplained = 0;
  for (const a of run.alertList) {
    if (explained.has(a.key)) continue;
    let ofCase = false;
    for (const acct of labelled) if (a.key.startsWith(`${acct}|`)) { ofCase = true; break; }
    if (ofCase) continue;
    unexplained++;
    if (!labelled.has(a.account)) cleanAlerted.add(a.account);
  }
  let clean = 0;
  for (const acct of accounts) if (!labelled.has(acct)) clean++;
  const detected = frauds.filter((c) => c.detected);
  return {
    cases,
    frauds: frauds.length,
    detected: detected.length,
    recall: frauds.length === 0 ? NaN : detected.length / frauds.length,
    controlsQuiet: controls.filter((c) => !c.detected).length,
    controls: controls.length,
    cleanAccounts: clean,
    cleanAlerted: cleanAlerted.size,
    falseAlertRate: clean === 0 ? 0 : cleanAlerted.size / clean,
    unexplainedAlerts: unexplained,
    medianWallMs: median(detected.flatMap((c) => c.wallMs === undefined ? [] : [c.wallMs])),
    medianEventSeconds: median(detected.flatMap((c) => c.eventSeconds === undefined ? [] : [c.eventSeconds])),
  };
}

/** Every account of JSON lines (lines that are not JSON or have no account are skipped). */
export function accountsOf (lines: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const line of lines) {
    try {
      const a = (JSON.parse(line) as { account?: unknown } | null)?.account;
      if (typeof a === 'string') out.add(a);
    } catch { /* a broken line */ }
  }
  return out;
}
