import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';

/** The server the NATS tests use: `HERALD_TEST_NATS` (host:port[,host:port]), default the local one. */
export const TEST_SERVERS = (process.env['HERALD_TEST_NATS'] ?? '127.0.0.1:4222')
  .split(',')
  .map((server) => server.trim())
  .filter((server) => server.length > 0);

async function connectTo(): Promise<NatsConnection> {
  return connect({ servers: TEST_SERVERS, timeout: 2000, reconnect: false, name: 'herald-test-admin' });
}

/** Why the test server cannot be used, or undefined when it answers with JetStream enabled. */
export async function serverUnavailable(): Promise<string | undefined> {
  let nc: NatsConnection | undefined;
  try {
    nc = await connectTo();
    await (await jetstreamManager(nc)).getAccountInfo();
    return undefined;
  } catch (error) {
    return (
      `no NATS server with JetStream answers at ${TEST_SERVERS.join(',')} (${error instanceof Error ? error.message : String(error)}); ` +
      'start one (nats-server -js) or set HERALD_TEST_NATS'
    );
  } finally {
    await nc?.close().catch(() => undefined);
  }
}

/**
 * Registers what a test file does when the server is down: in CI (`CI=true`) a failing test,
 * because a CI run that quietly skips its NATS tests proves nothing; elsewhere a skipped one
 * that says why.
 */
export function reportUnavailable(what: string, reason: string): void {
  if (process.env['CI'] === 'true') {
    void it(`${what}: the NATS server is reachable`, () => {
      throw new Error(reason);
    });
  } else {
    void it(`${what}: needs a NATS server`, { skip: reason }, () => undefined);
  }
}

/** A fresh namespace for one test: letters and digits only, so no name collides. */
export function uniqueNamespace(): string {
  return `ht${randomBytes(5).toString('hex')}`;
}

/** Deletes every stream and KV key of a namespace; best effort. */
export async function deleteNamespace(namespace: string): Promise<void> {
  const nc = await connectTo();
  try {
    const jsm = await jetstreamManager(nc);
    const streams: string[] = [];
    for await (const name of jsm.streams.names(`herald.${namespace}.>`)) streams.push(name);
    await Promise.allSettled(streams.map((name) => jsm.streams.delete(name)));
    for (const bucket of ['herald_topics', 'herald_groups']) {
      await jsm.streams
        .purge(`KV_${bucket}`, { filter: `$KV.${bucket}.${namespace}.>` })
        .catch(() => undefined);
    }
  } finally {
    await nc.close().catch(() => undefined);
  }
}
