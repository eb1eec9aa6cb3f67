// F18 on NATS: the server is restarted while NatsLog.append runs without pause (four appenders,
// four partitions): stopped with SIGTERM (a clean restart) and killed with SIGKILL (a crash),
// each started again on the same port and store. Afterwards a fresh client reads the topic
// from the beginning: every append acknowledged to the caller must be there once, at the
// partition and offset its acknowledgement named; no id may be there twice (a publish retried
// with the same Nats-Msg-Id is deduplicated by the stream); an append that failed may be absent
// or present once (it was never acknowledged). Each appender awaits each append, so its
// acknowledged appends to one partition must also have growing offsets.
//
// The server is the test's own (fixtures/private-nats-server.ts): restarting the shared one
// would break the NATS suites running next to this one. A process kill is not a power loss:
// JetStream does not fsync each message by default, which this test does not cover.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openNatsLog } from '@herald/nats';
import { AppendLoad, readAll, waitWhileProgressing } from '@herald/testing';
import { privateServerUnavailable, startPrivateNatsServer } from './fixtures/private-nats-server.ts';

/** The restarts of a run, in order. */
const RESTARTS = ['SIGTERM', 'SIGKILL', 'SIGTERM', 'SIGKILL'] as const;
/** Appends acknowledged between two restarts (and after the last one). */
const ACKS_BETWEEN_RESTARTS = 300;
/** A wait fails when its count has not moved for this long: the run is stuck, not slow. */
const STALL_MS = 90_000;

void describe('NatsLog when its server restarts (F18)', () => {
  void it(
    'loses no acknowledged append and writes none twice when the server is restarted or killed during appends',
    { timeout: 10 * 60_000 },
    async (t) => {
      const reason = privateServerUnavailable();
      if (reason !== undefined) {
        if (process.env['CI'] === 'true') throw new Error(reason);
        t.skip(reason);
        return;
      }
      await using server = await startPrivateNatsServer();
      const log = await openNatsLog({ servers: [server.url], clientId: 'herald-f18-appender' });
      let load: AppendLoad | undefined;
      try {
        await log.createTopic('orders', { partitions: 4 });
        load = new AppendLoad(log, 'orders');
        const appends = load;
        appends.start();
        const done = { SIGTERM: 0, SIGKILL: 0 };
        for (const signal of RESTARTS) {
          const acked = appends.ackedCount;
          await waitWhileProgressing(
            () => appends.ackedCount >= acked + ACKS_BETWEEN_RESTARTS,
            () => appends.ackedCount,
            STALL_MS,
            `${ACKS_BETWEEN_RESTARTS} acknowledged appends before a ${signal} restart`,
          );
          await server.stop(signal);
          done[signal]++;
          await server.start();
        }
        const acked = appends.ackedCount;
        await waitWhileProgressing(
          () => appends.ackedCount >= acked + ACKS_BETWEEN_RESTARTS,
          () => appends.ackedCount,
          STALL_MS,
          'acknowledged appends after the last restart',
        );
        await appends.stop();

        await using reader = await openNatsLog({ servers: [server.url], clientId: 'herald-f18-reader' });
        const check = appends.check(await readAll(reader, 'orders'));
        const report =
          `${done.SIGTERM} SIGTERM restarts and ${done.SIGKILL} SIGKILL restarts of the server; ${appends.summary()}; ` +
          `failed appends in the log: ${check.failedPresent}, absent: ${check.failedAbsent}; ` +
          `${check.lost.length} lost, ${check.duplicated.length} duplicated, ${check.reordered.length} reordered`;
        t.diagnostic(report);
        console.log(`F18 NATS server restart: ${report}`);
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
