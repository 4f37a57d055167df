import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { repoRoot, tempDir } from '../helpers.js';
import { applyOverrides, loadRecipe, recipeFromObject } from '../../src/train/recipe.js';
import { makeSchedule } from '../../src/train/trainer.js';
import { countAst } from '../../src/peft/params.js';
import { peftConfig, astConfig } from '../../src/train/trainer.js';

const recipes = join(repoRoot, 'recipes');

test('every shipped recipe loads, with the defaults the paper uses', () => {
  const files = readdirSync(recipes).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length >= 24, `only ${files.length} recipes`);
  for (const f of files) {
    const r = loadRecipe(join(recipes, f));
    assert.equal(r.name, f.replace(/\.yaml$/, ''), f);
  }
  const esc = loadRecipe(join(recipes, 'esc50_loaa.yaml'));
  assert.equal(esc.optim.name, 'adam');
  assert.equal(esc.optim.lr, 5e-4);
  assert.equal(esc.train.epochs, 25);
  assert.equal(esc.train.batch_size, 48);
  assert.deepEqual([esc.augment.freqm, esc.augment.timem, esc.augment.mixup], [24, 96, 0]);
  assert.equal(esc.frontend.target_length, 512);
  assert.deepEqual([esc.frontend.mean, esc.frontend.std], [-6.6268077, 5.358466]);
  assert.deepEqual([esc.model.fstride, esc.model.tstride], [16, 16]);
  assert.equal(esc.data.root, resolve(repoRoot, 'data', 'ESC-50-master'), 'paths are relative to the file that says them');
  const full = loadRecipe(join(recipes, 'esc50_full.yaml'));
  assert.deepEqual([full.optim.lr, full.model.fstride, full.model.tstride], [1e-4, 10, 10]);
  const sc = loadRecipe(join(recipes, 'speechcommands_loaa.yaml'));
  assert.deepEqual(
    [sc.optim.lr, sc.train.epochs, sc.augment.mixup, sc.augment.noise, sc.train.batch_size, sc.train.loss],
    [2.5e-4, 30, 0.6, true, 128, 'bce'],
  );
  const epic = loadRecipe(join(recipes, 'epic_sounds_loaa.yaml'));
  assert.deepEqual(
    [epic.optim.name, epic.optim.weight_decay, epic.frontend.type, epic.frontend.target_length],
    ['adamw', 1e-4, 'epic', 400],
  );
  // LoAA and the parallel adapter at the same budget (the paper's Table 1 rule)
  const fl = loadRecipe(join(recipes, 'fsdd_loaa.yaml'));
  const fa = loadRecipe(join(recipes, 'fsdd_adapter.yaml'));
  const count = (r: typeof fl) => countAst(astConfig(r, 10), peftConfig(r)).trainable;
  assert.equal(count(fl), count(fa));
  assert.equal(fl.frontend.mean, 'auto');
});

test('schedules: AST step decay from epoch 5, EPIC warm-up and relative steps', () => {
  const esc = makeSchedule(loadRecipe(join(recipes, 'esc50_loaa.yaml')));
  assert.equal(esc(0), 5e-4);
  assert.equal(esc(4), 5e-4);
  assert.ok(Math.abs(esc(5) - 5e-4 * 0.85) < 1e-15);
  assert.ok(Math.abs(esc(7) - 5e-4 * 0.85 ** 3) < 1e-15);
  // the SSAST EPIC-SOUNDS setup with the paper's lr: no warm-up, x0.1 from epoch 26 (index 25)
  const epic = makeSchedule(loadRecipe(join(recipes, 'epic_sounds_loaa.yaml')));
  assert.equal(epic(0), 1e-4);
  assert.equal(epic(0.5), 1e-4);
  assert.equal(epic(24), 1e-4);
  assert.ok(Math.abs(epic(25) - 1e-5) < 1e-18);
  assert.ok(Math.abs(epic(29) - 1e-5) < 1e-18);
  // the reference's newer config (warm-up 2 epochs from 1e-6, x0.05 at 10, x0.01 at 20) is a --set away
  const head = makeSchedule(
    loadRecipe(join(recipes, 'epic_sounds_loaa.yaml'), {
      set: ['schedule.milestones=[10, 20]', 'schedule.factors=[0.05, 0.01]', 'schedule.warmup_epochs=2', 'schedule.warmup_start_lr=1e-6'],
    }),
  );
  assert.equal(head(0), 1e-6);
  assert.ok(Math.abs(head(1) - (1e-6 + 1e-4) / 2) < 1e-15);
  assert.equal(head(2), 1e-4);
  assert.ok(Math.abs(head(10) - 5e-6) < 1e-18);
  assert.ok(Math.abs(head(25) - 1e-6) < 1e-18);
});

