import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isHeraldError } from '../src/errors.ts';
import type { HeraldErrorCode } from '../src/errors.ts';
import { DEFAULT_LOG_URL, logUrlFrom, openEventLog } from '../src/open-event-log.ts';
import { MemoryLog } from '../src/memory-log.ts';

function heraldError(code: HeraldErrorCode): (error: unknown) => boolean {
  return (error) => {
    assert.ok(isHeraldError(error, code), `expected ${code}, got ${String(error)}`);
    return true;
  };
}

void describe('openEventLog', () => {
  void it('refuses URLs no backend handles with INVALID_ARGUMENT, listing the schemes it knows', async () => {
    for (const url of [
      '',
      'orders.db',
      './.herald/herald.db',
      'http://localhost:9092',
      'redis://localhost',
      '://x',
    ]) {
      await assert.rejects(openEventLog(url), (error: unknown) => {
        assert.ok(isHeraldError(error, 'INVALID_ARGUMENT'), `${url}: ${String(error)}`);
        assert.match(error.message, /memory:/);
        return true;
      });
    }
  });

  void it('refuses a malformed memory URL with INVALID_ARGUMENT', async () => {
    for (const url of ['memory://host', 'memory:has space', 'memory:a/b']) {
      await assert.rejects(openEventLog(url), heraldError('INVALID_ARGUMENT'), url);
    }
  });

  void it('opens a fresh in-memory log for memory:', async () => {
    await using first = await openEventLog('memory:');
    await using second = await openEventLog('MEMORY:');
    assert.ok(first instanceof MemoryLog);
    assert.equal(first.capabilities.durable, false);
    await first.createTopic('orders', { partitions: 2 });
    assert.deepEqual(
      (await first.listTopics()).map((t) => t.name),
      ['orders'],
    );
    assert.deepEqual(await second.listTopics(), []);
  });

  void it('shares one log between clients opening the same memory:<name>', async () => {
    const name = `memory:shared-${process.pid}-${Date.now()}`;
    await using writer = await openEventLog(name);
    await using reader = await openEventLog(name);
    await using stranger = await openEventLog(`${name}-other`);
    await writer.createTopic('orders', { partitions: 1 });
    await writer.append('orders', {
      specversion: '1.0',
      id: 'e-1',
      source: '/t',
      type: 'dev.herald.test.done.v1',
    });
    assert.deepEqual(
      (await reader.read('orders', { partition: 0, from: 'earliest' })).map((e) => e.id),
      ['e-1'],
    );
    assert.deepEqual(await stranger.listTopics(), []);
  });

  void it('opens the log HERALD_LOG names when a program passes its environment', async () => {
    await using log = await openEventLog(logUrlFrom({ HERALD_LOG: 'memory:' }));
    assert.ok(log instanceof MemoryLog);
  });
});

void describe('logUrlFrom', () => {
  void it('names the log HERALD_LOG holds, else the embedded log under the working directory', () => {
    assert.equal(logUrlFrom({ HERALD_LOG: 'nats://127.0.0.1:4222' }), 'nats://127.0.0.1:4222');
    assert.equal(logUrlFrom({}), DEFAULT_LOG_URL);
    assert.equal(logUrlFrom({ HERALD_LOG: '' }), DEFAULT_LOG_URL);
    assert.equal(DEFAULT_LOG_URL, 'sqlite:./.herald/herald.db');
  });

  void it('reads only the environment it is given, never the process environment', () => {
    const previous = process.env['HERALD_LOG'];
    process.env['HERALD_LOG'] = 'memory:from-the-process';
    try {
      assert.equal(logUrlFrom({}), DEFAULT_LOG_URL);
    } finally {
      if (previous === undefined) delete process.env['HERALD_LOG'];
      else process.env['HERALD_LOG'] = previous;
    }
  });
});
