import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RequestSample } from '@herald/orders-lab/load-generator.ts';
import type { OrderRecord } from '@herald/orders-lab/reconcile.ts';
import { relativeTo, selfTimeByFile } from './lib/cpu-profile.ts';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  CpuMeter,
  descendants,
  machineBusyMicros,
  parseProcStat,
  parseVmHwm,
  signalTree,
  treeUsage,
} from './lib/process-tree.ts';
import { answerToFinal, cell, formatGrid, perOrder, sustainedRate } from './orders-report.ts';

await test('parseProcStat', async (t) => {
  await t.test('reads the parent and the user and system times after the command name', () => {
    const stat = parseProcStat('4242 (node) S 17 4242 4242 0 -1 4194560 900 0 3 0 1234 567 0 0 20 0 11 0');
    assert.deepEqual(stat, { pid: 4242, ppid: 17, utime: 1234, stime: 567 });
  });

  await t.test(
    'counts fields from the last parenthesis, so a name with spaces and parentheses parses',
    () => {
      const stat = parseProcStat('7 (node (x) y) R 1 7 7 0 -1 0 0 0 0 0 30 40 0 0');
      assert.deepEqual(stat, { pid: 7, ppid: 1, utime: 30, stime: 40 });
    },
  );

  await t.test('refuses a line that is not a stat line', () => {
    assert.throws(() => parseProcStat('hello world'), RangeError);
    assert.throws(() => parseProcStat('12 (node) S 1'), RangeError);
  });
});

await test('machineBusyMicros', async (t) => {
  await t.test('grows by at least what this process spent busy meanwhile', () => {
    const machineBefore = machineBusyMicros();
    assert.ok(machineBefore !== undefined, 'this benchmark runs on Linux');
    const own = process.cpuUsage();
    // Spin until this process alone used 50 ms of CPU, however busy the machine is.
    let spent = 0;
    while (spent < 50_000) {
      const used = process.cpuUsage(own);
      spent = used.user + used.system;
    }
    const grown = machineBusyMicros()! - machineBefore;
    // /proc/stat counts in clock ticks (10 ms): allow one tick of rounding on each side.
    assert.ok(grown >= spent - 20_000, `machine busy grew ${grown} µs, this process spent ${spent} µs`);
  });
});

await test('parseVmHwm', async (t) => {
  await t.test('reads the peak resident set in bytes', () => {
    const status = 'Name:\tnode\nVmPeak:\t  900000 kB\nVmHWM:\t   51200 kB\nVmRSS:\t   40000 kB\n';
    assert.equal(parseVmHwm(status), 51_200 * 1024);
  });

  await t.test('is undefined when the field is absent (a kernel thread)', () => {
    assert.equal(parseVmHwm('Name:\tkthreadd\nState:\tS\n'), undefined);
  });
});

await test('descendants', async (t) => {
  const table = new Map([
    [10, 1],
    [11, 10],
    [12, 10],
    [13, 12],
    [20, 1],
    [21, 20],
  ]);

  await t.test('is the roots with their children, grandchildren and so on, and nothing else', () => {
    assert.deepEqual(
      descendants([10], table).sort((a, b) => a - b),
      [10, 11, 12, 13],
    );
    assert.deepEqual(
      descendants([12, 20], table).sort((a, b) => a - b),
      [12, 13, 20, 21],
    );
  });

  await t.test('counts a process once when it is under two roots', () => {
    assert.deepEqual(
      descendants([10, 12], table).sort((a, b) => a - b),
      [10, 11, 12, 13],
    );
  });
});

await test('treeUsage', async (t) => {
  await t.test('reads this process’s own CPU time and peak memory from /proc', (t) => {
    if (process.platform !== 'linux') return t.skip('needs /proc');
    const usage = treeUsage([process.pid]);
    assert.ok(usage.pids.includes(process.pid));
    assert.ok(usage.cpuMicros > 0, `some CPU time used: ${usage.cpuMicros}`);
    assert.ok(usage.peakRssBytes >= process.memoryUsage().rss / 2, `peak RSS ${usage.peakRssBytes}`);
  });
});

