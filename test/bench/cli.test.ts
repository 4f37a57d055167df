import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loaa } from '../helpers.js';
import { cpuAutocastLimitation } from '../../src/tensor/autocast.js';
import { cudaAvailable } from '../../src/tensor/device.js';

test('loaa bench --help lists the table flags, the row groups and the older sections', () => {
  const r = loaa(['bench', '--help']);
  assert.equal(r.status, 0, r.stderr);
  for (const s of [
    '--rounds N',
    '--quick',
    '--profile',
    '--precision',
    '--rows GROUPS',
    '--only SECTIONS',
    '--json',
    'gemm',
    'step',
    'probe',
    'rss',
    'engine',
    'training',
  ])
    assert.ok(r.stdout.includes(s), s);
});

test('loaa bench: bad row groups, sections and flags are usage errors (exit 2) naming the flag', () => {
  for (const [args, re] of [
    [['--rows', 'step,nope'], /^loaa bench: --rows: unknown nope/m],
    [['--only', 'gpu'], /^loaa bench: --only: unknown gpu/m],
    [['--rounds', '0'], /^loaa bench: --rounds: expected an integer/m],
    [['--profile', '--only', 'engine'], /^loaa bench: --only: not with --profile/m],
  ] as const) {
    const r = loaa(['bench', ...args]);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
});

test('loaa bench --device/--precision: in --help; a missing GPU is one line; combinations a mode cannot run are usage errors', (t) => {
  const help = loaa(['bench', '--help']);
  assert.equal(help.status, 0, help.stderr);
  for (const s of ['--device D', '--precision P', 'fp16', 'auto']) assert.ok(help.stdout.includes(s), s);
  for (const [args, re] of [
    [['--only', 'engine', '--precision', 'bf16'], /^loaa bench: --precision: not with --only/m],
    [['--only', 'engine', '--device', 'cpu'], /^loaa bench: --device: not with --only/m],
    [['--profile', '--precision', 'fp16'], /^loaa bench: --precision: --profile runs fp32 or bf16, not fp16/m],
    [['--rows', 'inference-bf16', '--precision', 'fp32'], /^loaa bench: --rows: inference-bf16 is the bf16 inference rows, not fp32/m],
    [['--precision', 'int8'], /^loaa bench: --precision: /m],
    [['--device', 'tpu'], /^loaa bench: --device: expected cpu, cuda, cuda:N or auto, not "tpu"/m],
  ] as const) {
    const r = loaa(['bench', ...args]);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
  if (cudaAvailable()) return t.skip('a CUDA device is visible: the no-GPU error cannot be shown here');
  const r = loaa(['bench', '--device', 'cuda']);
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stdout, '');
  const lines = r.stderr.split('\n').filter((l) => l.trim());
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^loaa bench: --device: cuda requested but /);
});

test('loaa bench --quick --precision bf16: the step row runs bf16 on both sides; rows without a bf16 variant say why', (t) => {
  const why = cpuAutocastLimitation();
  if (why) return t.skip(`bf16 autocast: ${why}`);
  // batch 1 and one round: a smoke check of the plumbing, not a measurement
  const r = loaa(['bench', '--quick', '--precision', 'bf16', '--rows', 'step,probe,frontend', '--batch', '1', '--json'], {
    timeout: 600_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    device: string;
    precision: string;
    peakGflops: Record<string, number>;
    rows: { work: string; loaa: { n: number }; pytorch: { n: number } | null; pytorchNote?: string }[];
    skipped: { work: string; reason: string }[];
  };
  assert.deepEqual([out.device, out.precision], ['cpu', 'bf16']);
  assert.deepEqual(Object.keys(out.peakGflops), ['bf16'], 'only the precision the rows ran was measured');
  assert.equal(out.rows.length, 1, 'one step row: bf16 only');
  const [step] = out.rows;
  assert.match(step!.work, /^LoAA training step bf16 \(autocast\), .*batch 1$/);
  assert.equal(step!.loaa.n, 1);
  assert.ok(step!.pytorch?.n === 1 || step!.pytorchNote, `the PyTorch side ran or says why not: ${JSON.stringify(step)}`);
  assert.deepEqual(
    out.skipped.map((s) => s.work),
    ['linear probe', 'AST front end'],
  );
  for (const s of out.skipped) assert.match(s.reason, /fp32.*\(asked: --device cpu --precision bf16\)$/);
});

test('bench rows that cannot run a device or precision are named with the reason; the others run', async () => {
  const { groupLimit } = await import('../../src/bench/rows.js');
  for (const g of ['step', 'inference', 'inference-bf16']) {
    for (const [d, p] of [
      ['cpu', undefined],
      ['cuda:0', 'fp16'],
      ['cpu', 'bf16'],
    ] as const)
      assert.equal(groupLimit(g, d, p), null, `${g} ${d} ${p}`);
  }
  for (const g of ['gemm', 'engines', 'probe', 'frontend', 'rss']) assert.equal(groupLimit(g, 'cpu', undefined), null, g);
  assert.equal(groupLimit('engines', 'cpu', 'fp32'), null);
  assert.match(
    groupLimit('engines', 'cuda:0', undefined) ?? '',
    /^onnxruntime-node runs on the CPU in fp32 only \(asked: --device cuda:0\)$/,
  );
  assert.match(
    groupLimit('gemm', 'cuda:0', undefined) ?? '',
    /^the GEMM kernel rows are the CPU's fp32 kernels \(asked: --device cuda:0\)$/,
  );
  assert.equal(groupLimit('rss', 'cpu', 'bf16'), null, 'peak RSS has a bf16 CPU variant');
  assert.match(
    groupLimit('rss', 'cpu', 'fp16') ?? '',
    /^peak RSS is measured for CPU steps in fp32 or bf16 \(asked: --device cpu --precision fp16\)$/,
  );
  assert.match(groupLimit('rss', 'cuda:1', undefined) ?? '', /\(asked: --device cuda:1\)$/);
  assert.match(groupLimit('probe', 'cuda:0', 'fp32') ?? '', /^the linear probe row runs on the CPU in fp32 only/);
  assert.match(groupLimit('frontend', 'cpu', 'fp16') ?? '', /^the front end is CPU code in fp32/);
});
