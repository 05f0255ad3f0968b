// One process per data folder (workers/data-folder-lock.ts), with real processes only: a live
// one holds the folder, a dead one's lock (SIGKILLed, a zombie, another boot, a reused pid) is
// taken over without a hand to clean up, two starting at once get one winner; and through the
// real `vigil` command: a second serve or replay on a held folder exits 1 naming the holder,
// `blocks` and `risk` work beside it, every way a process ends gives the folder back.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { once } from 'node:events';
import { DataFolderLock, LOCK_FILE } from '../../workers/data-folder-lock.js';
import { DataUnavailableError } from '../../core/errors.js';
import { runVigil, type RunResult } from '../helpers/cli.js';
import { WAIT_MS, within, startServe, stopServe } from '../helpers/node.js';
import { tempDir, removeDir } from '../helpers/tmp.js';

const MODULE = new URL('../../workers/data-folder-lock.js', import.meta.url).href;
// A risk rule, so that `vigil risk` has something to read.
const RULES_TEXT = `version: 1
risk: { half_life: 1h }
rules:
  - { id: many-calls, by: account, measure: count, window: day, limit: 1, score: 20 }
  - { id: risky, by: account, measure: risk, limit: 100 }
`;
const IN_USE = /^the data folder (.+) is in use by process (\d+) \((.+), since ([^,)]+)\); stop it first, or give this process another data folder$/;

interface LockFile { pid: number, start: string | null, boot: string | null, command: string, since: string }

function lockOf (data: string): LockFile {
  return JSON.parse(readFileSync(join(data, LOCK_FILE), 'utf8')) as LockFile;
}

/** The message `vigil` prints for a folder held by the process its lock names. */
function inUse (data: string): string {
  const lock = lockOf(data);
  return `vigil: the data folder ${data} is in use by process ${lock.pid} (${lock.command}, since ${lock.since}); stop it first, or give this process another data folder\n`;
}

/**
 * A process that takes `data` (at once, or when a line arrives on its standard input) and keeps
 * it until killed; it prints `held PID` or `refused MESSAGE` and, refused, exits.
 */
function holderScript (dir: string): string {
  const file = join(dir, 'holder.mjs');
  writeFileSync(file, `
    const { DataFolderLock } = await import(${JSON.stringify(MODULE)});
    const [data, command, when] = process.argv.slice(2);
    const take = () => {
      try {
        DataFolderLock.take(data, command);
        process.stdout.write('held ' + process.pid + '\\n');
        setInterval(() => {}, 1000);
      } catch (err) {
        process.stdout.write('refused ' + err.message + '\\n');
        process.exit(0);
      }
    };
    if (when === 'on-input') { process.stdout.write('ready\\n'); process.stdin.once('data', take); } else take();
  `);
  return file;
}

/** The next line a child writes on its standard output. */
async function lineOf (child: ChildProcess): Promise<string> {
  const out = child.stdout!;
  out.setEncoding('utf8');
  return await within(WAIT_MS, 'a line from a child', new Promise<string>((resolve, reject) => {
    let text = '';
    const onData = (d: string): void => {
      text += d;
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      out.off('data', onData);
      // Paused, so that what comes after the line waits for the next call instead of being lost.
      out.pause();
      if (nl + 1 < text.length) out.unshift(text.slice(nl + 1));
      resolve(text.slice(0, nl));
    };
    out.on('data', onData);
    out.resume();
    child.once('exit', (code, signal) => { reject(new Error(`the child exited (${code ?? signal ?? '?'}) before a line: ${text}`)); });
  }));
}

interface Ctx { dir: string, children: ChildProcess[] }

function spawnHolder (ctx: Ctx, data: string, command: string, when: 'now' | 'on-input' = 'now'): ChildProcess {
  const child = spawn(process.execPath, [holderScript(ctx.dir), data, command, when], { stdio: ['pipe', 'pipe', 'inherit'] });
  ctx.children.push(child);
  return child;
}

async function holder (ctx: Ctx, data: string): Promise<ChildProcess> {
  const child = spawnHolder(ctx, data, 'vigil serve');
  assert.is(await lineOf(child), `held ${child.pid}`);
  return child;
}

