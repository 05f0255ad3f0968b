/**
 * Keeps secrets out of everything the notifier says: logs, stats, dead letters and errors. A
 * channel lists its secrets once (webhook secret, header values, SMS auth, the password, path and
 * query of its URLs); every text that leaves the notifier goes through `redact`. URLs are shown
 * as their origin only (`https://hooks.example.net`), since paths and queries often are tokens.
 */

export const REDACTED = '***';

export class Redactor {
  private readonly secrets: readonly string[];

  constructor (secrets: Iterable<string>) {
    // Longest first, so that a secret containing another is replaced whole.
    const unique = new Set<string>();
    for (const s of secrets) if (s.length >= 3) unique.add(s);
    this.secrets = [...unique].sort((a, b) => b.length - a.length);
  }

  redact (text: string): string {
    let out = text;
    for (const s of this.secrets) if (out.includes(s)) out = out.split(s).join(REDACTED);
    return out;
  }
}

/** `scheme://host:port`: what a message may say about a URL. */
export function safeUrl (url: URL): string {
  return `${url.protocol}//${url.host}`;
}

/** The parts of a URL that may be secret: the URL itself, its user info, path and query. */
export function urlSecrets (url: URL, raw: string): string[] {
  const out = [raw, url.href];
  if (url.password !== '') out.push(url.password, decodeURIComponent(url.password));
  if (url.username !== '') out.push(`${url.username}:${url.password}`);
  const rest = `${url.pathname}${url.search}`;
  if (rest.length > 1) out.push(rest, url.search.slice(1), `${url.host}${rest}`);
  return out.filter((s) => s.length > 0);
}
