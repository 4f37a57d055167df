/**
 * The browser page without a model: examples/browser bundled with esbuild (loaa's audio front end,
 * onnxruntime-web's wasm build) plus onnxruntime-web's wasm runtime. `npm pack` runs this once
 * (scripts/build-web.mjs -> dist/web/), so an installed loaa needs neither esbuild nor
 * onnxruntime-web for `export --web`; a checkout bundles its current sources on each export.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../util/fs.js';
import { copyFileGuarded, readInput } from '../util/guarded_fs.js';

/** The repository (or installed package) root: dist/src/export -> ../../.. */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const BROWSER_EXAMPLE = join(packageRoot, 'examples', 'browser');
/** onnxruntime-web's wasm build: the runtime and its loader */
export const ORT_WASM_FILES = ['ort-wasm-simd-threaded.wasm', 'ort-wasm-simd-threaded.mjs'];
/** Every file of the page except the model. */
export const PAGE_FILES = ['index.html', 'app.js', ...ORT_WASM_FILES];

/** True where the page's sources are (a checkout); an installed package has only dist/web/. */
export function hasPageSource(): boolean {
  return existsSync(join(BROWSER_EXAMPLE, 'main.ts'));
}

/** Bundles the page into `dir` (PAGE_FILES). Needs esbuild and onnxruntime-web. */
export async function bundlePage(dir: string): Promise<void> {
  const entry = join(BROWSER_EXAMPLE, 'main.ts');
  if (!existsSync(entry)) throw new Error(`--web: ${entry} is missing and so is the prebuilt page (dist/web/): reinstall loaa`);
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch {
    throw new Error('--web: esbuild is not installed; bundling the page from source needs it: npm install esbuild');
  }
  let ortDist: string;
  try {
    ortDist = dirname(createRequire(import.meta.url).resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
  } catch {
    throw new Error('--web: onnxruntime-web is not installed; bundling the page from source needs it: npm install onnxruntime-web');
  }
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
    plugins: [
      {
        name: 'no-node-builtins',
        setup(b) {
          b.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path, namespace: 'node-stub' }));
          b.onLoad({ filter: /.*/, namespace: 'node-stub' }, (args) => ({ contents: nodeStub(args.path), loader: 'js' }));
        },
      },
    ],
  });
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(join(dir, 'app.js'), result.outputFiles[0]!.contents);
  writeFileAtomic(join(dir, 'index.html'), readInput(join(BROWSER_EXAMPLE, 'index.html'), { what: 'the page' }));
  for (const f of ORT_WASM_FILES) copyFileGuarded(join(ortDist, f), join(dir, f), 'the wasm runtime');
}

function nodeStub(name: string): string {
  return `const fail = () => { throw new Error(${JSON.stringify(`${name} is not available in the browser`)}); };
const stub = new Proxy(fail, { get: (_, k) => (k === '__esModule' ? false : stub), apply: fail, construct: fail });
module.exports = stub;`;
}