test('errors name the file and the key path', () => {
  const dir = tempDir('recipe');
  const bad = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const base = `data: {type: folder, root: x}\nfrontend: {target_length: 64}\nmodel: {arch: deit_tiny_patch16_224}\npeft: {method: linear}\noptim: {lr: 0.001}\ntrain: {epochs: 1, batch_size: 2}\n`;
  assert.throws(
    () => loadRecipe(bad('a.yaml', `${base}optim2: {}\n`)),
    (e: Error) => e.message.startsWith(`${join(dir, 'a.yaml')}: optim2: unknown key`),
  );
  assert.throws(
    () => loadRecipe(bad('b.yaml', base.replace('lr: 0.001', 'lr: fast'))),
    /b\.yaml: optim\.lr: expected a number >= 0, got "fast"/,
  );
  assert.throws(
    () => loadRecipe(bad('c.yaml', base.replace('batch_size: 2', 'batch_size: 2, batchsize: 3'))),
    /c\.yaml: train\.batchsize: unknown key \(known here: epochs, batch_size/,
  );
  assert.throws(
    () => loadRecipe(bad('d.yaml', `${base}augment: {mixup: 2}\n`)),
    /d\.yaml: augment\.mixup: expected a number in \[0, 1\], got 2/,
  );
  assert.throws(
    () =>
      loadRecipe(
        bad('e.yaml', base.replace('method: linear', 'method: loaa, adapters: [{position: attn, kernel: [1, 2], bottleneck: 4}]')),
      ),
    /e\.yaml: peft\.adapters\.0\.kernel: expected two odd positive integers/,
  );
  assert.throws(
    () => loadRecipe(bad('f.yaml', base.replace('method: linear', 'method: loaa, adapters: [{position: side, bottleneck: 4}]'))),
    /f\.yaml: peft\.adapters\.0\.position: expected one of "attn", "ffn", got "side"/,
  );
  assert.throws(() => loadRecipe(bad('g.yaml', base.replace('train: {epochs: 1, batch_size: 2}\n', ''))), /g\.yaml: train: missing/);
  assert.throws(() => loadRecipe(bad('h.yaml', 'data: [1, 2\n')), /h\.yaml: not valid YAML/);
  assert.throws(() => loadRecipe(join(dir, 'none.yaml')), /none\.yaml: recipe file not found/);
  // an extends chain: the error names the file that has the bad key
  bad('base.yaml', `${base}seed: -1\n`);
  assert.throws(() => loadRecipe(bad('child.yaml', 'extends: base.yaml\n')), /base\.yaml: seed: expected an integer >= 0, got -1/);
});

test('--set overrides any key, typed by the schema', () => {
  const dir = tempDir('recipe-set');
  const p = join(dir, 'r.yaml');
  writeFileSync(
    p,
    `data: {type: folder, root: data}\nfrontend: {target_length: 64}\nmodel: {arch: deit_tiny_patch16_224, depth: 2}\npeft: {method: loaa, adapters: [{position: attn, kernel: [1, 3], bottleneck: 4}]}\noptim: {lr: 0.001}\ntrain: {epochs: 1, batch_size: 2}\n`,
  );
  const r = loadRecipe(p, {
    set: [
      'optim.lr=2.5e-4',
      'train.drop_last=true',
      'peft.adapters.0.bottleneck=48',
      'peft.adapters[0].kernel=[3, 1]',
      'model.depth=null',
      'data.validation=null',
      'name=x',
      'data.options.validation=index5-9',
      'frontend.mean=auto',
      'frontend.std=auto',
      'data.root=elsewhere',
    ],
  });
  assert.equal(r.optim.lr, 2.5e-4);
  assert.equal(r.train.drop_last, true);
  assert.equal(r.peft.adapters[0]!.bottleneck, 48);
  assert.deepEqual(r.peft.adapters[0]!.kernel, [3, 1]);
  assert.equal(r.model.depth, null);
  assert.equal(r.data.validation, null);
  assert.equal(r.name, 'x');
  assert.deepEqual(r.data.options, { validation: 'index5-9' });
  assert.equal(r.frontend.mean, 'auto');
  assert.equal(r.data.root, resolve('elsewhere'), '--set paths are relative to the working directory');
  assert.equal(loadRecipe(p).data.root, join(dir, 'data'));
  assert.equal(loadRecipe(p, { dataRoot: 'somewhere' }).data.root, resolve('somewhere'));
  assert.throws(() => loadRecipe(p, { set: ['optim.lrr=1'] }), /optim\.lrr: unknown key in --set optim\.lrr/);
  assert.throws(() => loadRecipe(p, { set: ['optim.lr=fast'] }), /--set optim\.lr: expected a number >= 0, got "fast"/);
  assert.throws(() => loadRecipe(p, { set: ['train.epochs=1.5'] }), /--set train\.epochs: expected an integer >= 1, got 1\.5/);
  assert.throws(() => loadRecipe(p, { set: ['train.epochs'] }), /expected key\.path=value/);
  assert.throws(() => loadRecipe(p, { set: ['frontend.mean=auto'] }), /frontend\.std: mean and std go together/);
  // applyOverrides creates missing mappings
  assert.deepEqual(applyOverrides({}, ['optim.lr=1']), { optim: { lr: 1 } });
  const fromObj = recipeFromObject(
    {
      data: { type: 'folder', root: '/d' },
      frontend: { target_length: 64 },
      model: { arch: 'a' },
      peft: { method: 'linear' },
      optim: { lr: 1 },
      train: { epochs: 1, batch_size: 1 },
    },
    'obj',
    ['train.epochs=3'],
  );
  assert.equal(fromObj.train.epochs, 3);
  assert.equal(fromObj.data.workers, 2);
  assert.equal(fromObj.schedule.type, 'constant');
});
