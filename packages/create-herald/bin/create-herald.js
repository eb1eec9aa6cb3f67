#!/usr/bin/env node
// `npm create herald <folder>` runs this. Plain JavaScript that any Node can parse, so that an
// older Node is told in one sentence what it needs instead of failing somewhere inside.
import process from 'node:process';

const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < 24 || (major === 24 && minor < 6)) {
  process.stderr.write(
    `create-herald needs Node.js 24.6 or newer (this is ${process.version}): install it from https://nodejs.org or with your version manager (e.g. \`nvm install 24\`), then run \`npm create herald\` again.\n`,
  );
  process.exit(1);
}
const { main } = await import('../src/create-herald.js');
process.exitCode = await main(process.argv.slice(2));
