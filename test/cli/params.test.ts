import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { command } from '../../src/cli/commands/params.js';
import { UsageError } from '../../src/cli/command.js';
import { captureOutput, fixture, repoRoot } from '../helpers.js';

function run(argv: string[]): Promise<{ code: number; out: string }> {
  return captureOutput(() => command.run(argv));
}

const PAPER = [
  '--arch',
  'deit_base_distilled_patch16_384',
  '--classes',
  '44',
  '--tdim',
  '400',
  '--fdim',
  '128',
  '--fstride',
  '16',
  '--tstride',
  '16',
];

test("loaa params prints the paper's rows", async () => {
  const rows: [string[], number][] = [
    [['--method', 'loaa', '--adapter', 'attn:1x3', '--bottleneck', '36'], 2_026_028],
    [['--method', 'loaa', '--adapter', 'attn:1x3', '--adapter', 'ffn:3x1', '--bottleneck', '36'], 4_016_684],
    [['--method', 'loaa', '--adapter', 'attn:1x3', '--bottleneck', '72'], 4_016_684],
    [['--method', 'adapter', '--adapter', 'attn:1x1', '--adapter', 'ffn:1x1', '--bottleneck', '108'], 4_016_684],
    [['--method', 'adapter', '--bottleneck', '108'], 4_016_684], // adapter's default: attn 1x1 + ffn 1x1
    [['--method', 'loaa', '--adapter', 'attn:1x3', '--adapter', 'ffn:3x1', '--equalize', '1x1', '--bottleneck', '108'], 4_016_684],
    [['--method', 'linear'], 35_372],
    [['--method', 'loaa'], 4_016_684], // loaa's default (the paper's): attn 1x3 + ffn 3x1 r 36
    [['--method', 'adapter'], 4_016_684], // adapter's default (the paper's): attn 1x1 + ffn 1x1 r 108
  ];
  for (const [args, trainable] of rows) {
    const j = await run([...PAPER, ...args, '--json']);
    assert.equal(j.code, 0);
    const r = JSON.parse(j.out);
    assert.equal(j.out.trim().split('\n').length, 1, '--json prints one line');
    assert.equal(r.trainable, trainable, args.join(' '));
    assert.equal(r.total - r.frozen, r.trainable);
    assert.equal(r.ratio, r.trainable / r.total);
    const t = await run([...PAPER, ...args]);
    assert.match(t.out, new RegExp(`trainable +${trainable.toLocaleString('en-US')}`));
    assert.match(t.out, /frozen +85,410,048/);
  }
  const eq = JSON.parse(
    (await run([...PAPER, '--method', 'loaa', '--adapter', 'attn:1x3', '--equalize', '1x1', '--bottleneck', '108', '--json'])).out,
  );
  assert.equal(eq.bottleneck, 36);
});

test('loaa params equals every param_counts.json row that has a command line', async () => {
  const rows = (
    JSON.parse(readFileSync(fixture('models', 'param_counts.json'), 'utf8')) as {
      rows: { cli?: string; total: number; trainable: number; frozen: number }[];
    }
  ).rows;
  const withCli = rows.filter((r) => r.cli);
  assert.ok(withCli.length >= 80);
  for (const r of withCli) {
    const argv = r.cli!.split(/\s+/);
    assert.deepEqual(argv.slice(0, 2), ['loaa', 'params']);
    const { code, out } = await run(argv.slice(2));
    assert.equal(code, 0);
    const j = JSON.parse(out);
    assert.deepEqual(
      { total: j.total, trainable: j.trainable, frozen: j.frozen },
      { total: r.total, trainable: r.trainable, frozen: r.frozen },
      r.cli,
    );
  }
});

test('loaa params --budget picks the largest bottleneck within the share', async () => {
  const j = JSON.parse(
    (await run([...PAPER, '--method', 'loaa', '--adapter', 'attn:1x3', '--adapter', 'ffn:3x1', '--budget', '2%', '--json'])).out,
  );
  assert.ok(j.ratio <= 0.02);
  const next = JSON.parse(
    (
      await run([
        ...PAPER,
        '--method',
        'loaa',
        '--adapter',
        'attn:1x3',
        '--adapter',
        'ffn:3x1',
        '--bottleneck',
        String(j.bottleneck + 1),
        '--json',
      ])
    ).out,
  );
  assert.ok(next.ratio > 0.02);
  const f = JSON.parse((await run([...PAPER, '--method', 'loaa', '--budget', '0.02', '--json'])).out);
  assert.ok(f.ratio <= 0.02 && f.bottleneck > 1);
});

