#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  console.error('loaa: not built yet (dist/ is missing). Run `npm run build` (or `npm test` / `npm run demo`, which build first).');
  process.exit(2);
}
// `loaa ... | head` closes the pipe early: that is the reader's choice, not an error
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
const { main: run } = await import(main.href);
process.exitCode = await run(process.argv.slice(2));
