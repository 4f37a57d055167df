/**
 * The TypeScript examples of docs/package.md compile against the package's public surface: each
 * ```ts block is a module of its own, its `loaa` / `loaa/<sub>` imports pointed at the sources that
 * package.json's `exports` name, type-checked with the repository's compiler options. A renamed
 * method or a stale option in the docs fails here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { repoRoot } from '../helpers.js';

const DOC = 'docs/package.md';

function tsBlocks(text: string): { line: number; code: string }[] {
  const out: { line: number; code: string }[] = [];
  const re = /^```ts\n([\s\S]*?)^```$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push({ line: text.slice(0, m.index).split('\n').length, code: m[1]! });
  return out;
}

/** `loaa/peft` -> the source file behind `exports["./peft"]` (dist/src/api/peft.js -> src/api/peft.js). */
function specifierMap(): Map<string, string> {
  const pkg = createRequire(import.meta.url)(join(repoRoot, 'package.json')) as {
    name: string;
    exports: Record<string, { default?: string }>;
  };
  const map = new Map<string, string>();
  for (const [sub, e] of Object.entries(pkg.exports)) {
    if (!e.default?.startsWith('./dist/src/')) continue;
    map.set(sub === '.' ? pkg.name : `${pkg.name}/${sub.slice(2)}`, join(repoRoot, e.default.slice('./dist/'.length)));
  }
  return map;
}

test(`${DOC}: every \`\`\`ts example compiles against the public API`, () => {
  const blocks = tsBlocks(readFileSync(join(repoRoot, DOC), 'utf8'));
  assert.ok(blocks.length >= 4, `${DOC}: expected its TypeScript examples, found ${blocks.length}`);
  const map = specifierMap();
  const dir = join(repoRoot, 'dist', 'docs-examples');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  try {
    const files = blocks.map((b) => {
      const code = b.code.replace(/from '([^']+)'/g, (all, spec: string) => {
        if (!spec.startsWith('loaa')) return all;
        const target = map.get(spec);
        assert.ok(target, `${DOC}:${b.line}: imports ${spec}, which package.json does not export`);
        return `from '${target}'`;
      });
      const f = join(dir, `example_${b.line}.ts`);
      // `export {}`: a module, so top-level await and block-local names are allowed
      writeFileSync(f, `${code}\nexport {};\n`);
      return f;
    });
    const cfg = ts.getParsedCommandLineOfConfigFile(
      join(repoRoot, 'tsconfig.json'),
      {},
      { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => assert.fail(String(d.messageText)) },
    )!;
    const program = ts.createProgram(files, { ...cfg.options, noEmit: true });
    const fence = new Map(files.map((f, i) => [f, blocks[i]!.line]));
    const problems = ts.getPreEmitDiagnostics(program).map((d) => {
      // named by the line of docs/package.md the problem is on (the fence's line + the line in the block)
      const at = d.file && fence.get(d.file.fileName);
      const where = !d.file
        ? ''
        : at !== undefined
          ? `${DOC}:${at + d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}`
          : d.file.fileName;
      return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
    assert.deepEqual(problems, [], `the examples of ${DOC} do not compile`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
