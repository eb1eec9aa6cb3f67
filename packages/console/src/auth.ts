// Who may call what: the session cookie, the CSRF token of mutations, roles per route, failed
// logins throttled, and every refused mutation recorded in the audit trail.
import type {} from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { appendAudit } from '@herald/core/ops';
import { type ConsoleContext, parse, sessionOf } from './context.ts';
import { ProblemError } from './problems.ts';
import { sameToken } from './sessions.ts';
import { hasRole } from './users.ts';

const MUTATIONS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The header a mutation carries its session's CSRF token in. */
export const CSRF_HEADER = 'x-csrf-token';

/**
 * Registers the hook every `/api` route passes: it finds the session (a 401 for a route that
 * needs one and has none), then, for mutations, checks the CSRF token and the role (a 403 each,
 * recorded in the audit trail as refused). Runs as a `preHandler`, after the body is parsed, so
 * a refusal can name its target.
 */
export function registerAuthentication(app: FastifyInstance, context: ConsoleContext): void {
  app.decorateRequest('consoleSession', null);
  app.addHook('preHandler', async (request) => {
    const config = request.routeOptions.config;
    request.consoleSession = context.sessions.get(request.cookies[context.cookieName]) ?? null;
    const needed = config.role;
    if (needed === undefined) return;
    const session = sessionOf(request);
    const mutation = MUTATIONS.has(request.method) && config.action !== undefined;
    if (mutation && !sameToken(headerOf(request, CSRF_HEADER), session.csrfToken)) {
      await refuse(context, request, `no valid ${CSRF_HEADER} header`);
      throw new ProblemError(
        403,
        'CSRF',
        `a change needs the session's CSRF token in the ${CSRF_HEADER} header`,
      );
    }
    if (!hasRole(session.user.role, needed)) {
      if (mutation) await refuse(context, request, `needs the ${needed} role`);
      throw new ProblemError(
        403,
        'FORBIDDEN',
        `this needs the ${needed} role; ${session.user.name} is ${session.user.role}`,
      );
    }
  });
}

async function refuse(context: ConsoleContext, request: FastifyRequest, reason: string): Promise<void> {
  const { action, target } = request.routeOptions.config;
  const session = sessionOf(request);
  await appendAudit(
    { log: context.log },
    {
      action: action ?? `${request.method} ${request.routeOptions.url ?? request.url}`,
      actor: session.user.name,
      role: session.user.role,
      target: target === undefined ? request.url : safeTarget(target, request),
      outcome: 'refused',
      reason,
      at: new Date().toISOString(),
    },
  );
}

function safeTarget(target: (request: FastifyRequest) => string, request: FastifyRequest): string {
  try {
    return target(request);
  } catch {
    return request.url;
  }
}

function headerOf(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? undefined : value;
}

const loginBody = z.object({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(1024),
});

/** `POST/GET/DELETE /api/session`. */
export function registerSessionRoutes(app: FastifyInstance, context: ConsoleContext): void {
  app.post('/api/session', async (request, reply) => {
    const { username, password } = parse(loginBody, request.body, 'body');
    const address = request.ip;
    const wait = context.throttle.retryAfter(username, address);
    if (wait > 0) {
      context.loginFailures.inc({ reason: 'throttled' });
      reply.header('retry-after', String(wait));
      throw new ProblemError(429, 'THROTTLED', `too many failed logins: try again in ${wait} s`);
    }
    const user = await context.users.authenticate(username, password);
    if (user === undefined) {
      context.throttle.failed(username, address);
      context.loginFailures.inc({ reason: 'bad-credentials' });
      throw new ProblemError(401, 'UNAUTHORIZED', 'wrong user name or password');
    }
    context.throttle.succeeded(username);
    context.sessions.close(request.cookies[context.cookieName]);
    const { id, session } = context.sessions.open(user);
    setSessionCookie(reply, context, id);
    return { user: session.user, csrfToken: session.csrfToken };
  });

  app.get('/api/session', { config: { role: 'viewer' } }, async (request) => {
    const session = sessionOf(request);
    return { user: session.user, csrfToken: session.csrfToken };
  });

  // Logging out needs no CSRF token: the worst a forged one does is log the user out.
  app.delete('/api/session', { config: { role: 'viewer' } }, async (request, reply) => {
    context.sessions.close(request.cookies[context.cookieName]);
    reply.clearCookie(context.cookieName, cookieOptions(context));
    return reply.code(204).send();
  });
}

function cookieOptions(context: ConsoleContext) {
  return { path: '/', httpOnly: true, sameSite: 'strict', secure: context.secureCookie } as const;
}

function setSessionCookie(reply: FastifyReply, context: ConsoleContext, id: string): void {
  reply.setCookie(context.cookieName, id, cookieOptions(context));
}
