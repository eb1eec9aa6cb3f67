import { HeraldError } from '@herald/core';
import type { JsonSchema } from './json-schema.ts';
import { diffSchemas } from './schema-diff.ts';
import type { SchemaDifference } from './schema-diff.ts';

/**
 * Compatibility modes, with Confluent Schema Registry's meaning:
 *
 * - `BACKWARD` (the default): a consumer on the new version reads data written with the latest
 *   registered one — upgrade consumers first.
 * - `FORWARD`: a consumer on the latest registered version reads data written with the new one —
 *   upgrade producers first.
 * - `FULL`: both.
 * - `…_TRANSITIVE`: the same, against every registered version instead of the latest only.
 * - `NONE`: no check.
 */
export const COMPATIBILITY_MODES = [
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
  'NONE',
] as const;

/** One of {@link COMPATIBILITY_MODES}. */
export type CompatibilityMode = (typeof COMPATIBILITY_MODES)[number];

/** The mode of a subject nobody configured. */
export const DEFAULT_COMPATIBILITY: CompatibilityMode = 'BACKWARD';

/** True when `value` names a compatibility mode (upper case, as Confluent spells them). */
export function isCompatibilityMode(value: unknown): value is CompatibilityMode {
  return typeof value === 'string' && (COMPATIBILITY_MODES as readonly string[]).includes(value);
}

/** Returns the mode `value` names, or throws `INVALID_ARGUMENT` listing the modes. */
export function parseCompatibilityMode(value: string): CompatibilityMode {
  const upper = value.toUpperCase();
  if (!isCompatibilityMode(upper)) {
    throw new HeraldError(
      'INVALID_ARGUMENT',
      `unknown compatibility mode "${value}": expected one of ${COMPATIBILITY_MODES.join(', ')}`,
    );
  }
  return upper;
}

/** A schema with its version number within its subject. */
export interface VersionedSchema {
  readonly version: number;
  readonly schema: JsonSchema;
}

/** Why a proposed schema breaks one registered version. */
export interface Incompatibility {
  /**
   * `backward`: the proposed version cannot read data written with `version`;
   * `forward`: `version` cannot read data written with the proposed one.
   */
  readonly direction: 'backward' | 'forward';
  /** The registered version it breaks. */
  readonly version: number;
  /** The incompatible differences, each with where and why. */
  readonly differences: readonly SchemaDifference[];
}

/**
 * Checks a proposed version against the registered ones under a mode, and returns each
 * incompatibility (none: it may be registered). `previous` may be in any order; only versions
 * below the proposed one count.
 *
 * @example
 * const problems = checkCompatibility('FULL', { version: 3, schema: v3 }, registered);
 * if (problems.length > 0) console.log(describeIncompatibilities('FULL', 3, problems));
 */
export function checkCompatibility(
  mode: CompatibilityMode,
  proposed: VersionedSchema,
  previous: readonly VersionedSchema[],
): Incompatibility[] {
  if (mode === 'NONE') return [];
  const older = previous.filter((p) => p.version < proposed.version).sort((a, b) => b.version - a.version);
  const against = mode.endsWith('_TRANSITIVE') ? older : older.slice(0, 1);
  const backward = mode.startsWith('BACKWARD') || mode.startsWith('FULL');
  const forward = mode.startsWith('FORWARD') || mode.startsWith('FULL');
  const problems: Incompatibility[] = [];
  for (const registered of against) {
    if (backward) {
      const differences = diffSchemas(registered.schema, proposed.schema).filter((d) => !d.compatible);
      if (differences.length > 0)
        problems.push({ direction: 'backward', version: registered.version, differences });
    }
    if (forward) {
      const differences = diffSchemas(proposed.schema, registered.schema).filter((d) => !d.compatible);
      if (differences.length > 0)
        problems.push({ direction: 'forward', version: registered.version, differences });
    }
  }
  return problems;
}

/** The incompatibilities as lines for people: one per difference, saying which way it breaks. */
export function describeIncompatibilities(
  mode: CompatibilityMode,
  proposedVersion: number,
  problems: readonly Incompatibility[],
): string {
  const lines: string[] = [];
  for (const problem of problems) {
    const heading =
      problem.direction === 'backward'
        ? `v${proposedVersion} cannot read data written as v${problem.version}`
        : `v${problem.version} cannot read data written as v${proposedVersion}`;
    for (const difference of problem.differences) {
      lines.push(`${mode}: ${heading}: ${difference.path}: ${difference.message} [${difference.kind}]`);
    }
  }
  return lines.join('\n');
}
