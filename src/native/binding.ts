/** Loads the compiled addon once per thread, after the thread environment is set. */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allowedCpus, configureThreadEnv } from './env.js';
import type { NativeAddon } from './types.js';

function findAddon(): string {
  // a second build against another libtorch (setup --build-dir), e.g. CI's Debian libtorch run
  const override = process.env.LOAA_ADDON;
  if (override) {
    if (!existsSync(override))
      throw new Error(`LOAA_ADDON=${override}: no such file (build it with \`node scripts/setup.mjs --build-dir DIR\`)`);
    return override;
  }
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'build', 'Release', 'loaa_native.node');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error(
    'loaa: the native addon is not built (build/Release/loaa_native.node is missing): run `npm run build` or `npm test`, which builds it',
  );
}

const settings = configureThreadEnv();
const cpusBefore = allowedCpus('thread-self');
const require = createRequire(import.meta.url);
export const native: NativeAddon = require(findAddon());
native.ops.setNumThreads(settings.threads);
// With OMP_PROC_BIND, libgomp pins the loading thread to the first CPU as it loads. Every thread
// and process started from it afterwards (data-loader workers, grid runs, the PyTorch side of the
// bench) would inherit that one-CPU mask and queue behind the OpenMP master. Give the loading
// thread its CPUs back; the OpenMP pool threads stay bound to their places.
if (cpusBefore && process.env.LOAA_PIN_MAIN_THREAD !== '1') {
  const after = allowedCpus('thread-self');
  if (after && after.length < cpusBefore.length) native.ops.setThreadAffinity(cpusBefore);
}
export const threadSettings = settings;
