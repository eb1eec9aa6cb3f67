import { fileURLToPath } from 'node:url';

/**
 * The folder holding the built console (`index.html` and `assets/`), written by this package's
 * `build` script, which `npm install` / `npm ci` run at the repository root through its `prepare`
 * script. A server serves it as static files at the path the console is mounted on (for example
 * `/`): the pages reach the API at `api/…` relative to that path and route with the URL's hash,
 * so every page is `index.html` and no fallback route is needed.
 *
 * ```ts
 * import { consoleAssetsDir } from '@herald/console-ui';
 * await app.register(fastifyStatic, { root: consoleAssetsDir });
 * ```
 */
export const consoleAssetsDir: string = fileURLToPath(new URL('../dist/', import.meta.url));
