/**
 * Any backbone checkpoint users have, as a timm-named state dict.
 *
 * The reader is picked from the file's first bytes (zip: torch.save; an 8-byte length then "{":
 * safetensors; a pickle: legacy torch.save), never from its extension; the key layout is then
 * recognised from the names:
 * - timm / DeiT release (`cls_token`, `pos_embed`, `blocks.{i}.attn.qkv.weight`, ...): kept as is;
 * - Hugging Face transformers ViT / DeiT / AST (`[vit.|deit.|audio_spectrogram_transformer.]embeddings.*`,
 *   `encoder.layer.{i}.*`): renamed, with query/key/value fused into `attn.qkv` in q, k, v order;
 * - the original AST repository (`module.v.*`, `module.mlp_head.{0,1}.*`).
 * Image classifier heads, poolers and the like come back in `unused`; the AST's own MLP head becomes
 * `head.norm.*` / `head.fc.*`, the names loaa's AST uses.
 */
import { closeSync, readSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, type RawTensor } from '../io/safetensors.js';
import { isPickleStart, readPthFile } from '../io/pth.js';
import { isZip } from '../io/zip.js';
import { openInput } from '../util/guarded_fs.js';

export type KeyFormat = 'timm' | 'hf-vit' | 'hf-deit' | 'hf-ast' | 'ast';
export type Container = 'safetensors' | 'pth' | 'pth-legacy';

export interface BackboneStateDict {
  /** timm names (plus `head.norm.*` / `head.fc.*` for AST checkpoints) */
  tensors: Map<string, RawTensor>;
  /** the key layout found: timm, hf-vit, hf-deit, hf-ast or ast (original AST repository) */
  format: KeyFormat;
  /** how the file stores tensors */
  container: Container;
  /** the file's own names of tensors that are not part of the backbone (classifier heads, pooler) */
  unused: string[];
}

const TIMM_KEY =
  /^(cls_token|dist_token|pos_embed|patch_embed\.proj\.(weight|bias)|norm\.(weight|bias)|blocks\.\d+\.(norm1|norm2|attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2)\.(weight|bias)|head\.(norm|fc)\.(weight|bias))$/;

/** 8-byte little-endian header length, then a JSON object. */
function isSafetensorsHead(head: Uint8Array, size: number): boolean {
  if (head.length < 9 || head[8] !== 0x7b) return false;
  const n = new DataView(head.buffer, head.byteOffset, head.byteLength).getBigUint64(0, true);
  return n >= 2n && n <= 100_000_000n && 8n + n <= BigInt(size);
}

function sniff(path: string): { head: Uint8Array; size: number } {
  // a regular file or an Error saying what it is: a device or FIFO is not "an empty checkpoint"
  const { fd, size } = openInput(path, { what: 'checkpoint' });
  try {
    const b = Buffer.alloc(16);
    const got = readSync(fd, b, 0, 16, 0);
    return { head: b.subarray(0, got), size };
  } finally {
    closeSync(fd);
  }
}

function unknownFormat(path: string, head: Uint8Array): Error {
  const hex = Buffer.from(head.subarray(0, 8)).toString('hex');
  let hint = '';
  if (head[0] === 0x1f && head[1] === 0x8b) hint = ': it is gzip-compressed, decompress it first';
  else if (Buffer.from(head.subarray(0, 4)).toString('latin1') === '\x89HDF')
    hint = ': it is HDF5 (Keras/TensorFlow weights), which is not supported';
  else if (head[0] === 0x3c) hint = ': it looks like text/HTML (a failed download?)';
  return new Error(`${path}: not a checkpoint: neither safetensors nor a torch.save file (first bytes ${hex})${hint}`);
}

/** A Hugging Face model directory holds its weights under one of these names. */
const DIR_FILES = ['model.safetensors', 'pytorch_model.bin'];

