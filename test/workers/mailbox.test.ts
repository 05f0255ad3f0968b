// The mailbox's threads, real piscina threads: a thread started after setData() (by restart(),
// or by piscina itself when the thread died) runs with the new workerData, as a limits-only
// reload needs: a thread that replaces a crashed one must open with the new rules.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { setTimeout as sleep } from 'node:timers/promises';
import { Mailbox } from '../../workers/mailbox.js';

const test = suite('workers/mailbox: workerData of later threads');
const ECHO = new URL('../fixtures/workerdata-echo.js', import.meta.url).href;

test('setData reaches the thread piscina starts after a crash, and the one restart() starts', async () => {
  const mailbox = new Mailbox<string, unknown, { v: number }>({ actor: 0, depth: 1, filename: ECHO, data: { v: 1 }, onError: () => undefined });
  try {
    assert.equal(await mailbox.send('hello'), { v: 1 });
    mailbox.setData({ v: 2 });
    assert.equal(await mailbox.send('hello'), { v: 1 }, 'the running thread keeps what it started with');
    await mailbox.send('die');
    let seen: unknown;
    for (let i = 0; i < 100; i++) {
      try { seen = await mailbox.send('hello'); break; } catch { await sleep(20); }
    }
    assert.equal(seen, { v: 2 }, 'piscina started the replacement with the new data');
    mailbox.setData({ v: 3 });
    await mailbox.restart();
    assert.equal(await mailbox.send('hello'), { v: 3 });
  } finally {
    await mailbox.close();
  }
});

test.run();
