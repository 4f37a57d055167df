/**
 * `--config fsdd_loaa`: a recipe by name is one of the recipes shipped with loaa (recipes/<name>.yaml
 * beside dist/), so an installed package's recipes work from any directory. A path that exists, or
 * anything that looks like a path, is left as it is.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** recipes/ of the checkout or installed package (dist/src/train -> ../../../recipes). */
export const PACKAGED_RECIPES = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'recipes');

export function resolveRecipePath(path: string): string {
  if (existsSync(path) || !/^[A-Za-z0-9_.-]+$/.test(path) || /\.ya?ml$/i.test(path)) return path;
  const named = join(PACKAGED_RECIPES, `${path}.yaml`);
  if (existsSync(named)) return named;
  const known = existsSync(PACKAGED_RECIPES)
    ? readdirSync(PACKAGED_RECIPES)
        .filter((f) => f.endsWith('.yaml'))
        .map((f) => f.slice(0, -5))
    : [];
  throw new Error(`--config: ${path}: no such file, and no packaged recipe of that name (${known.join(', ') || 'none found'})`);
}
