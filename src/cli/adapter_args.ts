/**
 * Adapter arguments as users give them: a run directory stands for its best/ checkpoint, and the
 * backbone an adapter records (adapter_config.json "backbone") stands in for --backbone in the
 * commands that take one in their own syntax (`loaa attention`'s checkpoint | pretrained | random:<arch>).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ADAPTER_CONFIG_FILE } from '../peft/checkpoint.js';
import { readBackbone } from '../infer/provenance.js';

/** `dir`, or `dir/best` when `dir` is a run directory (no adapter_config.json, a best/ that has one). */
export function adapterDirOf(dir: string): string {
  if (existsSync(join(dir, ADAPTER_CONFIG_FILE))) return dir;
  const best = join(dir, 'best');
  return existsSync(join(best, ADAPTER_CONFIG_FILE)) ? best : dir;
}

/** The recorded backbone as `loaa attention --backbone [--seed]` takes it; null when none is recorded. */
export function recordedBackboneFlag(adapterDir: string): { backbone: string; seed?: number } | null {
  const b = readBackbone(adapterDir);
  if (!b) return null;
  if (b.source === 'random') return { backbone: `random:${b.arch}`, seed: b.seed };
  if (b.source.startsWith('pull:')) return { backbone: 'pretrained' };
  return { backbone: b.source.slice('file:'.length) };
}
