#!/usr/bin/env node
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const WASM_FLAG = '--disable-wasm-trap-handler';

/**
 * True under a finite address-space limit (ulimit -v, prlimit --as). V8 reserves about 10 GB of
 * address space per WebAssembly memory for its trap-based bounds checks, so under such a limit the
 * wasm decoders (FLAC, Ogg, MP3, HDF5) cannot start. Only node's own flag turns that off (V8's flags
 * set at run time come too late: the reservation policy is fixed when node starts). Linux only:
 * elsewhere /proc is missing and loaa runs as it is (the decoders then fail with a named error).
 */
function addressSpaceLimited() {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max address space'));
    return line !== undefined && !/^Max address space\s+unlimited\s/.test(line);
  } catch {
    return false;
  }
}

const hasFlag = process.execArgv.includes(WASM_FLAG) || (process.env.NODE_OPTIONS ?? '').split(/\s+/).includes(WASM_FLAG);

if (!hasFlag && addressSpaceLimited()) {
  // node cannot re-exec itself in place: run loaa again as a child with the flag. Through
  // NODE_OPTIONS, so the processes loaa starts (grid runs, data-parallel workers) have it too.
  const env = { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} ${WASM_FLAG}`.trim() };
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
    env,
  });
  // kill(1) aims at this pid: pass it on. Ctrl-C reaches the whole foreground group, the child
  // included, so SIGINT is not passed on (twice would mean "stop at once" to serve and grid).
  const pass = (sig) => () => child.kill(sig);
  const handlers = { SIGTERM: pass('SIGTERM'), SIGHUP: pass('SIGHUP'), SIGINT: () => undefined };
  for (const [sig, h] of Object.entries(handlers)) process.on(sig, h);
  child.on('error', (e) => {
    console.error(`loaa: cannot start node again with ${WASM_FLAG} (needed under an address-space limit): ${e.message}`);
    process.exit(2);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      // end the way the child ended, so a caller sees the signal and not a made-up exit code
      for (const [sig, h] of Object.entries(handlers)) process.off(sig, h);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 1);
  });
} else {
  const main = new URL('../dist/src/cli/main.js', import.meta.url);
  if (!existsSync(fileURLToPath(main))) {
    console.error('loaa: not built yet (dist/ is missing). Run `npm run build` (or `npm test` / `npm run demo`, which build first).');
    process.exit(2);
  }
  // `loaa ... | head` closes the pipe early: that is the reader's choice, not an error
  process.stdout.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  const { main: run } = await import(main.href);
  process.exitCode = await run(process.argv.slice(2));
}
