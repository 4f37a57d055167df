/**
 * A long-lived PyTorch process for the bench's rows (tools/bench/rows_torch.py --serve): one JSON
 * request a line in, one JSON answer a line out. Models stay built between rounds on both sides, so
 * an interleaved round times only the work, not model construction.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import { benchScript } from './python.js';

export class TorchWorker {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: Interface;
  private readonly pending: ((line: string | null) => void)[] = [];
  private readonly queued: string[] = [];
  private stderrTail = '';
  private closed = false;
  info: Record<string, unknown> = {};

  private constructor(
    readonly python: string,
    threads: number,
  ) {
    const script = benchScript('rows_torch.py');
    this.child = spawn(python, [script, '--serve', '--threads', String(threads)], { env: process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-2000);
    });
    this.lines = createInterface({ input: this.child.stdout });
    this.lines.on('line', (l) => {
      const waiter = this.pending.shift();
      if (waiter) waiter(l);
      else this.queued.push(l);
    });
    const end = (): void => {
      this.closed = true;
      for (const w of this.pending.splice(0)) w(null);
    };
    this.lines.on('close', end);
    this.child.on('error', end);
  }

  /** Starts the process and waits for its ready line (torch version, threads). */
  static async start(python: string, threads: number): Promise<TorchWorker> {
    const w = new TorchWorker(python, threads);
    w.info = await w.next();
    return w;
  }

  private lastError(): string {
    const lines = this.stderrTail
      .trim()
      .split('\n')
      .filter((l) => !/UserWarning|_conversion_method_template/.test(l));
    return lines.slice(-3).join(' | ') || `exit ${this.child.exitCode}`;
  }

  private next(): Promise<Record<string, unknown>> {
    const parse = (l: string | null): Record<string, unknown> => {
      if (l === null) throw new Error(`${this.python} rows_torch.py: ended (${this.lastError()})`);
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        throw new Error(`${this.python} rows_torch.py: printed ${JSON.stringify(l.slice(0, 200))}, not JSON`);
      }
    };
    const q = this.queued.shift();
    if (q !== undefined) return Promise.resolve(parse(q));
    if (this.closed) return Promise.reject(new Error(`${this.python} rows_torch.py: ended (${this.lastError()})`));
    return new Promise((resolve, reject) => {
      this.pending.push((l) => {
        try {
          resolve(parse(l));
        } catch (e) {
          reject(e);
        }
      });
    });
  }

  /** One request; an answer with "error" becomes a thrown Error. */
  async request(q: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.closed) throw new Error(`${this.python} rows_torch.py: ended (${this.lastError()})`);
    this.child.stdin.write(`${JSON.stringify(q)}\n`);
    const r = await this.next();
    if (typeof r.error === 'string') throw new Error(`rows_torch.py ${String(q.op)}: ${r.error}`);
    return r;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const done = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin.end();
    await done;
  }
}
