/**
 * `loaa pull <arch>`: fetch timm's weights for an architecture from the Hugging Face hub (or a
 * mirror) into `$LOAA_HOME/<arch>/model.safetensors`, through `downloadFile` (resume, size and
 * sha256 checks against what the hub announces, atomic rename).
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { getArch } from './archs.js';
import { downloadFile, sizeOf, type DownloadProgress } from './download.js';
import { findInHfCache, resolvePullId } from './hub.js';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export type PullProgress = DownloadProgress;

/** What every download from a server takes: where from, where to, how hard to retry. */
export interface FetchOptions {
  /** the server's base URL (each caller says its default) */
  endpoint?: string;
  /** download again even when the file is present */
  force?: boolean;
  /** default `$LOAA_HOME`, then ~/.cache/loaa */
  home?: string;
  /** Range-resumes after a dropped connection within this call (default 3) */
  retries?: number;
  retryDelayMs?: number;
  /** a connection silent for this long counts as dropped (default 60 s) */
  idleTimeoutMs?: number;
  onProgress?: (p: PullProgress) => void;
  env?: NodeJS.ProcessEnv;
}

/** `endpoint`: the hub base URL; default `$HF_ENDPOINT`, then https://huggingface.co */
export type PullOptions = FetchOptions;

export interface PullResult {
  arch: string;
  path: string;
  url: string;
  bytes: number;
  /** sha256 of the file (null when it was already present and not re-read) */
  sha256: string | null;
  /** what the download was checked against */
  verified: 'sha256' | 'size' | 'none';
  /** the file was already there (nothing downloaded) */
  skipped: boolean;
  /** part of the file came from an earlier, interrupted download */
  resumed: boolean;
}

export function loaaHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.LOAA_HOME?.length ? env.LOAA_HOME : join(homedir(), '.cache', 'loaa');
}

/** Where `loaa pull <arch>` puts (and the model loaders find) an architecture's weights. */
export function backbonePath(arch: string, home: string = loaaHome()): string {
  return join(home, getArch(arch).name, 'model.safetensors');
}

export function hubUrl(id: string, endpoint?: string, env: NodeJS.ProcessEnv = process.env): string {
  const t = resolvePullId(id);
  const base = (endpoint ?? env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  return `${base}/${t.repo}/resolve/${t.revision}/${t.file}`;
}

/** Download (or find) the weights for `arch`; see src/models/download.ts for the guarantees. */
export async function pullBackbone(arch: string, opts: PullOptions = {}): Promise<PullResult> {
  const env = opts.env ?? process.env;
  const t = resolvePullId(arch);
  const home = opts.home ?? loaaHome(env);
  const dest = join(home, t.name, 'model.safetensors');
  const url = hubUrl(arch, opts.endpoint, env);

  if (existsSync(dest) && !opts.force) {
    return { arch: t.name, path: dest, url, bytes: sizeOf(dest), sha256: null, verified: 'none', skipped: true, resumed: false };
  }
  // already downloaded by the Hugging Face tools: use their copy
  const cached = opts.force ? null : findInHfCache(t, env);
  if (cached)
    return { arch: t.name, path: cached, url, bytes: sizeOf(cached), sha256: null, verified: 'none', skipped: true, resumed: false };

  const token = env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN;
  const r = await downloadFile(url, dest, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    fresh: opts.force,
    retries: opts.retries,
    retryDelayMs: opts.retryDelayMs,
    idleTimeoutMs: opts.idleTimeoutMs,
    onProgress: opts.onProgress,
    offlineHint: `Fetch the file elsewhere and place it at ${dest}, or point --endpoint / HF_ENDPOINT at a reachable mirror`,
    notFound: `not found (HTTP 404): the endpoint does not serve ${t.repo}/${t.file}`,
    denied: (status) =>
      `HTTP ${status}: ${env.HF_TOKEN ? 'HF_TOKEN was sent but does not grant access to' : 'access denied (gated or private repository?): set HF_TOKEN for'} ${t.repo}`,
  });
  return { arch: t.name, path: dest, url, bytes: r.bytes, sha256: r.sha256, verified: r.verified, skipped: false, resumed: r.resumed };
}
