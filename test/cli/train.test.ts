import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loaa as loaaCli, loaaBin as bin, tempDir } from '../helpers.js';
import { tinySet, tinyRecipe } from '../train/tiny.js';

const dir = tempDir('cli-train');
const data = tinySet(join(dir, 'data'));
const recipeFile = join(dir, 'tiny.yaml');
// JSON is YAML
writeFileSync(
  recipeFile,
  JSON.stringify(tinyRecipe(data, { train: { epochs: 4, checkpoint_every: 1 }, augment: { mixup: 0.5 }, data: { workers: 1 } })),
);

const loaa = (args: string[]) => loaaCli(args, { cwd: dir });

test('killed mid-run and resumed: the same final adapter, byte for byte, as an uninterrupted run', async () => {
  const whole = loaa(['train', '--config', recipeFile, '--out', join(dir, 'whole'), '--json']);
  assert.equal(whole.status, 0, whole.stderr);
  const results = JSON.parse(whole.stdout);
  assert.equal(results.epochs, 4);

  const cut = join(dir, 'cut');
  const child = spawn(process.execPath, [bin, 'train', '--config', recipeFile, '--out', cut], { stdio: 'ignore', cwd: dir });
  const exited = new Promise<void>((res) => child.on('exit', () => res()));
  const t0 = Date.now();
  while (!existsSync(join(cut, 'checkpoint', 'state.json'))) {
    if (Date.now() - t0 > 60_000) throw new Error('no checkpoint within 60 s');
    if (child.exitCode !== null) throw new Error(`the run ended (status ${child.exitCode}) before its first checkpoint was seen`);
    await sleep(2);
  }
  child.kill('SIGKILL');
  await exited;
  assert.ok(!existsSync(join(cut, 'results.json')), 'the run was killed before it finished');
  const state = JSON.parse(readFileSync(join(cut, 'checkpoint', 'state.json'), 'utf8'));
  assert.ok(state.step >= 1 && state.step < results.steps);

  const again = loaa(['train', '--config', recipeFile, '--out', cut]);
  assert.equal(again.status, 2 - 1, 'without --resume the directory is refused');
  assert.match(again.stderr, /pass --resume/);
  const resumed = loaa(['train', '--config', recipeFile, '--out', cut, '--resume', '--json']);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stderr, /resuming from .*checkpoint/);
  const a = readFileSync(join(dir, 'whole', 'final', 'adapter_model.safetensors'));
  const b = readFileSync(join(cut, 'final', 'adapter_model.safetensors'));
  assert.ok(a.equals(b), 'final adapters differ');
  assert.ok(
    readFileSync(join(dir, 'whole', 'best', 'adapter_model.safetensors')).equals(
      readFileSync(join(cut, 'best', 'adapter_model.safetensors')),
    ),
  );
  assert.deepEqual(JSON.parse(resumed.stdout).test, results.test);

  // loaa eval: the best checkpoint on the test split gives the run's test numbers (on libtorch, as
  // training computed them; on onnxruntime within float rounding)
  const ev = loaa(['eval', join(dir, 'whole'), '--split', 'test', '--json', '--engine', 'torch']);
  assert.equal(ev.status, 0, ev.stderr);
  const e = JSON.parse(ev.stdout);
  assert.equal(e.split, 'test');
  assert.equal(e.metrics.top1, results.test.metrics.top1);
  assert.ok(Math.abs(e.metrics.loss - results.test.metrics.loss) < 1e-6);
  const evOnnx = loaa(['eval', join(dir, 'whole'), '--split', 'test', '--json', '--engine', 'onnx']);
  assert.equal(evOnnx.status, 0, evOnnx.stderr);
  const eo = JSON.parse(evOnnx.stdout);
  assert.equal(eo.metrics.top1, results.test.metrics.top1);
  assert.ok(Math.abs(eo.metrics.loss - results.test.metrics.loss) < 1e-4, `onnx loss ${eo.metrics.loss} vs ${results.test.metrics.loss}`);
  const evVal = loaa(['eval', join(dir, 'whole'), '--split', 'validation', '--checkpoint', 'final']);
  assert.equal(evVal.status, 0, evVal.stderr);
  assert.match(evVal.stdout, /on validation, 6 clips:\n {2}top1 /);
});

test('command-line errors name the argument, the file or the key', () => {
  const r1 = loaa(['train', '--out', join(dir, 'x')]);
  assert.equal(r1.status, 2);
  assert.match(r1.stderr, /--config: a recipe file is required/);
  const r2 = loaa(['train', '--config', recipeFile, '--out', join(dir, 'y'), '--set', 'optim.lr=fast']);
  assert.equal(r2.status, 1);
  assert.match(r2.stderr, /optim\.lr: --set optim\.lr: expected a number >= 0, got "fast"/);
  const r3 = loaa(['train', '--config', join(dir, 'none.yaml'), '--out', join(dir, 'z')]);
  assert.match(r3.stderr, /none\.yaml: recipe file not found/);
  const r4 = loaa(['eval', join(dir, 'nowhere')]);
  assert.equal(r4.status, 2);
  assert.match(r4.stderr, /nowhere: not a run directory/);
  const r5 = loaa(['cv', '--config', recipeFile, '--out', join(dir, 'cv'), '--folds', '1']);
  assert.equal(r5.status, 2);
  assert.match(r5.stderr, /--folds: expected an integer in \[2, 100\]/);
});

test('--help of train, eval, cv and demo: flags, defaults, an example', () => {
  for (const cmd of ['train', 'eval', 'cv', 'demo']) {
    const r = loaa([cmd, '--help']);
    assert.equal(r.status, 0, `${cmd}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`usage: loaa ${cmd}`));
    assert.match(r.stdout, /example/);
  }
});

test('loaa demo --quick on the synthetic set: three methods compared, one clip classified', () => {
  const out = join(dir, 'demo');
  const r = loaa(['demo', '--synthetic', '--quick', '--out', out, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.data, 'synthetic');
  assert.deepEqual(
    j.runs.map((x: { method: string }) => x.method),
    ['loaa', 'adapter', 'linear'],
  );
  const [loaaRun, adapterRun, linearRun] = j.runs;
  assert.equal(loaaRun.trainable, adapterRun.trainable, 'LoAA and the parallel adapter at the same budget');
  assert.ok(linearRun.trainable < loaaRun.trainable);
  assert.equal(j.prediction.top.length, 3);
  assert.ok(existsSync(join(j.adapter, 'adapter_config.json')));
  assert.match(r.stderr, /random initialisation/);
  assert.match(r.stderr, /method +trainable params/);
});
