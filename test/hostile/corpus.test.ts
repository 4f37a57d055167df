/**
 * The hostile-input corpus (tools/hostile/make_corpus.mjs) run under a 4 GB address-space limit:
 * every case ends by itself within its deadline (never killed by the deadline, never by a signal),
 * error cases exit non-zero with a one-line message naming the file or key, and special files used
 * as --out are still what they were.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers.js';

interface Case {
  id: string;
  item: number | string;
  argv: string[];
  names: string[];
  expect: 'error' | 'ok' | 'bounded';
  deadline: number;
  /** run without --disable-wasm-trap-handler: WebAssembly cannot reserve memory under the limit */
  wasmLimit: boolean;
  after: { fifo?: string; symlink?: string; content?: [string, string] } | null;
}

const AS_LIMIT = String(4 * 1024 ** 3);

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

function runCase(c: Case): Promise<{ code: number | null; signal: string | null; stderr: string; seconds: number }> {
  const node = [process.execPath, ...(c.wasmLimit ? [] : ['--disable-wasm-trap-handler']), ...c.argv];
  const t0 = Date.now();
  return new Promise((resolve) => {
    // timeout's own KILL is the deadline: a case that needs it has hung
    const child = spawn('prlimit', [`--as=${AS_LIMIT}`, '--', 'timeout', '-s', 'KILL', String(c.deadline), ...node], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code, signal) => resolve({ code, signal, stderr, seconds: (Date.now() - t0) / 1000 }));
  });
}

const ready = have('prlimit') && have('timeout') && have('mkfifo');

test('hostile corpus: every case ends by itself, in time, with a message naming the file or key', {
  skip: ready ? false : 'needs prlimit, timeout and mkfifo (util-linux, coreutils)',
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'loaa-hostile-'));
  try {
    const gen = spawnSync(process.execPath, [join(repoRoot, 'tools', 'hostile', 'make_corpus.mjs'), dir], { encoding: 'utf8' });
    assert.equal(gen.status, 0, gen.stderr);
    const cases = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as Case[];
    const items = new Set(cases.map((c) => String(c.item)));
    for (const want of ['1', '2', '3', '5', '6', '7', '10', '11', '12', '25', 'minor'])
      assert.ok(items.has(want), `no case for item ${want}`);
    const problems: string[] = [];
    const queue = [...cases];
    const worker = async (): Promise<void> => {
      for (let c = queue.shift(); c; c = queue.shift()) {
        const r = await runCase(c);
        const line = `${c.id} (#${c.item}): exit ${r.code ?? r.signal} after ${r.seconds.toFixed(1)} s`;
        if (r.code === 137 || r.signal) {
          problems.push(`${line}: killed (deadline ${c.deadline} s or a signal)\n${r.stderr.slice(-400)}`);
          continue;
        }
        if (c.expect === 'ok' && r.code !== 0) problems.push(`${line}: expected success\n${r.stderr.slice(-400)}`);
        if (c.expect === 'error') {
          if (r.code === 0) problems.push(`${line}: accepted a hostile input`);
          for (const n of c.names)
            if (!r.stderr.includes(n)) problems.push(`${line}: message does not name ${JSON.stringify(n)}: ${r.stderr.slice(0, 300)}`);
        }
        // a clean refusal is a message, not a crash report
        if (/^\s+at .+:\d+:\d+\)?$/m.test(r.stderr) || /FATAL ERROR|Aborted|Segmentation fault|bad_alloc/.test(r.stderr)) {
          problems.push(`${line}: stack trace or crash in stderr: ${r.stderr.slice(0, 400)}`);
        }
        if (c.after?.fifo && !lstatSync(c.after.fifo).isFIFO()) problems.push(`${line}: ${c.after.fifo} is no longer a FIFO`);
        if (c.after?.symlink && !lstatSync(c.after.symlink).isSymbolicLink())
          problems.push(`${line}: ${c.after.symlink} is no longer a symlink`);
        if (c.after?.content && readFileSync(c.after.content[0], 'utf8') !== c.after.content[1])
          problems.push(`${line}: ${c.after.content[0]} changed`);
      }
    };
    await Promise.all([worker(), worker()]);
    assert.deepEqual(problems, [], `${problems.length} of ${cases.length} cases failed:\n${problems.join('\n')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