async function killed (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

function refused (fn: () => unknown): RegExpExecArray {
  try {
    fn();
  } catch (err) {
    assert.instance(err, DataUnavailableError);
    const m = IN_USE.exec((err as Error).message);
    assert.ok(m, (err as Error).message);
    return m;
  }
  assert.unreachable('took a folder another process holds');
  throw new Error('unreachable');
}

const lock = suite<Ctx>('workers/data-folder-lock: one process per data folder', {} as Ctx);
lock.before.each((ctx) => { ctx.dir = tempDir(); ctx.children = []; });
lock.after.each(({ dir, children }) => { for (const c of children) c.kill('SIGKILL'); removeDir(dir); });

lock('a folder held by a live process is refused, naming it; once it is SIGKILLed, the folder is taken over', async (ctx) => {
  const data = join(ctx.dir, 'data');
  const other = await holder(ctx, data);
  const m = refused(() => DataFolderLock.take(data, 'vigil replay'));
  assert.equal([m[1], Number(m[2]), m[3]], [data, other.pid, 'vigil serve']);
  assert.match(m[4]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'since when, as an ISO time');
  assert.is(lockOf(data).pid, other.pid, 'the refused process left the lock alone');
  await killed(other);
  assert.is(lockOf(data).pid, other.pid, 'a SIGKILLed process leaves its lock');
  const mine = DataFolderLock.take(data, 'vigil replay');
  assert.ok(mine);
  assert.equal([lockOf(data).pid, lockOf(data).command], [process.pid, 'vigil replay']);
  mine.release();
  assert.not.ok(existsSync(join(data, LOCK_FILE)), 'release removes the lock');
  assert.ok(existsSync(data), 'a folder made for the lock but used is kept');
});

lock('a killed process its parent has not reaped yet (a zombie) holds nothing', async (ctx) => {
  const data = join(ctx.dir, 'data');
  // sh starts the holder, then becomes a sleep that never waits for it.
  const parent = spawn('sh', ['-c', '"$0" "$1" "$2" vigil-serve now & exec sleep 60', process.execPath, holderScript(ctx.dir), data], { stdio: ['ignore', 'pipe', 'inherit'] });
  ctx.children.push(parent);
  const pid = Number(/^held (\d+)$/.exec(await lineOf(parent))?.[1]);
  process.kill(pid, 'SIGKILL');
  const stat = (): string => readFileSync(`/proc/${pid}/stat`, 'utf8');
  const deadline = Date.now() + WAIT_MS;
  while (!/\) Z /.test(stat()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.match(stat(), /\) Z /, 'the holder is a zombie');
  assert.is(lockOf(data).pid, pid);
  const mine = DataFolderLock.take(data, 'vigil serve');
  assert.ok(mine);
  assert.is(lockOf(data).pid, process.pid);
  mine.release();
});

lock('stale locks are taken over: a pid that now belongs to another process, another boot, a torn file, an earlier process with our pid', ({ dir }) => {
  const file = join(dir, LOCK_FILE);
  const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  const stale: Array<[string, string]> = [
    // the parent process exists, but started at another moment than the lock says
    ['pid reused', JSON.stringify({ pid: process.ppid, start: '1', boot, command: 'vigil serve', since: 'x' })],
    ['other boot', JSON.stringify({ pid: process.ppid, start: '1', boot: 'not-this-boot', command: 'vigil serve', since: 'x' })],
    ['no such process', JSON.stringify({ pid: 2 ** 22 + 1, start: null, boot: null, command: 'vigil serve', since: 'x' })],
    ['torn', '{"pid": 12'],
    ['empty', ''],
    ['our own pid (a container\'s pid 1 again)', JSON.stringify({ pid: process.pid, start: null, boot: null, command: 'vigil serve', since: 'x' })],
  ];
  for (const [what, text] of stale) {
    writeFileSync(file, text);
    const taken = DataFolderLock.take(dir, 'vigil serve');
    assert.ok(taken, what);
    assert.is(lockOf(dir).pid, process.pid, what);
    taken.release();
  }
  // A live process whose start time /proc does not show the same way is not taken over on a guess.
  writeFileSync(file, JSON.stringify({ pid: process.ppid, start: null, boot, command: 'vigil serve', since: 'x' }));
  refused(() => DataFolderLock.take(dir, 'vigil serve'));
});

lock('a folder this very process holds is refused too, and free again once released', ({ dir }) => {
  const first = DataFolderLock.take(dir, 'vigil serve')!;
  const m = refused(() => DataFolderLock.take(dir, 'vigil replay'));
  assert.is(Number(m[2]), process.pid);
  first.release();
  first.release(); // idempotent
  const second = DataFolderLock.take(dir, 'vigil replay');
  assert.ok(second);
  second.release();
});

lock('release removes only a lock that is still this process\'s', ({ dir }) => {
  const taken = DataFolderLock.take(dir, 'vigil serve')!;
  const someoneElse = JSON.stringify({ pid: 1, start: null, boot: null, command: 'by hand', since: 'x' });
  writeFileSync(join(dir, LOCK_FILE), someoneElse);
  taken.release();
  assert.is(readFileSync(join(dir, LOCK_FILE), 'utf8'), someoneElse);
});

lock('a folder made for the lock and left empty is removed on release; one that existed is kept', ({ dir }) => {
  const made = join(dir, 'made', 'data');
  DataFolderLock.take(made, 'vigil serve')!.release();
  assert.not.ok(existsSync(made), 'the made folder is gone');
  const existing = join(dir, 'existing');
  mkdirSync(existing);
  DataFolderLock.take(existing, 'vigil serve')!.release();
  assert.ok(existsSync(existing));
});

lock('processes starting at the same instant on a free folder or on a stale lock: exactly one holds it', async (ctx) => {
  // Each round's racers are loaded and waiting; one write to each standard input starts them.
  const rounds: Array<{ stale: boolean, racers: number }> = [];
  for (let i = 0; i < 8; i++) rounds.push({ stale: false, racers: 3 }, { stale: true, racers: 2 });
  for (const [i, { stale, racers }] of rounds.entries()) {
    const data = join(ctx.dir, `race-${i}`);
    mkdirSync(data);
    if (stale) writeFileSync(join(data, LOCK_FILE), JSON.stringify({ pid: 2 ** 22 + 1, start: '1', boot: 'an-earlier-boot', command: 'vigil serve', since: 'x' }));
    const children = Array.from({ length: racers }, () => spawnHolder(ctx, data, `racer ${i}`, 'on-input'));
    for (const c of children) assert.is(await lineOf(c), 'ready');
    for (const c of children) c.stdin!.write('go\n');
    const said = await Promise.all(children.map(lineOf));
    const held = said.filter((s) => s.startsWith('held '));
    assert.is(held.length, 1, `round ${i} (${stale ? 'stale lock' : 'free folder'}): ${said.join(' | ')}`);
    assert.is(`held ${lockOf(data).pid}`, held[0]);
    for (const s of said.filter((l) => l.startsWith('refused '))) assert.match(s.slice('refused '.length), IN_USE);
    for (const c of children) await killed(c);
    ctx.children.length = 0;
  }
});

lock.run();

// ---------------------------------------------------------------------------------------------

interface CliCtx { dir: string, children: ChildProcess[] }
const cli = suite<CliCtx>('workers/data-folder-lock: vigil serve and vigil replay on a data folder', {} as CliCtx);
cli.before.each((ctx) => { ctx.dir = tempDir(); ctx.children = []; });
cli.after.each(({ dir, children }) => { for (const c of children) c.kill('SIGKILL'); removeDir(dir); });

function rulesFile (dir: string): string {
  const file = join(dir, 'rules.yaml');
  writeFileSync(file, RULES_TEXT);
  return file;
}

function serveConfig (dir: string, name: string, data: string, listen = '127.0.0.1:0', rules = rulesFile(dir)): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `rules: ${rules}\ndata: ${data}\nlisten: ${listen}\nthreads: 1\nalerts: ${join(dir, `alerts-${name}.jsonl`)}\n`);
  return file;
}

