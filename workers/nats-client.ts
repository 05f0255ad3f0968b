/**
 * The one door to the NATS client: the maintained v3 line (`@nats-io/transport-node`). Every
 * module that talks NATS imports it from here, so the client can change in one place.
 */
export { connect } from '@nats-io/transport-node';
export type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
// JetStream and KV, the v3 line's companions (same release train as the transport).
export { jetstream, jetstreamManager, AckPolicy, DeliverPolicy, RetentionPolicy, StorageType, JetStreamApiError } from '@nats-io/jetstream';
export type { JetStreamClient, JetStreamManager, JsMsg, Consumer, ConsumerMessages, PubAck, StreamConfig } from '@nats-io/jetstream';
export { Kvm } from '@nats-io/kv';
export type { KV, KvEntry } from '@nats-io/kv';
export { headers } from '@nats-io/transport-node';
export type { MsgHdrs } from '@nats-io/transport-node';
// Credentials (workers/nats-connect.ts): NKey seeds and JWT creds files; `nkeys` makes key pairs (tests).
export { credsAuthenticator, nkeyAuthenticator, nkeys, AuthorizationError } from '@nats-io/transport-node';
export type { ConnectionOptions } from '@nats-io/transport-node';
