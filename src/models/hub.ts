/**
 * What `loaa pull` accepts and where the Hugging Face tools keep files:
 *   <arch>                 timm's default weights for a known architecture (timm/<arch>.<default tag>)
 *   <arch>.<tag>           timm's `name.tag` form: timm/<arch>.<tag>
 *   hf-hub:<org>/<repo>    any hub repository holding model.safetensors (optionally @<revision>)
 * The Hugging Face cache (`$HF_HUB_CACHE`, `$HF_HOME/hub`, ~/.cache/huggingface/hub) stores a repo as
 * models--<org>--<repo>/snapshots/<commit>/<file>, with refs/<revision> naming the commit.
 */
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { getArch, isArchName } from './archs.js';
import { readInputText } from '../util/guarded_fs.js';

export interface PullTarget {
  /** the folder under $LOAA_HOME */
  name: string;
  /** a known architecture (null for hf-hub ids, whose architecture the checkpoint tells) */
  arch: string | null;
  repo: string;
  revision: string;
  file: string;
}

const REPO_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function resolvePullId(id: string): PullTarget {
  if (id.startsWith('hf-hub:')) {
    const [repo, revision = 'main'] = id.slice(7).split('@');
    if (!REPO_RE.test(repo)) throw new Error(`${id}: expected hf-hub:<org>/<repo>[@revision]`);
    return {
      name: `hf-hub--${repo.replace('/', '--')}${revision === 'main' ? '' : `@${revision}`}`,
      arch: null,
      repo,
      revision,
      file: 'model.safetensors',
    };
  }
  if (isArchName(id)) {
    const a = getArch(id);
    return { name: a.name, arch: a.name, repo: a.hub.repo, revision: a.hub.revision, file: a.hub.file };
  }
  const dot = id.indexOf('.');
  if (dot > 0 && isArchName(id.slice(0, dot)) && /^[A-Za-z0-9_]+$/.test(id.slice(dot + 1))) {
    const a = getArch(id.slice(0, dot));
    return { name: id, arch: a.name, repo: `timm/${id}`, revision: 'main', file: 'model.safetensors' };
  }
  // getArch's error lists the known names
  getArch(id);
  throw new Error(`${id}: unknown architecture`);
}

export function hfHubCache(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HF_HOME) return join(env.HF_HOME, 'hub');
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'huggingface', 'hub');
}

/** The file from the Hugging Face cache when it is there: the revision's snapshot, else the only one. */
export function findInHfCache(t: PullTarget, env: NodeJS.ProcessEnv = process.env): string | null {
  const dir = join(hfHubCache(env), `models--${t.repo.replace('/', '--')}`);
  if (!existsSync(dir)) return null;
  let commit: string | null = null;
  try {
    commit = readInputText(join(dir, 'refs', t.revision), { what: 'Hugging Face ref', maxBytes: 4096 }).trim();
  } catch {
    if (/^[0-9a-f]{40}$/.test(t.revision)) commit = t.revision;
  }
  const snaps = join(dir, 'snapshots');
  const candidates = commit ? [commit] : existsSync(snaps) ? readdirSync(snaps) : [];
  if (!commit && candidates.length !== 1) return null; // several snapshots and no ref: cannot tell which
  for (const c of candidates) {
    const p = join(snaps, c, t.file);
    if (existsSync(p)) return p;
  }
  return null;
}
