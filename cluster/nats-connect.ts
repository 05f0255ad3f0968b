/**
 * The connect logic moved to workers/nats-connect.ts (the notification thread uses it too, and
 * workers/ does not import cluster/); this keeps the cluster's imports where they were.
 */
export { NatsConnectError, connectNats, natsConnectOptions } from '../workers/nats-connect.js';
export type { NatsAuth, NatsSettings, NatsTls } from '../workers/nats-connect.js';
