/** The front end against torchaudio 0.13.1 / torch.stft outputs made by tools/fixtures/audio_fixtures.py. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AudioHdf5 } from '../../src/audio/hdf5.js';
import { epicLogMel } from '../../src/audio/epic.js';
import { readAudio } from '../../src/audio/decode.js';
import { fbank, type FbankOptions } from '../../src/audio/kaldi.js';
import { astFeatures } from '../../src/audio/frontend.js';
import { resample } from '../../src/audio/resample.js';
import { toMono } from '../../src/audio/types.js';
import { audioFixture, comparisons, loadCases, loadExpected, maxAbsDiff, maxRelDiff, parity, record, snakeToCamel } from './golden-util.js';

const cases = loadCases();

async function monoOf(input: string): Promise<Float32Array> {
  return toMono(await readAudio(audioFixture(cases.inputs[input].file)));
}

test('decoded WAV formats equal torchaudio.load', async () => {
  const exp = loadExpected('expected_decode.safetensors');
  for (const c of cases.decode) {
    const a = await readAudio(audioFixture(c.file));
    assert.equal(a.sampleRate, c.rate, c.name);
    assert.equal(a.channels.length, c.channels, c.name);
    const e = exp.get(c.name)!;
    for (let ch = 0; ch < c.channels; ch++) {
      const d = maxAbsDiff(a.channels[ch], e.data.subarray(ch * c.frames, (ch + 1) * c.frames));
      record('decode wav', d);
      // sox (torchaudio's loader) passes 32-bit ints and floats through a 32-bit integer sample and
      // rounds that to 25 bits on the way back to float; we keep every bit, so those differ by <= 2^-24
      const exact = !/s32|float/.test(c.name);
      assert.ok(exact ? d === 0 : d <= 2 ** -24, `${c.name} channel ${ch}: max diff ${d}`);
    }
  }
});

test('Kaldi fbank matches torchaudio.compliance.kaldi.fbank for every option case (<= 1e-3 log)', async () => {
  const exp = loadExpected('expected_fbank.safetensors');
  for (const c of cases.fbank) {
    const opts = snakeToCamel(c.kwargs) as FbankOptions;
    const out = fbank(await monoOf(c.input), opts);
    const e = exp.get(c.name)!;
    if (c.shape.length === 1) {
      assert.equal(out.frames, 0, c.name);
      continue;
    }
    assert.deepEqual([out.frames, out.bins], c.shape, c.name);
    const linear = c.kwargs.use_log_fbank === false;
    const d = linear ? maxRelDiff(out.data, e.data) : maxAbsDiff(out.data, e.data);
    record(linear ? 'fbank linear (relative)' : `fbank log, ${cases.inputs[c.input].rate} Hz`, d);
    assert.ok(d <= 1e-3, `${c.name}: max diff ${d}`);
  }
});

test('resample matches torchaudio.functional.resample (<= 1e-4)', async () => {
  const exp = loadExpected('expected_resample.safetensors');
  for (const c of cases.resample) {
    const x = (await monoOf(c.input)).subarray(0, c.input_frames);
    const y = resample(x, c.orig, c.new);
    assert.equal(y.length, c.length, c.name);
    const d = maxAbsDiff(y, exp.get(c.name)!.data);
    record('resample', d);
    assert.ok(d <= 1e-4, `${c.name}: max diff ${d}`);
  }
});

test('AST front end (downmix, resample, centre, fbank) matches torchaudio (<= 1e-3 at 16 kHz, 1e-2 resampled)', async () => {
  const exp = loadExpected('expected_ast.safetensors');
  for (const c of cases.ast) {
    const input = cases.inputs[c.input];
    const out = astFeatures(await readAudio(audioFixture(input.file)), { sampleRate: c.sample_rate, numMelBins: c.num_mel_bins });
    assert.deepEqual([out.frames, out.bins], c.shape, c.name);
    const d = maxAbsDiff(out.data, exp.get(c.name)!.data);
    const resampled = input.rate !== c.sample_rate;
    record(resampled ? `AST front end, resampled from ${input.rate} Hz` : 'AST front end, 16 kHz input', d);
    assert.ok(d <= (resampled ? 1e-2 : 1e-3), `${c.name}: max diff ${d}`);
  }
});

test('EPIC-SOUNDS log-mel from HDF5 slices matches the torch.stft reference', async () => {
  const exp = loadExpected('expected_epic.safetensors');
  const h5 = await AudioHdf5.open(audioFixture('epic.h5'));
  try {
    for (const c of cases.epic) {
      const x = h5.read(c.video, c.start, c.stop);
      const out = epicLogMel(x);
      assert.deepEqual([out.frames, out.bins], [400, 128]);
      const d = maxAbsDiff(out.data, exp.get(c.name)!.data);
      record('EPIC-SOUNDS log-mel', d);
      assert.ok(d <= 1e-3, `${c.name}: max diff ${d}`);
    }
  } finally {
    h5.close();
  }
});

test('parity summary: every case above was compared, each kind within its bound', () => {
  console.log('# parity (max abs diff vs torchaudio):', JSON.stringify(parity, null, 1));
  // a loop that silently compared nothing (an empty or renamed case list) would pass the tests above
  const rate = (name: string) => cases.inputs[name].rate;
  const expected: Record<string, number> = {};
  const add = (k: string): void => {
    expected[k] = (expected[k] ?? 0) + 1;
  };
  for (const c of cases.decode) for (let ch = 0; ch < c.channels; ch++) add('decode wav');
  for (const c of cases.fbank)
    if (c.shape.length !== 1) add(c.kwargs.use_log_fbank === false ? 'fbank linear (relative)' : `fbank log, ${rate(c.input)} Hz`);
  for (const _ of cases.resample) add('resample');
  for (const c of cases.ast)
    add(rate(c.input) !== c.sample_rate ? `AST front end, resampled from ${rate(c.input)} Hz` : 'AST front end, 16 kHz input');
  for (const _ of cases.epic) add('EPIC-SOUNDS log-mel');
  assert.ok(Object.keys(expected).length >= 6, `only ${Object.keys(expected).length} kinds of cases in cases.json`);
  assert.deepEqual(comparisons, expected);
  const bound = (k: string): number =>
    k === 'decode wav' ? 2 ** -24 : k === 'resample' ? 1e-4 : k.startsWith('AST front end, resampled') ? 1e-2 : 1e-3;
  for (const [k, v] of Object.entries(parity))
    assert.ok(Number.isFinite(v) && v >= 0 && v <= bound(k), `${k}: ${v} is not within ${bound(k)}`);
});
