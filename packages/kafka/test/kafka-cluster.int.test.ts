// Kafka as production runs it: three KRaft nodes (each broker and controller), replication
// factor 3, min.insync.replicas 2, started by scripts/kafka/kafka.sh (HERALD_KAFKA_NODES=3) in a
// temporary run folder on free ports, for this file only.
//
// - F13/F18: the leader of a partition is killed with SIGKILL while appenders and a consumer
//   group of two members run, then started again; twice, a different partition's leader each
//   time. Producers and consumers must carry on while the node is down; afterwards a fresh
//   reader must find every acknowledged append once, at its acknowledged offset.
// - F5 across a network: a member in a network namespace is cut off from the brokers (a silent
//   partition, see fixtures/network-namespace.ts) while it holds uncommitted work; the other
//   member takes its partitions once its session expires; the partition heals; the cut-off
//   member's late commits must be refused (FENCED) and its work must have been done again by
//   the new owner.
//
// What both tests check about the group (fixtures/group-member.ts records every claim, every
// processed event and every commit with its outcome): a claim "covers" an event it processed
// when one of its commits at or past that offset was acknowledged. Every acknowledged append
// must be covered by exactly one claim (or, when a commit's answer was lost to the fault, by
// none for certain and maybe by one): nothing lost, nothing committed by two owners. The group's
// committed offsets must reach the end of every partition. Processing an event twice is allowed
// (at-least-once) only when the first claim did not commit it.
//
// The partition test needs root and iproute2 (CI has both); elsewhere it is skipped, saying why.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Admin } from '@platformatic/kafka';
import type { EventLog } from '@herald/core';
import { type KafkaLog, openKafkaLog } from '@herald/kafka';
import { AppendLoad, readAll, sleep, waitWhileProgressing } from '@herald/testing';
import { GroupMember, type MemberRecord, commitCoverage } from './fixtures/group-member.ts';
import {
  type NetworkNamespace,
  createNetworkNamespace,
  namespacesUnavailable,
} from './fixtures/network-namespace.ts';
import { type PrivateKafka, startPrivateKafka } from '../../../scripts/kafka/private-kafka.ts';

/** A wait fails when its count has not moved for this long: the run is stuck, not slow. */
const STALL_MS = 90_000;
/** Kafka's floor (group.min.session.timeout.ms). */
const SESSION_TIMEOUT_MS = 6000;
const LEADER_KILLS = 2;
/** Appends acknowledged, and events processed, while a node is down and between faults. */
const PROGRESS = 300;
const MEMBER_MAIN = fileURLToPath(new URL('./fixtures/group-member-main.ts', import.meta.url));

/** Fails the test in CI, skips it elsewhere, saying why. */
function unavailable(t: { skip(message: string): void }, reason: string): void {
  if (process.env['CI'] === 'true') throw new Error(reason);
  t.skip(reason);
}

/** Commits and processing as the checker sees them; the figures a run reports. */
function checkGroup(records: readonly MemberRecord[], load: AppendLoad) {
  const { covered, maybe, processedIds } = commitCoverage(records);
  const uncovered: string[] = [];
  const coveredTwice: string[] = [];
  let maybeOnly = 0;
  for (const [id, ack] of load.acked) {
    const at = `${ack.partition}@${ack.offset}`;
    const certain = covered.get(at) ?? 0;
    if (certain > 1) coveredTwice.push(id);
    if (certain === 0) {
      if ((maybe.get(at) ?? 0) === 0) uncovered.push(id);
      else maybeOnly++;
    }
  }
  const unprocessed = [...load.acked.keys()].filter((id) => !processedIds.has(id));
  const redelivered = [...processedIds.values()].filter((n) => n > 1).length;
  const commits = { ok: 0, fenced: 0, error: 0 };
  for (const record of records) if (record.kind === 'commit') commits[record.outcome]++;
  const failures = records.filter((record) => record.kind === 'failed');
  return { uncovered, coveredTwice, maybeOnly, unprocessed, redelivered, commits, failures };
}

/** What both runs promise: every acknowledged append in the log once, processed, and committed by exactly one claim. */
function assertNothingLostOrDoubled(
  check: ReturnType<AppendLoad['check']>,
  group: ReturnType<typeof checkGroup>,
): void {
  assert.deepEqual(check.lost.slice(0, 10), [], 'acknowledged appends missing from the log');
  assert.deepEqual(check.duplicated.slice(0, 10), [], 'ids written twice');
  assert.deepEqual(check.reordered.slice(0, 10), [], 'acknowledged offsets out of append order');
  assert.deepEqual(group.unprocessed.slice(0, 10), [], 'acknowledged appends the group never processed');
  assert.deepEqual(group.uncovered.slice(0, 10), [], 'acknowledged appends no commit covers');
  assert.deepEqual(group.coveredTwice.slice(0, 10), [], 'appends committed by two claims');
  assert.deepEqual(group.failures, [], 'a member stopped with an error');
}

