// `npm start`: the order system (apps/orders/src/main.ts). Plain JavaScript that checks the
// Node.js version first, so that an older Node.js says in one sentence what it needs instead of
// failing on the `.ts` extension. The order system's main module runs when it is imported.
import { exitOnUnsupportedNode } from '@herald/core/node-version';

exitOnUnsupportedNode('npm start (the Herald order system)');
await import('../apps/orders/src/main.ts');
