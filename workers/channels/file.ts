/**
 * `file`: appends each alert as one JSON line to `path` (a digest: one line per alert, in one
 * write). Delivered once the append returned: the operating system has the bytes.
 */
import { appendFile } from 'node:fs/promises';
import type { Alert } from '../../core/alert.js';
import { DeliveryError } from './errors.js';
import type { ChannelSender } from './types.js';

export class FileSender implements ChannelSender {
  private readonly name: string;
  private readonly path: string;

  constructor (name: string, path: string) {
    this.name = name;
    this.path = path;
  }

  async send (alerts: readonly Alert[]): Promise<void> {
    let text = '';
    for (const a of alerts) text += `${JSON.stringify(a)}\n`;
    try {
      await appendFile(this.path, text);
    } catch (err) {
      throw new DeliveryError(this.name, `cannot append to ${this.path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }

  async close (): Promise<void> {}
}
