/**
 * Which backbone an adapter was trained on, recorded in its adapter_config.json as
 * `backbone: {arch, source, seed?, sha256}`, so predict/serve/the API can rebuild or find it and
 * refuse a different one. `source` is `pull:<arch>` (the cache of `loaa pull`), `file:<path>`, or
 * `random` (built from `seed`). `sha256` is the file's for files, and for a random backbone the hash
 * of its freshly initialised parameters (names, shapes, float32 bytes in name order), which also
 * catches a seed that no longer rebuilds the same weights.
 */
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../util/fs.js';
import { forEachChunk, readInputJson } from '../util/guarded_fs.js';
import { AudioSpectrogramTransformer, loadAst } from '../models/ast.js';
import { backbonePath, loaaHome } from '../models/pull.js';
import { noGrad } from '../tensor/functional.js';
import { ADAPTER_CONFIG_FILE, astConfigFromAdapter, type AdapterConfigFile } from '../peft/checkpoint.js';

export interface BackboneProvenance {
  arch: string;
  source: string;
  seed?: number;
  sha256: string;
}

export function fileSha256(path: string): string {
  const h = createHash('sha256');
  // a regular file, read up to its size: a device (/dev/zero) would otherwise be hashed forever
  forEachChunk(path, { what: 'the backbone checkpoint' }, (b) => h.update(b));
  return h.digest('hex');
}

/** Hash of a model's parameters as they are now (call it before any adapter is applied). */
export function parametersSha256(model: AudioSpectrogramTransformer): string {
  const h = createHash('sha256');
  const params = [...model.namedParameters()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  noGrad(() => {
    for (const [name, t] of params) {
      const x = t.toFloat32();
      h.update(`${name}:${t.shape.join('x')};`);
      h.update(new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
    }
  });
  return h.digest('hex');
}

/** Provenance of a backbone file; a file in the `loaa pull` cache is recorded as `pull:<arch>`. */
export function fileProvenance(arch: string, path: string): BackboneProvenance {
  const abs = resolve(path);
  let pulled = false;
  try {
    pulled = abs === resolve(backbonePath(arch, loaaHome()));
  } catch {
    pulled = false;
  }
  return { arch, source: pulled ? `pull:${arch}` : `file:${abs}`, sha256: fileSha256(abs) };
}

export function randomProvenance(arch: string, seed: number, model: AudioSpectrogramTransformer): BackboneProvenance {
  return { arch, source: 'random', seed, sha256: parametersSha256(model) };
}

/** Adds (or replaces) `backbone` in an adapter directory's config. */
export function recordBackbone(adapterDir: string, p: BackboneProvenance): void {
  const file = join(adapterDir, ADAPTER_CONFIG_FILE);
  const cfg = readInputJson<Record<string, unknown>>(file, { what: 'adapter config' });
  cfg.backbone = { arch: p.arch, source: p.source, ...(p.seed !== undefined ? { seed: p.seed } : {}), sha256: p.sha256 };
  writeFileAtomic(file, JSON.stringify(cfg, null, 2) + '\n');
}

/** The recorded backbone, checked; null when the adapter predates provenance. */
export function readBackbone(adapterDir: string): BackboneProvenance | null {
  const file = join(adapterDir, ADAPTER_CONFIG_FILE);
  const b = readInputJson<{ backbone?: unknown }>(file, { what: 'adapter config' }).backbone;
  if (b === undefined) return null;
  const bad = (k: string, why: string) => new Error(`${file}: backbone.${k}: ${why}`);
  if (typeof b !== 'object' || b === null) throw new Error(`${file}: backbone: expected an object {arch, source, seed?, sha256}`);
  const o = b as Record<string, unknown>;
  if (typeof o.arch !== 'string') throw bad('arch', 'expected a string');
  if (typeof o.source !== 'string' || !/^(random|pull:.+|file:.+)$/.test(o.source)) throw bad('source', `expected "random", "pull:<arch>" or "file:<path>", got ${JSON.stringify(o.source)}`);
  if (typeof o.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(o.sha256)) throw bad('sha256', 'expected 64 hex digits');
  if (o.source === 'random' && !Number.isSafeInteger(o.seed)) throw bad('seed', 'a random backbone needs its integer seed');
  return { arch: o.arch, source: o.source, ...(o.seed !== undefined ? { seed: o.seed as number } : {}), sha256: o.sha256 };
}

export interface ResolveOptions {
  /** a backbone checkpoint to use instead of the recorded one */
  backbone?: string;
  /** use the backbone even when its hash is not the recorded one */
  force?: boolean;
}

function mismatch(adapterDir: string, what: string, got: string, want: BackboneProvenance): Error {
  return new Error(
    `${what}: sha256 ${got} is not the backbone this adapter was trained on ` +
      `(${join(adapterDir, ADAPTER_CONFIG_FILE)} records ${want.source}, sha256 ${want.sha256}); pass --force (force: true in the API) to use it anyway`,
  );
}

/** Builds the AST an adapter needs on the right backbone: the given one or the recorded one, checked. */
export function resolveBackbone(adapterDir: string, cfg: AdapterConfigFile, opts: ResolveOptions = {}): { model: AudioSpectrogramTransformer; provenance: BackboneProvenance | null } {
  const recorded = readBackbone(adapterDir);
  const astCfg = astConfigFromAdapter(cfg);
  let path: string;
  if (opts.backbone !== undefined) {
    path = opts.backbone;
  } else if (!recorded) {
    throw new Error(`${join(adapterDir, ADAPTER_CONFIG_FILE)}: backbone: not recorded (an adapter saved before provenance); pass the backbone checkpoint it was trained on`);
  } else if (recorded.source === 'random') {
    const model = new AudioSpectrogramTransformer(astCfg, { seed: recorded.seed });
    const got = parametersSha256(model);
    if (got !== recorded.sha256 && !opts.force) {
      model.dispose();
      throw mismatch(adapterDir, `the random backbone rebuilt from seed ${recorded.seed}`, got, recorded);
    }
    return { model, provenance: recorded };
  } else if (recorded.source.startsWith('pull:')) {
    path = backbonePath(recorded.source.slice(5));
    if (!existsSync(path)) throw new Error(`${path}: missing: the adapter was trained on ${recorded.source}; run \`loaa pull ${recorded.source.slice(5)}\``);
  } else {
    path = recorded.source.slice(5);
    if (!existsSync(path)) throw new Error(`${path}: missing: the adapter was trained on this file (sha256 ${recorded.sha256}); pass the backbone's new location`);
  }
  if (recorded && !opts.force) {
    const got = fileSha256(path);
    if (got !== recorded.sha256) throw mismatch(adapterDir, path, got, recorded);
  }
  const model = loadAst(path, astCfg).model;
  return { model, provenance: recorded ?? null };
}
