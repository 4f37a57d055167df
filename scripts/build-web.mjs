#!/usr/bin/env node
/**
 * `npm pack` (prepack): bundles the browser page into dist/web/ so an installed loaa's `export --web`
 * needs neither the page's sources nor esbuild / onnxruntime-web. Runs after tsc (it imports dist/).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const { bundlePage } = await import(join(root, 'dist', 'src', 'export', 'web_bundle.js'));
const out = join(root, 'dist', 'web');
rmSync(out, { recursive: true, force: true });
await bundlePage(out);
console.error(`[loaa build-web] the browser page is in ${out}`);
