/**
 * Recipes, grids and adapter configs are bounded before any work (issue #25): YAML parses in time
 * linear in its size (80k keys in one mapping took 52 s), a FIFO recipe or grid file is refused at
 * once, and geometry that would size an allocation (tdim 100000 at stride 1, bottleneck 1e9) is an
 * Error naming the key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, tempDir } from '../helpers.js';
import { loadRecipe } from '../../src/train/recipe.js';
import { readGrid } from '../../src/train/grid.js';
import { parseYamlBounded, YAML_LIMITS } from '../../src/io/yaml.js';
import { readAdapterConfig } from '../../src/peft/checkpoint.js';
import { checkAdapterSpec } from '../../src/peft/config.js';
import { checkAdapterBytes, LookAsideAdapter } from '../../src/peft/adapter.js';
import { haveMkfifo, mkfifo } from '../util/special_files.js';

const recipes = join(repoRoot, 'recipes');

test('YAML with 80,000 keys in one mapping is refused at once, naming the file; in flow style too, naming the line', () => {
  let text = 'name: x\nextra:\n';
  for (let i = 0; i < 80_000; i++) text += `  k${i}: ${i}\n`;
  const t0 = performance.now();
  assert.throws(
    () => parseYamlBounded(text, 'many.yaml'),
    /^Error: many\.yaml: 1257795 characters, more than the 524288 a YAML recipe or grid may have/,
  );
  // short keys fit the size: the line count refuses them before any parsing
  let short = '';
  for (let i = 0; i < 80_000; i++) short += `${i % 10}:\n`;
  assert.throws(
    () => parseYamlBounded(short, 'short.yaml'),
    /^Error: short\.yaml: 80001 lines, more than the 20000 .* \(too many keys or items\)/,
  );
  assert.ok(performance.now() - t0 < 1000, `${performance.now() - t0} ms`);
  let flow = 'a: 1\nextra: {';
  for (let i = 0; i < 12_000; i++) flow += `k${i}: ${i}, `;
  assert.throws(
    () => parseYamlBounded(`${flow}}\n`, 'flow.yaml'),
    /^Error: flow\.yaml: line 2: a mapping with 12000 keys, more than 10000/,
  );
});

test('YAML at the key limit parses in linear time; duplicate keys are still an error naming the key and line', () => {
  let text = '';
  for (let i = 0; i < YAML_LIMITS.items; i++) text += `k${i}: ${i}\n`;
  const t0 = performance.now();
  const v = parseYamlBounded(text, 'ok.yaml') as Record<string, number>;
  assert.equal(v.k9999, 9999);
  assert.ok(performance.now() - t0 < 10_000);
  assert.throws(() => parseYamlBounded('a: 1\nb: 2\na: 3\n', 'dup.yaml'), /^Error: dup\.yaml: line 3: a: duplicate key/);
  assert.throws(() => parseYamlBounded('a: [1, 2\n', 'bad.yaml'), /^Error: bad\.yaml: not valid YAML/);
  assert.throws(() => parseYamlBounded('x'.repeat(YAML_LIMITS.bytes + 1), 'huge.yaml'), /huge\.yaml: \d+ characters, more than/);
});

test('a FIFO as the recipe or the grid file is refused at once, naming it', {
  skip: haveMkfifo ? false : 'mkfifo is not available',
  timeout: 10_000,
}, () => {
  const d = tempDir('fifo-recipe');
  mkfifo(join(d, 'r.yaml'));
  mkfifo(join(d, 'g.yaml'));
  assert.throws(() => loadRecipe(join(d, 'r.yaml')), /r\.yaml: cannot read recipe: it is a FIFO/);
  assert.throws(() => readGrid(join(d, 'g.yaml')), /g\.yaml: cannot read grid file: it is a FIFO/);
});

test('recipe geometry: target_length 100000 at stride 1 is refused naming the key and the token count', () => {
  const d = tempDir('geometry-recipe');
  writeFileSync(
    join(d, 'r.yaml'),
    `extends: ${join(recipes, 'esc50_loaa.yaml')}\nfrontend:\n  target_length: 100000\nmodel:\n  fstride: 1\n  tstride: 1\n`,
  );
  assert.throws(() => loadRecipe(join(d, 'r.yaml')), /r\.yaml: frontend\.target_length: .* make \d+ tokens, over the limit of 8192/);
});

test('adapter config: input.tdim 100000 at stride 1 and a bottleneck of 1e9 are refused naming the key', () => {
  const d = tempDir('geometry-adapter');
  const cfg = JSON.parse(readFileSync(join(repoRoot, 'fixtures', 'models', 'adapters', 'loaa_attn_1x3_s10_adapter_config.json'), 'utf8'));
  const dir = (name: string, o: Record<string, unknown>): string => {
    mkdirSync(join(d, name));
    writeFileSync(join(d, name, 'adapter_config.json'), JSON.stringify({ ...cfg, ...o }));
    return join(d, name);
  };
  const tdim = dir('tdim', { input: { ...cfg.input, tdim: 100000, tstride: 1, fstride: 1 }, frontend: undefined });
  assert.throws(
    () => readAdapterConfig(tdim),
    /adapter_config\.json: input: .* tokens, over the limit of 8192 \(about \d+ GiB of attention scores per layer\)/,
  );
  const adapters = cfg.adapters.map((a: Record<string, unknown>) => ({ ...a, bottleneck: 1e9 }));
  const wide = dir('wide', { adapters });
  assert.throws(() => readAdapterConfig(wide), /adapter_config\.json: adapters\.0\.bottleneck: 1000000000 is over the limit of 65536/);
  assert.throws(
    () => checkAdapterSpec({ position: 'attn', kernel: [99, 1], bottleneck: 8 }),
    /adapter\.kernel: \[99,1\] has a side over 31/,
  );
});

test('the adapter memory estimate is checked before Conv2d allocates, naming bottleneck', () => {
  assert.throws(
    () => checkAdapterBytes({ position: 'attn', kernel: [31, 31], bottleneck: 4096, bias: false }, 768),
    /^Error: bottleneck: 4096 on width 768 with a 31x31 kernel \(the attn adapter\) needs [\d.]+ GiB/,
  );
  assert.throws(
    () => new LookAsideAdapter(768, { position: 'ffn', kernel: [31, 31], bottleneck: 65536 }),
    /bottleneck: 65536 on width 768/,
  );
});