await test('CpuMeter', async (t) => {
  await t.test('never reads less than before, and counts this process’s work', (t) => {
    if (process.platform !== 'linux') return t.skip('needs /proc');
    const meter = new CpuMeter(() => [process.pid]);
    const first = meter.cpuMicros();
    let spin = 0;
    for (let i = 0; i < 5_000_000; i++) spin += i % 7;
    assert.ok(spin > 0);
    assert.ok(meter.cpuMicros() >= first);
  });

  await t.test('keeps the time of a process that is gone', (t) => {
    if (process.platform !== 'linux') return t.skip('needs /proc');
    let roots = [process.pid];
    const meter = new CpuMeter(() => roots);
    const seen = meter.cpuMicros();
    roots = [];
    assert.ok(meter.cpuMicros() >= seen && seen > 0);
  });
});

await test('signalTree', async (t) => {
  await t.test(
    'signals a child with its children, and nothing that is not under a child of this process',
    async (t) => {
      if (process.platform !== 'linux') return t.skip('needs /proc');
      const shell = spawn('sh', ['-c', 'sleep 60 & echo $!; wait'], { stdio: ['ignore', 'pipe', 'ignore'] });
      const [line] = (await once(shell.stdout, 'data')) as [Buffer];
      const sleeper = Number(line.toString().trim());
      const alive = (pid: number) => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      try {
        signalTree([sleeper], 'SIGTERM'); // the shell's child, not ours
        assert.ok(alive(sleeper), 'a process that is not this process’s child is left alone');
        const exited = once(shell, 'exit');
        signalTree([shell.pid!], 'SIGTERM');
        await exited;
        for (let i = 0; alive(sleeper) && i < 100; i++) await new Promise((r) => setTimeout(r, 50));
        assert.ok(!alive(sleeper), 'the child’s own child was signalled too');
      } finally {
        // Only when the test failed: while the shell runs it is this process's child, the sleeper under it.
        signalTree([shell.pid!], 'SIGKILL');
      }
    },
  );
});

await test('selfTimeByFile', async (t) => {
  const profile = {
    nodes: [
      { id: 1, callFrame: { url: '', functionName: '(root)' } },
      { id: 2, callFrame: { url: 'file:///repo/packages/sqlite/src/sqlite-log.ts', functionName: 'read' } },
      { id: 3, callFrame: { url: 'file:///repo/packages/sqlite/src/sqlite-log.ts', functionName: 'append' } },
      { id: 4, callFrame: { url: 'node:internal/http', functionName: 'write' } },
      { id: 5, callFrame: { url: '', functionName: '(garbage collector)' } },
      { id: 6, callFrame: { url: '', functionName: '(idle)' } },
    ],
    samples: [2, 3, 4, 2, 5, 6],
    timeDeltas: [100, 50, 200, 150, 500, 9_000],
  };

  await t.test(
    'adds each sample’s time to the file on top of the stack, largest first, idle time left out',
    () => {
      assert.deepEqual(selfTimeByFile([profile], 10), [
        { file: '(garbage collector)', selfMicros: 500, share: 0.5 },
        { file: '/repo/packages/sqlite/src/sqlite-log.ts', selfMicros: 300, share: 0.3 },
        { file: 'node:internal/http', selfMicros: 200, share: 0.2 },
      ]);
    },
  );

  await t.test('adds up several processes’ profiles and keeps the top entries', () => {
    const top = selfTimeByFile([profile, profile], 1);
    assert.deepEqual(top, [{ file: '(garbage collector)', selfMicros: 1000, share: 0.5 }]);
  });

  await t.test(
    'refuses a profile whose samples and time deltas differ, or that samples an unknown node',
    () => {
      assert.throws(
        () => selfTimeByFile([{ ...profile, timeDeltas: [1] }], 5),
        /6 samples but 1 time deltas/,
      );
      assert.throws(() => selfTimeByFile([{ ...profile, samples: [9, 2, 3, 4, 5, 6] }], 5), /node 9/);
    },
  );

  await t.test('prints paths below the repository relative to it', () => {
    assert.equal(
      relativeTo('/repo', '/repo/packages/sqlite/src/sqlite-log.ts'),
      'packages/sqlite/src/sqlite-log.ts',
    );
    assert.equal(relativeTo('/repo/', 'node:internal/http'), 'node:internal/http');
  });
});

