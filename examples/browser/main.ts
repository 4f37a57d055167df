/**
 * The page: loads model.onnx (beside it) in onnxruntime-web's wasm backend, classifies a chosen or
 * dropped audio file with loaa's front end, shows the top-5 and the spectrogram the model saw.
 * `window.loaaResult` / `body[data-state]` expose the outcome to tests.
 */
import * as ort from 'onnxruntime-web/wasm';
import { features, modelInfo, topK, type ModelInfo, type Scored } from '../../src/export/classify.js';
import type { Spectrogram } from '../../src/audio/types.js';

declare global {
  interface Window {
    loaaResult?: { input: string; logits: number[]; top: Scored[]; ms: number };
  }
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = (s: string, state = 'busy') => {
  $('status').textContent = s;
  document.body.dataset.state = state;
};

// no cross-origin isolation on a plain static server: one thread; the wasm lies beside the page
ort.env.wasm.numThreads = 1;
ort.env.wasm.wasmPaths = new URL('./', location.href).href;

let session: ort.InferenceSession;
let info: ModelInfo;

function drawSpectrogram(spec: Spectrogram): void {
  const canvas = $<HTMLCanvasElement>('spectrogram');
  canvas.width = spec.frames;
  canvas.height = spec.bins;
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(spec.frames, spec.bins);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of spec.data) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const span = hi - lo || 1;
  for (let t = 0; t < spec.frames; t++) {
    for (let f = 0; f < spec.bins; f++) {
      const v = (spec.data[t * spec.bins + f] - lo) / span;
      const o = ((spec.bins - 1 - f) * spec.frames + t) * 4; // low frequencies at the bottom
      img.data[o] = Math.round(255 * Math.min(1, 1.8 * v));
      img.data[o + 1] = Math.round(255 * Math.max(0, 1.8 * v - 0.6));
      img.data[o + 2] = Math.round(255 * (0.35 + 0.5 * Math.sin(Math.PI * v)) * (1 - v * 0.6));
      img.data[o + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
}

function showTop(top: Scored[]): void {
  const ol = $('top');
  ol.replaceChildren(
    ...top.map((s) => {
      const li = document.createElement('li');
      const bar = document.createElement('span');
      bar.className = 'bar';
      bar.style.width = `${(100 * s.score).toFixed(1)}%`;
      li.append(bar, `${s.label}  ${s.score.toFixed(4)}`);
      return li;
    }),
  );
}

async function classify(file: File): Promise<void> {
  try {
    status(`decoding ${file.name} ...`);
    const spec = await features(new Uint8Array(await file.arrayBuffer()), file.name, info);
    drawSpectrogram(spec);
    status('running the model ...');
    const t0 = performance.now();
    const input = new ort.Tensor('float32', spec.data, [1, spec.frames, spec.bins]);
    const out = await session.run({ [session.inputNames[0]]: input });
    const ms = performance.now() - t0;
    const logits = Array.from(out[session.outputNames[0]].data as Float32Array);
    const top = topK(logits, info.labels, Math.min(5, info.labels.length));
    showTop(top);
    window.loaaResult = { input: file.name, logits, top, ms };
    status(`${file.name}: ${top[0].label} (${(100 * top[0].p).toFixed(1)}%), model ${ms.toFixed(0)} ms`, 'done');
  } catch (e) {
    status(`error: ${(e as Error).message}`, 'error');
  }
}

async function start(): Promise<void> {
  status('loading model.onnx ...');
  const res = await fetch('model.onnx');
  if (!res.ok) throw new Error(`model.onnx: HTTP ${res.status}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  info = modelInfo(bytes);
  session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  $('labels').textContent = `${info.labels.length} classes: ${info.labels.slice(0, 12).join(', ')}${info.labels.length > 12 ? ', ...' : ''}`;
  const pick = $<HTMLInputElement>('file');
  pick.disabled = false;
  pick.addEventListener('change', () => pick.files?.[0] && classify(pick.files[0]));
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => e.preventDefault());
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    const f = e.dataTransfer?.files[0];
    if (f) void classify(f);
  });
  status('ready: choose or drop an audio file (WAV, FLAC, Ogg/Vorbis, MP3)', 'ready');
}

start().catch((e) => status(`error: ${(e as Error).message}`, 'error'));
