/**
 * How a `vigil serve` node, embedded (serve.ts) or in a cluster (cluster-serve.ts), comes up:
 * the port opens first, so that while the engine opens a probe hears /readyz answer 503 rather
 * than a refused connection. Each step undoes what was started when it fails: a port that
 * cannot be had shuts the telemetry down; a node that cannot open closes what it got to.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { ServeConfig } from './config.js';
import { formatAddress, listenOn } from './http-api.js';
import { telemetryEvent, type Telemetry } from './telemetry.js';

export interface ListeningParts {
  readonly app: FastifyInstance;
  readonly server: Server;
  readonly listen: ServeConfig['listen'];
  readonly telemetry: Telemetry;
  readonly log: (event: Record<string, unknown>) => void;
}

/**
 * Listens, then runs `open` (the engine, the roles), which resolves with the node's
 * `{"ready":…}` log event; `close` runs when `open` or that log fails.
 */
export async function listenThenOpen (parts: ListeningParts, open: (address: AddressInfo) => Promise<Record<string, unknown>>, close: () => Promise<void>): Promise<void> {
  const { app, server, telemetry, log } = parts;
  try {
    await app.ready();
    await listenOn(server, parts.listen);
  } catch (err) {
    await telemetry.shutdown();
    throw err;
  }
  const address = server.address() as AddressInfo;
  log({ listening: formatAddress(address) });
  const exporting = telemetryEvent(telemetry);
  if (exporting !== undefined) log(exporting);
  try {
    log(await open(address));
  } catch (err) {
    await close();
    throw err;
  }
}
