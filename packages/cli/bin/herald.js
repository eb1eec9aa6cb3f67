#!/usr/bin/env node
// The `herald` command. Plain JavaScript so that an older Node can at least say what is wrong:
// herald's sources are TypeScript run by Node 24's type stripping.
import process from 'node:process';

const major = Number(process.versions.node.split('.')[0]);
if (!(major >= 24)) {
  process.stderr.write(
    `herald needs Node 24+; run it through npx/npm from the repository so the pinned Node is used (this is Node ${process.versions.node})\n`,
  );
  process.exit(1);
}
const { main } = await import('../src/main.ts');
await main();
