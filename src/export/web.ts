/**
 * `--web DIR`: the static page of examples/browser bundled with esbuild (loaa's audio front end,
 * onnxruntime-web's wasm build), onnxruntime-web's wasm runtime, and the model, in one directory any
 * static file server can serve (the page fetches model.onnx and the .wasm beside it).
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../util/fs.js';
import { copyFileGuarded, readInput } from '../util/guarded_fs.js';

/** The repository (or installed package) root: dist/src/export -> ../../.. */
const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const BROWSER_EXAMPLE = join(packageRoot, 'examples', 'browser');
/** onnxruntime-web's wasm build: the runtime and its loader */
const ORT_WASM_FILES = ['ort-wasm-simd-threaded.wasm', 'ort-wasm-simd-threaded.mjs'];

export interface WebApp {
  dir: string;
  files: Record<string, number>;
}

/** Bundles the page into `dir` and copies `modelFile` (and its external data) there as model.onnx. */
export async function writeWebApp(dir: string, modelFile: string): Promise<WebApp> {
  const entry = join(BROWSER_EXAMPLE, 'main.ts');
  if (!existsSync(entry)) throw new Error(`${entry}: the browser example is missing from this installation`);
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch (e) {
    throw new Error(`--web: esbuild is needed to bundle the page (npm install esbuild): ${(e as Error).message}`);
  }
  if (existsSync(`${modelFile}.data`)) throw new Error(`--web: ${basename(modelFile)}.data: a model with external data is over 2 GB, too large for a browser page`);
  mkdirSync(dir, { recursive: true });
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    logLevel: 'silent',
    absWorkingDir: packageRoot,
    // The audio code reaches node:fs / node:path / node:crypto ... only in its path-based helpers,
    // which the page never calls: each Node built-in becomes a stub whose every member throws when
    // called, so a future import of another built-in cannot break the bundle.
    plugins: [{
      name: 'no-node-builtins',
      setup(b) {
        b.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path, namespace: 'node-stub' }));
        b.onLoad({ filter: /.*/, namespace: 'node-stub' }, (args) => ({ contents: nodeStub(args.path), loader: 'js' }));
      },
    }],
  });
  const js = result.outputFiles[0].contents;
  writeFileAtomic(join(dir, 'app.js'), js);
  writeFileAtomic(join(dir, 'index.html'), readInput(join(BROWSER_EXAMPLE, 'index.html'), { what: 'the page' }));
  const ortDist = dirname(createRequire(import.meta.url).resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
  for (const f of ORT_WASM_FILES) copyFileGuarded(join(ortDist, f), join(dir, f), 'the wasm runtime');
  const model = join(dir, 'model.onnx');
  if (resolve(modelFile) !== resolve(model)) copyFileGuarded(modelFile, model, 'the model');
  const files: Record<string, number> = {};
  for (const f of ['index.html', 'app.js', ...ORT_WASM_FILES, 'model.onnx']) files[f] = statSync(join(dir, f)).size;
  return { dir, files };
}

function nodeStub(name: string): string {
  return `const fail = () => { throw new Error(${JSON.stringify(name + ' is not available in the browser')}); };
const stub = new Proxy(fail, { get: (_, k) => (k === '__esModule' ? false : stub), apply: fail, construct: fail });
module.exports = stub;`;
}
