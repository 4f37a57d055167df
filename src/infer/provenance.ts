/**
 * Which backbone an adapter was trained on, recorded in its adapter_config.json as
 * `backbone: {arch, source, seed?, sha256}` (the typed record, read and written by
 * src/peft/checkpoint.ts), so predict/serve/the API can rebuild or find it and refuse a different one.
 * This file computes records and resolves them: `sha256` is the file's for files, and for a random
 * backbone the hash of its freshly initialised parameters (names, shapes, float32 bytes in name
 * order), which also catches a seed that no longer rebuilds the same weights.
 */
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { forEachChunk } from '../util/guarded_fs.js';
import { AudioSpectrogramTransformer, loadAst } from '../models/ast.js';
import { backbonePath, loaaHome } from '../models/pull.js';
import { noGrad } from '../tensor/functional.js';
import { ADAPTER_CONFIG_FILE, astConfigFromAdapter, type AdapterConfigFile, type BackboneRecord } from '../peft/checkpoint.js';

/** The record's name where it is computed and resolved (one type: peft/checkpoint's). */
export type BackboneProvenance = BackboneRecord;
/** Reading and writing the record live with the rest of adapter_config.json; re-exported for old imports. */
export { readBackbone, recordBackbone } from '../peft/checkpoint.js';

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
export function resolveBackbone(
  adapterDir: string,
  cfg: AdapterConfigFile,
  opts: ResolveOptions = {},
): { model: AudioSpectrogramTransformer; provenance: BackboneProvenance | null } {
  const recorded = cfg.backbone ?? null;
  const astCfg = astConfigFromAdapter(cfg);
  let path: string;
  if (opts.backbone !== undefined) {
    path = opts.backbone;
  } else if (!recorded) {
    throw new Error(
      `${join(adapterDir, ADAPTER_CONFIG_FILE)}: backbone: not recorded (an adapter saved before provenance); pass the backbone checkpoint it was trained on`,
    );
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
    if (!existsSync(path))
      throw new Error(`${path}: missing: the adapter was trained on ${recorded.source}; run \`loaa pull ${recorded.source.slice(5)}\``);
  } else {
    path = recorded.source.slice(5);
    if (!existsSync(path))
      throw new Error(
        `${path}: missing: the adapter was trained on this file (sha256 ${recorded.sha256}); pass the backbone's new location`,
      );
  }
  if (recorded && !opts.force) {
    const got = fileSha256(path);
    if (got !== recorded.sha256) throw mismatch(adapterDir, path, got, recorded);
  }
  const model = loadAst(path, astCfg).model;
  return { model, provenance: recorded ?? null };
}
