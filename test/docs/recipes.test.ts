/** docs/recipes.md documents every key of the recipe schema (src/train/recipe.ts), so none is only in source. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { RECIPE_SCHEMA } from '../../src/train/recipe.js';
import type { Node } from '../../src/train/schema.js';
import { repoRoot } from '../helpers.js';

/** Every key path of the schema; list items of mappings as `N` (`peft.adapters.N.kernel`). */
function keyPaths(node: Node, prefix: string): string[] {
  if (node.kind === 'union') return node.of.flatMap((n) => keyPaths(n, prefix));
  if (node.kind === 'array') return node.of.kind === 'object' ? keyPaths(node.of, `${prefix}.N`) : [];
  if (node.kind !== 'object') return [];
  return Object.entries(node.fields).flatMap(([k, f]) => {
    const p = prefix ? `${prefix}.${k}` : k;
    return [p, ...keyPaths(f.node, p)];
  });
}

test('docs/recipes.md has a table row for every recipe key', () => {
  const keys = [...new Set(keyPaths(RECIPE_SCHEMA, ''))];
  assert.ok(keys.includes('data.eval_limit') && keys.includes('peft.adapters.N.kernel'), 'the schema walk finds nested keys');
  assert.ok(keys.length > 60, `only ${keys.length} keys`);
  const doc = readFileSync(join(repoRoot, 'docs', 'recipes.md'), 'utf8');
  // first cells of the tables headed `| key | type | default | meaning |` (not the reader-options table)
  const rows = new Set<string>();
  let inKeyTable = false;
  for (const line of doc.split('\n')) {
    if (!line.startsWith('|')) inKeyTable = false;
    else if (line.startsWith('| key |')) inKeyTable = true;
    else if (inKeyTable) {
      const m = /^\| `([^`]+)` \|/.exec(line);
      if (m) rows.add(m[1]!);
    }
  }
  const missing = keys.filter((k) => !rows.has(k));
  assert.deepEqual(missing, [], 'recipe keys without a row in docs/recipes.md');
  const stale = [...rows].filter((r) => !keys.includes(r));
  assert.deepEqual(stale, [], 'rows in docs/recipes.md for keys the schema does not have');
});
