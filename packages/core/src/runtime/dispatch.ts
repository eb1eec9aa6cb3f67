import type { EventDefinition } from '../define-event.ts';
import type { StoredEvent } from '../envelope.ts';
import { HeraldError } from '../errors.ts';
import { type Handler, type HandlerContext, type Middleware, compose } from './handler.ts';
import type { DeadLetterPolicy } from './key-parking.ts';

/**
 * Decides which typed route reads an event of another version, and decodes its data for that
 * route. Throwing `DECODE_FAILED` / `VALIDATION_FAILED` marks the event as poison, like a
 * definition's own `decode`.
 */
export interface EventDecoder {
  /** The route type (one of `routeTypes`) that handles events of `eventType`, or undefined for none. */
  route(eventType: string, routeTypes: Iterable<string>): string | undefined;
  /** The data `definition`'s route receives for `event`. */
  decode<Data>(event: StoredEvent, definition: EventDefinition<Data>): Data;
}

/** A typed handler: validated data first, then the raw event and the context. */
export type TypedHandler<Data> = (
  data: Data,
  event: StoredEvent,
  context: HandlerContext,
) => Promise<void> | void;

export interface RouteOptions {
  /** Middleware for this route only, inside the router's middleware. */
  readonly middleware?: readonly Middleware[];
  /**
   * When `deadLetter()` dead-letters an event of this route that has a key (`partitionkey`):
   * `park` (default) holds back the key's later events — of every route — until the dead letter
   * is redriven and handled, or discarded, then handles them in their original order; `skip`
   * lets them through at once (the key's order is broken around the dead letter). Parking needs
   * the router's store; without one, every route skips. See docs/parking.md.
   */
  readonly deadLetters?: DeadLetterPolicy;
}

export interface DispatchOptions {
  /** The consumer group, named in the error for an unrouted event. */
  readonly group: string;
  /** An event no route handles: `skip` it (default) or `fail` (the event's handling throws). */
  readonly unrouted?: 'skip' | 'fail' | undefined;
  readonly decoder?: EventDecoder | undefined;
}

/**
 * A router's routes, one per event type, and the innermost handler that picks the route for an
 * event: the route of its exact type, else (with a decoder) the route the decoder picks for
 * another version of it. An event no route takes is skipped (it finished and is committed), or
 * fails with `UNSUPPORTED` when `unrouted` is `fail`.
 */
export class Dispatch {
  readonly #options: DispatchOptions;
  readonly #routes = new Map<string, Handler>();
  readonly #policies = new Map<string, DeadLetterPolicy>();

  constructor(options: DispatchOptions) {
    this.#options = options;
  }

  /**
   * Adds the route of a type. With a definition, data is decoded and validated first (by the
   * decoder when there is one); an event that does not decode or validate is poison
   * (`DECODE_FAILED` / `VALIDATION_FAILED`). One route per type: a second is INVALID_ARGUMENT.
   */
  add<Data>(
    definition: EventDefinition<Data>,
    handler: TypedHandler<Data>,
    middleware?: readonly Middleware[],
    deadLetters?: DeadLetterPolicy,
  ): void;
  add(
    type: string,
    handler: Handler,
    middleware?: readonly Middleware[],
    deadLetters?: DeadLetterPolicy,
  ): void;
  add<Data>(
    route: EventDefinition<Data> | string,
    handler: TypedHandler<Data> | Handler,
    middleware?: readonly Middleware[],
    deadLetters?: DeadLetterPolicy,
  ): void;
  add<Data>(
    route: EventDefinition<Data> | string,
    handler: TypedHandler<Data> | Handler,
    middleware: readonly Middleware[] = [],
    deadLetters: DeadLetterPolicy = 'park',
  ): void {
    const type = typeof route === 'string' ? route : route.type;
    if (this.#routes.has(type))
      throw new HeraldError('INVALID_ARGUMENT', `a route for ${type} exists already`);
    const inner: Handler =
      typeof route === 'string'
        ? (handler as Handler)
        : async (event, context) => {
            const decoder = this.#options.decoder;
            const data = decoder === undefined ? route.decode(event.data) : decoder.decode(event, route);
            await (handler as TypedHandler<Data>)(data, event, context);
          };
    this.#routes.set(type, compose(middleware, inner));
    this.#policies.set(type, deadLetters);
  }

  /** The dead-letter policy of the route that handles `event`; `park` for an event no route takes. */
  deadLetterPolicy(event: StoredEvent): DeadLetterPolicy {
    const type = this.#routeType(event);
    return (type === undefined ? undefined : this.#policies.get(type)) ?? 'park';
  }

  #routeType(event: StoredEvent): string | undefined {
    if (this.#routes.has(event.type)) return event.type;
    return this.#options.decoder?.route(event.type, this.#routes.keys());
  }

  /** Handles `event` with its route. */
  readonly handle: Handler = async (event: StoredEvent, context: HandlerContext): Promise<void> => {
    let route = this.#routes.get(event.type);
    const decoder = this.#options.decoder;
    if (route === undefined && decoder !== undefined) {
      const type = decoder.route(event.type, this.#routes.keys());
      if (type !== undefined) route = this.#routes.get(type);
    }
    if (route !== undefined) return route(event, context);
    if (this.#options.unrouted === 'fail') {
      throw new HeraldError(
        'UNSUPPORTED',
        `group ${this.#options.group} has no route for event type ${event.type}`,
      );
    }
  };
}
