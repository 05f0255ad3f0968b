/**
 * One process per data folder. LMDB lets any number of processes open an environment, so a
 * second `vigil serve` or `vigil replay --data` started on a folder in use (a unit started
 * twice, a restart that overlapped the old process) ran beside the first: each kept its own
 * counters in memory and committed them over the other's, and both exited 0.
 *
 * The folder's `vigil.lock` names the process holding it: its pid, its start time as the
 * kernel counts it, and the boot it belongs to. A lock whose process is gone (killed, crashed,
 * a zombie, the machine rebooted, or the pid now belongs to another process) is stale and
 * taken over, so a crash never needs a hand to clean up. Where /proc does not say (no /proc,
 * or another user's process hidden by hidepid), a lock counts as held while its pid exists.
 *
 * A lock file appears whole: it is written under a name of this process's own and then linked
 * to `vigil.lock`, which fails if that exists. Created with O_EXCL and written after, it was
 * empty for a moment, and a second process reading it then took it for a torn, stale lock
 * (still so on a file system without hard links, see place()).
 *
 * A stale lock is moved aside (rename) before the new one is linked, and what was moved is
 * checked: if it is not the stale lock this process judged but one another process has just
 * taken over with, it is put back. So of two processes taking over one stale lock at the same
 * instant, one wins.
 *
 * Limits: a third process starting in the microseconds that lock is aside can win too; a
 * process in another pid namespace (another container on the same volume) or on another
 * machine (a network file system, where LMDB does not work anyway) looks gone.
 */
import { existsSync, linkSync, mkdirSync, readFileSync, realpathSync, renameSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataUnavailableError } from '../core/errors.js';
import { probeDataFolder } from './store-probe.js';

export const LOCK_FILE = 'vigil.lock';
/** Takeovers lost to other processes before this one gives up, saying so. */
const ATTEMPTS = 5;

interface LockText {
  readonly pid: number;
  /** the process's start, in clock ticks since boot (/proc/PID/stat, field 22) */
  readonly start: string | null;
  /** /proc/sys/kernel/random/boot_id */
  readonly boot: string | null;
  readonly command: string;
  readonly since: string;
}

/**
 * The folders (real paths) this process holds. A lock naming this process's own pid is only
 * held if listed: otherwise it is an earlier process's that had the same pid (a container's
 * pid 1, started again), which /proc cannot tell apart where there is no /proc.
 */
const heldHere = new Set<string>();

function readOrNull (file: string): string | null {
  try { return readFileSync(file, 'utf8'); } catch { return null; }
}

/** The fields of /proc/PID/stat from field 3 (state) on, or null when /proc does not show it. */
function statOf (pid: number): string[] | null {
  const stat = readOrNull(`/proc/${pid}/stat`);
  // The command name (field 2) is in parentheses and may hold spaces: count from its end.
  return stat === null ? null : stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

function bootId (): string | null {
  return readOrNull('/proc/sys/kernel/random/boot_id')?.trim() ?? null;
}

function exists (pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, as another user's process.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the process a lock names still runs. */
function holds (lock: LockText, folder: string): boolean {
  if (lock.pid === process.pid) return heldHere.has(folder);
  const boot = bootId();
  if (boot !== null && lock.boot !== null && boot !== lock.boot) return false;
  const stat = statOf(lock.pid);
  if (stat === null || lock.start === null) return exists(lock.pid);
  // A zombie (killed, not yet reaped by its parent) holds nothing of the folder any more.
  if (stat[0] === 'Z' || stat[0] === 'X') return false;
  return stat[19] === lock.start;
}

function parse (text: string): LockText | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockText>;
    return typeof v.pid === 'number' && Number.isSafeInteger(v.pid) && v.pid > 0 ? v as LockText : undefined;
  } catch {
    return undefined;
  }
}

/** What link(2) says on a file system without hard links (vfat, some FUSE and network mounts). */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/**
 * Creates `file` with the text of `mine` unless it exists (EEXIST). Without hard links, with
 * O_EXCL and a write after it: a folder there still gets its lock, with the moment in which a
 * starting process can take the half-written one for stale.
 */
