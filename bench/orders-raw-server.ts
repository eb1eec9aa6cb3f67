// The raw limit of the orders benchmark: the least a server can do for `POST /orders` while
// keeping the promise of a 202 only after a durable write. A Fastify server that appends one
// row per request to a SQLite file (WAL, synchronous=FULL) and answers once it is committed.
// Appends that arrive in the same event-loop turn share one BEGIN/COMMIT (group commit), so the
// fsync is paid once per turn rather than once per request. No validation, no store, no
// consumers: whatever Herald spends beyond this is the price of its features.
//
//   PORT=<port> HERALD_RAW_DB=<file> node bench/orders-raw-server.ts
import { randomUUID } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import Fastify from 'fastify';

const port = Number(process.env['PORT'] ?? '0');
const path = process.env['HERALD_RAW_DB'];
if (path === undefined) {
  console.error('HERALD_RAW_DB must name the database file');
  process.exit(2);
}

const db = new DatabaseSync(path);
db.exec('PRAGMA journal_mode = WAL');
db.exec('PRAGMA synchronous = FULL');
db.exec(
  'CREATE TABLE IF NOT EXISTS orders (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, customer_id TEXT, body TEXT NOT NULL, at INTEGER NOT NULL)',
);
const insert = db.prepare('INSERT INTO orders (id, customer_id, body, at) VALUES (?, ?, ?, ?)');

interface Pending {
  readonly id: string;
  readonly customerId: string | null;
  readonly body: string;
  readonly done: (error?: Error) => void;
}
let queue: Pending[] = [];

/** Commits everything queued in one transaction and settles each append with the outcome. */
function flush(): void {
  const batch = queue;
  queue = [];
  const at = Date.now();
  try {
    db.exec('BEGIN');
    for (const p of batch) insert.run(p.id, p.customerId, p.body, at);
    db.exec('COMMIT');
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK');
    for (const p of batch) p.done(error instanceof Error ? error : new Error(String(error)));
    return;
  }
  for (const p of batch) p.done();
}

/** Resolves once the row is durable, together with every append of the same turn. */
function append(id: string, customerId: string | null, body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (queue.length === 0) setImmediate(flush);
    queue.push({ id, customerId, body, done: (error) => (error === undefined ? resolve() : reject(error)) });
  });
}

const app = Fastify({ logger: false });
app.get('/readyz', () => ({ ready: true }));
app.post('/orders', async (request, reply) => {
  const body = request.body as { customerId?: unknown } | null;
  const customerId = typeof body?.customerId === 'string' ? body.customerId : null;
  const orderId = randomUUID();
  await append(orderId, customerId, JSON.stringify(body));
  return reply.code(202).send({ orderId, status: 'pending' });
});
await app.listen({ port, host: '127.0.0.1' });
console.log(`raw limit on http://127.0.0.1:${(app.server.address() as { port: number }).port}`);

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  clearInterval(orphanCheck);
  void app.close().then(() => {
    if (queue.length > 0) flush();
    db.close();
    process.exit(0);
  });
};
// A server whose benchmark died (re-parented to init) stops by itself.
const parent = process.ppid;
const orphanCheck = setInterval(() => {
  if (process.ppid !== parent) stop();
}, 1_000);
orphanCheck.unref();
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
