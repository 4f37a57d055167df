/** `loaa --help` lists every command with the one summary it has (src/cli/summaries.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../helpers.js';
import { main } from '../../src/cli/main.js';
import { COMMAND_NAMES } from '../../src/cli/summaries.js';
import type { Command } from '../../src/cli/command.js';

test('loaa --help: one line per command file, the same summary the command itself carries', async () => {
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
  // the sources, not dist/ (tsc leaves the outputs of removed files behind); predict_batch.ts and
  // predict_timeline.ts are predict's batch and timeline forms, not commands of their own
  const forms = new Set(['predict_batch.ts', 'predict_timeline.ts']);
  const names = readdirSync(join(repoRoot, 'src', 'cli', 'commands'))
    .filter((f) => f.endsWith('.ts') && !forms.has(f))
    .map((f) => f.slice(0, -3));
  assert.deepEqual([...names].sort(), [...COMMAND_NAMES].sort(), 'src/cli/summaries.ts names exactly the command files');
  for (const name of names) {
    const url = pathToFileURL(join(repoRoot, 'dist', 'src', 'cli', 'commands', `${name}.js`)).href;
    const { command } = (await import(url)) as { command: Command };
    assert.equal(command.name, name);
    assert.ok(command.summary.length > 10, `${name}: no summary`);
    const escaped = command.summary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    assert.match(overview, new RegExp(`\\n  ${name} +${escaped}\\n`), `${name}: the overview's summary is not the command's own`);
  }
});
