// The console on NATS JetStream (a fresh namespace) with a Postgres store.
import { randomBytes } from 'node:crypto';
import { NATS, openBrokerBackend } from './broker-backend.ts';
import { describeConsoleBehaviour } from './console-behaviour.ts';

describeConsoleBehaviour('the console on NATS JetStream with a Postgres store', {
  prefix: 'console-nats',
  reset: true,
  open: () => openBrokerBackend(`nats://${NATS}?namespace=console${randomBytes(4).toString('hex')}`),
});
