// `prepare` (npm install / npm ci): builds the console's pages (packages/console-ui) with Vite.
// A production install (npm ci --omit=dev) has no Vite: it says so and goes on, and the console
// then serves its placeholder page. Plain JavaScript, so it runs on whatever Node runs npm.
import { spawnSync } from 'node:child_process';
import console from 'node:console';
import { createRequire } from 'node:module';
import process from 'node:process';
import { URL } from 'node:url';

const require = createRequire(import.meta.url);
try {
  require.resolve('vite/package.json', {
    paths: [new URL('../../packages/console-ui/', import.meta.url).pathname],
  });
} catch {
  console.log(
    'console pages not built: Vite is not installed (a production install); the console serves a placeholder',
  );
  process.exit(0);
}
const npm = process.env['npm_execpath'];
const result =
  npm === undefined
    ? spawnSync('npm', ['run', 'build', '--workspace', '@herald/console-ui'], { stdio: 'inherit' })
    : spawnSync(process.execPath, [npm, 'run', 'build', '--workspace', '@herald/console-ui'], {
        stdio: 'inherit',
      });
process.exit(result.status ?? 1);
