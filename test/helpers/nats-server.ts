// Real nats-server processes on 127.0.0.1 for tests. Needs the nats-server binary (Debian:
// apt-get install -y nats-server; /usr/sbin is searched too); JetStream clustering needs 2.9+.
//   const server = await startNatsServer({ jetstream: true, config: 'authorization { token: … }' });
//   ... server.url ...; await server.restart(); await server.stop();
//   const cluster = await startNatsCluster(3); ... cluster.servers[1]!.kill(); ...; await cluster.stop();
// One server picks a random port as nats.js's nst launcher does (`-p -1`, then reads
// nats-server_<pid>.ports from --ports_file_dir); a restart reuses that port and store dir. A
// cluster needs its route ports known before any server starts, so they are chosen by binding
// port 0 and closing it, and the whole cluster is started again on new ports if one was taken.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { connect, jetstreamManager } from '../../workers/nats-client.js';

export interface NatsServerOptions {
  /** run JetStream (`-js`) with a store dir in the server's temp folder */
  readonly jetstream?: boolean;
  /** nats-server config text (an authorization or tls block…), written to a .conf and passed with -c */
  readonly config?: string;
  /** how long start and restart may take (default 10 s) */
  readonly timeoutMs?: number;
}

export interface NatsServer {
  /** nats://127.0.0.1:PORT (as the server's ports file gives it) */
  readonly url: string;
  readonly port: number;
  /** the current process; a restart replaces it */
  readonly process: ChildProcess;
  /** SIGTERM, wait for the exit, remove the temp folder (and the store) */
  stop (): Promise<void>;
  /** stop (if running) and start again on the same port with the same store; resolves once it listens */
  restart (): Promise<void>;
}

export interface ClusterServer {
  /** nats://127.0.0.1:PORT */
  readonly url: string;
  readonly name: string;
  readonly process: ChildProcess;
  /** SIGTERM and wait for the exit; the store stays for restart() */
  stop (): Promise<void>;
  /** SIGKILL, no wait: a crash */
  kill (): void;
  /** stop (if running) and start again with the same ports and store; resolves once it listens */
  restart (): Promise<void>;
}

export interface NatsCluster {
  /** every server's client URL */
  readonly urls: string[];
  readonly servers: ClusterServer[];
  /** stop every server and remove their folders */
  stop (): Promise<void>;
}

const INSTALL = 'nats-server is not installed; install it: apt-get install -y nats-server';
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function findBinary (): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/bin', '/usr/bin'];
  for (const d of dirs) {
    if (d !== '' && existsSync(join(d, 'nats-server'))) return join(d, 'nats-server');
  }
  throw new Error(INSTALL);
}

/**
 * One nats-server process at a time on fixed arguments (`args(port)`); start() resolves once
 * the server's ports file names its client URL. Keeps the last 4 KB of its output for errors.
 */
class ServerProcess {
  private readonly binary = findBinary();
  private readonly dir: string;
  private readonly args: () => string[];
  private proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private output = '';

  constructor (dir: string, args: () => string[]) {
    this.dir = dir;
    this.args = args;
  }

  get process (): ChildProcess {
    if (this.proc === undefined) throw new Error('this should not happen: nats-server was never started');
    return this.proc;
  }

  get running (): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Spawns and waits for the ports file; the client URL, or an error saying why not. */
  async start (timeoutMs: number): Promise<string> {
    this.output = '';
    const proc = spawn(this.binary, [...this.args(), '--ports_file_dir', this.dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    this.exited = new Promise((resolve) => { proc.once('exit', () => { resolve(); }); });
    const keep = (chunk: Buffer): void => { this.output = (this.output + chunk.toString()).slice(-4096); };
    proc.stdout.on('data', keep);
    proc.stderr.on('data', keep);
    let failed: Error | undefined;
    proc.once('error', (err) => { failed = err; });
    const file = join(this.dir, `nats-server_${proc.pid}.ports`);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (failed !== undefined) throw new Error(`${INSTALL} (${failed.message})`);
      if (proc.exitCode !== null) throw new Error(`nats-server exited with code ${proc.exitCode} before it listened: ${this.lastLines()}`);
      if (existsSync(file)) {
        try {
          const ports = JSON.parse(readFileSync(file, 'utf8')) as { nats?: string[] };
          const url = ports.nats?.[0];
          if (url !== undefined) return url;
        } catch {
          // Written but not complete yet: read it again.
        }
      }
      await sleep(20);
    }
    await this.stop();
    throw new Error(`nats-server did not write ${file} within ${timeoutMs} ms: ${this.lastLines()}`);
  }

  async stop (): Promise<void> {
    const proc = this.proc;
    if (proc === undefined || !this.running) return;
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(t);
  }

  kill (): void {
    if (this.running) this.proc?.kill('SIGKILL');
  }

  /** The last lines nats-server printed (why it exited: a port in use, a bad config…). */
  lastLines (): string {
    return this.output.trim().split('\n').slice(-3).join(' | ') || 'no output';
  }
}

/** Starts one server and resolves once its ports file names the client URL (within `timeoutMs`). */
export async function startNatsServer (options: NatsServerOptions = {}): Promise<NatsServer> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const dir = mkdtempSync(join(tmpdir(), 'vigil-nats-'));
  let port = -1;
  const args = (): string[] => {
    const out = ['-a', '127.0.0.1', '-p', String(port)];
    if (options.config !== undefined) out.push('-c', join(dir, 'server.conf'));
    if (options.jetstream === true) out.push('-js', '-sd', join(dir, 'store'));
    return out;
  };
  if (options.config !== undefined) writeFileSync(join(dir, 'server.conf'), options.config);
  const server = new ServerProcess(dir, args);
  const remove = (): void => { rmSync(dir, { recursive: true, force: true }); };
  let url: string;
  try {
    url = await server.start(timeoutMs);
  } catch (err) {
    await server.stop();
    remove();
    throw err;
  }
  port = Number(new URL(url).port);
  return {
    url,
    port,
    get process () { return server.process; },
    stop: async () => { await server.stop(); remove(); },
    restart: async () => {
      await server.stop();
      await startAgain(server, timeoutMs);
    },
  };
}

