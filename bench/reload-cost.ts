/**
 * What a rules reload costs a node that holds many keys: the credit-limit case, a
 * `limits_file` with a line per account, one account's limit changed, SIGHUP: a limits-only
 * reload, applied in place (serve.ts relimitNow). Beside it, in the same run, the baseline it
 * used to exceed (1.7 times at a million keys, when every reload restarted the actors): starting
 * the node again on the same data folder, whose actors restore every row from LMDB.
 *
 * One in-process `vigil serve` node (1 shard thread, durable commits) gets one record per
 * account over HTTP, then `reloadRulesFile()` is timed, and one POST sent 100 ms into the
 * reload is timed too: POSTs wait, unread, while a reload runs. Then the node is stopped and
 * started again on the folder, and the time to ready is the restart.
 *
 * Run: npx tsc -p tsconfig.json && node dist/bench/reload-cost.js [--keys N]   (default 1,000,000)
 * Needs: about 2 GB of memory and 1 GB of disk for a million keys, a temporary folder.
 * Not run by index.js (it takes a minute): results in RESULTS.md.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../cluster/config.js';
import { ServeNode } from '../cluster/serve.js';
import { intArg } from './harness.js';

const KEYS = intArg('keys', 1_000_000);
const CHUNK = 20_000;
const T = Date.parse('2026-11-21T10:00:00+01:00');

function post (port: number, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/records' }, (res) => {
      res.resume();
      res.on('end', () => { resolve(res.statusCode ?? 0); });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const limitsText = (changed: number): string => {
  const lines = ['key,limit'];
  for (let i = 0; i < KEYS; i++) lines.push(`acct-${i},${i === 7 ? changed : 100 + (i % 50)}`);
  return lines.join('\n') + '\n';
};

async function main (): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-reload-cost-'));
  try {
    writeFileSync(join(dir, 'limits.csv'), limitsText(107));
    writeFileSync(join(dir, 'rules.yaml'), [
      'version: 1',
      'timezone: Europe/Berlin',
      'rules:',
      '  - { id: credit, by: account, measure: sum(cost), window: month, limit: 1000, limits_file: limits.csv }',
      '  - { id: calls-day, by: account, measure: count, window: day, limit: 500 }',
      '',
    ].join('\n'));
    const config = parseConfig('rules: rules.yaml\ndata: data\nlisten: 127.0.0.1:0\nthreads: 1\nalerts: alerts.jsonl\n', join(dir, 'node.yaml'));
    const events: Array<Record<string, unknown>> = [];
    const quiet = { log: (e: Record<string, unknown>): void => { events.push(e); } };

    let started = performance.now();
    let node = await ServeNode.start(config, quiet);
    const firstStartMs = performance.now() - started;
    const port = (): number => node.address.port;
    started = performance.now();
    for (let from = 0; from < KEYS; from += CHUNK) {
      const lines: string[] = [];
      for (let i = from; i < Math.min(KEYS, from + CHUNK); i++) lines.push(JSON.stringify({ id: `r${i}`, ts: T + Math.floor(i / 100), account: `acct-${i}`, called: '+4930123', cost: 1 }));
      const status = await post(port(), lines.join('\n'));
      if (status !== 202) throw new Error(`POST answered ${status}`);
    }
    const ingestMs = performance.now() - started;

    writeFileSync(join(dir, 'limits.csv'), limitsText(5));
    started = performance.now();
    const reload = node.reloadRulesFile().then(() => performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const postStarted = performance.now();
    const stalled = post(port(), JSON.stringify({ id: 'x1', ts: T + 3_600_000, account: 'acct-7', called: '+4930123', cost: 1 })).then(() => performance.now() - postStarted);
    const reloadMs = await reload;
    const postMs = await stalled;
    const outcome = events.find((e) => 'reloaded' in e || 'reload_failed' in e || 'error' in e);
    if (outcome === undefined || !('reloaded' in outcome)) throw new Error(`the reload did not happen: ${JSON.stringify(outcome)}`);

    await node.stop();
    started = performance.now();
    node = await ServeNode.start(config, quiet);
    const restartMs = performance.now() - started;
    await node.stop();

    const rows = [
      { step: `ingest ${KEYS.toLocaleString('en-US')} keys (one record each, HTTP)`, ms: Math.round(ingestMs) },
      { step: 'reload: one limit of the limits_file changed', ms: Math.round(reloadMs) },
      { step: 'a POST sent 100 ms into the reload, answered after', ms: Math.round(postMs) },
      { step: 'restart on the same folder (baseline)', ms: Math.round(restartMs) },
      { step: 'first start, empty folder', ms: Math.round(firstStartMs) },
    ];
    console.table(rows);
    console.log(JSON.stringify({ bench: 'reload-cost', node: process.version, cpu: cpus()[0]?.model, cores: cpus().length, keys: KEYS, reloadMs: Math.round(reloadMs), restartMs: Math.round(restartMs), reloadPerRestart: Math.round(reloadMs / restartMs * 100) / 100, postDuringReloadMs: Math.round(postMs), ingestMs: Math.round(ingestMs) }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
