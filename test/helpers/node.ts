// A real `vigil serve` process for tests: start it on a free loopback port, talk to it over
// HTTP, stop it. Every wait is bounded: a node that never gets ready fails the test, it does
// not hang the run.
import { request as httpRequest } from 'node:http';
import type { ChildProcess } from 'node:child_process';
import { startVigil, type RunResult } from './cli.js';

export const WAIT_MS = 30_000;

/** Rejects after `ms` with `what`. */
export async function within<T> (ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`timed out after ${ms} ms: ${what}`)); }, ms); });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface Reply { status: number, headers: Record<string, string | string[] | undefined>, text: string, json: Record<string, unknown> }

/** One request on its own connection; `json` is `{}` when the body is not JSON (/metrics). */
export function request (port: number, method: string, path: string, opts: { body?: string | Buffer | undefined, token?: string, headers?: Record<string, string> } = {}): Promise<Reply> {
  return within(WAIT_MS, `${method} ${path}`, new Promise<Reply>((resolve, reject) => {
    const headers: Record<string, string> = { ...opts.headers, ...(opts.token === undefined ? {} : { authorization: `Bearer ${opts.token}` }) };
    const req = httpRequest({ host: '127.0.0.1', port, method, path, agent: false, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => {
        let json: Record<string, unknown> = {};
        try { json = JSON.parse(text) as Record<string, unknown>; } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  }));
}

export interface Running { child: ChildProcess, done: Promise<RunResult>, port: number, stderr: () => string }

/** Starts `vigil serve --config FILE` and waits until it says it is ready (its port). */
export async function startServe (configFile: string): Promise<Running> {
  const run = startVigil(['serve', '--config', configFile]);
  let stderr = '';
  run.child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const port = await within(WAIT_MS, 'serve to be ready', new Promise<number>((resolve, reject) => {
    const check = (): void => {
      // A pino line: level and time come first, the event's keys after them.
      const m = /"ready":"127\.0\.0\.1:(\d+)"/.exec(stderr);
      if (m !== null) resolve(Number(m[1]));
    };
    run.child.stderr?.on('data', check);
    run.done.then((r) => { reject(new Error(`serve exited early (${r.code ?? r.signal ?? '?'}): ${r.stderr}`)); }, reject);
  }));
  return { ...run, port, stderr: () => stderr };
}

export async function stopServe (node: Running, signal: NodeJS.Signals = 'SIGTERM'): Promise<RunResult> {
  node.child.kill(signal);
  return await within(WAIT_MS, `serve to exit on ${signal}`, node.done);
}

/**
 * POSTs `lines` in chunks of `chunk` lines and sums the 202 answers; any other status throws
 * (with the body), so a test fails where a POST was refused.
 */
export async function postAll (port: number, lines: readonly string[], chunk: number, token?: string): Promise<{ accepted: number, rejected: number }> {
  let accepted = 0;
  let rejected = 0;
  for (let i = 0; i < lines.length; i += chunk) {
    const reply = await request(port, 'POST', '/v1/records', { body: lines.slice(i, i + chunk).join('\n') + '\n', ...(token === undefined ? {} : { token }) });
    if (reply.status !== 202) throw new Error(`POST /v1/records answered ${reply.status}: ${reply.text}`);
    accepted += reply.json.accepted as number;
    rejected += reply.json.rejected as number;
  }
  return { accepted, rejected };
}
