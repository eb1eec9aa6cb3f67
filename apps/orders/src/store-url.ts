// HERALD_STORE: where the services keep their state when it does not live in the embedded log's
// file. One Postgres database, one schema per service (`<schemaPrefix><service>`), and one more
// schema, `<schemaPrefix>faults`, for the fault settings every process reads.
import { redactUrl } from '@herald/core';
import type { ServiceName } from '@herald/orders-domain/topology.ts';

/** A parsed `postgres://…` HERALD_STORE. */
export interface PostgresStoreUrl {
  /** What `pg` connects with: the URL without Herald's own options. */
  readonly connectionString: string;
  /** Prepended to every schema name; `''` by default. */
  readonly schemaPrefix: string;
}

const SCHEMA_PREFIX = /^[a-z_][a-z0-9_]{0,35}$/;

/** Whether `url` names a Postgres database (`postgres://` or `postgresql://`). */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/**
 * Parses `postgres://user@host:5432/db?schemaPrefix=shop_`. `schemaPrefix` (lower-case letters,
 * digits and `_`, at most 36, so that every schema name fits Postgres' limits) is Herald's
 * option and is taken out; every other parameter (`sslmode`, …) goes to `pg` unchanged.
 *
 * @example parsePostgresStoreUrl('postgres://app@db/shop?schemaPrefix=eu_').schemaPrefix // 'eu_'
 */
export function parsePostgresStoreUrl(url: string): PostgresStoreUrl {
  if (!isPostgresUrl(url)) throw new Error(`not a postgres:// URL: ${JSON.stringify(redactUrl(url))}`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`HERALD_STORE is not a valid URL: ${JSON.stringify(redactUrl(url))}`);
  }
  const schemaPrefix = parsed.searchParams.get('schemaPrefix') ?? '';
  if (schemaPrefix !== '' && !SCHEMA_PREFIX.test(schemaPrefix)) {
    throw new Error(
      `schemaPrefix must be 1-36 of lower-case letters, digits and "_", not starting with a digit, not ${JSON.stringify(schemaPrefix)}`,
    );
  }
  parsed.searchParams.delete('schemaPrefix');
  return { connectionString: parsed.toString(), schemaPrefix };
}

/** The schema holding a service's documents, inbox and outbox. */
export function schemaOf(prefix: string, service: ServiceName): string {
  return `${prefix}${service}`;
}

/** The schema holding the fault settings every process shares. */
export function faultsSchemaOf(prefix: string): string {
  return `${prefix}faults`;
}

/** A URL with its password replaced by `***`, fit for logs (Herald's own, shared with the CLI). */
export { redactUrl };
