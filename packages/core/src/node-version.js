// The Node.js version check every Herald entry point runs first: the built library entries, the
// `herald` command and `npm start`. Plain JavaScript with no imports, so that a Node.js too old to
// load the rest of Herald (Node 20 has no node:sqlite and no type stripping) can still parse it
// and say what is wrong in one sentence.

/**
 * The oldest Node.js Herald supports, as [major, minor, patch]. node:sqlite's
 * StatementSync#setReturnArrays and DatabaseSync#isTransaction need 24.0; the Kafka client
 * (@platformatic/kafka) needs 24.6 on the 24 line. Keep in step with `engines.node` (">=24.6").
 */
export const MINIMUM_NODE = [24, 6, 0];

/** What to do about it, for a user of the published packages. */
export const INSTALL_REMEDY =
  'install Node.js 24 LTS from https://nodejs.org/ (or with a version manager: `nvm install 24`) and run it again';

/**
 * What to do about it inside the Herald repository, where `npm install` brings the pinned
 * Node.js that npm scripts and npx put first on PATH (ADR 0001).
 */
export const REPOSITORY_REMEDY =
  'inside the Herald repository run it through npm or npx, which use the Node.js 24 that `npm install` pins, ' +
  'elsewhere install Node.js 24 LTS from https://nodejs.org/';

/**
 * The sentence that says `what` cannot run on this Node.js and what to do, or undefined when this
 * Node.js is new enough. `version` defaults to the running Node.js.
 * @param {string} what the entry point, as a user would name it (`@herald/sqlite`, `herald`)
 * @param {{ version?: string, remedy?: string }} [options]
 * @returns {string | undefined}
 */
export function unsupportedNodeMessage(what, options = {}) {
  const version = options.version ?? globalThis.process.versions.node;
  const remedy = options.remedy ?? INSTALL_REMEDY;
  const running = version.split('.').map((part) => Number.parseInt(part, 10));
  for (let index = 0; index < MINIMUM_NODE.length; index += 1) {
    const have = running[index] ?? 0;
    const need = MINIMUM_NODE[index] ?? 0;
    if (have > need) return undefined;
    if (!(have >= need)) {
      return `${what} needs Node.js ${MINIMUM_NODE.join('.')} or newer and this is Node.js ${version}: ${remedy}.`;
    }
  }
  return undefined;
}

/**
 * Throws an Error (code `UNSUPPORTED_NODE`) whose message is {@link unsupportedNodeMessage} when
 * this Node.js is too old for `what`; returns otherwise.
 * @param {string} what
 * @returns {void}
 */
export function assertSupportedNode(what) {
  const message = unsupportedNodeMessage(what);
  if (message === undefined) return;
  const error = new Error(message);
  Object.assign(error, { code: 'UNSUPPORTED_NODE' });
  throw error;
}

/**
 * For commands: writes {@link unsupportedNodeMessage} to stderr and exits with status 1 when this
 * Node.js is too old for `what`; returns otherwise.
 * @param {string} what
 * @param {string} [remedy] what to do about it; {@link INSTALL_REMEDY} when not given
 * @returns {void}
 */
export function exitOnUnsupportedNode(what, remedy) {
  const message = unsupportedNodeMessage(what, remedy === undefined ? {} : { remedy });
  if (message === undefined) return;
  globalThis.process.stderr.write(`${message}\n`);
  globalThis.process.exit(1);
}
