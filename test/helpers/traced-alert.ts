// The one alert the trace tests follow through a cluster, in one process (tracing.test.ts) and
// across processes (tracing-processes.test.ts): the same rules and records, so that both
// trees have the same spans to look for.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const T = Date.parse('2026-11-21T10:00:00+01:00');

/** DIR/rules.yaml: a webhook channel `hook` posting to HOOK/alerts, and `busy` (over 2 records of an account a day) notifying it. */
export function writeBusyRules (dir: string, hookUrl: string): void {
  writeFileSync(join(dir, 'rules.yaml'), `version: 1
channels:
  hook: { type: webhook, url: "${hookUrl}/alerts" }
rules:
  - { id: busy, by: account, measure: count, window: day, limit: 2, notify: [hook] }
`);
}

/** Three records of one account a second apart: the third makes `busy` alert. */
export function busyRecords (): Array<{ id: string, ts: number, account: string, called: string }> {
  return [0, 1, 2].map((i) => ({ id: `r${i}`, ts: T + i * 1000, account: 'acct-7', called: '+4930123' }));
}