/**
 * Starts again on the same port. Linux lets a listener rebind at once (nats-server sets
 * SO_REUSEADDR), but a test's stray client socket could hold the port: retry until the deadline.
 */
async function startAgain (server: ServerProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await server.start(Math.max(1_000, deadline - Date.now()));
      return;
    } catch (err) {
      if (Date.now() >= deadline || !/address already in use/.test((err as Error).message)) throw err;
      await sleep(200);
    }
  }
}

/** A port nobody listens on right now: bind port 0, read it, close. Another process may take it before use. */
async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      srv.close(() => { resolve(port); });
    });
  });
}

/**
 * Starts `size` servers as one JetStream cluster on loopback and resolves once every server
 * listens and JetStream has a meta leader with every server as a peer (within `timeoutMs`).
 */
export async function startNatsCluster (size = 3, options: { readonly timeoutMs?: number } = {}): Promise<NatsCluster> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-nats-cluster-'));
    const ports = await distinctPorts(size * 2);
    const client = ports.slice(0, size);
    const route = ports.slice(size);
    const procs = client.map((port, i) => {
      const name = `n${i + 1}`;
      const home = join(dir, name);
      mkdirSync(home);
      const routes = route.filter((_, j) => j !== i).map((p) => `nats-route://127.0.0.1:${p}`);
      writeFileSync(join(home, 'server.conf'), [
        `server_name: ${name}`,
        `listen: 127.0.0.1:${port}`,
        `jetstream { store_dir: ${JSON.stringify(join(home, 'store'))}, max_memory_store: 256MB, max_file_store: 1GB }`,
        `cluster { name: vigil-test, listen: 127.0.0.1:${route[i] as number}, routes: [${routes.join(', ')}] }`,
        '',
      ].join('\n'));
      return { name, url: `nats://127.0.0.1:${port}`, server: new ServerProcess(home, () => ['-c', join(home, 'server.conf')]) };
    });
    const stopAll = async (): Promise<void> => { await Promise.all(procs.map((p) => p.server.stop())); };
    try {
      await Promise.all(procs.map((p) => p.server.start(timeoutMs)));
      await waitForMetaLeader(procs.map((p) => p.url), size, timeoutMs);
    } catch (err) {
      await stopAll();
      rmSync(dir, { recursive: true, force: true });
      lastError = err as Error;
      // Another process took one of the ports between freePort() and the start: new ports.
      if (/address already in use/.test(lastError.message)) continue;
      throw err;
    }
    return {
      urls: procs.map((p) => p.url),
      servers: procs.map(({ name, url, server }) => ({
        name,
        url,
        get process () { return server.process; },
        stop: () => server.stop(),
        kill: () => { server.kill(); },
        restart: async () => { await server.stop(); await startAgain(server, timeoutMs); },
      })),
      stop: async () => { await stopAll(); rmSync(dir, { recursive: true, force: true }); },
    };
  }
  throw lastError ?? new Error('this should not happen: no cluster attempt ran');
}

async function distinctPorts (count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/**
 * Polls until a JetStream API call answers (there is a meta leader) and the cluster's INFO
 * lists every server's client URL (every route is up, so an R`size` stream can be placed).
 */
async function waitForMetaLeader (urls: readonly string[], size: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let why = 'no answer yet';
  while (Date.now() < deadline) {
    let nc;
    try {
      nc = await connect({ servers: [...urls], timeout: 2_000, maxReconnectAttempts: 0 });
      const jsm = await jetstreamManager(nc, { timeout: 2_000 });
      const info = await jsm.getAccountInfo();
      const known = new Set(nc.info?.connect_urls ?? []);
      if (info !== undefined && known.size >= size) return;
      why = `the cluster lists ${known.size} of ${size} servers`;
    } catch (err) {
      why = (err as Error).message;
    } finally {
      await nc?.close();
    }
    await sleep(250);
  }
  throw new Error(`the NATS cluster at ${urls.join(', ')} has no JetStream meta leader after ${timeoutMs} ms: ${why}`);
}
