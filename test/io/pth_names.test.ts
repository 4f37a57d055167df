/**
 * The load budget counts the tensor names a state dict flattens to (issue #25): a 1 MB key memoised
 * once and reused at 30 nesting levels over 400 tensors is refused with an Error naming the file,
 * not a V8 out-of-memory abort; honest nesting (timm, optimizer states) still reads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePth, MAX_NAME_CHARS } from '../../src/io/pth.js';
import { LoadBudget } from '../../src/io/budget.js';
import { namesBombPth } from './names_bomb.js';

test('a 1 MB memoised key at 30 levels over 400 tensors: an Error naming the file and the name limit, at once', () => {
  const file = namesBombPth(1 << 20, 30, 400);
  assert.ok(file.length < 1.1 * 2 ** 20);
  const t0 = performance.now();
  assert.throws(
    () => parsePth(file, 'names.pth'),
    /^Error: names\.pth: a tensor name of 1048576 characters at nesting level 1 .* over the 4096-character limit/,
  );
  assert.ok(performance.now() - t0 < 5000);
});

test('keys under the limit that add up past it at depth are refused at the level where they do', () => {
  assert.throws(() => parsePth(namesBombPth(1500, 30, 4), 'deep.pth'), /deep\.pth: a tensor name of \d+ characters at nesting level 3 /);
});

test('names are charged to the load budget: many long names in a small file run out of budget, naming it', () => {
  const budget = new LoadBudget('budget.pth', 2_000_000);
  assert.throws(
    () => parsePth(namesBombPth(4000, 1, 400), 'budget.pth', budget),
    /budget\.pth: the tensor name at nesting level 2 would bring .* over its load budget/,
  );
});

test('honest nesting reads: three levels of short keys over a few tensors', () => {
  const r = parsePth(namesBombPth(8, 3, 5), 'ok.pth');
  assert.equal(r.tensors.size, 5);
  assert.ok([...r.tensors.keys()].every((k) => k.length < MAX_NAME_CHARS));
  assert.deepEqual([...r.tensors.keys()][0], 'kkkkkkkk.kkkkkkkk.kkkkkkkk.0');
});