function input (dir: string): string {
  const file = join(dir, 'cdrs.jsonl');
  writeFileSync(file, JSON.stringify({ id: 'x1', ts: Date.parse('2026-11-21T10:00:00+01:00'), account: 'a1', called: '+4930123', duration: 30 }) + '\n');
  return file;
}

async function replayOn (dir: string, data: string, alerts: string): Promise<RunResult> {
  return await within(WAIT_MS, 'replay', runVigil(['replay', '--rules', rulesFile(dir), '--threads', '1', '--data', data, '--alerts', alerts, input(dir)]));
}

cli('a second serve or a replay on a folder a serve holds exits 1 naming it; blocks and risk work beside it; after a SIGKILL the next serve takes it over; SIGINT gives it back', async (ctx) => {
  const { dir } = ctx;
  const data = join(dir, 'data');
  const first = await startServe(serveConfig(dir, 'first', data));
  ctx.children.push(first.child);
  assert.equal([lockOf(data).pid, lockOf(data).command], [first.child.pid, 'vigil serve']);

  const second = await within(WAIT_MS, 'a second serve', runVigil(['serve', '--config', serveConfig(dir, 'second', data)]));
  assert.is(second.code, 1, second.stderr);
  assert.is(second.stderr, inUse(data));
  const replayed = await replayOn(dir, data, join(dir, 'replay-alerts.jsonl'));
  assert.is(replayed.code, 1, replayed.stderr);
  assert.is(replayed.stderr, inUse(data));
  assert.not.ok(existsSync(join(dir, 'replay-alerts.jsonl')), 'the refused replay wrote nothing');

  // The read-only commands take no lock: they run beside the node.
  const blocks = await within(WAIT_MS, 'blocks list', runVigil(['blocks', 'list', '--data', data]));
  assert.equal([blocks.code, blocks.stderr], [0, '0 keys blocked\n']);
  const risk = await within(WAIT_MS, 'risk', runVigil(['risk', '--rules', rulesFile(dir), '--data', data, 'a1']));
  assert.is(risk.code, 0, risk.stderr);
  assert.is(lockOf(data).pid, first.child.pid, 'the lock is still the node\'s');

  await killed(first.child);
  assert.is(lockOf(data).pid, first.child.pid, 'the SIGKILLed node left its lock');
  const third = await startServe(serveConfig(dir, 'third', data));
  ctx.children.push(third.child);
  assert.is(lockOf(data).pid, third.child.pid, 'the next node took the stale lock over');
  const stopped = await stopServe(third, 'SIGINT');
  assert.is(stopped.code, 0, stopped.stderr);
  assert.not.ok(existsSync(join(data, LOCK_FILE)), 'a stopped node leaves no lock');
});

