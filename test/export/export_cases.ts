/**
 * Adapter directories of the model fixtures, ready for export: the case's adapter checkpoint, with
 * `depth` written into its config when the fixture backbone has fewer blocks than its architecture
 * (the fixture configs leave it out; loaa's tests pass the depth in code).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getArch } from '../../src/models/archs.js';
import { adapterDir, backbonePath, caseNamed, manifest } from '../models/model_cases.js';

export function exportCase(name: string): { dir: string; backbone: string } {
  const c = caseNamed(name);
  const dir = adapterDir(c);
  if (!dir) throw new Error(`cases.json: case ${name} has no adapter checkpoint`);
  const file = join(dir, 'adapter_config.json');
  const cfg = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const depth = manifest.backbones[c.backbone].depth;
  if (depth !== getArch(c.arch).depth && cfg.depth === undefined) writeFileSync(file, JSON.stringify({ ...cfg, depth }));
  return { dir, backbone: backbonePath(c.backbone) };
}
