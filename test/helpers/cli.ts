// Runs the real `vigil` command (bin/vigil.js over dist/) in a child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const VIGIL = fileURLToPath(new URL('../../../bin/vigil.js', import.meta.url));

export interface RunResult { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

export function startVigil (args: readonly string[], options: { cwd?: string } = {}): { child: ChildProcess, done: Promise<RunResult> } {
  const child = spawn(process.execPath, [VIGIL, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...(options.cwd === undefined ? {} : { cwd: options.cwd }) });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const done = new Promise<RunResult>((resolve) => {
    child.on('close', (code, signal) => { resolve({ code, signal, stdout, stderr }); });
  });
  return { child, done };
}

export async function runVigil (args: readonly string[], options: { cwd?: string } = {}): Promise<RunResult> {
  return await startVigil(args, options).done;
}
