// F18 on Kafka: the broker is killed with SIGKILL while KafkaLog.append runs without pause
// (four appenders, four partitions), and started again, several times. Afterwards a fresh
// client reads the topic from the beginning: every append acknowledged to the caller must be
// there once, at the partition and offset its acknowledgement named; no id may be there twice
// (the idempotent producer must not write a retried request again); an append that failed may
// be absent or present once (it was never acknowledged). Each appender awaits each append, so
// its acknowledged appends to one partition must also have growing offsets.
//
// The broker is the test's own (scripts/kafka/kafka.sh in a temporary run folder, on free
// ports): killing the shared one would break the Kafka suites running next to this one. Kafka
// does not fsync each record, so this covers process crashes, not power loss (F2 covers that
// for the embedded log; a cluster's replication covers it for Kafka).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openKafkaLog } from '@herald/kafka';
import { AppendLoad, readAll, waitWhileProgressing } from '@herald/testing';
import { startPrivateKafka } from '../../../scripts/kafka/private-kafka.ts';

/** SIGKILLs per run. */
const KILLS = 3;
/** Appends acknowledged between two kills (and after the last restart). */
const ACKS_BETWEEN_KILLS = 500;
/** A wait fails when its count has not moved for this long: the run is stuck, not slow. */
const STALL_MS = 90_000;

void describe('KafkaLog when its broker is killed (F18)', () => {
  void it(
    'loses no acknowledged append and writes none twice when the broker is killed with SIGKILL during appends',
    { timeout: 15 * 60_000 },
    async (t) => {
      let broker;
      try {
        broker = await startPrivateKafka();
      } catch (error) {
        if (process.env['CI'] === 'true') throw error;
        t.skip(`no private Kafka broker: ${error instanceof Error ? error.message : String(error)}`);
        return;
      }
      await using _broker = broker;
      const log = await openKafkaLog({ brokers: broker.bootstrap, clientId: 'herald-f18-appender' });
      let load: AppendLoad | undefined;
      try {
        await log.createTopic('orders', { partitions: 4 });
        load = new AppendLoad(log, 'orders');
        const appends = load;
        appends.start();
        let kills = 0;
        for (let round = 0; round < KILLS; round++) {
          const acked = appends.ackedCount;
          await waitWhileProgressing(
            () => appends.ackedCount >= acked + ACKS_BETWEEN_KILLS,
            () => appends.ackedCount,
            STALL_MS,
            `${ACKS_BETWEEN_KILLS} acknowledged appends before kill ${round + 1}`,
          );
          const failed = appends.failedCount;
          await broker.kill(1);
          kills++;
          // The appenders must notice: appends in flight and those made while it is down fail.
          await waitWhileProgressing(
            () => appends.failedCount > failed,
            () => appends.failedCount,
            STALL_MS,
            'a failed append after the kill',
          );
          await broker.start(1);
        }
        const acked = appends.ackedCount;
        await waitWhileProgressing(
          () => appends.ackedCount >= acked + ACKS_BETWEEN_KILLS,
          () => appends.ackedCount,
          STALL_MS,
          'acknowledged appends after the last restart',
        );
        await appends.stop();

        await using reader = await openKafkaLog({ brokers: broker.bootstrap, clientId: 'herald-f18-reader' });
        const check = appends.check(await readAll(reader, 'orders'));
        const report =
          `${kills} SIGKILLs of the broker; ${appends.summary()}; ` +
          `failed appends in the log: ${check.failedPresent}, absent: ${check.failedAbsent}; ` +
          `${check.lost.length} lost, ${check.duplicated.length} duplicated, ${check.reordered.length} reordered`;
        t.diagnostic(report);
        console.log(`F18 Kafka broker kill: ${report}`);
        assert.equal(kills, KILLS);
        assert.ok(appends.failedCount > 0, 'the kills were seen by the appenders');
        assert.deepEqual(check.lost.slice(0, 10), [], 'acknowledged appends missing from the log');
        assert.deepEqual(check.duplicated.slice(0, 10), [], 'ids written twice');
        assert.deepEqual(check.reordered.slice(0, 10), [], 'acknowledged offsets out of append order');
        assert.equal(check.foreign, 0);
      } finally {
        await load?.stop();
        await log.close();
      }
    },
  );
});
