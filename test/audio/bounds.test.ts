import test from 'node:test';
import assert from 'node:assert/strict';
import {
  astFbankOfWaveform,
  astFeatures,
  astWaveform,
  checkFrontEndOptions,
  padOrCrop,
  samplesForFrames,
} from '../../src/audio/frontend.js';
import { epicLogMel } from '../../src/audio/epic.js';
import { checkDecoded, MIN_SAMPLE_RATE } from '../../src/audio/types.js';
import { parseWav } from '../../src/audio/wav.js';

function noise(n: number, seed: number): Float32Array {
  const x = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = (s / 2 ** 32 - 0.5) * 0.5 + 0.3 * Math.sin(i / 37);
  }
  return x;
}

test('target_length crops the waveform before resampling: the kept frames equal the uncropped ones', () => {
  for (const [rate, frames] of [
    [44100, 120],
    [8000, 64],
    [16000, 200],
    [22050, 1],
  ] as const) {
    const x = noise(rate * 6, rate);
    const audio = { sampleRate: rate, channels: [x] };
    const full = padOrCrop(astFbankOfWaveform(astWaveform(x, rate, 16000)), frames);
    const cropped = astFeatures(audio, { targetLength: frames });
    assert.equal(cropped.frames, frames);
    // the only difference is the waveform mean, which Kaldi's per-frame DC removal cancels: rounding
    let worst = 0;
    for (let i = 0; i < full.data.length; i++) worst = Math.max(worst, Math.abs(full.data[i]! - cropped.data[i]!));
    assert.ok(worst < 2e-3, `${rate} Hz, ${frames} frames: max abs diff ${worst}`);
    // and the crop really happened: far fewer samples than the 6 s given
    assert.ok(samplesForFrames(frames, rate, 16000) < x.length / 2);
  }
});

test('front-end settings are bounded and the error names the key', () => {
  assert.throws(
    () => checkFrontEndOptions({ sampleRate: 1e9 }, 'cfg.json: frontend'),
    /^Error: cfg\.json: frontend: sample_rate must be an integer in \[1000, 384000\], got 1000000000$/,
  );
  assert.throws(() => checkFrontEndOptions({ numMelBins: 0 }), /num_mel_bins/);
  assert.throws(() => checkFrontEndOptions({ targetLength: 1e7 }), /target_length/);
  assert.throws(() => checkFrontEndOptions({ targetLength: 1.5 }), /target_length/);
  checkFrontEndOptions({ sampleRate: 16000, numMelBins: 128, targetLength: 1024 });
  const audio = { sampleRate: 16000, channels: [noise(16000, 1)] };
  assert.throws(() => astFeatures(audio, { sampleRate: 1e9 }, 'x.wav'), /^Error: x\.wav: sample_rate/);
});

test('sample rates below 1 kHz and absurd channel counts are refused where they are read', () => {
  assert.throws(
    () => checkDecoded({ sampleRate: 1, channels: [new Float32Array(10)] }, 'a.flac'),
    new RegExp(`a\\.flac: sample rate 1 Hz is below the ${MIN_SAMPLE_RATE} Hz limit`),
  );
  assert.throws(
    () => checkDecoded({ sampleRate: 16000, channels: Array.from({ length: 300 }, () => new Float32Array(2)) }, 'b.ogg'),
    /b\.ogg: 300 channels/,
  );
  const h = Buffer.alloc(44 + 4);
  h.write('RIFF', 0);
  h.writeUInt32LE(40, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(1, 24); // 1 Hz
  h.writeUInt32LE(2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(4, 40);
  assert.throws(() => parseWav(h, 'one_hz.wav'), /one_hz\.wav.*1 Hz is below/);
});

test('EPIC log-mel computes only the frames it keeps, with the same values', () => {
  const x = noise(24000 * 3, 7);
  const all = epicLogMel(x, { numFrames: 0 });
  const kept = epicLogMel(x, { numFrames: 100 });
  assert.equal(kept.frames, 100);
  assert.ok(all.frames > 100);
  assert.deepEqual(kept.data, all.data.subarray(0, 100 * all.bins));
});
