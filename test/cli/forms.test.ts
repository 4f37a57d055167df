/**
 * The command-line rules every command follows now that all but bench are `defineCommand`s:
 * `--flag=value` means `--flag value`, a missing value and an unknown flag are usage errors (exit 2,
 * with a suggestion), and `--help` is generated from the flag table.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loaa as loaaCli, tempDir } from '../helpers.js';
import { tinyRecipe, tinySet } from '../train/tiny.js';
import { main } from '../../src/cli/main.js';

const dir = tempDir('cli-forms');

const loaa = (args: string[]) => loaaCli(args, { cwd: dir });

/** `loaa ...` in this process (no libtorch is loaded before a usage error), with what it printed. */
async function inProcess(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (s: string) => void out.push(s);
  console.error = (s: string) => void err.push(s);
  try {
    const code = await main(argv);
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    [console.log, console.error] = [log, error];
  }
}

const MIGRATED = ['train', 'eval', 'cv', 'attention', 'grid', 'stats', 'predict'];

test('--help of the migrated commands is generated from their flag tables', async () => {
  for (const cmd of MIGRATED) {
    const r = await inProcess([cmd, '--help']);
    assert.equal(r.code, 0, `${cmd}: ${r.err}`);
    assert.match(r.out, new RegExp(`^usage: loaa ${cmd} `), cmd);
    assert.match(r.out, /\n {2}-h, --help +this text/, cmd);
    assert.match(r.out, /\n {2}--json +print the result as one JSON object/, cmd);
  }
  const grid = (await inProcess(['help', 'grid'])).out;
  assert.match(grid, /--dry-run +list the runs with their trainable parameters/);
  assert.match(grid, /--set KEY=VALUE +an override for every run .*\(repeatable\)/);
  const cv = (await inProcess(['cv', '--help'])).out;
  assert.match(cv, /--folds K +number of folds \(default 5\)/);
  assert.match(
    (await inProcess(['eval', '--help'])).out,
    /--checkpoint WHICH +the adapter to evaluate \(default best; one of best, final\)/,
  );
  assert.match((await inProcess(['predict', '--help'])).out, /--batch-size N +clips per forward pass \(default 8\)/);
});

test('usage errors: a missing value, an unknown flag with a suggestion, a bad choice; exit 2', async () => {
  const cases: [string[], RegExp][] = [
    [['train', '--config', 'r.yaml', '--out'], /^loaa train: --out: missing value$/],
    [['train', '--config', 'r.yaml', '--out', 'x', '--precision=fp8'], /--precision: expected one of fp32, bf16, fp16, auto, got "fp8"/],
    [['train', '--config', 'r.yaml', '--out', 'x', '--worker', '2'], /--worker: unknown option \(did you mean --workers\?\)/],
    [['cv', '--config', 'r.yaml', '--out', 'o', '--folds'], /^loaa cv: --folds: missing value$/],
    [['cv', '--config=r.yaml', '--out=o', '--fold=3'], /--fold: unknown option \(did you mean --folds\?\)/],
    [['cv', '--config', 'r.yaml', '--out', 'o', '--folds=101'], /--folds: expected an integer in \[2, 100\], got "101"/],
    // eval takes no recipe overrides (it used to accept and ignore them)
    [['eval', 'runs/x', '--set', 'optim.lr=1'], /--set: unknown option/],
    [['eval', 'runs/x', '--checkpoint=last'], /--checkpoint: expected one of best, final, got "last"/],
    [['grid', 'g.yaml', '--jobs'], /^loaa grid: --jobs: missing value$/],
    [['grid', 'g.yaml', '--jobs=0'], /--jobs: expected an integer in \[1, 256\], got "0"/],
    [['grid', 'g.yaml', '--dryrun'], /--dryrun: unknown option \(did you mean --dry-run\?\)/],
    [['stats', 'a.wav', '--num-mel-bins'], /^loaa stats: --num-mel-bins: missing value$/],
    [['stats', 'a.wav', '--sample-rate=0'], /--sample-rate: expected an integer in \[1, 384000\], got "0"/],
    [
      ['attention', 'a.wav', '--backbone', 'random:x', '--upsample=cubic', '--out', 'm.png'],
      /--upsample: expected one of nearest, bilinear, got "cubic"/,
    ],
    [['attention', 'a.wav', '--backbone', 'random:x', '--out', 'm.png', '--layer'], /^loaa attention: --layer: missing value$/],
    [['attention', 'a.wav', '--backbone', 'random:x', '--out', 'm.png', '--mean', '-4', '--std', '0'], /--std: expected a positive number/],
    [['predict', 'folder/', '--adapter', 'a', '--batch-size'], /^loaa predict: --batch-size: missing value$/],
    [['predict', 'folder/', '--adapter', 'a', '--batch-size=0'], /--batch-size: expected an integer >= 1, got "0"/],
  ];
  for (const [argv, re] of cases) {
    const r = await inProcess(argv);
    assert.equal(r.code, 2, `${argv.join(' ')}: ${r.err}`);
    assert.match(r.err, re, argv.join(' '));
  }
});

test('stats: --flag=value and --flag value give the same numbers', () => {
  const data = tinySet(join(dir, 'stats'), { train: 1, validation: 0, test: 0 });
  const spaced = loaa(['stats', data, '--sample-rate', '8000', '--num-mel-bins', '32', '--target-length', '50', '--json']);
  assert.equal(spaced.status, 0, spaced.stderr);
  const inline = loaa(['stats', data, '--sample-rate=8000', '--num-mel-bins=32', '--target-length=50', '--json']);
  assert.equal(inline.status, 0, inline.stderr);
  assert.deepEqual(JSON.parse(inline.stdout), JSON.parse(spaced.stdout));
  assert.equal(JSON.parse(spaced.stdout).clips, 3);
  // the defaults (16 kHz, 128 bins) measure something else
  const defaults = JSON.parse(loaa(['stats', data, '--json']).stdout);
  assert.notEqual(defaults.mean, JSON.parse(spaced.stdout).mean);
});

test('train --config=FILE --out=DIR --set=... --workers=0: the inline forms reach the recipe', () => {
  const data = tinySet(join(dir, 'data'), { train: 3, validation: 1, test: 1 });
  const recipe = join(dir, 'tiny.yaml');
  writeFileSync(recipe, JSON.stringify(tinyRecipe(data, { train: { epochs: 3 }, data: { workers: 1 } })));
  const out = join(dir, 'run');
  const r = loaa(['train', `--config=${recipe}`, `--out=${out}`, '--set=train.epochs=1', '--workers=0', '--precision=fp32', '--json']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).epochs, 1);
  const saved = JSON.parse(readFileSync(join(out, 'recipe.json'), 'utf8'));
  assert.equal(saved.train.epochs, 1);
  assert.equal(saved.data.workers, 0);
  assert.equal(saved.train.precision, 'fp32');
  // and eval's inline forms
  const ev = loaa(['eval', out, '--split=validation', '--checkpoint=final', '--workers=0', '--json']);
  assert.equal(ev.status, 0, ev.stderr);
  const e = JSON.parse(ev.stdout);
  assert.equal(e.checkpoint, 'final');
  assert.equal(e.split, 'validation');
});
