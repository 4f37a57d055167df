/**
 * The input-size names: `melBins` / `frames` / `gridRows` / `gridCols` in TypeScript, `fdim` / `tdim`
 * in adapter_config.json and on the command line. Old files keep loading, files are still written with
 * the old keys, and the public options and objects still take and read the deprecated names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AudioSpectrogramTransformer, astGrid } from '../../src/models/ast.js';
import { inputFromFile, inputToFile, resolveInputNames } from '../../src/models/input_geometry.js';
import { readAdapterConfig, saveAdapter, ADAPTER_CONFIG_FILE } from '../../src/peft/checkpoint.js';
import { countAst } from '../../src/peft/params.js';
import { applyPeft } from '../../src/peft/methods.js';
import { repoRoot, tempDir } from '../helpers.js';

const TINY = { arch: 'deit_tiny_patch16_224', numClasses: 3, fstride: 16, tstride: 16, depth: 1 };

test('file form <-> TypeScript names: one conversion each way, keys in the documented order', () => {
  const file = { fdim: 128, tdim: 400, fstride: 10, tstride: 12 };
  const g = inputFromFile(file);
  assert.deepEqual(g, { melBins: 128, frames: 400, fstride: 10, tstride: 12 });
  assert.deepEqual(Object.keys(inputToFile(g)), ['fdim', 'tdim', 'fstride', 'tstride']);
  assert.deepEqual(inputToFile(g), file);
});

test('resolveInputNames: the deprecated fdim/tdim stand for melBins/frames; disagreeing spellings are an Error', () => {
  assert.deepEqual(resolveInputNames({ ...TINY, fdim: 64, tdim: 100 }), { ...TINY, melBins: 64, frames: 100 });
  assert.deepEqual(resolveInputNames({ ...TINY, melBins: 64, frames: 100 }), { ...TINY, melBins: 64, frames: 100 });
  assert.deepEqual(resolveInputNames({ ...TINY, melBins: 64, fdim: 64, frames: 100 }), { ...TINY, melBins: 64, frames: 100 });
  assert.throws(
    () => resolveInputNames({ ...TINY, melBins: 64, fdim: 32, frames: 100 }, 'cfg.'),
    /^Error: cfg\.fdim: 32 disagrees with melBins 64/,
  );
  assert.throws(() => resolveInputNames({ ...TINY, melBins: 64, frames: 100, tdim: 99 }), /^Error: tdim: 99 disagrees with frames 100/);
});

test("astGrid names the bad value by the caller's key (a file's, a flag's) or the TypeScript name", () => {
  assert.throws(() => astGrid({ melBins: 8, frames: 100, fstride: 16, tstride: 16 }), /^Error: melBins: 8 mel bins are fewer/);
  assert.throws(() => astGrid({ melBins: 128, frames: 8, fstride: 16, tstride: 16 }, 16, { frames: 'tdim' }), /^Error: tdim: 8 frames/);
});

test('the AST takes the deprecated fdim/tdim, and its cfg and grid still read by the old names', () => {
  const old = new AudioSpectrogramTransformer({ ...TINY, fdim: 32, tdim: 48 }, { seed: 1 });
  const now = new AudioSpectrogramTransformer({ ...TINY, melBins: 32, frames: 48 }, { seed: 1 });
  try {
    assert.equal(old.cfg.melBins, 32);
    assert.equal(old.cfg.frames, 48);
    assert.deepEqual(old.cfg, now.cfg, 'the same model either way');
    assert.equal('fdim' in { ...old.cfg }, false, 'a spread (and JSON) sees only the new names');
    const legacy = old.cfg as unknown as { fdim: number; tdim: number };
    assert.deepEqual([legacy.fdim, legacy.tdim], [32, 48]);
    assert.deepEqual([old.grid.gridRows, old.grid.gridCols], [2, 3]);
    const g = old.grid as unknown as { fDim: number; tDim: number };
    assert.deepEqual([g.fDim, g.tDim], [2, 3]);
    // setHead rebuilds the config: the old names survive it
    old.setHead(5);
    assert.equal((old.cfg as unknown as { tdim: number }).tdim, 48);
  } finally {
    old.dispose();
    now.dispose();
  }
  assert.throws(
    () => new AudioSpectrogramTransformer({ ...TINY, melBins: 32, fdim: 64, frames: 48 }),
    /fdim: 64 disagrees with melBins 32/,
  );
});

test('countAst counts the same for the deprecated names', () => {
  const peft = { method: 'loaa' as const };
  assert.deepEqual(countAst({ ...TINY, fdim: 128, tdim: 100 }, peft), countAst({ ...TINY, melBins: 128, frames: 100 }, peft));
});

test('adapter_config.json keeps input {fdim, tdim, fstride, tstride}: an old file loads, a saved one is written the same way', () => {
  const d = tempDir('input-names');
  // a committed adapter config from before the rename
  const fixtureCfg = join(repoRoot, 'fixtures', 'models', 'adapters', 'loaa_attn_1x3_s10_adapter_config.json');
  const raw = JSON.parse(readFileSync(fixtureCfg, 'utf8'));
  assert.deepEqual(Object.keys(raw.input), ['fdim', 'tdim', 'fstride', 'tstride'], 'the fixture is the file form');
  writeFileSync(join(d, ADAPTER_CONFIG_FILE), JSON.stringify(raw));
  const read = readAdapterConfig(d);
  assert.deepEqual(read.input, { melBins: raw.input.fdim, frames: raw.input.tdim, fstride: raw.input.fstride, tstride: raw.input.tstride });
  const legacy = read.input as unknown as { fdim: number; tdim: number };
  assert.deepEqual([legacy.fdim, legacy.tdim], [raw.input.fdim, raw.input.tdim], 'old readers of config.input.fdim still work');

  const model = new AudioSpectrogramTransformer({ ...TINY, melBins: 32, frames: 48 }, { seed: 2 });
  try {
    applyPeft(model, { method: 'loaa', adapters: [{ position: 'attn', kernel: [1, 3], bottleneck: 2 }] });
    const out = join(d, 'saved');
    const returned = saveAdapter(out, model);
    const written = JSON.parse(readFileSync(join(out, ADAPTER_CONFIG_FILE), 'utf8'));
    assert.deepEqual(written.input, { fdim: 32, tdim: 48, fstride: 16, tstride: 16 });
    assert.deepEqual(returned.input, { melBins: 32, frames: 48, fstride: 16, tstride: 16 });
    assert.deepEqual(readAdapterConfig(out).input, returned.input, 'what is written reads back');
  } finally {
    model.dispose();
  }
  // a bad value names the file's key, not the TypeScript one
  writeFileSync(join(d, ADAPTER_CONFIG_FILE), JSON.stringify({ ...raw, input: { ...raw.input, tdim: 8 }, frontend: undefined }));
  assert.throws(() => readAdapterConfig(d), /adapter_config\.json: input: tdim: 8 frames are fewer than the 16-frame patch/);
});
