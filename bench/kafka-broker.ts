import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Admin } from '@platformatic/kafka';

/** The Kafka brokers the `backends` benchmark uses: `HERALD_BENCH_KAFKA`, default the script's broker. */
export const BENCH_KAFKA_BROKERS = (process.env['HERALD_BENCH_KAFKA'] ?? '127.0.0.1:19092')
  .split(',')
  .map((broker) => broker.trim())
  .filter((broker) => broker.length > 0);

const KAFKA_SCRIPT = fileURLToPath(new URL('../scripts/kafka/kafka.sh', import.meta.url));

/** A broker the benchmark may use; disposing it stops the broker only if this process started it. */
export interface KafkaBroker extends AsyncDisposable {
  readonly brokers: readonly string[];
  /** True when the benchmark started the broker (and will stop it). */
  readonly started: boolean;
}

/** Why no broker answers at {@link BENCH_KAFKA_BROKERS}, or undefined when one does. */
async function brokerUnavailable(): Promise<string | undefined> {
  const admin = new Admin({
    clientId: 'herald-bench-probe',
    bootstrapBrokers: [...BENCH_KAFKA_BROKERS],
    connectTimeout: 2000,
    retries: 0,
  });
  try {
    await admin.metadata({ topics: [] });
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await admin.close().catch(() => undefined);
  }
}

function script(command: 'start' | 'stop'): void {
  // The script logs to stderr; so does the benchmark's progress, while stdout keeps the table.
  const result = spawnSync(KAFKA_SCRIPT, [command], { stdio: ['ignore', 2, 2] });
  if (result.error !== undefined) throw result.error;
  if (result.status !== 0) throw new Error(`scripts/kafka/kafka.sh ${command} exited with ${result.status}`);
}

/**
 * The broker to measure against: the one already answering, else the repository's own
 * (`scripts/kafka/kafka.sh start`, 127.0.0.1:19092), started here and stopped again on dispose,
 * on SIGINT or SIGTERM, so that a benchmark never leaves a broker behind that it started. A
 * broker named by `HERALD_BENCH_KAFKA` is never started: it is someone else's to run.
 */
export async function ensureKafkaBroker(): Promise<KafkaBroker> {
  const reason = await brokerUnavailable();
  const brokers = BENCH_KAFKA_BROKERS;
  if (reason === undefined) {
    return { brokers, started: false, [Symbol.asyncDispose]: () => Promise.resolve() };
  }
  if (process.env['HERALD_BENCH_KAFKA'] !== undefined) {
    throw new Error(`no Kafka broker answers at HERALD_BENCH_KAFKA=${brokers.join(',')} (${reason})`);
  }
  process.stderr.write(`  no Kafka broker at ${brokers.join(',')}; starting scripts/kafka/kafka.sh\n`);
  script('start');
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.stderr.write('  stopping the Kafka broker this benchmark started\n');
    script('stop');
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    stop();
    process.kill(process.pid, signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return { brokers, started: true, [Symbol.asyncDispose]: () => Promise.resolve(stop()) };
}
