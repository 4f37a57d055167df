/**
 * The documentation stays inside the repository and stays true to it: every relative link in the
 * README, DEVELOPERS.md and docs/*.md reaches a file (and heading) that exists, no link leaves the
 * repository, the README stays short, and DEVELOPERS.md's layout names every folder of src/.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../helpers.js';
import { anchors, links, slug } from './markdown.js';

const README_LIMIT = 15_000;

function pages(): string[] {
  const docs = readdirSync(join(repoRoot, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join('docs', f));
  return ['README.md', 'DEVELOPERS.md', ...docs];
}

/** What is wrong with one link of `page` ('' when nothing). */
function problem(page: string, target: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) return 'leaves the repository';
  const [path = '', fragment] = target.split('#', 2);
  const file = path === '' ? join(repoRoot, page) : resolve(repoRoot, dirname(page), decodeURIComponent(path));
  const inRepo = relative(repoRoot, file);
  if (isAbsolute(path) || inRepo.startsWith('..') || isAbsolute(inRepo)) return 'leaves the repository';
  if (!existsSync(file)) return `${inRepo} does not exist`;
  if (fragment !== undefined && file.endsWith('.md') && statSync(file).isFile()) {
    if (!anchors(readFileSync(file, 'utf8')).has(fragment)) return `${inRepo} has no heading #${fragment}`;
  }
  return '';
}

test('markdown helpers: links outside code, GitHub heading anchors', () => {
  const text = ['# A `b` (c)', 'see [x](docs/a.md#a-b-c) and `[not](a link)`', '```', '[no](fence.md)', '```', '## A b c'].join('\n');
  assert.deepEqual(
    links(text).map((l) => l.target),
    ['docs/a.md#a-b-c'],
  );
  assert.deepEqual([...anchors(text)], ['a-b-c', 'a-b-c-1']);
  assert.equal(slug('Parity with torchaudio 0.13.1'), 'parity-with-torchaudio-0131');
  assert.equal(problem('README.md', 'https://example.com/x'), 'leaves the repository');
  assert.equal(problem('docs/engine.md', '../../shared/docs/interfaces.md'), 'leaves the repository');
  assert.match(problem('README.md', 'docs/nothing-here.md'), /does not exist/);
});

test('every relative link in README.md, DEVELOPERS.md and docs/*.md resolves inside the repository', () => {
  const bad: string[] = [];
  let count = 0;
  for (const page of pages()) {
    for (const { line, target } of links(readFileSync(join(repoRoot, page), 'utf8'))) {
      count++;
      const p = problem(page, target);
      if (p) bad.push(`${page}:${line}: ${target}: ${p}`);
    }
  }
  assert.ok(count > 50, `only ${count} links found: is the parser still finding them?`);
  assert.deepEqual(bad, []);
});

test('no page cites documents outside the repository (../shared/docs)', () => {
  const bad = pages().filter((p) => readFileSync(join(repoRoot, p), 'utf8').includes('shared/docs/'));
  assert.deepEqual(bad, [], "the repository's own docs/interfaces.md holds what users need");
});

test(`README.md is at most ${README_LIMIT} bytes`, () => {
  const size = statSync(join(repoRoot, 'README.md')).size;
  assert.ok(size <= README_LIMIT, `README.md is ${size} bytes; move reference material into docs/`);
});

test("DEVELOPERS.md's layout names every folder of src/, and is the only layout", () => {
  const text = readFileSync(join(repoRoot, 'DEVELOPERS.md'), 'utf8');
  // read from disk, so a renamed folder (src/dist -> src/distributed) must be renamed here too
  const folders = readdirSync(join(repoRoot, 'src'), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name);
  assert.ok(folders.length >= 15, `only ${folders.length} folders in src/`);
  const missing = folders.filter((f) => !text.includes(`\`src/${f}/\``));
  assert.deepEqual(missing, [], 'src/ folders DEVELOPERS.md does not name');
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  assert.doesNotMatch(readme, /^#+\s*Layout\b/m, 'README.md repeats the layout: link DEVELOPERS.md instead');
  assert.match(readme, /\]\(DEVELOPERS\.md\)/, 'README.md links DEVELOPERS.md');
});
