// `onRequest` guards the route plugins put in front of a route: each refuses a request with a
// problem before its handler runs, so a refused request stores and appends nothing.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { ProblemError, problemOf } from '@herald/orders-domain/http/problem.ts';

/** Request headers only the system itself may set: a client sending one is refused. */
const RESERVED_HEADER = /^(ce-|x-herald-)/;

/** Refuses (415) a body that is not `application/json` in UTF-8. */
export async function requireJson(request: FastifyRequest): Promise<void> {
  const header = request.headers['content-type'];
  const [mediaType = '', ...parameters] = (header ?? '').split(';').map((s) => s.trim().toLowerCase());
  const charset = parameters
    .find((p) => p.startsWith('charset='))
    ?.slice('charset='.length)
    .replace(/"/g, '');
  if (mediaType !== 'application/json' || (charset !== undefined && charset !== 'utf-8')) {
    throw new ProblemError(
      problemOf(
        415,
        'unsupported-media-type',
        `send the body as application/json (UTF-8), not ${header === undefined ? 'without a Content-Type' : JSON.stringify(header)}`,
      ),
    );
  }
}

/** Refuses (400) a request carrying a `ce-*` or `x-herald-*` header. */
export async function refuseReservedHeaders(request: FastifyRequest): Promise<void> {
  const reserved = Object.keys(request.headers).filter((name) => RESERVED_HEADER.test(name));
  if (reserved.length > 0) {
    throw new ProblemError(
      problemOf(
        400,
        'spoofed-header',
        `the header(s) ${reserved.slice(0, 5).join(', ')} are set by the system itself and cannot be sent`,
      ),
    );
  }
}

/**
 * A guard that refuses (401) a request without `Authorization: Bearer <token>`; the token is
 * compared in constant time.
 */
export function requireBearer(token: string): (request: FastifyRequest) => Promise<void> {
  const expected = Buffer.from(token);
  return async (request) => {
    const header = request.headers.authorization ?? '';
    const given = Buffer.from(header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new ProblemError(problemOf(401, 'unauthorized', 'a valid admin bearer token is required'), {
        'www-authenticate': 'Bearer realm="herald-admin"',
      });
    }
  };
}
