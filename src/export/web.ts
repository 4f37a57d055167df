/**
 * `--web DIR`: the static page (index.html, app.js with loaa's front end and onnxruntime-web,
 * onnxruntime-web's wasm runtime) and the model, in one directory any static file server can serve.
 * A checkout bundles its sources (src/export/web_bundle.ts); an installed package copies the page
 * bundled at pack time (dist/web/), so it needs neither esbuild nor onnxruntime-web.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { bundlePage, hasPageSource, packageRoot, PAGE_FILES } from './web_bundle.js';
import { copyFileGuarded } from '../util/guarded_fs.js';

/** Where `npm pack` puts the bundled page (scripts/build-web.mjs). */
export const PREBUILT_PAGE = join(packageRoot, 'dist', 'web');

export interface WebApp {
  dir: string;
  files: Record<string, number>;
}

/** Where the page comes from, or an Error saying what is missing; checked before anything is written. */
export function pageSource(): 'source' | 'prebuilt' {
  if (hasPageSource()) return 'source';
  const missing = PAGE_FILES.filter((f) => !existsSync(join(PREBUILT_PAGE, f)));
  if (!missing.length) return 'prebuilt';
  throw new Error(
    `--web: the prebuilt page is incomplete in this installation (${PREBUILT_PAGE}: ${missing.join(', ')} missing): reinstall loaa`,
  );
}

/** Checks `modelFile` can go on a page, before the model is exported. */
export function checkWebModel(modelFile: string): void {
  if (existsSync(`${modelFile}.data`))
    throw new Error(`--web: ${basename(modelFile)}.data: a model with external data is over 2 GB, too large for a browser page`);
}

/** Writes the page into `dir` and copies `modelFile` there as model.onnx. */
export async function writeWebApp(dir: string, modelFile: string): Promise<WebApp> {
  checkWebModel(modelFile);
  const from = pageSource();
  mkdirSync(dir, { recursive: true });
  if (from === 'source') await bundlePage(dir);
  else for (const f of PAGE_FILES) copyFileGuarded(join(PREBUILT_PAGE, f), join(dir, f), 'the prebuilt web page');
  const model = join(dir, 'model.onnx');
  if (resolve(modelFile) !== resolve(model)) copyFileGuarded(modelFile, model, 'the model');
  const files: Record<string, number> = {};
  for (const f of [...PAGE_FILES, 'model.onnx']) files[f] = statSync(join(dir, f)).size;
  return { dir, files };
}
