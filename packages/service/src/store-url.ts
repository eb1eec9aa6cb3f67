// HERALD_STORE: where services keep their state when it does not live in the embedded log's
// file. One Postgres database, one schema per service (`<schemaPrefix><service>`).
import { HeraldError, redactUrl } from '@herald/core';

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
 * Throws `INVALID_ARGUMENT`; the message shows the URL with its password redacted.
 *
 * @example parsePostgresStoreUrl('postgres://app@db/shop?schemaPrefix=eu_').schemaPrefix // 'eu_'
 */
export function parsePostgresStoreUrl(url: string): PostgresStoreUrl {
  if (!isPostgresUrl(url)) {
    throw new HeraldError('INVALID_ARGUMENT', `not a postgres:// URL: ${JSON.stringify(redactUrl(url))}`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new HeraldError(
      'INVALID_ARGUMENT',
      `HERALD_STORE is not a valid URL: ${JSON.stringify(redactUrl(url))}`,
      {
        cause,
      },
    );
  }
  const schemaPrefix = parsed.searchParams.get('schemaPrefix') ?? '';
  if (schemaPrefix !== '' && !SCHEMA_PREFIX.test(schemaPrefix)) {
    throw new HeraldError(
      'INVALID_ARGUMENT',
      `schemaPrefix must be 1-36 of lower-case letters, digits and "_", not starting with a digit, not ${JSON.stringify(schemaPrefix)}`,
    );
  }
  parsed.searchParams.delete('schemaPrefix');
  return { connectionString: parsed.toString(), schemaPrefix };
}

/** The schema holding a service's documents, inbox and outbox. */
export function schemaOf(prefix: string, service: string): string {
  return `${prefix}${service}`;
}
