/**
 * `resample` over a signal that arrives in pieces, giving the same samples as one call on the whole
 * signal. The filter is polyphase: output block k (outputs k*target .. k*target + target - 1, rates
 * reduced by their gcd) reads only inputs k*orig - width .. k*orig + width + orig - 1 (the window's
 * taps, zero beyond them). So a run of blocks is `resample` of the input from a block boundary
 * (a multiple of orig: the phases line up) starting `width` samples early, ending `width + orig` late:
 * every tap then sees the same inputs as in the whole call and the same float64 sums come out.
 * What is kept between pieces is that context, never the signal.
 */
import { resample, resampledLength, type ResampleOptions } from './resample.js';

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

export class StreamResampler {
  readonly origRate: number;
  readonly newRate: number;
  private readonly opts: ResampleOptions;
  private readonly orig: number;
  private readonly target: number;
  /** how far a block's taps reach before its first input (torchaudio's `width`) */
  private readonly width: number;
  /** whole blocks of input kept before the next block for its left taps */
  private readonly backBlocks: number;
  /** inputs [bufStart, seen) are held in buf[0 .. seen - bufStart) */
  private buf = new Float32Array(0);
  private bufStart = 0;
  private seen = 0;
  /** the first output block not yet returned */
  private next = 0;
  private done = false;

  constructor(origRate: number, newRate: number, opts: ResampleOptions = {}) {
    resample(new Float32Array(1), origRate, newRate, opts); // the same argument checks, the same messages
    this.origRate = origRate;
    this.newRate = newRate;
    this.opts = opts;
    const g = gcd(origRate, newRate);
    this.orig = origRate / g;
    this.target = newRate / g;
    const lpw = opts.lowpassFilterWidth ?? 6;
    const rolloff = opts.rolloff ?? 0.99;
    this.width = Math.ceil((lpw * this.orig) / (Math.min(this.orig, this.target) * rolloff));
    this.backBlocks = Math.ceil(this.width / this.orig);
  }

  /** The outputs that `x` completes (possibly none; `x` itself when the rates are equal); the rest wait for later pieces or `flush`. */
  push(x: Float32Array): Float32Array {
    if (this.done) throw new Error('StreamResampler: push after flush');
    if (this.origRate === this.newRate) {
      this.seen += x.length;
      return x;
    }
    this.append(x);
    // block k is complete once its last tap, k*orig + width + orig - 1, has arrived
    const end = Math.floor((this.seen - this.width) / this.orig);
    if (end <= this.next) return new Float32Array(0);
    return this.blocks(end, end * this.orig + this.width);
  }

  /** The remaining outputs (the signal ends here: zeros beyond it, as in `resample`). */
  flush(): Float32Array {
    if (this.done) throw new Error('StreamResampler: flush called twice');
    this.done = true;
    if (this.origRate === this.newRate) return new Float32Array(0);
    const outLen = resampledLength(this.seen, this.origRate, this.newRate);
    const end = Math.ceil(outLen / this.target);
    if (end <= this.next) return new Float32Array(0);
    // resample of inputs [from, seen) gives outputs up to outLen: the last block comes out cut
    return this.blocks(end, this.seen);
  }

  /** Outputs of blocks [next, end) from inputs [first block's context, upTo). */
  private blocks(end: number, upTo: number): Float32Array {
    const fromBlock = Math.max(0, this.next - this.backBlocks);
    const from = fromBlock * this.orig;
    const seg = this.buf.subarray(from - this.bufStart, upTo - this.bufStart);
    const y = resample(seg, this.origRate, this.newRate, this.opts);
    const out = y.subarray((this.next - fromBlock) * this.target, (end - fromBlock) * this.target);
    this.next = end;
    this.trim();
    return out;
  }

  private append(x: Float32Array): void {
    const held = this.seen - this.bufStart;
    if (held + x.length > this.buf.length) {
      const grown = new Float32Array(Math.max(held + x.length, 2 * this.buf.length));
      grown.set(this.buf.subarray(0, held));
      this.buf = grown;
    }
    this.buf.set(x, held);
    this.seen += x.length;
  }

  /** Drops inputs no later block reads. */
  private trim(): void {
    const keepFrom = Math.max(0, this.next - this.backBlocks) * this.orig;
    if (keepFrom <= this.bufStart) return;
    this.buf.copyWithin(0, keepFrom - this.bufStart, this.seen - this.bufStart);
    this.bufStart = keepFrom;
  }
}
