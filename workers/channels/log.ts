/**
 * `log`: each alert as one structured JSON line (level, msg, channel, the alert) on the
 * notifier's log stream (stderr in the thread). Never fails.
 */
import type { Alert } from '../../core/alert.js';
import type { ChannelSender } from './types.js';

export class LogSender implements ChannelSender {
  private readonly name: string;
  private readonly write: (line: string) => void;

  constructor (name: string, write: (line: string) => void) {
    this.name = name;
    this.write = write;
  }

  async send (alerts: readonly Alert[]): Promise<void> {
    for (const a of alerts) {
      this.write(`${JSON.stringify({ level: a.severity === 'critical' ? 'error' : a.severity === 'warning' ? 'warn' : 'info', msg: 'alert', channel: this.name, alert: a })}\n`);
    }
  }

  async close (): Promise<void> {}
}