function place (mine: string, file: string, text: string): void {
  try {
    linkSync(mine, file);
  } catch (err) {
    if (!NO_LINKS.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
    writeFileSync(file, text, { flag: 'wx' });
  }
}

function unlinkQuietly (file: string): void {
  try { unlinkSync(file); } catch { /* gone already */ }
}

export class DataFolderLock {
  private readonly dir: string;
  private readonly folder: string;
  private readonly file: string;
  private readonly text: string;
  /** The folder did not exist before this lock made it: it holds nothing to recover. */
  readonly madeFolder: boolean;
  private held = true;
  private readonly onExit = (): void => { this.release(); };

  private constructor (dir: string, folder: string, text: string, created: boolean) {
    this.dir = dir;
    this.folder = folder;
    this.file = join(dir, LOCK_FILE);
    this.text = text;
    this.madeFolder = created;
    heldHere.add(folder);
    // An exit without release() (an error on the way out, a second SIGTERM) leaves no lock
    // behind either. A signal's default action ends the process without 'exit': that lock is
    // stale and the next process takes it over.
    process.on('exit', this.onExit);
  }

  /**
   * Takes the folder for this process, creating the folder if needed; throws
   * DataUnavailableError naming the process that holds it. `command` says what the lock is
   * for (`vigil serve`), for the message another process will show. Undefined when `dir`
   * cannot be a folder: opening it then says what is wrong with it, as before there was a lock.
   */
  static take (dir: string, command: string): DataFolderLock | undefined {
    const created = !existsSync(dir);
    if (!created && !statSync(dir).isDirectory()) return undefined;
    try {
      mkdirSync(dir, { recursive: true });
    } catch {
      return undefined; // the open names the folder and why it cannot be made
    }
    const folder = realpathSync(dir);
    const file = join(dir, LOCK_FILE);
    const pid = process.pid;
    const text = JSON.stringify({ pid, start: statOf(pid)?.[19] ?? null, boot: bootId(), command, since: new Date().toISOString() } satisfies LockText) + '\n';
    const mine = `${file}.${pid}.new`;
    const aside = `${file}.${pid}.stale`;
    try {
      writeFileSync(mine, text);
    } catch (err) {
      throw new DataUnavailableError(dir, `cannot lock the data folder ${dir}: ${(err as Error).message}`, { cause: err });
    }
    try {
      for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
        try {
          place(mine, file, text);
          return new DataFolderLock(dir, folder, text, created);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
            throw new DataUnavailableError(dir, `cannot lock the data folder ${dir}: ${(err as Error).message}`, { cause: err });
          }
        }
        const current = readOrNull(file);
        if (current === null) continue; // released or moved aside meanwhile: try again
        // Unreadable: no live process wrote it (a lock appears whole, given hard links): stale too.
        const lock = parse(current);
        if (lock !== undefined && holds(lock, folder)) {
          throw new DataUnavailableError(dir, `the data folder ${dir} is in use by process ${lock.pid} (${lock.command}, since ${lock.since}); stop it first, or give this process another data folder`);
        }
        try {
          renameSync(file, aside);
        } catch {
          continue; // gone: another process is taking it over; the next attempt meets its lock
        }
        // What was moved is another process's fresh lock if it took the stale one over first.
        const moved = readOrNull(aside);
        if (moved !== null && moved !== current) {
          try { place(aside, file, moved); } catch { /* a third process took the folder meanwhile */ }
        }
        unlinkQuietly(aside);
      }
    } finally {
      unlinkQuietly(mine);
    }
    throw new DataUnavailableError(dir, `cannot lock the data folder ${dir}: ${file} kept changing; are other processes starting on it?`);
  }

  /** Gives the folder up; only a lock still ours is removed. Idempotent. */
  release (): void {
    if (!this.held) return;
    this.held = false;
    heldHere.delete(this.folder);
    process.off('exit', this.onExit);
    if (readOrNull(this.file) === this.text) unlinkQuietly(this.file);
    if (this.madeFolder) {
      // A start that failed before writing anything (a rules file with errors) leaves no folder.
      try { rmdirSync(this.dir); } catch { /* not empty: the folder is in use as a data folder */ }
    }
  }
}

/**
 * What a process does before it opens a data folder: takes it (DataFolderLock.take), then
 * checks that LMDB can read it (probeDataFolder), in that order, so that the check never reads
 * a folder another process is writing. Throws what either throws, holding nothing then.
 */
export function claimDataFolder (dir: string, command: string): DataFolderLock | undefined {
  const lock = DataFolderLock.take(dir, command);
  try {
    probeDataFolder(dir);
  } catch (err) {
    lock?.release();
    throw err;
  }
  return lock;
}

/**
 * Starts a node holding its data folder: claims it (claimDataFolder), then runs `start` with the
 * lock, which the node keeps and releases when it closes. A start that throws gives the folder
 * back before the error goes on.
 */
export async function startHolding<T> (dir: string, command: string, start: (lock: DataFolderLock | undefined) => Promise<T>): Promise<T> {
  const lock = claimDataFolder(dir, command);
  try {
    return await start(lock);
  } catch (err) {
    lock?.release();
    throw err;
  }
}
