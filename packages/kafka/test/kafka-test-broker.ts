import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import { Admin } from '@platformatic/kafka';

/** The brokers the Kafka tests use: `HERALD_TEST_KAFKA` (host:port[,host:port]), default the script's broker. */
export const TEST_BROKERS = (process.env['HERALD_TEST_KAFKA'] ?? '127.0.0.1:19092')
  .split(',')
  .map((broker) => broker.trim())
  .filter((broker) => broker.length > 0);

/** Why the test broker cannot be used, or undefined when it answers a metadata request. */
export async function brokerUnavailable(): Promise<string | undefined> {
  const admin = new Admin({
    clientId: 'herald-test-probe',
    bootstrapBrokers: TEST_BROKERS,
    connectTimeout: 2000,
    retries: 0,
  });
  try {
    await admin.metadata({ topics: [] });
    return undefined;
  } catch (error) {
    return (
      `no Kafka broker answers at ${TEST_BROKERS.join(',')} (${error instanceof Error ? error.message : String(error)}); ` +
      'start one with scripts/kafka/kafka.sh start or set HERALD_TEST_KAFKA'
    );
  } finally {
    await admin.close().catch(() => undefined);
  }
}

/**
 * Registers what a test file does when the broker is down: in CI (`CI=true`) a failing test,
 * because a CI run that quietly skips its Kafka tests proves nothing; elsewhere a skipped one
 * that says why.
 */
export function reportUnavailable(what: string, reason: string): void {
  if (process.env['CI'] === 'true') {
    void it(`${what}: the Kafka broker is reachable`, () => {
      throw new Error(reason);
    });
  } else {
    void it(`${what}: needs a Kafka broker`, { skip: reason }, () => undefined);
  }
}

/** A fresh namespace (topic and group prefix) for one test: letters and digits only, so no name collides. */
export function uniqueNamespace(): string {
  return `ht${randomBytes(4).toString('hex')}-`;
}

/** Deletes every topic and group of a namespace; best effort (members of crashed clients may still hold a group). */
export async function deleteNamespace(namespace: string): Promise<void> {
  const admin = new Admin({ clientId: 'herald-test-cleanup', bootstrapBrokers: TEST_BROKERS, retries: 1 });
  try {
    const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(namespace));
    if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
    const groups = [...(await admin.listGroups()).keys()].filter((group) => group.startsWith(namespace));
    if (groups.length > 0) await admin.deleteGroups({ groups }).catch(() => undefined);
  } finally {
    await admin.close().catch(() => undefined);
  }
}
