import { Producer, kGetApi } from '@platformatic/kafka';
import type { API, Callback, Connection, ProducerOptions, produceV11 } from '@platformatic/kafka';

type ProduceResponse = produceV11.ProduceResponse;

/** How many unclaimed append times are kept before the oldest are forgotten. */
const MAX_REMEMBERED = 10_000;

/**
 * The library's idempotent producer, plus the one thing its `send` result leaves out: the time
 * the broker appended each batch. Topics Herald creates use `message.timestamp.type =
 * LogAppendTime`, so a record's timestamp is the broker's clock, never decreasing within a
 * partition; the produce response carries it, and this class keeps it until `appendTime` claims it.
 */
export class TimestampedProducer extends Producer {
  readonly #appendTimes = new Map<string, number>();

  constructor(options: ProducerOptions<Buffer, Buffer, Buffer, Buffer>) {
    super(options);
  }

  /**
   * The broker's append time of the batch written at `baseOffset`, or undefined when the topic
   * keeps the producer's timestamps (CreateTime). Each answer can be claimed once.
   */
  appendTime(topic: string, partition: number, baseOffset: bigint): number | undefined {
    const key = `${topic}\u0000${partition}\u0000${baseOffset}`;
    const time = this.#appendTimes.get(key);
    this.#appendTimes.delete(key);
    return time === undefined || time < 0 ? undefined : time;
  }

  override [kGetApi]<RequestArguments extends unknown[], ResponseType>(
    name: string,
    callback: Callback<API<RequestArguments, ResponseType>>,
  ): void {
    super[kGetApi]<RequestArguments, ResponseType>(name, (error, api) => {
      if (error !== null || api === undefined || name !== 'Produce') {
        callback(error, api);
        return;
      }
      callback(null, this.#recording(api));
    });
  }

  #recording<A extends unknown[], R>(api: API<A, R>): API<A, R> {
    const remember = (response: unknown): void => {
      if (typeof response !== 'object' || response === null) return;
      for (const topic of (response as ProduceResponse).responses ?? []) {
        for (const p of topic.partitionResponses) {
          this.#appendTimes.set(
            `${topic.name}\u0000${p.index}\u0000${p.baseOffset}`,
            Number(p.logAppendTimeMs),
          );
        }
      }
      while (this.#appendTimes.size > MAX_REMEMBERED) {
        this.#appendTimes.delete(this.#appendTimes.keys().next().value!);
      }
    };
    const call = api as unknown as (connection: Connection, ...args: unknown[]) => void;
    const wrapped = (connection: Connection, ...args: unknown[]): void => {
      const last = args.at(-1);
      if (typeof last !== 'function') {
        call(connection, ...args);
        return;
      }
      const done = last as Callback<R>;
      call(connection, ...args.slice(0, -1), (error: Error | null, response?: R) => {
        if (error === null) remember(response);
        done(error, response);
      });
    };
    return Object.assign(wrapped, {
      key: api.key,
      version: api.version,
      async: async (connection: Connection, ...args: A): Promise<R> => {
        const response = await api.async(connection, ...args);
        remember(response);
        return response;
      },
    });
  }
}
