// The write queue runs a store transaction from its own turn of the event loop; what the caller
// had active (a request's context, a trace span) must still be active inside it.
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, it } from 'node:test';
import { openSqliteLog, openSqliteStore } from '@herald/sqlite';
import { tempDatabase } from './fixtures/orders.ts';

void describe('the SQLite write path', () => {
  void it("runs each transaction's function in its caller's async context, also when transactions share a commit", async () => {
    using db = tempDatabase();
    await using log = await openSqliteLog({ path: db.path, retentionIntervalMs: 0 });
    const store = await openSqliteStore(log);
    const request = new AsyncLocalStorage<string>();
    const seen = await Promise.all(
      ['a', 'b', 'c'].map((id) =>
        request.run(id, () =>
          store.transaction(async (tx) => {
            await tx.put('requests', id, { id });
            return request.getStore();
          }),
        ),
      ),
    );
    assert.deepEqual(seen, ['a', 'b', 'c']);
    assert.equal(
      await store.transaction(() => request.getStore()),
      undefined,
      'a context leaked into a later transaction',
    );
  });
});
