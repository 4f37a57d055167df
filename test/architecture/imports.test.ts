import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { repoRoot } from '../helpers.js';

const SRC = join(repoRoot, 'src');

/** "may import" of every `src/<folder>/` row of DEVELOPERS.md's layout table. */
function allowedTable(): Map<string, Set<string>> {
  const text = readFileSync(join(repoRoot, 'DEVELOPERS.md'), 'utf8');
  const rows = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const m = /^\| `src\/([a-z_]+)\/` \|.*\| ([^|]*) \|$/.exec(line.trim());
    if (!m) continue;
    const list = m[2]!.trim();
    rows.set(m[1]!, new Set(list === '-' ? [] : list.split(',').map((s) => s.trim())));
  }
  return rows;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** The src folder of a path under src/ ('' for files directly in src/). */
const folderOf = (p: string): string => {
  const rel = relative(SRC, p);
  return rel.includes(sep) ? rel.split(sep)[0]! : '';
};

/** Every relative import (static, re-export and dynamic) of a file, as [specifier, target folder]. */
function importsOf(file: string): [string, string][] {
  const text = readFileSync(file, 'utf8');
  const out: [string, string][] = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g)) {
    out.push([m[1]!, folderOf(normalize(join(dirname(file), m[1]!)))]);
  }
  return out;
}

test('every src folder imports only what DEVELOPERS.md allows it', () => {
  const table = allowedTable();
  const folders = readdirSync(SRC).filter((f) => statSync(join(SRC, f)).isDirectory());
  assert.ok(table.size >= 10, `DEVELOPERS.md: the layout table has only ${table.size} src rows`);
  const missing = folders.filter((f) => !table.has(f));
  assert.deepEqual(missing, [], `src folders without a row in DEVELOPERS.md's table: ${missing.join(', ')}`);
  const bad: string[] = [];
  let checked = 0;
  for (const folder of folders) {
    const allowed = table.get(folder)!;
    for (const file of tsFiles(join(SRC, folder))) {
      for (const [spec, target] of importsOf(file)) {
        checked++;
        if (target === folder || target === '') continue;
        if (!allowed.has(target))
          bad.push(`${relative(repoRoot, file)} imports ${spec} (${folder} may import: ${[...allowed].join(', ') || 'nothing'})`);
      }
    }
  }
  assert.ok(checked > 100, `only ${checked} imports found: is the import pattern still right?`);
  assert.deepEqual(bad, []);
});

test('the rule checker sees a forbidden import', () => {
  // the table as read must forbid an upward import, or the test above could pass vacuously
  const table = allowedTable();
  assert.equal(table.get('tensor')?.has('io'), false);
  assert.equal(table.get('models')?.has('peft'), false);
  assert.equal(table.get('peft')?.has('train'), false);
  const fake = join(SRC, 'tensor', 'x.ts');
  assert.equal(folderOf(normalize(join(dirname(fake), '../io/safetensors.js'))), 'io');
});

test('api/ and viz/ take the engine from tensor/, not from train/', () => {
  // inference and the attention maps must not load the training loop to learn where to compute;
  // the two exceptions are the `loaa/train` entry point (re-exports only) and the report's reader
  // of a run directory's metrics.jsonl, whose format train/run_dir.ts owns
  const allowed = new Set(['api/train.ts', 'viz/runs.ts']);
  const bad: string[] = [];
  for (const folder of ['api', 'viz']) {
    for (const file of tsFiles(join(SRC, folder))) {
      const rel = relative(SRC, file).split(sep).join('/');
      for (const [spec, target] of importsOf(file)) if (target === 'train' && !allowed.has(rel)) bad.push(`src/${rel} imports ${spec}`);
    }
  }
  assert.deepEqual(bad, []);
  const entry = readFileSync(join(SRC, 'api', 'train.ts'), 'utf8');
  assert.ok(
    entry.split('\n').every((l) => !/^import\b/.test(l)),
    'src/api/train.ts: the loaa/train entry only re-exports',
  );
});
