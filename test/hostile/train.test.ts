/**
 * Checkpoint hygiene (#8), resume thread count (#9), the run lock `train` holds itself (#4), and
 * non-finite predictions (#11), on tiny real training runs.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recipeFromObject } from '../../src/train/recipe.js';
import { findCheckpoint, train } from '../../src/train/trainer.js';
import { getNumThreads } from '../../src/tensor/functional.js';
import { FileLock } from '../../src/util/lock.js';
import { tinyRecipe, tinySet } from '../train/tiny.js';

const root = mkdtempSync(join(tmpdir(), 'loaa-hostile-train-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
const data = tinySet(join(root, 'data'), { train: 3, validation: 1, test: 1 });
const quiet = { log: () => undefined, progress: { silent: true } };
const base = tinyRecipe(data, { train: { epochs: 2, checkpoint_every: 1 }, data: { workers: 0, test: null } });

/** A run cut after its first epoch's checkpoint (train.max_steps), ready to resume under `base`. */
async function interrupted(name: string): Promise<string> {
  const out = join(root, name);
  await train({ recipe: recipeFromObject(base, 'r', ['train.max_steps=3']), out, ...quiet });
  writeFileSync(join(out, 'recipe.json'), JSON.stringify(recipeFromObject(base), null, 1));
  rmSync(join(out, 'results.json'), { force: true });
  assert.ok(findCheckpoint(out));
  return out;
}

function deadPid(): number {
  return Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).toString());
}

function stateFile(out: string): string {
  return join(findCheckpoint(out)!, 'state.json');
}

test('tampered state.json is refused naming the file and key', async () => {
  const out = await interrupted('tampered');
  const f = stateFile(out);
  const good = JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>;
  for (const [key, value] of [
    ['epoch', -5],
    ['step', 'x'],
    ['lossSum', null],
  ] as const) {
    writeFileSync(f, JSON.stringify({ ...good, [key]: value }));
    await assert.rejects(train({ recipe: recipeFromObject(base), out, resume: true, ...quiet }), (e: Error) =>
      e.message.startsWith(`${f}: ${key}: expected`),
    );
  }
  writeFileSync(f, '{"format": "loaa-checkpoint/1", "epo');
  await assert.rejects(train({ recipe: recipeFromObject(base), out, resume: true, ...quiet }), (e: Error) =>
    e.message.startsWith(`${f}: not valid JSON`),
  );
});

test('resume: a torn last metrics line is dropped; stale temps of dead writers are removed', async () => {
  const out = await interrupted('torn');
  appendFileSync(join(out, 'metrics.jsonl'), '{"epoch": 2, "train_lo');
  const dead = deadPid();
  mkdirSync(join(out, `.checkpoint-tmp-${dead}`));
  writeFileSync(join(out, `.checkpoint-tmp-${dead}`, 'trainable.safetensors'), Buffer.alloc(1000));
  writeFileSync(join(out, `.metrics.jsonl.tmp-${dead}-0badf00d`), 'x');
  const lines: string[] = [];
  const stderr: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => stderr.push(String(chunk)) > 0) as typeof process.stderr.write;
  let r: Awaited<ReturnType<typeof train>>;
  try {
    r = await train({ recipe: recipeFromObject(base), out, resume: true, log: (s) => lines.push(s), progress: { silent: true } });
  } finally {
    process.stderr.write = write;
  }
  assert.equal(r.epochs, 2);
  const torn = stderr.filter((s) => s.includes(`${join(out, 'metrics.jsonl')}: line 2`));
  assert.equal(torn.length, 1, `one warning naming the torn line (stderr: ${stderr.join('')})`);
  const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { epoch: number });
  assert.deepEqual(
    metrics.map((m) => m.epoch),
    [1, 2],
    'one line per epoch',
  );
  assert.ok(!existsSync(join(out, `.checkpoint-tmp-${dead}`)));
  assert.ok(!existsSync(join(out, `.metrics.jsonl.tmp-${dead}-0badf00d`)));
  assert.ok(!existsSync(join(out, '.train-lock')), 'the run lock is released');
});

test('resume with another thread count is refused unless allowed', async () => {
  const out = await interrupted('threads');
  const f = stateFile(out);
  const s = JSON.parse(readFileSync(f, 'utf8')) as { threads: number };
  assert.equal(s.threads, getNumThreads(), 'the checkpoint records its thread count');
  writeFileSync(f, JSON.stringify({ ...s, threads: getNumThreads() + 1 }));
  await assert.rejects(
    train({ recipe: recipeFromObject(base), out, resume: true, ...quiet }),
    (e: Error) =>
      e.message.startsWith(`${f}: this run was trained with ${getNumThreads() + 1} threads`) && e.message.includes('--allow-thread-change'),
  );
  const r = await train({ recipe: recipeFromObject(base), out, resume: true, allowThreadChange: true, ...quiet });
  assert.equal(r.epochs, 2);
});

test('a second train on the same run directory is refused while the first holds it', async () => {
  const out = join(root, 'locked');
  mkdirSync(out, { recursive: true });
  const held = FileLock.acquire(join(out, '.train-lock'), 'loaa train (another)');
  try {
    process.env.LOAA_TRAIN_LOCK_WAIT_MS = '300';
    await assert.rejects(train({ recipe: recipeFromObject(base), out, ...quiet }), (e: Error) =>
      e.message.startsWith(`${join(out, '.train-lock')}: locked by loaa train (another)`),
    );
    delete process.env.LOAA_TRAIN_LOCK_WAIT_MS;
    assert.ok(!existsSync(join(out, 'recipe.json')), 'nothing was written');
  } finally {
    held.release();
  }
});