await test('sustainedRate', async (t) => {
  const step = (offeredRate: number, passed: boolean, settled: boolean) => ({
    offeredRate,
    acceptedRate: offeredRate - 1,
    passed,
    settled,
  });

  await t.test('is the accepted rate of the highest step that passed and settled', () => {
    assert.equal(sustainedRate([step(100, true, true), step(200, true, true), step(400, false, true)]), 199);
  });

  await t.test('passes over a fast step whose accepted orders did not all settle', () => {
    assert.equal(sustainedRate([step(100, true, true), step(200, true, false), step(150, true, true)]), 149);
  });

  await t.test('is null when no step both passed and settled', () => {
    assert.equal(sustainedRate([step(100, false, true), step(50, true, false)]), null);
    assert.equal(sustainedRate([]), null);
  });
});

await test('answerToFinal', async (t) => {
  const sample = (index: number, status: number, doneAt: number, orderId?: string): RequestSample => ({
    index,
    dueAt: doneAt - 5,
    sentAt: doneAt - 5,
    doneAt,
    status,
    orderId,
    orderStatus: undefined,
    error: status === 0 ? 'timeout' : undefined,
  });
  const record = (orderId: string, customerId: string, decidedAt: number | null): OrderRecord => ({
    orderId,
    customerId,
    status: decidedAt === null ? 'pending' : 'confirmed',
    decidedAt,
    settled: decidedAt !== null,
    lastFactAt: decidedAt,
    messages: 1,
    deadLetters: 0,
  });
  const startedAtWall = 1_000_000;

  await t.test('is the time from the answer to the decision, per accepted and decided order', () => {
    const records = new Map([
      ['run-0', record('o0', 'run-0', startedAtWall + 10 + 7)],
      ['run-1', record('o1', 'run-1', startedAtWall + 20 + 30)],
      ['run-2', record('o2', 'run-2', null)],
    ]);
    const samples = [sample(0, 202, 10, 'o0'), sample(1, 202, 20, 'o1'), sample(2, 202, 30, 'o2')];
    assert.deepEqual(answerToFinal(samples, records, 'run', startedAtWall), [7, 30]);
  });

  await t.test('leaves out refused requests, other runs’ orders and answers naming another order', () => {
    const records = new Map([
      ['run-0', record('o0', 'run-0', startedAtWall + 50)],
      ['run-1', record('o1', 'run-1', startedAtWall + 50)],
      ['other-2', record('o2', 'other-2', startedAtWall + 50)],
    ]);
    const samples = [sample(0, 0, 10), sample(1, 202, 10, 'not-o1'), sample(2, 202, 10, 'o2')];
    assert.deepEqual(answerToFinal(samples, records, 'run', startedAtWall), []);
  });

  await t.test('counts a decision stamped before the answer arrived as 0', () => {
    const records = new Map([['run-0', record('o0', 'run-0', startedAtWall + 5)]]);
    assert.deepEqual(answerToFinal([sample(0, 202, 10, 'o0')], records, 'run', startedAtWall), [0]);
  });
});

await test('perOrder', async (t) => {
  await t.test('divides a counter’s difference by the orders, and is null without either', () => {
    assert.equal(perOrder(3_000, 1_000), 3);
    assert.equal(perOrder(null, 1_000), null);
    assert.equal(perOrder(3_000, 0), null);
  });
});

await test('formatGrid', async (t) => {
  await t.test('aligns the first column left and the others right, under a rule', () => {
    const text = formatGrid(
      ['system', 'rate'],
      [
        ['raw', '1,000'],
        ['embedded', '50'],
      ],
    );
    assert.equal(
      text,
      ['system     rate', '--------  -----', 'raw       1,000', 'embedded     50'].join('\n'),
    );
  });

  await t.test('pads a short row with empty cells', () => {
    assert.equal(formatGrid(['a', 'b'], [['x']]).split('\n')[2], 'x');
  });
});

await test('cell', async (t) => {
  await t.test('prints a dash for a missing figure and separates thousands', () => {
    assert.equal(cell(null), '—');
    assert.equal(cell(undefined), '—');
    assert.equal(cell(Number.NaN), '—');
    assert.equal(cell(12_345.6), '12,346');
    assert.equal(cell(2.345, 2), '2.35');
  });
});
