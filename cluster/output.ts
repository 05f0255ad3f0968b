/**
 * Line-oriented outputs (alerts, rejects). A file output is written with synchronous writes at
 * batch boundaries, so that once a write returns its bytes are in the operating system and
 * survive a crash of this process; its byte count then goes into the checkpoint. Standard
 * output cannot be cut back, so a resumed run may repeat there what the killed one printed
 * after its last checkpoint (the README says so); the same holds for a pipe or device named as
 * a file (`--rejects /dev/stdout`), which is appended to, not written at offsets. A file cut
 * short by someone else (log rotation with copytruncate) is written on at its new end.
 */
import { closeSync, existsSync, ftruncateSync, fstatSync, openSync, writeSync } from 'node:fs';

export class LineWriter {
  private readonly fd: number;
  private readonly owned: boolean;
  /** a regular file, written at its offsets; a pipe or device (`/dev/stdout`) only appends, as standard output */
  private readonly positional: boolean;
  private buffer = '';
  private written: number;

  /** `resumeAt`: cut an existing file back to this many bytes (a checkpoint's offset) and append. */
  constructor (target: string | undefined, resumeAt = 0) {
    if (target === undefined || target === '-') {
      this.fd = 1;
      this.owned = false;
      this.positional = false;
      this.written = 0;
      return;
    }
    const resume = resumeAt > 0 && existsSync(target);
    this.fd = openSync(target, resume ? 'r+' : 'w');
    this.owned = true;
    this.positional = fstatSync(this.fd).isFile();
    if (resume && this.positional) {
      const size = fstatSync(this.fd).size;
      ftruncateSync(this.fd, Math.min(size, resumeAt));
      this.written = Math.min(size, resumeAt);
    } else {
      this.written = 0;
    }
  }

  /** Bytes written so far (for a file: its length). */
  get bytes (): number { return this.written; }

  /** Buffers a line; flush() writes it. */
  write (line: string): void {
    this.buffer += line + '\n';
  }

  flush (): void {
    if (this.buffer === '') return;
    const chunk = Buffer.from(this.buffer, 'utf8');
    this.buffer = '';
    if (this.positional) {
      // Rotated by truncation (logrotate's copytruncate): writing on at the old offset would
      // leave that many NUL bytes before the next line. Go on at the file's new end instead.
      const size = fstatSync(this.fd).size;
      if (size < this.written) this.written = size;
    }
    let off = 0;
    while (off < chunk.length) {
      try {
        off += writeSync(this.fd, chunk, off, chunk.length - off, this.positional ? this.written + off : null);
      } catch (err) {
        // A pipe that is full (stdout to a slow reader) answers EAGAIN: try again.
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      }
    }
    this.written += chunk.length;
  }

  close (): void {
    this.flush();
    if (this.owned) closeSync(this.fd);
  }
}
