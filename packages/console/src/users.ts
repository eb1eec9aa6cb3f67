// Console users: a name, a role and a scrypt hash of the password (never the password). Kept in
// memory, loaded from a JSON file (HERALD_CONSOLE_USERS) and written back to it when an admin
// changes them, or made from HERALD_CONSOLE_ADMIN_PASSWORD for a first start.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { chmod, readFile, rename, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { HeraldError } from '@herald/core';

/** What a role may do: a viewer reads; an operator also redrives, discards and resets; an admin also manages users. */
export type Role = 'viewer' | 'operator' | 'admin';

export const ROLES: readonly Role[] = ['viewer', 'operator', 'admin'];

/** Whether `role` may do what `needed` may. */
export function hasRole(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

/** A user as the users file keeps it. */
export interface ConsoleUser {
  readonly name: string;
  readonly role: Role;
  /** `scrypt$<N>$<r>$<p>$<salt base64>$<hash base64>`: see {@link hashPassword}. */
  readonly hash: string;
}

/** The users file: `{ "users": [ { "name", "role", "hash" } ] }`. */
export interface UsersFile {
  readonly users: readonly ConsoleUser[];
}

const SCRYPT = { N: 16384, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
const NAME = /^[A-Za-z0-9._@-]{1,64}$/;
/** Shortest password the console accepts. */
export const MIN_PASSWORD_LENGTH = 12;

function derive(password: string, salt: Buffer, N: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_LENGTH, { N, r, p, maxmem: 256 * N * r }, (error, key) =>
      error === null ? resolve(key) : reject(error),
    );
  });
}

/**
 * A scrypt hash of `password` with a fresh 16-byte salt, in the form the users file keeps.
 *
 * @example const hash = await hashPassword(secret); // scrypt$16384$8$1$…$…
 */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, SCRYPT.N, SCRYPT.r, SCRYPT.p);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Whether `password` matches `hash`, compared in constant time. False for a malformed hash. */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const parts = hash.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![N, r, p].every((n) => Number.isSafeInteger(n) && n > 0) || N > 1 << 20) return false;
  const expected = Buffer.from(parts[5]!, 'base64');
  if (expected.length !== KEY_LENGTH) return false;
  const key = await derive(password, Buffer.from(parts[4]!, 'base64'), N, r, p);
  return timingSafeEqual(key, expected);
}

/** A hash no password matches, verified against when a user does not exist so both take as long. */
let decoy: Promise<string> | undefined;

/**
 * The console's users. `authenticate` takes as long for an unknown name as for a wrong password.
 * Changes are written to the users file when there is one (atomically, mode 0600).
 */
export class UserDirectory {
  readonly #users = new Map<string, ConsoleUser>();
  readonly #file: string | undefined;

  constructor(users: readonly ConsoleUser[], file?: string) {
    for (const user of users) {
      checkUser(user);
      this.#users.set(user.name, user);
    }
    this.#file = file;
  }

