/**
 * `vigil serve` processes for the cluster benches (cluster.bench, tracing.bench): started from
 * a config file and awaited until they say they are ready, their metrics read over HTTP, their
 * CPU time read from /proc, and every one of them (and the bench's nats-server) killed when the
 * bench ends, also on a failure or a signal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const VIGIL = fileURLToPath(new URL('../../bin/vigil.js', import.meta.url));
const STARTUP_MS = 60_000;
const CLK_TCK = 100;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const children = new Set<ChildProcess>();
/** killed with the children when the bench ends */
const others = new Set<ChildProcess>();
let workDir: string | undefined;

function killAllNow (): void {
  for (const c of [...children, ...others]) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
process.once('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAllNow();
    if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

/** Kills `proc` (the bench's nats-server) with the serve processes, and removes `dir` on a signal. */
export function cleanUpOnExit (proc: ChildProcess | undefined, dir?: string): void {
  if (proc !== undefined) others.add(proc);
  if (dir !== undefined) workDir = dir;
}

/** SIGKILLs every serve process still running. */
export function killServes (): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

export interface ServeProc {
  readonly id: string;
  readonly child: ChildProcess;
  readonly port: number;
  readonly exited: Promise<void>;
  /** what the process logged so far (the last 64 KiB) */
  readonly log: () => string;
}

export interface ClusterProc {
  readonly id: string;
  /** the folder that gets the config file and the data folder, both named after `id` */
  readonly dir: string;
  readonly rules: string;
  readonly natsUrl: string;
  readonly prefix: string;
  readonly roles: readonly string[];
  readonly shards: number;
  readonly leaseMs: number;
  /** an OTLP/HTTP endpoint: telemetry on */
  readonly telemetry?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** Writes a cluster node's config (one shard thread, API on a free loopback port) and starts it. */
export async function startClusterProc (o: ClusterProc): Promise<ServeProc> {
  const file = join(o.dir, `${o.id}.yaml`);
  writeFileSync(file, [
    `rules: ${o.rules}`,
    `data: ${join(o.dir, o.id)}`,
    'listen: 127.0.0.1:0',
    'threads: 1',
    `nats: { servers: [${o.natsUrl}], prefix: ${o.prefix} }`,
    `cluster: { roles: [${o.roles.join(', ')}], node_id: ${o.id}, shards: ${o.shards}, lease: ${o.leaseMs / 1000}s, replicas: 1 }`,
    ...(o.telemetry === undefined ? [] : [`telemetry: { endpoint: ${o.telemetry} }`]),
  ].join('\n') + '\n');
  return await startServe(o.id, file, o.env);
}

/** Starts `vigil serve --config FILE` and resolves with its API port once it says it is ready. */
export async function startServe (id: string, configFile: string, env?: NodeJS.ProcessEnv): Promise<ServeProc> {
  const child = spawn(process.execPath, [VIGIL, 'serve', '--config', configFile], { stdio: ['ignore', 'ignore', 'pipe'], ...(env === undefined ? {} : { env }) });
  children.add(child);
  const exited = new Promise<void>((resolve) => { child.once('exit', () => { children.delete(child); resolve(); }); });
  let text = '';
  const ready = { port: 0 };
  child.stderr?.on('data', (d: Buffer) => {
    text = (text + d.toString()).slice(-65_536);
    if (ready.port === 0) {
      const m = /"ready":"127\.0\.0\.1:(\d+)"/.exec(text);
      if (m !== null) ready.port = Number(m[1]);
    }
  });
  const last = (): string => text.trim().split('\n').slice(-3).join(' | ');
  const deadline = Date.now() + STARTUP_MS;
  while (ready.port === 0) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${id} exited before it was ready (${child.exitCode ?? child.signalCode}): ${last()}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${id} not ready within ${STARTUP_MS} ms: ${last()}`);
    }
    await sleep(20);
  }
  return { id, child, port: ready.port, exited, log: () => text };
}

/** SIGTERM (a node hands its leases back, telemetry exports what is left), SIGKILL after 15 s. */
export async function stopServe (p: ServeProc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const t = setTimeout(() => p.child.kill('SIGKILL'), 15_000);
  await p.exited;
  clearTimeout(t);
}

export function getText (port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: 'GET', path, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => { resolve(text); });
    });
    req.on('timeout', () => { req.destroy(new Error(`GET ${path} on port ${port} timed out`)); });
    req.on('error', reject);
    req.end();
  });
}

/** An unlabelled metric of a process's GET /metrics (0 when absent); says what the process logged when it does not answer. */
export async function metric (p: ServeProc, name: string): Promise<number> {
  let text: string;
  try {
    text = await getText(p.port, '/metrics');
  } catch (err) {
    const state = p.child.exitCode !== null || p.child.signalCode !== null ? `exited (${p.child.exitCode ?? p.child.signalCode})` : 'running';
    throw new Error(`${p.id} (${state}) did not answer GET /metrics: ${err instanceof Error ? err.message : String(err)}; it logged:\n${p.log().trim().split('\n').slice(-40).join('\n')}`);
  }
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m === null ? 0 : Number(m[1]);
}

/** utime + stime of a process (all threads), or of its main thread alone, in seconds (Linux /proc; 0 elsewhere). */
export function procCpuSeconds (pid: number | undefined, mainThread = false): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is the state (field 3); utime and stime are fields 14 and 15
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** This process's CPU seconds. */
export function ownCpuSeconds (): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}
