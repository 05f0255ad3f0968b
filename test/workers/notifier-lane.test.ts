// One channel's delivery queue (workers/notifier/lane.ts) on its own, with the real `log`
// channel writing into an array and a clock the test sets: what the pacing a previous run left
// does to the next message.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Alert } from '../../core/alert.js';
import { parseChannelSpec } from '../../core/channel-settings.js';
import { makeChannel } from '../../workers/channels/index.js';
import { Lane, type Clock, type LaneDeps } from '../../workers/notifier/lane.js';
import { BATCH_MAX, type Pacing } from '../../workers/notifier/outbox.js';
import { alert } from '../fixtures/alerts.js';

const NOW = Date.UTC(2026, 11, 4, 9, 0, 0);

/** A clock at NOW whose timers run only when the test advances it. */
class TestClock implements Clock {
  at = NOW;
  private timers: Array<{ due: number, fn: () => void }> = [];
  now (): number { return this.at; }
  setTimer (fn: () => void, ms: number): unknown { const t = { due: this.at + ms, fn }; this.timers.push(t); return t; }
  clearTimer (handle: unknown): void { this.timers = this.timers.filter((t) => t !== handle); }
  advance (ms: number): void {
    this.at += ms;
    const due = this.timers.filter((t) => t.due <= this.at);
    this.timers = this.timers.filter((t) => t.due > this.at);
    for (const t of due) t.fn();
  }
}

function lane (settings: Record<string, unknown>, paced: Pacing | undefined, clock: Clock, alerts: Alert[], lines: string[]): Lane {
  const spec = parseChannelSpec('desk', { type: 'log', settings });
  const channel = makeChannel(spec, { baseDir: '/', nats: undefined, timeoutMs: 1_000, write: (line) => { lines.push(line); } });
  const deps: LaneDeps = {
    clock,
    random: () => 0.5,
    backoffBaseMs: 100,
    backoffCapMs: 1_000,
    maxDigest: 100,
    paced,
    load: (seq) => alerts[seq % BATCH_MAX],
    delivered: () => undefined,
    dead: () => undefined,
    log: () => undefined,
  };
  return new Lane(channel, deps);
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('a message started within the rate window before a restart holds the next one until the window is over', async () => {
  const clock = new TestClock();
  const alerts = [alert(0)];
  const lines: string[] = [];
  const l = lane({ rate: '1/10s' }, { starts: [NOW - 4_000], lastDigestAt: 0 }, clock, alerts, lines);
  l.add(1, Uint8Array.of(1), NOW, false);
  await flush();
  assert.is(lines.length, 0, 'held: one message started 4 s ago, and the rate allows one per 10 s');
  clock.advance(6_000);
  await flush();
  assert.is(lines.length, 1, 'sent once the window is over');
});

test('a start the clock has not reached yet (it was set back) is dropped, not a hold until the clock catches up', async () => {
  const clock = new TestClock();
  const alerts = [alert(0)];
  const lines: string[] = [];
  const l = lane({ rate: '1/10s' }, { starts: [NOW + 3_600_000], lastDigestAt: NOW + 3_600_000 }, clock, alerts, lines);
  l.add(1, Uint8Array.of(1), NOW, false);
  await flush();
  assert.is(lines.length, 1);
});

test('a hold longer than a Node timer can hold (rate: 1/30d) waits on one timer, not a 1 ms timer again and again', async () => {
  // setTimeout runs a delay over 2^31-1 ms (24.8 days) after 1 ms: the lane woke, found the
  // window not over, and set the same timer again, spinning the notification thread.
  let timers = 0;
  const clock: Clock = {
    now: () => Date.now(),
    setTimer: (fn, ms) => { timers++; return setTimeout(fn, ms); },
    clearTimer: (h) => { clearTimeout(h as NodeJS.Timeout); },
  };
  const now = Date.now();
  const alerts = [alert(0)];
  const lines: string[] = [];
  const l = lane({ rate: '1/30d' }, { starts: [now - 1_000], lastDigestAt: 0 }, clock, alerts, lines);
  const warnings: string[] = [];
  const onWarning = (w: Error): void => { warnings.push(w.name); };
  process.on('warning', onWarning);
  try {
    l.add(1, Uint8Array.of(1), now, false);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.is(lines.length, 0, 'held: the rate allows one message per 30 days');
    assert.ok(timers <= 2, `${timers} timers set in 200 ms`);
    assert.not.ok(warnings.includes('TimeoutOverflowWarning'));
  } finally {
    process.off('warning', onWarning);
    await l.close(0);
  }
});

test.run();
