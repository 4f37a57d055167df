/** Figure 3 with one backbone per row: row specs, and rows of different input lengths in one figure. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fsddDir, repoRoot } from '../helpers.js';
import { parseRowSpec, runFigureRows } from '../../src/viz/figure3_run.js';

test('--row specs: name, backbone, adapter and geometry keys; errors name the key', () => {
  assert.deepEqual(parseRowSpec('name=ImageNet only,backbone=pretrained'), { name: 'ImageNet only', backbone: 'pretrained' });
  assert.deepEqual(parseRowSpec('name="LoAA, T",backbone=random:deit_tiny_patch16_224,adapter=runs/a/best,target-length=1024,seed=3'), {
    name: 'LoAA, T',
    backbone: 'random:deit_tiny_patch16_224',
    adapter: 'runs/a/best',
    targetLength: 1024,
    seed: 3,
  });
  assert.throws(() => parseRowSpec('backbone=pretrained'), /--row backbone=pretrained: name: missing/);
  assert.throws(() => parseRowSpec('name=x'), /backbone: missing/);
  assert.throws(() => parseRowSpec('name=x,backbone=y,colour=red'), /colour: unknown key/);
  assert.throws(() => parseRowSpec('name=x,backbone=y,seed=-1'), /seed: expected a non-negative integer/);
  assert.deepEqual(parseRowSpec('name=SSAST,backbone=ckpt.pth,source_grid=8x64,target_length=1024').sourceGrid, [8, 64]);
  assert.throws(() => parseRowSpec('name=x,backbone=y,source_grid=8'), /source_grid: expected FxT/);
});

const clip = join(fsddDir, '7_jackson_0.wav');

test('rows with their own backbones and input lengths share the time axis', {
  skip: existsSync(clip) ? false : `${clip} missing (../shared data)`,
}, async () => {
  const { svg, info, rows } = await runFigureRows(
    clip,
    [
      { name: 'short input', backbone: 'random:deit_tiny_distilled_patch16_224', depth: 1, targetLength: 128, seed: 1 },
      { name: 'long input', backbone: 'random:deit_tiny_distilled_patch16_224', depth: 1, targetLength: 256, seed: 1 },
      { name: 'long input again', backbone: 'random:deit_tiny_distilled_patch16_224', depth: 1, targetLength: 256, seed: 1 },
    ],
    { frames: [16, 32] },
  );
  assert.deepEqual(
    rows.map((r) => [r.geometry.gridRows, r.geometry.gridCols]),
    [
      [8, 8],
      [8, 16],
      [8, 16],
    ],
  );
  assert.deepEqual(rows[1]!.map, rows[2]!.map); // deterministic
  for (const r of rows) assert.deepEqual(r.query, [16, 32]);
  // the clip is about 0.41 s: the figure shows its frames only, whatever each row's input length
  assert.ok(info.frames > 30 && info.frames < 128, String(info.frames));
  for (const n of ['short input', 'long input', '8x16 patches, query frames 16-32']) assert.ok(svg.includes(`>${n}`), n);
  await assert.rejects(
    runFigureRows(clip, [{ name: 'x', backbone: 'random:deit_tiny_patch16_224', depth: 1, targetLength: 128 }], { frames: [120, 140] }),
    /ends? after its input's 128 frames/,
  );
});

test('loaa attention --row: one model per row into an SVG; --row does not mix with --backbone; --out must be .svg', {
  skip: existsSync(clip) ? false : `${clip} missing (../shared data)`,
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'loaa-fig3-'));
  try {
    const bin = join(repoRoot, 'bin', 'loaa.js');
    const out = join(dir, 'fig.svg');
    const r = spawnSync(
      process.execPath,
      [
        bin,
        'attention',
        clip,
        '--row',
        'name=short,backbone=random:deit_tiny_patch16_224,depth=1,target_length=128',
        '--row',
        'name="long, 256",backbone=random:deit_tiny_patch16_224,depth=1,target_length=256',
        '--frames',
        '16:32',
        '--out',
        out,
        '--json',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const s = JSON.parse(r.stdout) as { rows: { label: string; grid: number[]; query: number[] }[] };
    assert.deepEqual(
      s.rows.map((x) => [x.label, x.grid.join('x'), x.query.join(':')]),
      [
        ['short', '8x8', '16:32'],
        ['long, 256', '8x16', '16:32'],
      ],
    );
    assert.ok(readFileSync(out, 'utf8').includes('>long, 256</text>'));
    const mixed = spawnSync(
      process.execPath,
      [bin, 'attention', clip, '--row', 'name=a,backbone=random:deit_tiny_patch16_224', '--backbone', 'pretrained', '--out', out],
      { encoding: 'utf8' },
    );
    assert.notEqual(mixed.status, 0);
    assert.match(mixed.stderr, /--backbone: not with --row/);
    const png = spawnSync(
      process.execPath,
      [bin, 'attention', clip, '--row', 'name=a,backbone=random:deit_tiny_patch16_224', '--out', join(dir, 'x.png')],
      { encoding: 'utf8' },
    );
    assert.match(png.stderr, /--out: with --row the figure is an SVG/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
