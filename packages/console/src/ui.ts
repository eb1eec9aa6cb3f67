// The web console's files: the static build of `@herald/console-ui` when it is installed, else
// a placeholder page. Neither has inline script or style: the CSP forbids both.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

/**
 * The folder of the console UI's static build, or undefined when `@herald/console-ui` is not
 * installed or not built. Its package.json may name the folder in `herald.consoleUi`; otherwise
 * it is `dist/`. The folder must hold an `index.html`.
 */
export function findUiBuild(from: string = import.meta.dirname): string | undefined {
  let manifestPath: string;
  try {
    manifestPath = createRequire(join(from, 'noop.js')).resolve('@herald/console-ui/package.json');
  } catch {
    return undefined;
  }
  const root = dirname(manifestPath);
  let folder = 'dist';
  try {
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { herald?: { consoleUi?: unknown } };
    if (typeof manifest.herald?.consoleUi === 'string') folder = manifest.herald.consoleUi;
  } catch {
    return undefined;
  }
  const build = resolve(root, folder);
  return existsSync(join(build, 'index.html')) ? build : undefined;
}

/** The page served at `/` while no UI build is installed. */
export const PLACEHOLDER_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Herald console</title>
</head>
<body>
<h1>Herald console</h1>
<p>The admin API is served under <code>/api</code> (see docs/console.md). The web console is not
installed: install and build <code>@herald/console-ui</code> to get it here.</p>
</body>
</html>
`;
