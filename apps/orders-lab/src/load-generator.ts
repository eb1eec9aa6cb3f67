// The open-loop load generator: sends `POST /orders` on a constant-arrival-rate schedule with
// fetch (undici), never waiting for earlier answers before sending the next request. It stops by
// itself: the schedule is bounded, every request has a timeout, and requests beyond
// `maxInFlight` are not sent but recorded as `overload` (the generator refuses to hide a stalled
// system behind an ever-growing queue of its own). It never throws because of the system: a
// request that fails (timeout, refused or reset connection, an error status, a body that does
// not arrive) is a sample saying so.
import type { ArrivalSchedule } from './arrival-schedule.ts';

/** One request as the generator saw it. Times are `performance.now()` ms of the lab process. */
export interface RequestSample {
  readonly index: number;
  /** When the schedule said to send it; latency is measured from here. */
  readonly dueAt: number;
  /** When it was actually sent (late when the generator's event loop was busy). */
  readonly sentAt: number;
  readonly doneAt: number;
  /** HTTP status, or 0 when there was no answer. */
  readonly status: number;
  /** From the answer body, when it names one (accepted orders, and the REST side's failures). */
  readonly orderId: string | undefined;
  /** The order's status in the answer (`pending` for 202, the final status for the REST 201). */
  readonly orderStatus: string | undefined;
  /** No answer: `timeout`, `connection` (refused, reset) or `overload` (not sent). */
  readonly error: 'timeout' | 'connection' | 'overload' | undefined;
}

export interface OpenLoopOptions {
  readonly url: string;
  readonly schedule: ArrivalSchedule;
  /** The JSON body of request `index`. */
  readonly body: (index: number) => unknown;
  readonly timeoutMs: number;
  readonly maxInFlight: number;
  /** Called with every finished request, as it finishes; if it throws, the run rejects with that error. */
  readonly onSample?: (sample: RequestSample) => void;
  /** Stops sending early; requests in flight still finish (or time out). */
  readonly signal?: AbortSignal;
  /** `performance.now()` at which request 0 is due; default: now. */
  readonly startAt?: number;
}

/** What a run produced: every request's sample (index order) and when the run started. */
export interface OpenLoopResult {
  /** `performance.now()` at which request 0 was due. */
  readonly startedAt: number;
  readonly samples: readonly RequestSample[];
  /** The latest any request was sent after it was due: the generator's own lag. */
  readonly maxSendLagMs: number;
}

/**
 * Runs one schedule against `url` and resolves when every request has finished.
 *
 * @example
 * const { samples } = await runOpenLoop({ url, schedule: constantArrivals(100, 5_000), body, timeoutMs: 10_000, maxInFlight: 2_000 });
 */
export function runOpenLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const { schedule } = options;
  const samples: RequestSample[] = new Array<RequestSample>(schedule.count);
  const startedAt = options.startAt ?? performance.now();
  let next = 0;
  let inFlight = 0;
  let finished = 0;
  let maxSendLagMs = 0;

  return new Promise((resolve, reject) => {
    const record = (sample: RequestSample) => {
      samples[sample.index] = sample;
      finished++;
      try {
        options.onSample?.(sample);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
      if (finished === schedule.count) resolve({ startedAt, samples, maxSendLagMs });
    };

    const send = (index: number) => {
      const dueAt = startedAt + schedule.dueAt(index);
      const sentAt = performance.now();
      maxSendLagMs = Math.max(maxSendLagMs, sentAt - dueAt);
      if (inFlight >= options.maxInFlight) {
        record(blank(index, dueAt, sentAt, 'overload'));
        return;
      }
      inFlight++;
      void post(options, index).then((answer) => {
        inFlight--;
        record({ index, dueAt, sentAt, doneAt: performance.now(), ...answer });
      });
    };

    const tick = () => {
      const due =
        options.signal?.aborted === true ? schedule.count : schedule.dueBy(performance.now() - startedAt);
      while (next < due) {
        const index = next++;
        if (options.signal?.aborted === true)
          record(blank(index, startedAt + schedule.dueAt(index), performance.now(), 'overload'));
        else send(index);
      }
      if (next < schedule.count) {
        const wait = startedAt + schedule.dueAt(next) - performance.now();
        setTimeout(tick, Math.max(0, Math.floor(wait)));
      }
    };
    if (schedule.count === 0) resolve({ startedAt, samples, maxSendLagMs });
    else setTimeout(tick, Math.max(0, Math.floor(startedAt - performance.now())));
  });
}

function blank(index: number, dueAt: number, at: number, error: RequestSample['error']): RequestSample {
  return {
    index,
    dueAt,
    sentAt: at,
    doneAt: at,
    status: 0,
    orderId: undefined,
    orderStatus: undefined,
    error,
  };
}

async function post(
  options: OpenLoopOptions,
  index: number,
): Promise<Pick<RequestSample, 'status' | 'orderId' | 'orderStatus' | 'error'>> {
  try {
    const response = await fetch(options.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(options.body(index)),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    const text = await response.text();
    let orderId: string | undefined;
    let orderStatus: string | undefined;
    try {
      const parsed = JSON.parse(text) as { orderId?: unknown; status?: unknown };
      if (typeof parsed.orderId === 'string') orderId = parsed.orderId;
      if (typeof parsed.status === 'string') orderStatus = parsed.status;
    } catch {
      // Not JSON (a proxy's error page): the status says enough.
    }
    return { status: response.status, orderId, orderStatus, error: undefined };
  } catch (error) {
    const name = (error as Error).name;
    const timedOut = name === 'TimeoutError' || name === 'AbortError';
    return {
      status: 0,
      orderId: undefined,
      orderStatus: undefined,
      error: timedOut ? 'timeout' : 'connection',
    };
  }
}
