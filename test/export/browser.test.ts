import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { PNG } from 'pngjs';
import { fixture, loaa } from '../helpers.js';
import { encodeWav } from '../../src/audio/wav.js';
import { freshDir } from '../models/model_cases.js';
import { exportCase } from './export_cases.js';
import { CHROMIUM_FLAGS, findChromium } from '../chromium.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
};

function serve(dir: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = normalize(join(dir, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
    const file = path.endsWith('/') ? join(path, 'index.html') : path;
    if (!file.startsWith(dir) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  return new Promise((ok) =>
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      ok({ server, url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/` });
    }),
  );
}

interface PageResult {
  input: string;
  logits: number[];
  top: { label: string; score: number }[];
  validFrames: number;
  frames: number;
}

interface PredictResult {
  logits: number[];
  top: { label: string; score: number }[];
}

function predict(adapter: string, backbone: string, file: string): PredictResult {
  const r = loaa(['predict', file, '--backbone', backbone, '--adapter', adapter, '--json']);
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as { results: PredictResult[] }).results[0];
}

/** RGB of the spectrogram canvas at (x, y) (string form: the test compiles without DOM types). */
const PIXEL = (x: number, y: number) =>
  `Array.from(document.getElementById('spectrogram').getContext('2d').getImageData(${x}, ${y}, 1, 1).data.slice(0, 3))`;

test('the browser page: loads in headless Chromium, classifies a WAV and a FLAC like loaa predict, draws the result', async (t) => {
  const c = findChromium();
  if ('why' in c) {
    t.skip(`SKIPPED: ${c.why}`);
    return;
  }
  const { chromium } = await import('playwright-core');
  const { dir: adapter, backbone } = exportCase('loaa_ffn_3x1_bias_half'); // its frontend: 16 kHz, 128 bins, 100 frames
  const web = freshDir('web');
  const ex = loaa(['export', adapter, '--backbone', backbone, '--out', join(web, 'model.onnx'), '--web', web, '--json']);
  assert.equal(ex.status, 0, ex.stderr);
  for (const f of ['index.html', 'app.js', 'ort-wasm-simd-threaded.wasm', 'model.onnx'])
    assert.ok(existsSync(join(web, f)), `--web wrote ${f}`);
  // a 0.4-s clip: the model's 1-s window is mostly padding, which must be drawn grey
  const short = join(web, 'short.wav');
  writeFileSync(
    short,
    encodeWav({ sampleRate: 16000, channels: [new Float32Array(6400).map((_, i) => 0.3 * Math.sin((2 * Math.PI * 700 * i) / 16000))] }),
  );
  const inputs = [fixture('audio', 'wav', 'in_44100_2ch_int16.wav'), fixture('audio', 'formats', 'tone.flac'), short];
  const { server, url } = await serve(web);
  const browser = await chromium.launch({ executablePath: c.bin, args: CHROMIUM_FLAGS, headless: true });
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForSelector('body[data-state="ready"], body[data-state="error"]', { timeout: 60_000 });
    assert.equal(
      await page.getAttribute('body', 'data-state'),
      'ready',
      `page failed to load: ${await page.textContent('#status')} ${errors.join('; ')}`,
    );
    for (const file of inputs) {
      await page.evaluate('document.body.dataset.state = "busy"'); // string form: the test compiles without DOM types
      await page.setInputFiles('#file', file);
      await page.waitForSelector('body[data-state="done"], body[data-state="error"]', { timeout: 60_000 });
      assert.equal(await page.getAttribute('body', 'data-state'), 'done', `${file}: ${await page.textContent('#status')}`);
      const got = (await page.evaluate('window.loaaResult')) as PageResult;
      const want = predict(adapter, backbone, file);
      assert.equal(got.top.length, Math.min(5, want.logits.length));
      assert.equal(got.top[0].label, want.top[0].label, `${file}: same top-1 as loaa predict`);
      for (let i = 0; i < want.top.length; i++) {
        assert.equal(got.top[i].label, want.top[i].label);
        assert.ok(
          Math.abs(got.top[i].score - want.top[i].score) <= 1e-3,
          `${file}: ${got.top[i].label} ${got.top[i].score} vs loaa predict ${want.top[i].score}`,
        );
      }
      const shown = await page.$$eval('#top li', (lis) => lis.map((li) => li.textContent ?? ''));
      assert.equal(shown.length, got.top.length);
      assert.match(shown[0], new RegExp(`^${got.top[0].label}\\s+${got.top[0].score.toFixed(4)}`));
      if (file === short) {
        // 6400 samples: 1 + (6400 - 400) / 160 = 38 frames of the clip, then padding
        assert.equal(got.validFrames, 38);
        assert.equal(got.frames, 100);
        for (const y of [0, 64, 127])
          assert.deepEqual(await page.evaluate(PIXEL(70, y)), [128, 128, 128], `padding pixel (70, ${y}) is neutral grey`);
        assert.deepEqual(await page.evaluate(PIXEL(38, 10)), [255, 255, 255], 'a white line marks the end of the clip');
        assert.notDeepEqual(await page.evaluate(PIXEL(10, 120)), [128, 128, 128], 'the clip itself is coloured');
        assert.match((await page.textContent('#extent')) ?? '', /clip: 0\.38 s of the model's 1\.00 s window/);
      }
    }
    const shot = await page.screenshot({ fullPage: true });
    if (process.env.LOAA_SCREENSHOT) writeFileSync(process.env.LOAA_SCREENSHOT, shot);
    const png = PNG.sync.read(shot);
    let nonWhite = 0;
    const colours = new Set<number>();
    for (let i = 0; i < png.data.length; i += 4) {
      const [r, g, b] = [png.data[i], png.data[i + 1], png.data[i + 2]];
      if (r < 240 || g < 240 || b < 240) nonWhite++;
      colours.add((r << 16) | (g << 8) | b);
    }
    assert.ok(nonWhite > 0.1 * png.width * png.height, `the page looks blank: ${nonWhite} non-white pixels`);
    assert.ok(colours.size > 200, `only ${colours.size} colours: no spectrogram drawn`);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    server.close();
  }
});

test('the page reads labels and front end from the model file itself (metadata_props)', async () => {
  const { onnxMetadata } = await import('../../src/onnx/metadata.js');
  const { dir: adapter, backbone } = exportCase('loaa_attn_1x3_s10');
  const out = join(freshDir('meta'), 'm.onnx');
  const ex = loaa(['export', adapter, '--backbone', backbone, '--out', out]);
  assert.equal(ex.status, 0, ex.stderr);
  const meta = onnxMetadata(new Uint8Array(readFileSync(out)));
  const cfg = JSON.parse(readFileSync(join(adapter, 'adapter_config.json'), 'utf8')) as { labels: string[]; frontend: unknown };
  assert.deepEqual(JSON.parse(meta.labels), cfg.labels);
  assert.deepEqual(JSON.parse(meta.frontend), cfg.frontend);
});
