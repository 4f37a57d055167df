/**
 * Front-end speed, single thread: milliseconds per clip for the AST front end (resample to 16 kHz +
 * mean removal + Kaldi fbank, 128 bins) on a 5-s 44.1 kHz clip and a 1-s 16 kHz clip, plus the two
 * stages of the first on their own. tools/bench/frontend_torchaudio.py prints the same rows for
 * torchaudio (torch.set_num_threads(1)).
 *
 * The whole-front-end rows time `features()`, the function inference, `loaa features`, export and
 * the web page run (AST's defaults: no target length, no normalisation: the same work as the Python
 * side's). They chained `astFbankOfWaveform(astWaveform(...))` before, which hands the caller the
 * resampled waveform as a new array: an allocation `features()` does not make, and on the VM these
 * rows were measured on, 80 fresh pages (~1 ms) a clip once the allocator returns memory.
 */
import { astFbankOfWaveform, astSpec, astWaveform, features } from '../audio/frontend.js';
import { resample } from '../audio/resample.js';
import { Rng } from '../audio/rng.js';
import { medianMs } from './timing.js';

/** The benchmark signal: tones plus noise, deterministic. */
export function benchSignal(rate: number, seconds: number): Float32Array {
  const rng = new Rng(1234);
  const n = Math.round(rate * seconds);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    x[i] = 0.3 * Math.sin(2 * Math.PI * 440 * t) + 0.1 * Math.sin(2 * Math.PI * 3000 * t) + 0.05 * rng.normal();
  }
  return x;
}

/** The rows' work: each row's call, and how many times its median is taken over `reps` (the 1-s row: 5x). */
export function frontEndCases(): Record<string, { call: () => unknown; repsFactor: number }> {
  const long = benchSignal(44100, 5);
  const short = benchSignal(16000, 1);
  const long16 = astWaveform(long, 44100, 16000);
  const spec = astSpec();
  return {
    frontend_5s_44k1_ms: { call: () => features({ sampleRate: 44100, channels: [long] }, spec), repsFactor: 1 },
    frontend_1s_16k_ms: { call: () => features({ sampleRate: 16000, channels: [short] }, spec), repsFactor: 5 },
    resample_5s_44k1_to_16k_ms: { call: () => resample(long, 44100, 16000), repsFactor: 1 },
    fbank_5s_16k_ms: { call: () => astFbankOfWaveform(long16), repsFactor: 1 },
  };
}

export async function benchFrontEnd(reps = 20): Promise<Record<string, number>> {
  const round = (v: number): number => Math.round(v * 1000) / 1000;
  return Object.fromEntries(Object.entries(frontEndCases()).map(([key, c]) => [key, round(medianMs(c.call, reps * c.repsFactor, 3))]));
}