export function loadBackboneStateDict(path: string): BackboneStateDict {
  try {
    if (statSync(path).isDirectory()) {
      const f = DIR_FILES.find((n) => existsSync(join(path, n)));
      if (!f) throw new Error(`${path}: a directory without ${DIR_FILES.join(' or ')}`);
      return loadBackboneStateDict(join(path, f));
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${path}: checkpoint file does not exist`);
    throw e;
  }
  const { head, size } = sniff(path);
  if (size === 0) throw new Error(`${path}: the checkpoint file is empty`);
  let tensors: Map<string, RawTensor>;
  let container: Container;
  if (isZip(head)) {
    tensors = readPthFile(path).tensors;
    container = 'pth';
  } else if (isSafetensorsHead(head, size)) {
    tensors = readSafetensors(path).tensors;
    container = 'safetensors';
  } else if (isPickleStart(head)) {
    tensors = readPthFile(path).tensors;
    container = 'pth-legacy';
  } else {
    throw unknownFormat(path, head);
  }
  return { ...toTimmKeys(tensors, path), container };
}

/** Recognise the key layout and rename to timm names (see the file comment). */
export function toTimmKeys(
  input: Map<string, RawTensor>,
  source: string,
): { tensors: Map<string, RawTensor>; format: KeyFormat; unused: string[] } {
  const original = [...input.keys()];
  // DataParallel / DistributedDataParallel wrap every name in "module."
  const strip = original.length > 0 && original.every((k) => k.startsWith('module.')) ? 'module.' : '';
  const named = new Map<string, [string, RawTensor]>();
  for (const [k, t] of input) named.set(k.slice(strip.length), [k, t]);
  const keys = [...named.keys()];

  const adapterKey = keys.find((k) => /(^|\.)(attn|ffn)_adapter\./.test(k));
  if (adapterKey) {
    throw new Error(`${source}: this is a loaa adapter checkpoint (it has ${adapterKey}), not a backbone: pass it as the adapter`);
  }
  const hfEmb = keys
    .map((k) => /^(.*?)embeddings\.(cls_token|position_embeddings|patch_embeddings\.projection\.weight)$/.exec(k))
    .find(Boolean);
  const hfLayer = keys.map((k) => /^(.*?)encoder\.layer\.\d+\./.exec(k)).find(Boolean);
  let result: { tensors: Map<string, RawTensor>; format: KeyFormat; unused: string[] };
  if (keys.some((k) => k.startsWith('v.blocks.') || k === 'v.cls_token')) {
    result = fromOriginalAst(named, source);
  } else if (hfEmb || hfLayer) {
    result = fromHuggingFace(named, (hfEmb ?? hfLayer)![1], source);
  } else if (keys.some((k) => k === 'cls_token' || k === 'pos_embed' || /^blocks\.\d+\./.test(k))) {
    result = fromTimm(named, source);
  } else {
    const first = original.slice(0, 4).join(', ');
    throw new Error(
      `${source}: not a ViT/DeiT/AST checkpoint: none of its ${original.length} keys look like timm or Hugging Face names (${first || 'no keys'})`,
    );
  }
  const strays = result.unused.filter((k) => /(^|\.)blocks\.\d+\.|(^|\.)encoder\.layer\.\d+\./.test(k));
  if (strays.length) {
    throw new Error(
      `${source}: its transformer blocks hold tensors a plain ViT block does not (${strays.slice(0, 3).join(', ')}${strays.length > 3 ? ', ...' : ''}): a different architecture`,
    );
  }
  if (result.tensors.size === 0) throw new Error(`${source}: no backbone tensors found (${result.format} layout)`);
  return result;
}

function put(out: Map<string, RawTensor>, key: string, t: RawTensor, from: string, source: string): void {
  if (out.has(key)) throw new Error(`${source}: two tensors map to "${key}" (the second is "${from}")`);
  out.set(key, t);
}

function fromTimm(named: Map<string, [string, RawTensor]>, source: string) {
  const tensors = new Map<string, RawTensor>();
  const unused: string[] = [];
  for (const [k, [orig, t]] of named) {
    if (TIMM_KEY.test(k)) put(tensors, k, t, orig, source);
    else unused.push(orig);
  }
  return { tensors, format: 'timm' as KeyFormat, unused };
}

function fromOriginalAst(named: Map<string, [string, RawTensor]>, source: string) {
  const tensors = new Map<string, RawTensor>();
  const unused: string[] = [];
  for (const [k, [orig, t]] of named) {
    const m = /^mlp_head\.([01])\.(weight|bias)$/.exec(k);
    let to: string | null = null;
    if (k.startsWith('v.') && TIMM_KEY.test(k.slice(2)) && !k.startsWith('v.head.')) to = k.slice(2);
    else if (m) to = `head.${m[1] === '0' ? 'norm' : 'fc'}.${m[2]}`;
    if (to) put(tensors, to, t, orig, source);
    else unused.push(orig);
  }
  return { tensors, format: 'ast' as KeyFormat, unused };
}

const HF_BLOCK: Record<string, string> = {
  layernorm_before: 'norm1',
  layernorm_after: 'norm2',
  'attention.output.dense': 'attn.proj',
  'intermediate.dense': 'mlp.fc1',
  'output.dense': 'mlp.fc2',
};

const HF_EMBED: Record<string, string> = {
  'embeddings.cls_token': 'cls_token',
  'embeddings.distillation_token': 'dist_token',
  'embeddings.position_embeddings': 'pos_embed',
  'embeddings.patch_embeddings.projection.weight': 'patch_embed.proj.weight',
  'embeddings.patch_embeddings.projection.bias': 'patch_embed.proj.bias',
  'layernorm.weight': 'norm.weight',
  'layernorm.bias': 'norm.bias',
};

function fromHuggingFace(named: Map<string, [string, RawTensor]>, prefix: string, source: string) {
  const tensors = new Map<string, RawTensor>();
  const unused: string[] = [];
  // layer -> kind (weight/bias) -> q/k/v parts, fused once all three are seen
  const qkv = new Map<string, Map<string, [string, RawTensor]>>();
  let astHead = false;
  const mapBase = (rest: string, orig: string, t: RawTensor): boolean => {
    const emb = HF_EMBED[rest];
    if (emb) {
      put(tensors, emb, t, orig, source);
      return true;
    }
    const m = /^encoder\.layer\.(\d+)\.(.+)\.(weight|bias)$/.exec(rest);
    if (!m) return false;
    const [, i, mod, kind] = m;
    const part = /^attention\.attention\.(query|key|value)$/.exec(mod);
    if (part) {
      const slot = `${i}.${kind}`;
      if (!qkv.has(slot)) qkv.set(slot, new Map());
      qkv.get(slot)!.set(part[1], [orig, t]);
      return true;
    }
    if (!HF_BLOCK[mod]) return false;
    put(tensors, `blocks.${i}.${HF_BLOCK[mod]}.${kind}`, t, orig, source);
    return true;
  };
  for (const [k, [orig, t]] of named) {
    if (k.startsWith(prefix) && mapBase(k.slice(prefix.length), orig, t)) continue;
    // heads live outside the base-model prefix: AST's MLP head is ours, image classifiers are not
    const h = /^classifier\.(layernorm|dense)\.(weight|bias)$/.exec(k);
    if (h) {
      put(tensors, `head.${h[1] === 'layernorm' ? 'norm' : 'fc'}.${h[2]}`, t, orig, source);
      astHead = true;
      continue;
    }
    unused.push(orig);
  }
  for (const [slot, parts] of qkv) {
    const [i, kind] = slot.split('.');
    const missing = ['query', 'key', 'value'].filter((p) => !parts.has(p));
    if (missing.length) {
      throw new Error(`${source}: layer ${i} has attention ${[...parts.keys()].join('/')}.${kind} but no ${missing.join('/')}.${kind}`);
    }
    put(
      tensors,
      `blocks.${i}.attn.qkv.${kind}`,
      concatRows(
        ['query', 'key', 'value'].map((p) => parts.get(p)!),
        source,
      ),
      `layer ${i} q/k/v`,
      source,
    );
  }
  const bare = prefix.replace(/\.$/, '');
  let format: KeyFormat;
  if (bare === 'audio_spectrogram_transformer') format = 'hf-ast';
  else if (bare === 'deit') format = 'hf-deit';
  else if (bare === 'vit') format = 'hf-vit';
  else {
    const inChans = tensors.get('patch_embed.proj.weight')?.shape[1];
    format = astHead || inChans === 1 ? 'hf-ast' : tensors.has('dist_token') ? 'hf-deit' : 'hf-vit';
  }
  return { tensors, format, unused };
}

/** Stack tensors along their first axis (row-major, so their bytes simply follow one another). */
function concatRows(parts: [string, RawTensor][], source: string): RawTensor {
  const [n0, t0] = parts[0];
  for (const [n, t] of parts.slice(1)) {
    if (t.dtype !== t0.dtype) throw new Error(`${source}: ${n} is ${t.dtype} but ${n0} is ${t0.dtype}`);
    if (t.shape.length !== t0.shape.length || t.shape.slice(1).some((d, j) => d !== t0.shape[j + 1]) || t.shape.length === 0) {
      throw new Error(`${source}: ${n} has shape [${t.shape.join(', ')}], which does not stack with ${n0} [${t0.shape.join(', ')}]`);
    }
  }
  const total = parts.reduce((s, [, t]) => s + t.data.byteLength, 0);
  const data = new Uint8Array(total);
  let o = 0;
  for (const [, t] of parts) {
    data.set(t.data, o);
    o += t.data.byteLength;
  }
  const rows = parts.reduce((s, [, t]) => s + t.shape[0], 0);
  return { dtype: t0.dtype, shape: [rows, ...t0.shape.slice(1)], data };
}
