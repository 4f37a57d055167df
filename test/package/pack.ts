/**
 * Helpers of the package tests: pack this checkout and install the tarball into a fresh project
 * without the registry. loaa's runtime dependencies are copied from this checkout's node_modules
 * first (the npm cache here does not hold them all), so `npm install --offline` finds them satisfied;
 * the addon comes through LOAA_ADDON (the install script's node-gyp path is scripts/setup.mjs's build).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers.js';
import { encodeWav } from '../../src/audio/wav.js';
import { fileProvenance, recordBackbone } from '../../src/infer/provenance.js';
import { readAdapterConfig } from '../../src/peft/checkpoint.js';
import { adapterDir, backbonePath, caseNamed } from '../models/model_cases.js';

export const addon = join(repoRoot, 'build', 'Release', 'loaa_native.node');

/** The environment without onnxruntime's install switches: what a user who set nothing has. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(ONNXRUNTIME|npm_config_onnxruntime)/i.test(k)) env[k] = v;
  return { ...env, npm_config_update_notifier: 'false', ...extra };
}

export function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = cleanEnv()): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env, timeout: 300_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

export interface Packed {
  tarball: string;
  files: string[];
}

/** `npm pack` without prepack (dist/ is fresh: the suite compiles before it runs); the page is bundled as prepack would. */
export function pack(dest: string): Packed {
  sh(process.execPath, [join(repoRoot, 'scripts', 'build-web.mjs')], repoRoot);
  const out = JSON.parse(sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dest], repoRoot)) as {
    filename: string;
    files: { path: string }[];
  }[];
  return { tarball: join(dest, out[0]!.filename), files: out[0]!.files.map((f) => f.path) };
}

/** The packages `names` need at run time (dependencies and installed optional ones), transitively. */
export function closure(names: string[]): string[] {
  const seen = new Set<string>();
  const walk = (name: string) => {
    if (seen.has(name)) return;
    const dir = join(repoRoot, 'node_modules', name);
    if (!existsSync(dir)) return;
    seen.add(name);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    for (const d of [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})]) walk(d);
  };
  names.forEach(walk);
  return [...seen].sort();
}

/** A fresh project holding copies of `packages` (from this checkout's node_modules). */
export function freshApp(dir: string, packages: string[]): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
  copyPackages(dir, packages);
  return dir;
}

export function copyPackages(app: string, packages: string[]): void {
  for (const p of packages) cpSync(join(repoRoot, 'node_modules', p), join(app, 'node_modules', p), { recursive: true });
}

/** loaa's runtime dependencies as package.json lists them. */
export function runtimeDeps(): string[] {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  return closure(Object.keys(pkg.dependencies));
}

/** Bytes under `dir` (files; links not followed), as `du` counts apparent sizes. */
export function bytesUnder(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, f.name);
    if (f.isDirectory()) n += bytesUnder(p);
    else if (f.isFile()) n += statSync(p).size;
  }
  return n;
}

/**
 * In `work`: a copy of the loaa_attn_1x3_s10 fixture adapter recording its backbone file, and a
 * 0.75-s 440 Hz clip at 16 kHz (`encoding` as encodeWav takes it).
 */
export function adapterAndClip(work: string, encoding?: 'int16' | 'float32'): { adapter: string; wav: string } {
  const C = caseNamed('loaa_attn_1x3_s10');
  const adapter = join(work, 'adapter');
  cpSync(adapterDir(C)!, adapter, { recursive: true });
  recordBackbone(adapter, fileProvenance(readAdapterConfig(adapter).arch, backbonePath(C.backbone)));
  const sr = 16000;
  const wav = join(work, 'clip.wav');
  const samples = new Float32Array(12000).map((_, i) => 0.3 * Math.sin((2 * Math.PI * 440 * i) / sr));
  writeFileSync(wav, encodeWav({ sampleRate: sr, channels: [samples] }, encoding));
  return { adapter, wav };
}