test('loaa params: LoRA, prompts, BitFit, full, defaults, --help', async () => {
  const lora = JSON.parse((await run([...PAPER, '--method', 'lora', '--json'])).out);
  assert.equal(lora.trainable, 330_284);
  const prompt = JSON.parse((await run([...PAPER, '--method', 'prompt', '--prompt-tokens', '10', '--json'])).out);
  assert.equal(prompt.trainable, 127_532);
  const bitfit = JSON.parse((await run([...PAPER, '--method', 'bitfit', '--json'])).out);
  assert.equal(bitfit.trainable, 138_284);
  const full = JSON.parse((await run([...PAPER, '--method', 'full', '--json'])).out);
  assert.deepEqual([full.trainable, full.frozen], [85_445_420, 0]);
  // defaults: 50 classes, 128 x 512, stride 16
  const d = JSON.parse((await run(['--arch', 'deit_tiny_patch16_224', '--method', 'full', '--json'])).out);
  assert.equal(d.total, 5_447_666);
  assert.deepEqual(d.grid, { f_dim: 8, t_dim: 32 });
  const h = await run(['--help']);
  assert.equal(h.code, 0);
  assert.match(h.out, /--classes C +classes of the head \(default 50/);
  assert.match(h.out, /loaa \(default\): Look-Aside Adapters, default attn:1x3 \+ ffn:3x1/);
});

test('loaa params: bad arguments are usage errors naming the argument', async () => {
  const bad: [string[], RegExp][] = [
    [['--method', 'loaa'], /^--arch: missing/],
    [['--arch', 'resnet'], /^--arch: resnet: unknown architecture/],
    [['--arch', 'deit_tiny_patch16_224', '--method', 'magic'], /^--method: expected one of/],
    [['--arch', 'deit_tiny_patch16_224', '--adapter', 'mlp:1x3'], /^--adapter mlp:1x3: position must be attn or ffn/],
    [['--arch', 'deit_tiny_patch16_224', '--adapter', 'attn:2x3'], /^--adapter attn:2x3: kernel sizes must be odd/],
    [['--arch', 'deit_tiny_patch16_224', '--adapter', 'attn:1x3', '--adapter', 'attn:3x1'], /adapters\.1\.position: a second "attn"/],
    [['--arch', 'deit_tiny_patch16_224', '--bottleneck', '8', '--budget', '2%'], /^--budget: give either --bottleneck or --budget/],
    [['--arch', 'deit_tiny_patch16_224', '--budget', '200%'], /^--budget: expected a percentage/],
    [['--arch', 'deit_tiny_patch16_224', '--method', 'linear', '--budget', '2%'], /^--budget: method linear has no adapters/],
    [['--arch', 'deit_tiny_patch16_224', '--tdim', '8'], /^--tdim: 8 frames are fewer than the 16-frame patch/],
    [['--arch', 'deit_tiny_patch16_224', '--classes', 'many'], /^--classes: expected an integer/],
    [['--arch', 'deit_tiny_patch16_224', '--frobnicate'], /^--frobnicate: unknown option/],
    [['--arch', 'deit_tiny_patch16_224', 'extra'], /^extra: unexpected argument/],
  ];
  for (const [argv, re] of bad) {
    await assert.rejects(run(argv), (e: Error) => e instanceof UsageError && re.test(e.message), argv.join(' '));
  }
});

test('bin/loaa.js params: JSON on stdout, exit 0; a bad argument exits 2 with the argument on stderr', {
  skip: !existsSync(join(repoRoot, 'dist', 'src', 'cli', 'main.js')) && 'dist/src/cli/main.js not built',
}, () => {
  const bin = join(repoRoot, 'bin', 'loaa.js');
  const ok = spawnSync(
    process.execPath,
    [bin, 'params', ...PAPER, '--method', 'loaa', '--adapter', 'attn:1x3', '--bottleneck', '36', '--json'],
    { encoding: 'utf8' },
  );
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(JSON.parse(ok.stdout).trainable, 2_026_028);
  const bad = spawnSync(process.execPath, [bin, 'params', '--arch', 'deit_tiny_patch16_224', '--adapter', 'attn:2x2'], {
    encoding: 'utf8',
  });
  assert.equal(bad.status, 2);
  assert.equal(bad.stdout, '');
  assert.match(bad.stderr, /--adapter attn:2x2/);
});
