/**
 * The page: loads model.onnx (beside it) in onnxruntime-web's wasm backend, classifies a chosen or
 * dropped audio file with loaa's front end, shows the top-5 and the spectrogram the model saw.
 * `window.loaaResult` / `body[data-state]` expose the outcome to tests.
 */
import * as ort from 'onnxruntime-web/wasm';
import { features, modelInfo, topK, type ClipFeatures, type ModelInfo, type Scored } from '../../src/onnx/frontend.js';

declare global {
  interface Window {
    loaaResult?: { input: string; logits: number[]; top: Scored[]; ms: number; validFrames: number; frames: number };
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

/** Padding after the clip: a neutral grey, apart from every colour the map gives to signal. */
const PADDING_RGB = [128, 128, 128] as const;

/**
 * The spectrogram the model saw. The colour range comes from the clip's frames only (the zero
 * padding would otherwise stretch it); padding frames are drawn grey, and a white line marks where
 * the clip ends, so a short clip reads as a short clip and not as a bright block.
 */
function drawSpectrogram(spec: ClipFeatures): void {
  const canvas = $<HTMLCanvasElement>('spectrogram');
  canvas.width = spec.frames;
  canvas.height = spec.bins;
  canvas.dataset.validFrames = String(spec.validFrames);
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(spec.frames, spec.bins);
  const clip = spec.data.subarray(0, spec.validFrames * spec.bins);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of clip) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const span = hi - lo || 1;
  for (let t = 0; t < spec.frames; t++) {
    for (let f = 0; f < spec.bins; f++) {
      const o = ((spec.bins - 1 - f) * spec.frames + t) * 4; // low frequencies at the bottom
      img.data[o + 3] = 255;
      if (t >= spec.validFrames) {
        img.data.set(PADDING_RGB, o);
        continue;
      }
      const v = (spec.data[t * spec.bins + f] - lo) / span;
      img.data[o] = Math.round(255 * Math.min(1, 1.8 * v));
      img.data[o + 1] = Math.round(255 * Math.max(0, 1.8 * v - 0.6));
      img.data[o + 2] = Math.round(255 * (0.35 + 0.5 * Math.sin(Math.PI * v)) * (1 - v * 0.6));
    }
  }
  ctx.putImageData(img, 0, 0);
  if (spec.validFrames < spec.frames) {
    ctx.fillStyle = '#fff';
    ctx.fillRect(spec.validFrames, 0, 1, spec.bins);
  }
  const secs = (n: number) => (n / 100).toFixed(2); // 10 ms frame shift
  $('extent').textContent =
    spec.validFrames < spec.frames
      ? `clip: ${secs(spec.validFrames)} s of the model's ${secs(spec.frames)} s window (grey: padding)`
      : `clip fills the model's ${secs(spec.frames)} s window`;
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
    window.loaaResult = { input: file.name, logits, top, ms, validFrames: spec.validFrames, frames: spec.frames };
    status(`${file.name}: ${top[0].label} (${(100 * top[0].score).toFixed(1)}%), model ${ms.toFixed(0)} ms`, 'done');
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
  $('labels').textContent =
    `${info.labels.length} classes: ${info.labels.slice(0, 12).join(', ')}${info.labels.length > 12 ? ', ...' : ''}`;
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
