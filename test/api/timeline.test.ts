import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeWav } from '../../src/audio/wav.js';
import { AudioClassifier } from '../../src/api/classifier.js';
import { resample } from '../../src/audio/resample.js';
import { readAudio } from '../../src/audio/decode.js';
import { adapterDir, backbonePath, caseNamed } from '../models/model_cases.js';
import { tempDir } from '../helpers.js';

const C = caseNamed('loaa_attn_1x3_s10');
const backbone = backbonePath(C.backbone);

test('timeline: each window is classified as a clip of those samples would be', async () => {
  const dir = tempDir('tl-api');
  const sr = 16000;
  // 6 s, a different sound each second; 22.05 kHz so the streamed resampler is in the path too
  const rate = 22050;
  const x = new Float32Array(6 * rate).map((_, i) => {
    const t = i / rate;
    const k = Math.floor(t);
    return k % 3 === 2 ? 0.2 * Math.sin(1e4 * Math.sin(i * 12.9898)) : 0.4 * Math.sin(2 * Math.PI * (150 + 400 * k) * t);
  });
  const wav = join(dir, 'six.wav');
  writeFileSync(wav, encodeWav({ sampleRate: rate, channels: [x] }));
  const clf = await AudioClassifier.fromPretrained(adapterDir(C)!, { backbone });
  try {
    const progress: [number, number | undefined][] = [];
    const t = await clf.timeline(wav, { window: 1, hop: 1, batchSize: 4, onProgress: (d, n) => progress.push([d, n]) });
    assert.equal(t.windows, 6);
    assert.deepEqual(progress, [
      [4, 6],
      [6, 6],
    ]);
    // hop = window: window i speaks for [i, i + 1] s; expected: each 1-s slice of the resampled
    // signal classified on its own through classify(), adjacent equal labels merged, scores averaged
    const y = resample((await readAudio(wav)).channels[0]!, rate, sr); // the file's 16-bit samples
    const want: { start: number; end: number; label: string; sum: number; n: number }[] = [];
    for (let i = 0; i < 6; i++) {
      const top = (await clf.classify(y.slice(i * sr, (i + 1) * sr), { sampleRate: sr, topK: 1 }))[0]!;
      const last = want.at(-1);
      if (last && last.label === top.label) {
        last.end = i + 1;
        last.sum += top.score;
        last.n++;
      } else want.push({ start: i, end: i + 1, label: top.label, sum: top.score, n: 1 });
    }
    assert.deepEqual(
      t.segments.map(({ start, end, label }) => ({ start, end, label })),
      want.map(({ start, end, label }) => ({ start, end, label })),
    );
    t.segments.forEach((s, i) => {
      assert.ok(Math.abs(s.score - want[i]!.sum / want[i]!.n) < 1e-5, `segment ${i}: ${s.score}`);
    });
    // an adapter that is not loaded is refused, naming it
    await assert.rejects(clf.timeline(wav, { adapter: 'nope' }), /useAdapter: no adapter "nope"/);
    await assert.rejects(clf.timeline(wav, { hop: 3, window: 2 }), /^Error: hop: 3 s is longer than the 2 s window/);
    await assert.rejects(clf.timeline(join(dir, 'missing.wav')), /missing\.wav/);
  } finally {
    clf.dispose();
  }
});
