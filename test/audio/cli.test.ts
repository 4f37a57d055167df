/** `loaa features` and `loaa stats`, run in-process. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { command as features } from '../../src/cli/commands/features.js';
import { command as stats } from '../../src/cli/commands/stats.js';
import { UsageError } from '../../src/cli/command.js';
import { readSafetensors, rawToFloat32 } from '../../src/io/safetensors.js';
import { readAudio } from '../../src/audio/decode.js';
import { astFeatures, normStats } from '../../src/audio/frontend.js';
import { audioFixture, loadExpected, maxAbsDiff } from './golden-util.js';
import { captureOutput } from '../helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'loaa-audio-cli-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

test('features writes fbank [frames, mel] matching torchaudio', async () => {
  const input = audioFixture('wav/in_44100_2ch_int16.wav');
  const out = join(tmp, 'a.safetensors');
  const { code, out: stdout } = await captureOutput(() => features.run([input, '--out', out, '--json']));
  assert.equal(code, 0);
  const info = JSON.parse(stdout);
  assert.equal(stdout.trim().split('\n').length, 1);
  assert.deepEqual(info.shape, [28, 128]);
  const st = readSafetensors(out);
  const t = st.tensors.get('fbank')!;
  assert.equal(t.dtype, 'float32');
  assert.deepEqual(t.shape, [28, 128]);
  assert.equal(st.metadata.sample_rate, '16000');
  const exp = loadExpected('expected_ast.safetensors').get('ast_in_44100_2ch_int16')!;
  assert.ok(maxAbsDiff(rawToFloat32(t), exp.data) <= 1e-2);
});

test('features: --target-length pads first, then --mean/--std normalise', async () => {
  const input = audioFixture('wav/in_16000_1ch_float32.wav');
  const out = join(tmp, 'b.safetensors');
  const { code } = await captureOutput(() =>
    features.run([input, '--out', out, '--target-length', '40', '--mean', '-6.6268077', '--std=5.358466']),
  );
  assert.equal(code, 0);
  const t = readSafetensors(out).tensors.get('fbank')!;
  assert.deepEqual(t.shape, [40, 128]);
  const got = rawToFloat32(t);
  const raw = astFeatures(await readAudio(input));
  assert.equal(raw.frames, 28);
  const k = 1 / (2 * 5.358466);
  for (let i = 0; i < 28 * 128; i++) assert.ok(Math.abs(got[i] - (raw.data[i] + 6.6268077) * k) < 1e-5);
  for (let i = 28 * 128; i < 40 * 128; i++) assert.ok(Math.abs(got[i] - 6.6268077 * k) < 1e-6, 'padding is normalised zeros');
  await captureOutput(() => features.run([input, '--out', out, '--target-length', '10', '--num-mel-bins', '64', '--sample-rate', '8000']));
  assert.deepEqual(readSafetensors(out).tensors.get('fbank')!.shape, [10, 64]);
});

test('features: bad arguments and bad files are UsageErrors naming them', async () => {
  const input = audioFixture('wav/in_16000_1ch_float32.wav');
  const out = join(tmp, 'c.safetensors');
  const bad = join(tmp, 'bad.wav');
  writeFileSync(bad, 'this is not audio');
  const cases: [string[], RegExp][] = [
    [[input], /^--out: missing/],
    [['--out', out], /^<audio>: missing/],
    [[input, '--out', out, '--sample-rate', 'fast'], /^--sample-rate: expected an integer/],
    [[input, '--out', out, '--sample-rate', '0'], /^--sample-rate/],
    [[input, '--out', out, '--mean', '1'], /^--std: required with --mean/],
    [[input, '--out', out, '--mean', '1', '--std', '0'], /^--std: must be positive/],
    [[input, '--out', out, '--frobnicate'], /^--frobnicate: unknown option/],
    [[join(tmp, 'nope.wav'), '--out', out], /nope\.wav: cannot read audio file: no such file/],
    [[bad, '--out', out], /bad\.wav: not an audio file/],
  ];
  for (const [argv, re] of cases) {
    await assert.rejects(
      captureOutput(() => features.run(argv)),
      (e: unknown) => e instanceof UsageError && re.test(e.message),
      argv.join(' '),
    );
  }
  assert.ok(!readdirSync(tmp).includes('c.safetensors'));
  const { code, out: help } = await captureOutput(() => features.run(['--help']));
  assert.equal(code, 0);
  assert.match(help, /usage: loaa features/);
});

test('stats prints AST mean/std over a folder', async () => {
  const dir = audioFixture('wav');
  const { code, out } = await captureOutput(() => stats.run([dir, '--json']));
  assert.equal(code, 0);
  const r = JSON.parse(out);
  const files = readdirSync(dir)
    .sort()
    .map((f) => join(dir, f));
  const specs = [];
  for (const f of files) specs.push(astFeatures(await readAudio(f)));
  const want = normStats(specs);
  assert.equal(r.clips, files.length);
  assert.ok(Math.abs(r.mean - want.mean) < 1e-9 && Math.abs(r.std - want.std) < 1e-9);
  const text = await captureOutput(() => stats.run([files[0], files[1], '--target-length', '50']));
  assert.match(text.out, /^mean -?\d+\.\d+\s+std \d+\.\d+\s+\(2 clips\)/);
  await assert.rejects(stats.run([]), UsageError);
  await assert.rejects(stats.run([join(tmp, 'nothing-here')]), /nothing-here: no such file or folder/);
  // a clip shorter than one 25 ms window (formats/mono_s16_44100.wav, 9 ms) is padded with silence
  // and a warning, as training pads short clips (issue 24), where it used to fail the whole run
  const short = await captureOutput(() => stats.run([audioFixture('formats'), '--json']));
  assert.equal(short.code, 0);
  assert.equal(JSON.parse(short.out).clips, readdirSync(audioFixture('formats')).length);
  assert.match(short.err, /mono_s16_44100\.wav: 9\.1 ms of audio is shorter than one 25 ms analysis window: padded with silence/);
});
