/**
 * A progress line on standard error: one line rewritten in place on a terminal, plain lines
 * (at most one every 2 s) otherwise, so logs of a CI run stay readable. Used by `vigil bench`.
 */
export interface Progress {
  update (text: string): void;
  /** Ends the current line (a terminal keeps it; plain output prints it once more). */
  done (text?: string): void;
}

export function progress (stream: NodeJS.WriteStream = process.stderr, quiet = false): Progress {
  if (quiet) return { update: () => undefined, done: () => undefined };
  const tty = stream.isTTY;
  let last = 0;
  let pending = false;
  return {
    update (text) {
      if (tty) {
        stream.write(`\r\x1b[2K${text.slice(0, Math.max(20, (stream.columns ?? 120) - 1))}`);
        pending = true;
        return;
      }
      const now = Date.now();
      if (now - last < 2000) return;
      last = now;
      stream.write(text + '\n');
    },
    done (text) {
      if (tty) {
        if (text !== undefined) stream.write(`\r\x1b[2K${text}\n`);
        else if (pending) stream.write('\n');
        pending = false;
      } else if (text !== undefined) {
        stream.write(text + '\n');
      }
      last = 0;
    },
  };
}
