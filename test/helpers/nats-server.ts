// A real nats-server on 127.0.0.1 with a random port, for tests (as nats.js's nst launcher
// does: `-p -1` and `--ports_file_dir`, then read nats-server_<pid>.ports). Needs the
// nats-server binary (Debian: apt-get install -y nats-server; /usr/sbin is searched too).
// Usage: const server = await startNatsServer(); ... server.url ...; await server.stop();
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export interface NatsServer {
  /** nats://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  readonly process: ChildProcess;
  stop (): Promise<void>;
}

const INSTALL = 'nats-server is not installed; install it: apt-get install -y nats-server';

function findBinary (): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/bin', '/usr/bin'];
  for (const d of dirs) {
    if (d !== '' && existsSync(join(d, 'nats-server'))) return join(d, 'nats-server');
  }
  throw new Error(INSTALL);
}

/** Starts a server and resolves once its ports file names the client URL (within `timeoutMs`). */
export async function startNatsServer (timeoutMs = 10_000): Promise<NatsServer> {
  const binary = findBinary();
  const dir = mkdtempSync(join(tmpdir(), 'vigil-nats-'));
  const proc = spawn(binary, ['-a', '127.0.0.1', '-p', '-1', '--ports_file_dir', dir], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => { proc.once('exit', () => { resolve(); }); });
  let failed: Error | undefined;
  proc.once('error', (err) => { failed = err; });
  const stop = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  const file = join(dir, `nats-server_${proc.pid}.ports`);
  while (Date.now() < deadline) {
    if (failed !== undefined) { await stop(); throw new Error(`${INSTALL} (${failed.message})`); }
    if (proc.exitCode !== null) { await stop(); throw new Error(`nats-server exited with code ${proc.exitCode} before it listened`); }
    if (existsSync(file)) {
      try {
        const ports = JSON.parse(readFileSync(file, 'utf8')) as { nats?: string[] };
        const url = ports.nats?.[0];
        if (url !== undefined) return { url, port: Number(new URL(url).port), process: proc, stop };
      } catch {
        // Written but not complete yet: read it again.
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await stop();
  throw new Error(`nats-server did not write ${file} within ${timeoutMs} ms`);
}
