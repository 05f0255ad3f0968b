// Seeded CDR traffic for engine tests: a few accounts, callers, trunks and destinations so keys
// collide a lot; event times mostly increasing with some jitter; a few bad lines on purpose.
import { mulberry32 } from './prng.js';

export interface TrafficOptions { seed: number, records: number, start: number, badEvery?: number }

const DESTINATIONS = ['+4930123', '+4989555', '+252612', '+66812', '+234803', '+44207', '+88213', '+1212555'];

export function trafficLines (opts: TrafficOptions): string[] {
  const rnd = mulberry32(opts.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const lines: string[] = [];
  let ts = opts.start;
  for (let i = 0; i < opts.records; i++) {
    ts += Math.floor(rnd() * 20_000);
    if (opts.badEvery !== undefined && i % opts.badEvery === opts.badEvery - 1) {
      lines.push(i % 2 === 0 ? '{"ts": "not a time", "account": "a1", "called": "+4930"}' : '{broken json');
      continue;
    }
    const account = `acct-${Math.floor(rnd() * rnd() * 12)}`;
    const service = rnd() < 0.2 ? 'sms' : 'voice';
    const jitter = rnd() < 0.1 ? -Math.floor(rnd() * 300_000) : 0;
    const rec: Record<string, unknown> = {
      id: `r${i}`,
      ts: ts + jitter,
      account,
      caller: `+49170${account.slice(5)}${Math.floor(rnd() * 3)}`,
      called: `${pick(DESTINATIONS)}${Math.floor(rnd() * 50)}`,
      service,
      duration: service === 'sms' ? 0 : Math.floor(rnd() * rnd() * 900),
      trunk: pick(['t1', 't2', 't3']),
      provider: pick(['p1', 'p2']),
    };
    if (rnd() < 0.7) rec.cost = Math.round(rnd() * 300) / 100;
    lines.push(JSON.stringify(rec));
  }
  return lines;
}
