/**
 * What the two notify benches share: a loopback port nobody listens on (the dead webhook) and
 * synthetic alerts of one realistic shape, with ids made unique by `tag` (the outbox keeps an
 * alert id once per channel, so every sample's burst needs new ones).
 */
import { createServer } from 'node:net';
import type { Alert } from '../core/alert.js';

export async function closedPort (): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => { resolve(); }));
  return port;
}

export function makeAlerts (n: number, tag = ''): Alert[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${tag}bench-${i}`,
    rule: 'spend-day',
    severity: 'critical',
    by: ['account'],
    key: `acct-${i % 2000}`,
    window: { start: '2026-11-21T00:00:00+01:00', end: '2026-11-22T00:00:00+01:00' },
    value: 500 + i,
    limit: 500,
    record: `cdr-${i}`,
    ts: '2026-11-21T14:02:11+01:00',
    detectedAt: '2026-11-21T14:02:11.532+01:00',
    description: 'every account: EUR 500 a day',
  }));
}