cli('a serve whose start fails after taking the folder gives it back; a rules file with errors makes no folder', async ({ dir }) => {
  const busy = createServer();
  busy.listen(0, '127.0.0.1');
  await once(busy, 'listening');
  try {
    const listen = `127.0.0.1:${(busy.address() as AddressInfo).port}`;
    const existing = join(dir, 'existing');
    mkdirSync(existing);
    const made = join(dir, 'made');
    for (const data of [existing, made]) {
      const r = await within(WAIT_MS, 'serve on a busy port', runVigil(['serve', '--config', serveConfig(dir, 'busy', data, listen)]));
      assert.equal([r.code, r.stderr], [2, `vigil: config.listen: cannot listen on ${listen}: the port is in use\n`]);
      assert.not.ok(existsSync(join(data, LOCK_FILE)), `${data}: no lock left`);
    }
    assert.ok(existsSync(existing), 'a folder that existed is kept');
    assert.not.ok(existsSync(made), 'a folder made only for the lock is removed again');
  } finally {
    busy.close();
  }
  const rules = join(dir, 'bad-rules.yaml');
  writeFileSync(rules, 'version: 1\nrules:\n  - { id: r, by: account, measure: count, window: day, limit: -1 }\n');
  const data = join(dir, 'data-bad-rules');
  const r = await within(WAIT_MS, 'serve with bad rules', runVigil(['serve', '--config', serveConfig(dir, 'bad', data, '127.0.0.1:0', rules)]));
  assert.is(r.code, 2, r.stderr);
  assert.not.ok(existsSync(data), 'no data folder for a node that never started');
});

cli('vigil replay on a folder a live process holds exits 1 and writes nothing; once it is killed, replay takes it and gives it back', async (ctx) => {
  const { dir } = ctx;
  const data = join(dir, 'data');
  const other = spawnHolder(ctx, data, 'vigil serve');
  assert.is(await lineOf(other), `held ${other.pid}`);
  const alerts = join(dir, 'alerts.jsonl');
  const r = await replayOn(dir, data, alerts);
  assert.is(r.code, 1, r.stderr);
  assert.is(r.stderr, inUse(data));
  assert.not.ok(existsSync(alerts), 'no alert written');
  assert.not.ok(existsSync(join(data, 'data.mdb')), 'no store opened');
  await killed(other);
  const again = await replayOn(dir, data, alerts);
  assert.is(again.code, 0, again.stderr);
  assert.ok(existsSync(join(data, 'data.mdb')), 'the replay ran on the folder');
  assert.not.ok(existsSync(join(data, LOCK_FILE)), 'and gave it back');
});

cli.run();
