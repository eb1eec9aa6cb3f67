#!/usr/bin/env node
// The `herald` command. Plain JavaScript that checks the Node.js version before loading anything
// else, so that an older Node.js says what is wrong in one sentence instead of failing on syntax
// or a missing node:sqlite. The build rewrites the import of main.ts to the compiled main.js.
import { REPOSITORY_REMEDY, exitOnUnsupportedNode } from '@herald/core/node-version';

// Installed, this file is under node_modules; in the repository, npm and npx bring the pinned Node.js.
const installed = import.meta.url.includes('/node_modules/');
exitOnUnsupportedNode('herald', installed ? undefined : REPOSITORY_REMEDY);
const { main } = await import('../src/main.ts');
await main();
