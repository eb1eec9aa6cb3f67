// The console on Kafka (a fresh namespace on the shared broker) with a Postgres store.
import { randomBytes } from 'node:crypto';
import { openBrokerBackend, KAFKA } from './broker-backend.ts';
import { describeConsoleBehaviour } from './console-behaviour.ts';

describeConsoleBehaviour('the console on Kafka with a Postgres store', {
  prefix: 'console-kafka',
  // Kafka's log resets a stopped group through the broker's own offset commit.
  reset: true,
  open: () => openBrokerBackend(`kafka://${KAFKA}?namespace=console${randomBytes(4).toString('hex')}.`),
});
