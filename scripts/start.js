// `npm start`: the order system (apps/orders/src/main.ts). Plain JavaScript that checks the
// Node.js version first, so that an older Node.js says in one sentence what it needs instead of
// failing on the `.ts` extension. The check is imported by path, not by package name, so that it
// also speaks before `npm install` has linked the workspaces. The order system's main module runs
// when it is imported.
import { REPOSITORY_REMEDY, exitOnUnsupportedNode } from '../packages/core/src/node-version.js';

exitOnUnsupportedNode('npm start', REPOSITORY_REMEDY);
await import('../apps/orders/src/main.ts');