/** Waits until the group has committed the end of every partition of the topic. */
async function drained(log: EventLog, group: string, topic: string): Promise<void> {
  let committed = 0;
  await waitWhileProgressing(
    async () => {
      const described = await log.describeGroup(group);
      const partitions = described.partitions.filter((p) => p.topic === topic);
      committed = partitions.reduce((sum, p) => sum + (p.committed ?? 0), 0);
      const done = partitions.length > 0 && partitions.every((p) => p.committed === p.latest);
      if (!done) await sleep(200);
      return done;
    },
    () => committed,
    STALL_MS,
    `group ${group} to commit every event of ${topic}`,
  );
}

void describe('Kafka on a three-node cluster', () => {
  const netnsReason = namespacesUnavailable();
  let cluster: PrivateKafka | undefined;
  let namespace: NetworkNamespace | undefined;
  let setupError: string | undefined;

  before(async () => {
    try {
      if (netnsReason === undefined) namespace = await createNetworkNamespace();
      cluster = await startPrivateKafka({ nodes: 3, host: namespace?.hostAddress ?? '127.0.0.1' });
    } catch (error) {
      setupError = `no private three-node Kafka cluster: ${error instanceof Error ? error.message : String(error)}`;
    }
  });

  after(async () => {
    await cluster?.stop();
    await namespace?.remove();
  });

  void it(
    'keeps producing and consuming while a partition leader is killed with SIGKILL, losing no acknowledged append and duplicating none',
    { timeout: 15 * 60_000 },
    async (t) => {
      if (cluster === undefined) return unavailable(t, setupError ?? 'no cluster');
      const brokers = cluster.bootstrap;
      const records: MemberRecord[] = [];
      const log = await openKafkaLog({ brokers, clientId: 'herald-cluster-producer' });
      const admin = new Admin({ clientId: 'herald-cluster-probe', bootstrapBrokers: [...brokers] });
      const memberLogs: KafkaLog[] = [];
      const members: GroupMember[] = [];
      let load: AppendLoad | undefined;
      try {
        await log.createTopic('orders', { partitions: 3 });
        for (const name of ['a', 'b']) {
          const memberLog = await openKafkaLog({
            brokers,
            clientId: `herald-cluster-member-${name}`,
            heartbeatIntervalMs: 500,
            fetchMaxWaitMs: 200,
          });
          memberLogs.push(memberLog);
          const member = new GroupMember(memberLog, {
            name,
            group: 'billing',
            topic: 'orders',
            record: (record) => records.push(record),
          });
          members.push(member);
          await member.start(SESSION_TIMEOUT_MS);
        }
        load = new AppendLoad(log, 'orders');
        const appends = load;
        appends.start();
        const processed = () => members.reduce((sum, member) => sum + member.processed, 0);
        const progress = () => [appends.ackedCount, processed()];
        const advance = async (what: string) => {
          const [acked, done] = progress() as [number, number];
          await waitWhileProgressing(
            () => appends.ackedCount >= acked + PROGRESS && processed() >= done + PROGRESS,
            progress,
            STALL_MS,
            what,
          );
        };
        const partitionsOf = async () =>
          (await admin.metadata({ topics: ['orders'], forceUpdate: true })).topics.get('orders')!.partitions;

        const killed: number[] = [];
        const moved: string[] = [];
        for (let round = 0; round < LEADER_KILLS; round++) {
          await advance(`appends and processing before kill ${round + 1}`);
          const leader = (await partitionsOf())[round]!.leader;
          await cluster.kill(leader);
          killed.push(leader);
          await advance(`appends and processing while node ${leader} is down`);
          const successor = (await partitionsOf())[round]!.leader;
          assert.notEqual(successor, leader, `partition ${round} still led by the killed node ${leader}`);
          moved.push(`partition ${round}: ${leader} → ${successor}`);
          await cluster.start(leader);
          let inSync = 0;
          await waitWhileProgressing(
            async () => {
              const partitions = await partitionsOf().catch(() => []);
              inSync = partitions.reduce((sum, p) => sum + p.isr.length, 0);
              const full = partitions.length === 3 && partitions.every((p) => p.isr.length === 3);
              if (!full) await sleep(250);
              return full;
            },
            () => inSync,
            STALL_MS,
            `node ${leader} back in sync on every partition`,
          );
        }
        await advance('appends and processing after the last restart');
        await appends.stop();
        await drained(log, 'billing', 'orders');
        for (const member of members) await member.close();

        await using reader = await openKafkaLog({ brokers, clientId: 'herald-cluster-reader' });
        const check = appends.check(await readAll(reader, 'orders'));
        const group = checkGroup(records, appends);
        const report =
          `${killed.length} SIGKILLs of a partition leader (leaders moved: ${moved.join(', ')}); ${appends.summary()}; ` +
          `failed appends in the log: ${check.failedPresent}; ` +
          `group: ${processed()} processed, ${group.redelivered} redelivered, commits ${group.commits.ok} ok / ` +
          `${group.commits.fenced} fenced / ${group.commits.error} failed, ${group.maybeOnly} covered only by a failed commit; ` +
          `${check.lost.length} lost, ${check.duplicated.length} duplicated, ${check.reordered.length} reordered, ` +
          `${group.uncovered.length} never committed, ${group.coveredTwice.length} committed twice`;
        t.diagnostic(report);
        console.log(`F18 Kafka cluster leader kill: ${report}`);
        assertNothingLostOrDoubled(check, group);
      } finally {
        await load?.stop();
        await Promise.allSettled(members.map((member) => member.close()));
        await Promise.allSettled(memberLogs.map((memberLog) => memberLog.close()));
        await admin.close().catch(() => undefined);
        await log.close();
      }
    },
  );

  void it(
    'fences the late commits of a member cut off from the brokers past its session timeout, and loses nothing',
    { timeout: 15 * 60_000 },
    async (t) => {
      if (cluster === undefined) return unavailable(t, setupError ?? 'no cluster');
      if (namespace === undefined) return unavailable(t, netnsReason ?? 'no network namespace');
      const net = namespace;
      const brokers = cluster.bootstrap;
      const records: MemberRecord[] = [];
      const notes: { kind: string; [key: string]: unknown }[] = [];
      const log = await openKafkaLog({ brokers, clientId: 'herald-partition-producer' });
      let child: ChildProcess | undefined;
      let member: GroupMember | undefined;
      let memberLog: KafkaLog | undefined;
      let load: AppendLoad | undefined;
      try {
        await log.createTopic('payments', { partitions: 4 });
        load = new AppendLoad(log, 'payments');
        const appends = load;
        appends.start();

        // Member "cut" runs in the namespace and reaches the brokers over the veth pair.
        const spawned = spawn(net.exec[0]!, [...net.exec.slice(1), process.execPath, MEMBER_MAIN], {
          env: {
            ...process.env,
            HERALD_MEMBER_BROKERS: brokers.join(','),
            HERALD_MEMBER_GROUP: 'settlement',
            HERALD_MEMBER_TOPIC: 'payments',
            HERALD_MEMBER_NAME: 'cut',
            HERALD_MEMBER_SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS),
          },
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        child = spawned;
        let stderr = '';
        let exited = false;
        spawned.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
        spawned.on('exit', () => (exited = true));
        let buffered = '';
        spawned.stdout.on('data', (chunk: Buffer) => {
          buffered += chunk.toString();
          let newline;
          while ((newline = buffered.indexOf('\n')) >= 0) {
            const line = JSON.parse(buffered.slice(0, newline)) as MemberRecord | { kind: string };
            buffered = buffered.slice(newline + 1);
            if (['assigned', 'revoked', 'processed', 'commit', 'failed'].includes(line.kind))
              records.push(line as MemberRecord);
            else notes.push(line);
          }
        });
        const command = (line: string) => spawned.stdin.write(`${line}\n`);
        const childLines = () => records.length + notes.length;
        const until = (predicate: () => boolean, what: string, progress: () => unknown = childLines) =>
          waitWhileProgressing(
            () => {
              if (exited) throw new Error(`the member in the namespace exited; its stderr:\n${stderr}`);
              return predicate();
            },
            progress,
            STALL_MS,
            what,
          );
        const okCommits = (name: string) =>
          records.filter((r) => r.kind === 'commit' && r.member === name && r.outcome === 'ok').length;

        await until(() => okCommits('cut') > 0, 'the member in the namespace to commit');
        memberLog = await openKafkaLog({
          brokers,
          clientId: 'herald-partition-member-kept',
          heartbeatIntervalMs: 500,
          fetchMaxWaitMs: 200,
        });
        const kept = new GroupMember(memberLog, {
          name: 'kept',
          group: 'settlement',
          topic: 'payments',
          record: (record) => records.push(record),
        });
        member = kept;
        await kept.start(SESSION_TIMEOUT_MS);
        const cutCommits = okCommits('cut');
        await until(
          () => okCommits('kept') > 0 && okCommits('cut') > cutCommits && kept.assignment().length < 4,
          'both members to own partitions and commit',
        );

        // The cut-off member stops committing, then processes more under the claims it has.
        command('hold');
        await until(() => notes.some((n) => n.kind === 'holding'), 'the member to hold its commits');
        const holdingAt = records.length;
        const heldProcessed = () =>
          records.slice(holdingAt).filter((r) => r.kind === 'processed' && r.member === 'cut');
        await until(() => heldProcessed().length >= 20, 'held work in the namespace');

        await net.partition();
        const partitionedAt = records.length;
        // Its session expires; the other member takes every partition and redoes the held work.
        const held = heldProcessed();
        const redone = () => {
          const keptDone = new Set(
            records
              .slice(partitionedAt)
              .filter((r) => r.kind === 'processed' && r.member === 'kept')
              .map((r) => (r.kind === 'processed' ? r.id : '')),
          );
          return held.every((r) => r.kind === 'processed' && keptDone.has(r.id));
        };
        await until(
          () => kept.assignment().length === 4 && redone(),
          'the kept member to own every partition and process the held work again',
          () => [kept.processed, kept.assignment().length],
        );
        await net.heal();
        const healedAt = records.length;

        // The late commits, after healing: each must be refused.
        command('commit-held');
        await until(() => notes.some((n) => n.kind === 'held-committed'), 'the late commits');
        const late = notes.find((n) => n.kind === 'held-committed') as unknown as {
          held: { partition: number; offset: number }[];
          outcomes: string[];
        };
        // The healed member rejoins the group and carries on with partitions of its own.
        const cutAssigned = () =>
          records
            .slice(partitionedAt)
            .filter((r) => r.kind === 'assigned' && r.member === 'cut' && r.claims.length > 0).length;
        await until(() => cutAssigned() > 0, 'the healed member to be assigned partitions again');
        const afterHeal = appends.ackedCount;
        await until(
          () => appends.ackedCount >= afterHeal + PROGRESS,
          'appends after healing',
          () => appends.ackedCount,
        );
        await appends.stop();
        await drained(log, 'settlement', 'payments');
        command('close');
        await until(() => notes.some((n) => n.kind === 'closed'), 'the member in the namespace to close');
        await kept.close();

        await using reader = await openKafkaLog({ brokers, clientId: 'herald-partition-reader' });
        const check = appends.check(await readAll(reader, 'payments'));
        const group = checkGroup(records, appends);
        const lateCommits = records.filter((r) => r.kind === 'commit' && r.late);
        const fenced = lateCommits.filter((r) => r.kind === 'commit' && r.outcome === 'fenced').length;
        // Events the cut-off member delivered under the claims it held after the partition healed,
        // before it learned it had been expired (it had fetched them): processed again, never committed.
        const heldClaims = new Set(held.map((r) => (r.kind === 'processed' ? r.claim : '')));
        const staleAfterHeal = records
          .slice(healedAt)
          .filter((r) => r.kind === 'processed' && heldClaims.has(r.claim)).length;
        const report =
          `1 network partition of a member (healed after its session expired); ${appends.summary()}; ` +
          `${held.length} events processed by the cut-off member without commit, all processed again by the new owner; ` +
          `late commits: ${lateCommits.length}, ${fenced} fenced; ` +
          `${staleAfterHeal} events delivered to the cut-off member under its expired claims after healing; ` +
          `group: ${group.redelivered} redelivered, commits ${group.commits.ok} ok / ${group.commits.fenced} fenced / ` +
          `${group.commits.error} failed; ` +
          `${check.lost.length} lost, ${check.duplicated.length} duplicated, ${check.reordered.length} reordered, ` +
          `${group.uncovered.length} never committed, ${group.coveredTwice.length} committed twice`;
        t.diagnostic(report);
        console.log(`F5/F18 Kafka network partition: ${report}`);
        assert.ok(late.held.length > 0 && lateCommits.length === late.held.length, 'the member held work');
        assert.deepEqual(
          late.outcomes,
          late.held.map(() => 'fenced'),
          'every late commit of the cut-off member is refused',
        );
        assert.equal(
          staleAfterHeal,
          0,
          'a member out of touch with the coordinator for a session delivers nothing under the claims it may have lost',
        );
        assertNothingLostOrDoubled(check, group);
      } finally {
        await net.heal().catch(() => undefined);
        await load?.stop();
        child?.kill('SIGKILL');
        await member?.close().catch(() => undefined);
        await memberLog?.close();
        await log.close();
      }
    },
  );
});
