/**
 * Connects to NATS with the config's credentials and TLS files (`config.nats`): takes
 * NatsSettings, gives a NatsConnection that reconnects for ever, or a NatsConnectError that
 * names the servers and the reason. The password, token and seed never appear in a message.
 * It lives in workers/ because the notification thread's `nats` channels connect with it too;
 * the settings are plain data, so they cross into a thread as they are (structured clone).
 */
import { readFile } from 'node:fs/promises';
import { AuthorizationError, connect, credsAuthenticator, nkeyAuthenticator, type ConnectionOptions, type NatsConnection } from './nats-client.js';

/** How a node proves who it is to NATS. Secrets are never shown in a message. */
export type NatsAuth =
  | { readonly kind: 'none' }
  | { readonly kind: 'user', readonly user: string, readonly password: string }
  | { readonly kind: 'token', readonly token: string }
  /** an NKey seed file (SU…), resolved */
  | { readonly kind: 'nkey', readonly seedFile: string }
  /** a JWT credentials file, resolved */
  | { readonly kind: 'creds', readonly credsFile: string };

/** TLS files, resolved; `ca` alone verifies the server, `cert` + `key` add a client certificate. */
export interface NatsTls { readonly ca?: string, readonly cert?: string, readonly key?: string }

/** `config.nats` as cluster/config.ts reads it: plain data. */
export interface NatsSettings {
  readonly servers: readonly string[];
  readonly prefix: string;
  readonly auth: NatsAuth;
  readonly tls: NatsTls | undefined;
}

/**
 * NATS refused or could not be reached. `retriable` is false when trying again cannot help
 * without a config change: wrong credentials, an unreadable credentials file.
 */
export class NatsConnectError extends Error {
  readonly servers: readonly string[];
  readonly retriable: boolean;
  constructor (servers: readonly string[], reason: string, retriable: boolean, options?: ErrorOptions) {
    super(`cannot connect to NATS at ${servers.map(withoutUserInfo).join(', ')}: ${reason}`, options);
    this.name = new.target.name;
    this.servers = servers;
    this.retriable = retriable;
  }
}

/** The v3 client's options for `settings`; reads the NKey seed or creds file now. */
export async function natsConnectOptions (settings: NatsSettings, name: string): Promise<ConnectionOptions> {
  const options: ConnectionOptions = {
    servers: [...settings.servers],
    name,
    // A node outlives NATS restarts and failovers: it never gives up reconnecting.
    maxReconnectAttempts: -1,
    ...await authOptions(settings),
  };
  if (settings.tls !== undefined) {
    const { ca, cert, key } = settings.tls;
    options.tls = { ...(ca !== undefined && { caFile: ca }), ...(cert !== undefined && { certFile: cert }), ...(key !== undefined && { keyFile: key }) };
  } else if (settings.servers.some((s) => s.startsWith('tls://'))) {
    // The client ignores the URL scheme; a tls:// server must still refuse a plain connection.
    options.tls = {};
  }
  return options;
}

/** Connects (one pass over `settings.servers`); throws NatsConnectError when none accepts. */
export async function connectNats (settings: NatsSettings, name: string): Promise<NatsConnection> {
  const options = await natsConnectOptions(settings, name);
  try {
    return await connect(options);
  } catch (err) {
    const reason = hideSecrets(err instanceof Error ? err.message : String(err), settings.auth);
    throw new NatsConnectError(settings.servers, reason, !(err instanceof AuthorizationError) && !isTlsRefusal(err), { cause: err });
  }
}

async function authOptions (settings: NatsSettings): Promise<Pick<ConnectionOptions, 'user' | 'pass' | 'token' | 'authenticator'>> {
  const { auth } = settings;
  switch (auth.kind) {
    case 'none': return {};
    case 'user': return { user: auth.user, pass: auth.password };
    case 'token': return { token: auth.token };
    case 'nkey': {
      const seed = await readCredentials(settings, auth.seedFile, 'NKey seed');
      return { authenticator: nkeyAuthenticator(new TextEncoder().encode(seed.toString('utf8').trim())) };
    }
    case 'creds': return { authenticator: credsAuthenticator(await readCredentials(settings, auth.credsFile, 'creds')) };
    default: {
      const never: never = auth;
      throw new Error(`this should not happen: NATS auth ${JSON.stringify((never as NatsAuth).kind)}`);
    }
  }
}

async function readCredentials (settings: NatsSettings, file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new NatsConnectError(settings.servers, `cannot read the ${what} file ${file}: ${why}`, false, { cause: err });
  }
}

/** Node's TLS verification failures (self-signed, unknown CA, wrong host name, expired). */
function isTlsRefusal (err: unknown): boolean {
  for (let e = err; e instanceof Error; e = e.cause) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_SSL|ERR_TLS/.test(code)) return true;
  }
  return false;
}

/** A server's error text should never quote a secret, but a message is no place to find out. */
function hideSecrets (message: string, auth: NatsAuth): string {
  const secret = auth.kind === 'user' ? auth.password : auth.kind === 'token' ? auth.token : undefined;
  return secret === undefined || secret === '' ? message : message.split(secret).join('…');
}

function withoutUserInfo (url: string): string {
  return url.replace(/^([a-z]+:\/\/)[^@/]*@/, '$1…@');
}
