/**
 * Front-end speed, single thread: milliseconds per clip for the AST front end (resample to 16 kHz +
 * mean removal + Kaldi fbank, 128 bins) on a 5-s 44.1 kHz clip and a 1-s 16 kHz clip, plus the two
 * stages of the first on their own. tools/bench/frontend_torchaudio.py prints the same rows for
 * torchaudio (torch.set_num_threads(1)).
 */
import { astFbankOfWaveform, astWaveform } from '../audio/frontend.js';
import { resample } from '../audio/resample.js';
import { Rng } from '../audio/rng.js';

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

/** Median of `reps` timings after `warm` untimed runs. */
function time(fn: () => unknown, reps: number, warm = 3): number {
  for (let i = 0; i < warm; i++) fn();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    ts.push(performance.now() - t0);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)];
}

export async function benchFrontEnd(reps = 20): Promise<Record<string, number>> {
  const long = benchSignal(44100, 5);
  const short = benchSignal(16000, 1);
  const long16 = astWaveform(long, 44100, 16000);
  const round = (v: number): number => Math.round(v * 1000) / 1000;
  return {
    frontend_5s_44k1_ms: round(time(() => astFbankOfWaveform(astWaveform(long, 44100, 16000)), reps)),
    frontend_1s_16k_ms: round(time(() => astFbankOfWaveform(astWaveform(short, 16000, 16000)), reps * 5)),
    resample_5s_44k1_to_16k_ms: round(time(() => resample(long, 44100, 16000), reps)),
    fbank_5s_16k_ms: round(time(() => astFbankOfWaveform(long16), reps)),
  };
}
