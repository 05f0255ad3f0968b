/**
 * One HTTP POST with a deadline, for the webhook and SMS channels. Takes a body and headers,
 * resolves on a 2xx answer and rejects with a DeliveryError on any other status, a timeout, a
 * refused or reset connection. Errors name the target by its origin only. Each channel keeps
 * its own keep-alive agent, so a dead receiver ties up only that channel's sockets.
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { DeliveryError } from './errors.js';
import type { Redactor } from './redact.js';
import { safeUrl } from './redact.js';

/**
 * The longest delay setTimeout keeps (2^31-1 ms, 24.8 days): it runs a longer one after 1 ms,
 * which made every POST of a webhook with `timeout: 30d` fail as timed out.
 */
const MAX_TIMER_MS = 2_147_483_647;

export class HttpTarget {
  private readonly url: URL;
  private readonly agent: HttpAgent;
  private readonly channel: string;
  private readonly redactor: Redactor;

  constructor (channel: string, url: URL, maxSockets: number, redactor: Redactor) {
    this.channel = channel;
    this.url = url;
    this.redactor = redactor;
    const Agent = url.protocol === 'https:' ? HttpsAgent : HttpAgent;
    this.agent = new Agent({ keepAlive: true, maxSockets });
  }

  post (body: string, headers: Record<string, string>, timeoutMs: number): Promise<void> {
    const where = `POST ${safeUrl(this.url)}`;
    return new Promise((resolve, reject) => {
      const request = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
      const fail = (message: string, cause?: unknown): void => {
        reject(new DeliveryError(this.channel, this.redactor.redact(`${where} ${message}`), cause === undefined ? undefined : { cause: this.redactCause(cause) }));
      };
      const req = request(this.url, {
        method: 'POST',
        agent: this.agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers },
      }, (res) => {
        // Drain the answer so the socket can be reused; its text is not needed.
        res.resume();
        res.on('error', () => {});
        res.on('end', () => {
          clearTimeout(timer);
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve(); else fail(`answered ${status}`);
        });
      });
      const timer = setTimeout(() => {
        req.destroy();
        fail(`timed out after ${timeoutMs} ms`);
      }, Math.min(timeoutMs, MAX_TIMER_MS));
      req.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        fail(`failed: ${err.code ?? err.message}`, err);
      });
      req.end(body);
    });
  }

  /** The library's error with its message redacted, so that a `cause` cannot leak either. */
  private redactCause (cause: unknown): Error {
    const err = cause as Error;
    return new Error(this.redactor.redact(err.message ?? String(cause)));
  }

  close (): void {
    this.agent.destroy();
  }
}