  /** The users, without their hashes, by name. */
  list(): { name: string; role: Role }[] {
    return [...this.#users.values()]
      .map(({ name, role }) => ({ name, role }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): { name: string; role: Role } | undefined {
    const user = this.#users.get(name);
    return user === undefined ? undefined : { name: user.name, role: user.role };
  }

  get size(): number {
    return this.#users.size;
  }

  /** The user `name` when `password` is theirs, else undefined. */
  async authenticate(name: string, password: string): Promise<{ name: string; role: Role } | undefined> {
    const user = this.#users.get(name);
    if (user === undefined) {
      await verifyPassword(password, await (decoy ??= hashPassword(randomBytes(16).toString('hex'))));
      return undefined;
    }
    return (await verifyPassword(password, user.hash)) ? { name: user.name, role: user.role } : undefined;
  }

  /** Creates or changes a user; a new user needs a password. Returns the user as it was. */
  async put(
    name: string,
    change: { readonly role: Role; readonly password?: string | undefined },
  ): Promise<{ name: string; role: Role } | undefined> {
    const before = this.get(name);
    if (change.password === undefined && before === undefined) {
      throw new HeraldError('INVALID_ARGUMENT', `a new user needs a password`, { details: { name } });
    }
    if (change.password !== undefined && change.password.length < MIN_PASSWORD_LENGTH) {
      throw new HeraldError(
        'INVALID_ARGUMENT',
        `a password needs at least ${MIN_PASSWORD_LENGTH} characters`,
      );
    }
    if (before?.role === 'admin' && change.role !== 'admin') this.#keepAnAdmin(name);
    const hash =
      change.password === undefined ? this.#users.get(name)!.hash : await hashPassword(change.password);
    const user: ConsoleUser = { name, role: change.role, hash };
    checkUser(user);
    this.#users.set(name, user);
    await this.#save();
    return before;
  }

  /** Removes a user; returns whether there was one. The last admin cannot be removed. */
  async delete(name: string): Promise<boolean> {
    const user = this.#users.get(name);
    if (user === undefined) return false;
    if (user.role === 'admin') this.#keepAnAdmin(name);
    this.#users.delete(name);
    await this.#save();
    return true;
  }

  #keepAnAdmin(name: string): void {
    const admins = [...this.#users.values()].filter((u) => u.role === 'admin' && u.name !== name);
    if (admins.length === 0) {
      throw new HeraldError('CONFLICT', `${name} is the last admin: make another admin first`);
    }
  }

  async #save(): Promise<void> {
    if (this.#file === undefined) return;
    const file: UsersFile = { users: [...this.#users.values()] };
    const temporary = `${this.#file}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(temporary, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
    await chmod(temporary, 0o600);
    await rename(temporary, this.#file);
  }
}

function checkUser(user: ConsoleUser): void {
  if (!NAME.test(user.name)) {
    throw new HeraldError('INVALID_ARGUMENT', 'a user name is 1-64 letters, digits and . _ @ -', {
      details: { name: user.name },
    });
  }
  if (!ROLES.includes(user.role)) {
    throw new HeraldError('INVALID_ARGUMENT', `role must be one of ${ROLES.join(', ')}`, {
      details: { name: user.name, role: user.role },
    });
  }
  if (!user.hash.startsWith('scrypt$')) {
    throw new HeraldError('INVALID_ARGUMENT', `user ${user.name} has no scrypt hash`, {
      details: { name: user.name },
    });
  }
}

/** Parses a users file's text. Throws INVALID_ARGUMENT naming what is wrong (never a hash). */
export function parseUsersFile(text: string, path: string): ConsoleUser[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new HeraldError('INVALID_ARGUMENT', `${path} is not JSON`, { cause: error });
  }
  const users = (parsed as Partial<UsersFile> | null)?.users;
  if (!Array.isArray(users)) {
    throw new HeraldError('INVALID_ARGUMENT', `${path} needs a "users" array`);
  }
  return users.map((user: Partial<ConsoleUser>) => ({
    name: String(user.name),
    role: user.role as Role,
    hash: String(user.hash),
  }));
}

/**
 * The users of a console from the environment: `HERALD_CONSOLE_USERS` (a users file; changes are
 * written back to it), else an `admin` with `HERALD_CONSOLE_ADMIN_PASSWORD`. Throws
 * INVALID_ARGUMENT when neither is set: the console never starts open.
 */
export async function usersFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<UserDirectory> {
  const file = env['HERALD_CONSOLE_USERS'];
  if (file !== undefined && file !== '') {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new HeraldError('INVALID_ARGUMENT', `cannot read HERALD_CONSOLE_USERS=${file}`, { cause: error });
    }
    return new UserDirectory(parseUsersFile(text, file), file);
  }
  const password = env['HERALD_CONSOLE_ADMIN_PASSWORD'];
  if (password !== undefined && password !== '') {
    if (password.length < MIN_PASSWORD_LENGTH) {
      throw new HeraldError(
        'INVALID_ARGUMENT',
        `HERALD_CONSOLE_ADMIN_PASSWORD needs at least ${MIN_PASSWORD_LENGTH} characters`,
      );
    }
    return new UserDirectory([{ name: 'admin', role: 'admin', hash: await hashPassword(password) }]);
  }
  throw new HeraldError(
    'INVALID_ARGUMENT',
    'the console needs users: set HERALD_CONSOLE_USERS to a users file, or HERALD_CONSOLE_ADMIN_PASSWORD for a first admin',
  );
}

/** Reads a users file synchronously (for tools). */
export function readUsersFile(path: string): ConsoleUser[] {
  return parseUsersFile(readFileSync(path, 'utf8'), path);
}
