import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';

/** Tests run from dist/test/...; walk up to the directory holding package.json. */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the repository root from ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
  return dir;
}

export const repoRoot = findRoot();
export const fixturesDir = join(repoRoot, 'fixtures');
/** ../shared beside the checkout: real data (FSDD, EPIC-SOUNDS CSVs); may be absent. */
export const sharedDir = resolve(repoRoot, '..', 'shared');
export const fsddDir = join(sharedDir, 'data', 'fsdd', 'recordings');

export function fixture(...parts: string[]): string {
  return join(fixturesDir, ...parts);
}

/**
 * Runs `fn` (a command's run) with the strings it writes to stdout and stderr captured. Binary
 * chunks pass through: the test runner's own messages are written that way and must still arrive.
 */
export async function captureOutput(fn: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const cap = { out: '', err: '' };
  const ow = process.stdout.write;
  const ew = process.stderr.write;
  const into = (key: 'out' | 'err', orig: typeof ow, stream: NodeJS.WriteStream): typeof ow =>
    ((c: string | Uint8Array, ...rest: unknown[]) => {
      if (typeof c !== 'string') return (orig as (...a: unknown[]) => boolean).call(stream, c, ...rest);
      cap[key] += c;
      return true;
    }) as typeof ow;
  process.stdout.write = into('out', ow, process.stdout);
  process.stderr.write = into('err', ew, process.stderr);
  try {
    const code = await fn();
    return { code, ...cap };
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
  }
}

/** A fresh temp folder `loaa-<tag>-XXXXXX`, removed when the test file ends. */
export function tempDir(tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), `loaa-${tag}-`));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A self-signed certificate for 127.0.0.1 made by openssl: its PEM files and their bytes. */
export interface LoopbackCert {
  keyPath: string;
  certPath: string;
  key: Buffer;
  cert: Buffer;
}

/** `LoopbackCert` in a `tempDir`, or the reason openssl could not make one (tests skip with it). */
export function loopbackCert(): LoopbackCert | { error: string } {
  const dir = tempDir('tls');
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      keyPath,
      '-out',
      certPath,
    ],
    { encoding: 'utf8' },
  );
  if (r.error || r.status !== 0) return { error: `openssl could not make a test certificate (${r.error?.message ?? r.stderr})` };
  return { keyPath, certPath, key: readFileSync(keyPath), cert: readFileSync(certPath) };
}

export const loaaBin = join(repoRoot, 'bin', 'loaa.js');

export interface CliOptions {
  cwd?: string;
  /** added to this process's environment (e.g. `LOAA_NUM_THREADS: '1'`) */
  env?: Record<string, string>;
  /** written to the command's stdin */
  input?: string;
  /** ms before the command is killed */
  timeout?: number;
}

export interface CliResult {
  /** the exit status (null when a signal ended it) */
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `bin/loaa.js <args>` in a child process to its end: the command line as a user types it. */
export function loaa(args: string[], o: CliOptions = {}): CliResult {
  const r = spawnSync(process.execPath, [loaaBin, ...args], {
    encoding: 'utf8',
    ...(o.cwd !== undefined ? { cwd: o.cwd } : {}),
    ...(o.env ? { env: { ...process.env, ...o.env } } : {}),
    ...(o.input !== undefined ? { input: o.input } : {}),
    ...(o.timeout !== undefined ? { timeout: o.timeout } : {}),
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
