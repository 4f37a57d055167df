/** Loads the compiled addon once per thread, after the thread environment is set. */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configureThreadEnv } from './env.js';
import type { NativeAddon } from './types.js';

function findAddon(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'build', 'Release', 'loaa_native.node');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error('loaa: the native addon is not built (build/Release/loaa_native.node is missing): run `npm run build` or `npm test`, which builds it');
}

const settings = configureThreadEnv();
const require = createRequire(import.meta.url);
export const native: NativeAddon = require(findAddon());
native.ops.setNumThreads(settings.threads);
export const threadSettings = settings;
