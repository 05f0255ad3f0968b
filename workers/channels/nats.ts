/**
 * `nats`: publishes the alert JSON (a digest: a JSON array) on the channel's `subject`, through
 * workers/nats-client.ts (the maintained v3 client line), with the node's NATS settings: its
 * servers, credentials and TLS (workers/nats-connect.ts). A publish counts as delivered once a
 * flush round trip shows the server has it. The connection is made on the first send and again
 * after it is lost; failures are DeliveryErrors.
 */
import { connect } from '../nats-client.js';
import type { NatsConnection } from '../nats-client.js';
import { natsConnectOptions, type NatsSettings } from '../nats-connect.js';
import type { Alert } from '../../core/alert.js';
import { DeliveryError } from './errors.js';
import type { Redactor } from './redact.js';
import type { ChannelSender } from './types.js';

export class NatsSender implements ChannelSender {
  private readonly name: string;
  private readonly subject: string;
  /** undefined: the node has no NATS, so every send fails */
  private readonly settings: NatsSettings | undefined;
  private readonly timeoutMs: number;
  private readonly redactor: Redactor;
  private connection: Promise<NatsConnection> | undefined;
  private closed = false;

  constructor (name: string, subject: string, settings: NatsSettings | undefined, timeoutMs: number, redactor: Redactor) {
    this.name = name;
    this.subject = subject;
    this.settings = settings;
    this.timeoutMs = timeoutMs;
    this.redactor = redactor;
  }

  private fail (what: string, err?: unknown): DeliveryError {
    const detail = err === undefined ? '' : `: ${err instanceof Error ? err.message : String(err)}`;
    return new DeliveryError(this.name, this.redactor.redact(`nats ${what}${detail}`));
  }

  private async connected (): Promise<NatsConnection> {
    const settings = this.settings;
    if (settings === undefined || settings.servers.length === 0) throw this.fail('has no servers configured');
    if (this.connection === undefined) {
      // The node's options (credentials, TLS; an NKey seed or creds file is read here, and an
      // unreadable one fails this delivery like a refused connection), with the channel's timeout.
      const pending = natsConnectOptions(settings, 'vigil-notifier').then((options) => connect({ ...options, timeout: this.timeoutMs }));
      this.connection = pending;
      pending.then((nc) => {
        // Forget a connection that has closed for good, so the next send dials again.
        nc.closed().then(() => { if (this.connection === pending) this.connection = undefined; });
      }, () => { if (this.connection === pending) this.connection = undefined; });
    }
    try {
      return await this.connection;
    } catch (err) {
      throw this.fail('cannot connect', err);
    }
  }

  async send (alerts: readonly Alert[], digest: boolean): Promise<void> {
    if (this.closed) throw this.fail('channel is closed');
    const nc = await this.connected();
    try {
      nc.publish(this.subject, JSON.stringify(digest ? alerts : alerts[0]));
    } catch (err) {
      throw this.fail(`publish on ${this.subject} failed`, err);
    }
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { reject(this.fail(`flush timed out after ${this.timeoutMs} ms`)); }, this.timeoutMs);
    });
    try {
      await Promise.race([nc.flush(), deadline]);
    } catch (err) {
      throw err instanceof DeliveryError ? err : this.fail('flush failed', err);
    } finally {
      clearTimeout(timer);
    }
  }

  async close (): Promise<void> {
    this.closed = true;
    const pending = this.connection;
    this.connection = undefined;
    if (pending === undefined) return;
    try {
      await (await pending).close();
    } catch {
      // It never connected: nothing to close.
    }
  }
}
