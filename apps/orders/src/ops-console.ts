// The operations console `npm start` offers beside the order system: on a listener of its own
// (loopback unless HERALD_CONSOLE_HOST says otherwise), its users from HERALD_CONSOLE_USERS or
// HERALD_CONSOLE_ADMIN_PASSWORD, else an `admin` whose generated password is written to a file
// only the OS user can read. The password is never printed: the banner names the file.
import { randomBytes } from 'node:crypto';
import type { EventLog, Store } from '@herald/core';
import { type ConsoleServer, UserDirectory, hashPassword, startConsole, usersFromEnv } from '@herald/console';
import type { Registry } from 'prom-client';
import { saveGeneratedToken } from './admin-token.ts';

/** Where a generated console password is written when HERALD_CONSOLE_PASSWORD_FILE does not say. */
export const DEFAULT_CONSOLE_PASSWORD_FILE = '.herald/console-admin-password';
/** The console's port unless HERALD_CONSOLE_PORT says otherwise. */
export const DEFAULT_CONSOLE_PORT = 3001;

/** The console as `npm start` runs it: where, and how to log in. */
export interface OrdersConsole {
  readonly server: ConsoleServer;
  /** The file holding the generated admin password, when one was generated. */
  readonly passwordFile: string | undefined;
}

/**
 * Starts the console unless HERALD_CONSOLE is `off`. A port taken is an error when
 * HERALD_CONSOLE_PORT chose it; the default port, when taken, gives way to a free one.
 */
export async function startOrdersConsole(
  system: { readonly log: EventLog; readonly store: Store; readonly registry: unknown },
  env: NodeJS.ProcessEnv = process.env,
): Promise<OrdersConsole | undefined> {
  if (env['HERALD_CONSOLE'] === 'off') return undefined;
  let users: UserDirectory;
  let passwordFile: string | undefined;
  if (env['HERALD_CONSOLE_USERS'] || env['HERALD_CONSOLE_ADMIN_PASSWORD']) {
    users = await usersFromEnv(env);
  } else {
    const password = randomBytes(18).toString('base64url');
    passwordFile = saveGeneratedToken(
      password,
      env['HERALD_CONSOLE_PASSWORD_FILE'] || DEFAULT_CONSOLE_PASSWORD_FILE,
    );
    users = new UserDirectory([{ name: 'admin', role: 'admin', hash: await hashPassword(password) }]);
  }
  const chosen = env['HERALD_CONSOLE_PORT'];
  const port = chosen === undefined || chosen === '' ? DEFAULT_CONSOLE_PORT : Number(chosen);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`HERALD_CONSOLE_PORT must be a port number (0-65535), not ${JSON.stringify(chosen)}`);
  }
  const host = env['HERALD_CONSOLE_HOST'] || '127.0.0.1';
  const start = (on: number) =>
    startConsole({
      log: system.log,
      store: system.store,
      users,
      registry: system.registry as Registry,
      listen: { host, port: on },
    });
  try {
    return { server: await start(port), passwordFile };
  } catch (error) {
    const taken = (error as { code?: unknown }).code === 'EADDRINUSE';
    if (!taken || (chosen !== undefined && chosen !== '')) throw error;
    return { server: await start(0), passwordFile };
  }
}
