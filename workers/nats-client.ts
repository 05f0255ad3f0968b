/**
 * The one door to the NATS client: the maintained v3 line (`@nats-io/transport-node`). Every
 * module that talks NATS imports it from here, so the client can change in one place.
 */
export { connect } from '@nats-io/transport-node';
export type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
