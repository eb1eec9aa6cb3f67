// Types of node-version.js (plain JavaScript so that an old Node.js can parse it).

/** The oldest Node.js Herald supports, as [major, minor, patch]; in step with `engines.node`. */
export declare const MINIMUM_NODE: readonly [number, number, number];
/** What to do about an old Node.js, for a user of the published packages. */
export declare const INSTALL_REMEDY: string;
/** What to do about an old Node.js inside the Herald repository (npm and npx use the pinned Node.js). */
export declare const REPOSITORY_REMEDY: string;
/** The sentence that says `what` cannot run on this Node.js (or `version`) and what to do, or undefined when it can. */
export declare function unsupportedNodeMessage(
  what: string,
  options?: { readonly version?: string; readonly remedy?: string },
): string | undefined;
/** Throws an Error (code `UNSUPPORTED_NODE`) with that sentence when this Node.js is too old for `what`. */
export declare function assertSupportedNode(what: string): void;
/** Writes that sentence to stderr and exits with status 1 when this Node.js is too old for `what`. */
export declare function exitOnUnsupportedNode(what: string, remedy?: string): void;
