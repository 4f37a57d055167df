/**
 * Progress for long loops: on a terminal one redrawn line with a bar, throughput (samples/s) and
 * ETA; elsewhere (logs, CI, pipes) a plain line every `every` updates and at the end.
 */
export interface ProgressOptions {
  /** what is counted, e.g. "epoch 3/25" */
  label: string;
  total: number;
  /** where to write (default process.stderr when `json`, else process.stdout) */
  stream?: NodeJS.WriteStream;
  /** force TTY behaviour on or off (default: stream.isTTY) */
  tty?: boolean;
  /** plain mode: a line every this many updates (default: about 10 lines per run) */
  every?: number;
  /** write nothing */
  silent?: boolean;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = String(m).padStart(h > 0 ? 2 : 1, '0');
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(sec).padStart(2, '0')}`;
}

export class Progress {
  readonly label: string;
  readonly total: number;
  readonly #stream: NodeJS.WriteStream;
  readonly #tty: boolean;
  readonly #every: number;
  readonly #silent: boolean;
  #done = 0;
  #samples = 0;
  #t0 = performance.now();
  /** throughput is measured from the first update on, so the start-up wait does not count */
  #tFirst: number | null = null;
  #samplesAtFirst = 0;
  #doneAtFirst = 0;
  #lastDraw = 0;
  #extra = '';

  constructor(o: ProgressOptions) {
    this.label = o.label;
    this.total = Math.max(0, o.total);
    this.#stream = o.stream ?? process.stdout;
    this.#tty = o.tty ?? Boolean(this.#stream.isTTY);
    this.#every = o.every ?? Math.max(1, Math.ceil(this.total / 10));
    this.#silent = o.silent ?? false;
  }

  /** `n` more units done, holding `samples` samples; `extra` is shown after the numbers (loss, lr). */
  tick(n = 1, samples = 0, extra?: string): void {
    this.#done += n;
    this.#samples += samples;
    if (this.#tFirst === null) {
      // pace is measured from the end of the first unit: start-up and warm-up do not count
      this.#tFirst = performance.now();
      this.#samplesAtFirst = this.#samples;
      this.#doneAtFirst = this.#done;
    }
    if (extra !== undefined) this.#extra = extra;
    if (this.#silent) return;
    if (this.#tty) {
      const now = performance.now();
      if (now - this.#lastDraw > 100 || this.#done >= this.total) {
        this.#lastDraw = now;
        this.#stream.write(`\r${this.line(true)}\x1b[K`);
      }
    } else if (this.#done % this.#every === 0 && this.#done < this.total) {
      this.#stream.write(`${this.line(false)}\n`);
    }
  }

  /** samples per second since the first tick */
  get rate(): number {
    if (this.#tFirst === null) return 0;
    const dt = (performance.now() - this.#tFirst) / 1000;
    const s = this.#samples - this.#samplesAtFirst;
    return dt > 0 ? s / dt : 0;
  }

  get elapsed(): number {
    return (performance.now() - this.#t0) / 1000;
  }

  /** seconds left, from the pace of units since the first */
  get eta(): number {
    if (this.#tFirst === null) return NaN;
    const units = this.#done - this.#doneAtFirst;
    const dt = (performance.now() - this.#tFirst) / 1000;
    if (units <= 0 || dt <= 0) return NaN;
    return ((this.total - this.#done) * dt) / units;
  }

  line(bar: boolean): string {
    const frac = this.total > 0 ? Math.min(1, this.#done / this.total) : 1;
    const width = 24;
    const filled = Math.round(frac * width);
    const parts = [this.label];
    if (bar) parts.push(`[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`);
    parts.push(`${this.#done}/${this.total}`);
    if (this.rate > 0) parts.push(`${this.rate.toFixed(1)} samples/s`);
    parts.push(this.#done >= this.total ? `${formatDuration(this.elapsed)}` : `ETA ${formatDuration(this.eta)}`);
    if (this.#extra) parts.push(this.#extra);
    return parts.join('  ');
  }

  /** The final line (a newline on a terminal, a last plain line elsewhere). */
  finish(extra?: string): void {
    if (extra !== undefined) this.#extra = extra;
    if (this.#silent) return;
    if (this.#tty) this.#stream.write(`\r${this.line(true)}\x1b[K\n`);
    else this.#stream.write(`${this.line(false)}\n`);
  }
}
