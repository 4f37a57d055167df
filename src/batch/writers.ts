/** Result writers for batch predict: each record is written as soon as it is known. */
import type { Writable } from 'node:stream';
import type { Scored } from '../serve/backend.js';

/** `logits`: the model's raw outputs, when the backend gives them (AudioClassifier does). */
export type BatchRecord =
  | { input: string; top: Scored[]; logits?: number[]; error?: undefined }
  | { input: string; error: string; top?: undefined; logits?: undefined };

export type OutputFormat = 'text' | 'jsonl' | 'csv';

export interface RecordWriter {
  write(r: BatchRecord): Promise<void>;
  end(): Promise<void>;
}

function csvField(v: string | number): string {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Waits for 'drain' when the stream's buffer is full, so a slow disk or pipe bounds memory. */
function put(out: Writable, text: string): Promise<void> {
  if (out.write(text)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => {
      out.off('drain', onDrain);
      reject(e);
    };
    const onDrain = () => {
      out.off('error', onError);
      resolve();
    };
    out.once('drain', onDrain);
    out.once('error', onError);
  });
}

export function recordWriter(format: OutputFormat, out: Writable, topK: number): RecordWriter {
  let started = false;
  const header = (): string => {
    const cols = ['input', 'status'];
    for (let i = 1; i <= topK; i++) cols.push(`label${i}`, `score${i}`);
    cols.push('error');
    return `${cols.join(',')}\n`;
  };
  return {
    write(r) {
      let text: string;
      if (format === 'jsonl') {
        text = `${JSON.stringify(r.error !== undefined ? { input: r.input, error: r.error } : { input: r.input, top: r.top, ...(r.logits ? { logits: r.logits } : {}) })}\n`;
      } else if (format === 'csv') {
        const row: (string | number)[] = [r.input, r.error !== undefined ? 'error' : 'ok'];
        for (let i = 0; i < topK; i++) {
          const t = r.top?.[i];
          row.push(t ? t.label : '', t ? t.score : '');
        }
        row.push(r.error ?? '');
        text = `${(started ? '' : header()) + row.map(csvField).join(',')}\n`;
        started = true;
      } else {
        // text: failures go to stderr only (the caller reports them), results are readable lines
        if (r.error !== undefined) return Promise.resolve();
        text = `${r.input}\n${r.top.map((t, i) => `  ${String(i + 1).padStart(2)}. ${t.label}  ${t.score.toFixed(4)}\n`).join('')}`;
      }
      return put(out, text);
    },
    async end() {
      if (format === 'csv' && !started) await put(out, header());
    },
  };
}
