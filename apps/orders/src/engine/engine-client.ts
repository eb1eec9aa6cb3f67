// The API thread's side of the engine thread (engine-thread.ts): starts it, records orders
// through it, reads its services' states and metrics, stops it. A failure of the thread (an
// error nothing caught, an exit nobody asked for) fails every request waiting on it and is
// reported once through `onFailure`.
import { MessageChannel, Worker } from 'node:worker_threads';
import { context, propagation } from '@opentelemetry/api';
import { HeraldError } from '@herald/core';
import type { Logger } from '@herald/service';
import type { PlacedOrder } from '@herald/orders-domain/order.ts';
import type { RenderedMetrics } from '../http/operations-routes.ts';
import type { OrderRecording, PlacementOutcome } from '../services/orders/order-placement.ts';
import { revive } from './carried-error.ts';
import type {
  EngineMessage,
  EngineRequest,
  EngineSettings,
  RecordReply,
  RecordRequest,
  ReplyValue,
  ServiceStatus,
} from './engine-protocol.ts';

/** How long a stopping engine thread may take to end after it answered `stop`. */
const EXIT_GRACE_MS = 10_000;

/** A running engine thread. */
export interface EngineThread {
  /** Records priced orders in the engine thread's store (urgent transactions). */
  readonly recorder: OrderRecording;
  /** The services it runs, with their last reported state. */
  services(): readonly ServiceStatus[];
  /** Its health server, when its settings asked for one. */
  readonly healthUrl: string | undefined;
  /** Its consumers' metrics. */
  metrics(): Promise<RenderedMetrics>;
  /** Stops the services gracefully and ends the thread. Safe to call twice. */
  stop(): Promise<void>;
  /** Fault injection (tests, the lab): the thread fails as an uncaught error would make it. */
  crash(): void;
  /**
   * How many orders readers of this thread wait for (long-polls, SSE): the engine thread posts
   * view changes only while it is above 0. Readers re-read on a timer, so a change that races
   * with a reader starting to wait delays that reader by one poll at most.
   */
  setWaitingViews(orders: number): void;
}

export interface EngineThreadOptions {
  readonly logger: Logger;
  /** Order views committed in the engine thread. */
  readonly onViewsChanged: (orderIds: readonly string[]) => void;
  /** The thread failed after it started; called once. */
  readonly onFailure: (error: Error) => void;
}

type EngineRequestBody = EngineRequest extends infer R
  ? R extends EngineRequest
    ? Omit<R, 'id'>
    : never
  : never;

/** Starts the engine thread; resolves once every service runs, rejects when it cannot start. */
export async function startEngineThread(
  settings: EngineSettings,
  options: EngineThreadOptions,
): Promise<EngineThread> {
  const records = new MessageChannel();
  const waitingViews = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(new URL('./engine-thread.ts', import.meta.url), {
    workerData: { settings, records: records.port2, waitingViews },
    transferList: [records.port2],
    name: 'herald-engine',
  });
  const waiting = new Map<number, { resolve: (value: ReplyValue) => void; reject: (error: Error) => void }>();
  const recording = new Map<
    number,
    { resolve: (outcome: PlacementOutcome) => void; reject: (error: Error) => void }
  >();
  let nextRecordId = 0;
  let nextId = 0;
  let services: readonly ServiceStatus[] = [];
  let healthUrl: string | undefined;
  let stopping = false;
  let failure: Error | undefined;
  let started = false;
  let startFailure: Error | undefined;
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  let markReady: () => void;
  let markFailed: (error: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    markFailed = reject;
  });

  const fail = (error: Error): void => {
    if (failure !== undefined) return;
    failure = error;
    services = services.map((s) => ({ ...s, state: 'stopped' }));
    for (const w of [...waiting.values(), ...recording.values()]) w.reject(error);
    waiting.clear();
    recording.clear();
    records.port1.close();
    if (!started) markFailed(startFailure ?? error);
    else if (!stopping) options.onFailure(error);
  };

  worker.on('message', (message: EngineMessage) => {
    switch (message.kind) {
      case 'ready':
        started = true;
        services = message.services;
        healthUrl = message.healthUrl;
        markReady();
        return;
      case 'failed-to-start':
        startFailure = revive(message.error);
        return;
      case 'services':
        services = message.services;
        return;
      case 'views-changed':
        options.onViewsChanged(message.orderIds);
        return;
      case 'log':
        if (message.level === 'info') options.logger.info(message.message);
        else
          options.logger.error(
            message.message,
            message.error === undefined ? undefined : revive(message.error),
          );
        return;
      case 'reply':
      case 'reply-error': {
        const w = waiting.get(message.id);
        waiting.delete(message.id);
        if (message.kind === 'reply') w?.resolve(message.value);
        else w?.reject(revive(message.error));
        return;
      }
    }
  });
  records.port1.on('message', (reply: RecordReply) => {
    const r = recording.get(reply.id);
    recording.delete(reply.id);
    if ('outcome' in reply) r?.resolve(reply.outcome);
    else r?.reject(revive(reply.error));
  });
  // The channel must not keep the process alive by itself; the worker does while it runs.
  records.port1.unref();
  worker.on('error', (error: Error) => {
    if (started) options.logger.error('the engine thread failed', error);
    fail(
      new HeraldError('BACKEND_UNAVAILABLE', `the engine thread failed: ${error.message}`, { cause: error }),
    );
  });
  void exited.then((code) =>
    fail(new HeraldError('BACKEND_UNAVAILABLE', `the engine thread ended (exit code ${code})`)),
  );

  const ask = (request: EngineRequestBody): Promise<ReplyValue> => {
    if (failure !== undefined) return Promise.reject(failure);
    const id = nextId++;
    return new Promise<ReplyValue>((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      const message: EngineRequest = { ...request, id };
      worker.postMessage(message);
    });
  };

  await ready;

  let stopped: Promise<void> | undefined;
  return {
    recorder: {
      record(order: PlacedOrder, idempotencyKey: string | undefined, fingerprint: string) {
        if (failure !== undefined) return Promise.reject(failure);
        const trace: Record<string, string> = {};
        propagation.inject(context.active(), trace);
        const id = nextRecordId++;
        return new Promise<PlacementOutcome>((resolve, reject) => {
          recording.set(id, { resolve, reject });
          const request: RecordRequest = { id, order, idempotencyKey, fingerprint, trace };
          records.port1.postMessage(request);
        });
      },
    },
    services: () => services,
    get healthUrl() {
      return healthUrl;
    },
    metrics: async () => (await ask({ kind: 'metrics' })) as RenderedMetrics,
    crash: () => void ask({ kind: 'crash' }).catch(() => undefined),
    setWaitingViews: (orders) => Atomics.store(waitingViews, 0, orders),
    stop: () =>
      (stopped ??= (async () => {
        stopping = true;
        if (failure === undefined) await ask({ kind: 'stop' }).catch(() => undefined);
        const timer = setTimeout(() => void worker.terminate(), EXIT_GRACE_MS);
        await exited;
        clearTimeout(timer);
      })()),
  };
}
