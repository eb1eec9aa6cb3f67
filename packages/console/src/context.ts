// What every route of the console reads: the log, the store, users and sessions, and how a
// route declares who may call it.
import type { FastifyRequest } from 'fastify';
import type { EventLog, Store } from '@herald/core';
import type { SchemaRegistry } from '@herald/schemas';
import type { z } from 'zod';
import type { Discards } from './dead-letters.ts';
import type { LoginThrottle } from './login-throttle.ts';
import { ProblemError } from './problems.ts';
import type { Sampler } from './sampler.ts';
import type { Session, SessionStore } from './sessions.ts';
import type { Role, UserDirectory } from './users.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The least role that may call the route; absent: anyone (only the login route). */
    role?: Role;
    /** The audit action of a mutation route, e.g. `dlq.redrive`. */
    action?: string;
    /** The audit target of a mutation route, from its request. */
    target?: (request: FastifyRequest) => string;
  }
  interface FastifyRequest {
    /** The caller's session, set by the console's authentication hook. */
    consoleSession: Session | null;
  }
}

/** A counter compatible with prom-client's `Counter`. */
export interface LoginFailureCounter {
  inc(labels: { reason: 'bad-credentials' | 'throttled' }): void;
}

export interface ConsoleContext {
  readonly log: EventLog;
  readonly store: Store | undefined;
  readonly users: UserDirectory;
  readonly sessions: SessionStore;
  readonly throttle: LoginThrottle;
  readonly sampler: Sampler;
  readonly discards: Discards | undefined;
  /** The schema registry, refreshed; undefined while the log has none. */
  schemas(): Promise<SchemaRegistry | undefined>;
  /** Events one search request reads at most. */
  readonly scanCap: number;
  readonly loginFailures: LoginFailureCounter;
  /** Whether the session cookie is `Secure` (served over HTTPS). */
  readonly secureCookie: boolean;
  readonly cookieName: string;
}

/** The session of a request that passed the authentication hook. */
export function sessionOf(request: FastifyRequest): Session {
  if (request.consoleSession === null) throw new ProblemError(401, 'UNAUTHORIZED', 'log in first');
  return request.consoleSession;
}

/** `value` parsed by `schema`, or a 400 problem listing each issue. */
export function parse<T>(schema: z.ZodType<T>, value: unknown, where: 'body' | 'query'): T {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  throw new ProblemError(400, 'INVALID_ARGUMENT', `the ${where} is invalid`, {
    errors: result.error.issues.map((issue) => ({
      pointer: `/${issue.path.map(String).join('/')}`,
      detail: issue.message,
    })),
  });
}

/** Lists are paged with `limit`: default 50, at most 500. */
export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;
