/**
 * Debian's chromium for the browser tests: found on PATH, or installed with apt-get when missing and
 * we are root; otherwise a reason to skip. Shared by the report and browser-page tests.
 */
import { spawnSync } from 'node:child_process';

function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function findChromium(): { bin: string } | { why: string } {
  const found = which('chromium') ?? which('chromium-browser') ?? which('google-chrome');
  if (found) return { bin: found };
  if (process.getuid?.() !== 0) return { why: 'chromium is not installed and the tests do not run as root to install it' };
  const t0 = Date.now();
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['install', '-y', '-q', 'chromium'], { encoding: 'utf8', timeout: 240_000, env });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update', '-q'], { encoding: 'utf8', timeout: 120_000 });
    r = spawnSync('apt-get', ['install', '-y', '-q', 'chromium'], { encoding: 'utf8', timeout: 240_000, env });
  }
  const bin = which('chromium');
  if (r.status !== 0 || !bin)
    return { why: `apt-get install chromium failed (offline?): ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-1)[0]}` };
  console.log(`# installed chromium with apt-get in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return { bin };
}
