// Temporary folders for tests: one per test, removed afterwards.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function tempDir (prefix = 'vigil-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir (dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
