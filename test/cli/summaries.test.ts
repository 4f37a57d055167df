/** `loaa --help` lists every command with the summary its own definition declares (written once). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../helpers.js';
import { main } from '../../src/cli/main.js';
import type { Command } from '../../src/cli/command.js';

test('loaa --help: one line per command file, with that command\'s own summary', async () => {
  const lines: string[] = [];
  const log = console.log;
  console.log = (s: string) => void lines.push(s);
  let code: number;
  try {
    code = await main(['--help']);
  } finally {
    console.log = log;
  }
  assert.equal(code, 0);
  const overview = lines.join('\n');
  const dir = join(repoRoot, 'dist', 'src', 'cli', 'commands');
  // predict_batch.ts is predict's batch form, not a command of its own
  const files = readdirSync(dir).filter((f) => f.endsWith('.js') && f !== 'predict_batch.js');
  assert.ok(files.length >= 15, `only ${files.length} command files`);
  for (const f of files) {
    const { command } = (await import(pathToFileURL(join(dir, f)).href)) as { command: Command };
    assert.ok(command.summary.length > 10, `${f}: no summary`);
    assert.match(overview, new RegExp(`\\n  ${command.name} +${command.summary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n`), `${command.name}: the overview's summary is not the command's own`);
  }
});
