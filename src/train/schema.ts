/**
 * A small typed schema for YAML/JSON configs: nodes that check a value, fill defaults and describe
 * themselves in errors (`optim.lr: expected a number >= 0, got "fast"`), and type command-line
 * strings for `--set key.path=value`. The recipe's schema (recipe.ts) is written with these builders.
 */
import { parse as parseYaml } from 'yaml';

export type Node =
  | { kind: 'number'; min?: number; max?: number; int?: boolean }
  | { kind: 'string'; values?: readonly string[] }
  | { kind: 'boolean' }
  | { kind: 'null' }
  | { kind: 'array'; of: Node; length?: number }
  | { kind: 'object'; fields: Record<string, Field>; open?: boolean }
  | { kind: 'union'; of: Node[] };

export interface Field {
  node: Node;
  default?: unknown;
  /** must be given (no default) */
  required?: boolean;
}

export const num = (o: { min?: number; max?: number; int?: boolean } = {}): Node => ({ kind: 'number', ...o });
export const int = (min = 0, max?: number): Node => ({ kind: 'number', int: true, min, max });
export const str = (values?: readonly string[]): Node => ({ kind: 'string', values });
export const bool: Node = { kind: 'boolean' };
export const nul: Node = { kind: 'null' };
export const arr = (of: Node, length?: number): Node => ({ kind: 'array', of, length });
export const obj = (fields: Record<string, Field>, open = false): Node => ({ kind: 'object', fields, open });
export const or = (...of: Node[]): Node => ({ kind: 'union', of });
export const f = (node: Node, dflt?: unknown): Field => (dflt === undefined ? { node, required: true } : { node, default: dflt });
export const opt = (node: Node): Field => ({ node });

export function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

export function describe(n: Node): string {
  switch (n.kind) {
    case 'number': {
      const what = n.int ? 'an integer' : 'a number';
      if (n.min !== undefined && n.max !== undefined) return `${what} in [${n.min === Number.MIN_VALUE ? '>0' : n.min}, ${n.max}]`;
      if (n.min === Number.MIN_VALUE) return `${what} > 0`;
      if (n.min !== undefined) return `${what} >= ${n.min}`;
      return what;
    }
    case 'string':
      return n.values ? `one of ${n.values.map((v) => JSON.stringify(v)).join(', ')}` : 'a string';
    case 'boolean':
      return 'true or false';
    case 'null':
      return 'null';
    case 'array':
      return n.length !== undefined ? `a list of ${n.length} (${describe(n.of)})` : `a list of (${describe(n.of)})`;
    case 'object':
      return 'a mapping';
    case 'union':
      return n.of.map(describe).join(' or ');
  }
}

export const join = (path: string, key: string | number): string => (path === '' ? String(key) : `${path}.${key}`);

/**
 * Checks `value` against `node`; with `fill`, returns a copy with defaults filled in and required
 * keys enforced (the final recipe), without, checks only what is there (one file of an `extends` chain).
 */
export function check(value: unknown, node: Node, path: string, fill: boolean): unknown {
  const fail = (msg: string): never => {
    throw new RecipeError(path, msg);
  };
  switch (node.kind) {
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return fail(`expected ${describe(node)}, got ${show(value)}`);
      if (
        (node.int && !Number.isInteger(value)) ||
        (node.min !== undefined && value < node.min) ||
        (node.max !== undefined && value > node.max)
      ) {
        return fail(`expected ${describe(node)}, got ${show(value)}`);
      }
      return value;
    case 'string':
      if (typeof value !== 'string') return fail(`expected ${describe(node)}, got ${show(value)}`);
      if (node.values && !node.values.includes(value)) return fail(`expected ${describe(node)}, got ${show(value)}`);
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') return fail(`expected true or false, got ${show(value)}`);
      return value;
    case 'null':
      if (value !== null) return fail(`expected null, got ${show(value)}`);
      return value;
    case 'array': {
      if (!Array.isArray(value)) return fail(`expected ${describe(node)}, got ${show(value)}`);
      if (node.length !== undefined && value.length !== node.length) return fail(`expected ${describe(node)}, got ${value.length} item(s)`);
      return value.map((v, i) => check(v, node.of, join(path, i), fill));
    }
    case 'object': {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return fail(`expected a mapping, got ${show(value)}`);
      const o = value as Record<string, unknown>;
      if (node.open) return { ...o };
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(o)) {
        if (!Object.hasOwn(node.fields, k)) {
          throw new RecipeError(
            join(path, k),
            `unknown key (known here: ${Object.keys(node.fields)
              .filter((x) => x !== 'extends')
              .join(', ')})`,
          );
        }
        out[k] = check(o[k], node.fields[k]!.node, join(path, k), fill);
      }
      if (fill) {
        for (const [k, fld] of Object.entries(node.fields)) {
          if (Object.hasOwn(out, k)) continue;
          if (fld.required) throw new RecipeError(join(path, k), `missing (expected ${describe(fld.node)})`);
          if (fld.default !== undefined) out[k] = check(structuredClone(fld.default), fld.node, join(path, k), fill);
        }
      }
      return out;
    }
    case 'union': {
      const errors: string[] = [];
      for (const alt of node.of) {
        try {
          return check(value, alt, path, fill);
        } catch (e) {
          if (!(e instanceof RecipeError)) throw e;
          // a mapping that matched the shape but failed inside says more than "expected X or Y"
          if (alt.kind === 'object' && value !== null && typeof value === 'object' && !Array.isArray(value)) throw e;
          errors.push(e.message);
        }
      }
      return fail(`expected ${describe(node)}, got ${show(value)}`);
    }
  }
}

/** A recipe problem at a key path; `file` is added by whoever knows it. */
export class RecipeError extends Error {
  constructor(
    readonly keyPath: string,
    readonly detail: string,
    readonly file?: string,
  ) {
    super(`${file ? `${file}: ` : ''}${keyPath ? `${keyPath}: ` : ''}${detail}`);
  }
  inFile(file: string): RecipeError {
    return new RecipeError(this.keyPath, this.detail, file);
  }
}

export function nodeAt(root: Node, path: string[], where: string): Node {
  let node: Node = root;
  const seen: string[] = [];
  for (const key of path) {
    // through unions, to the alternative that has structure
    if (node.kind === 'union') node = node.of.find((n) => n.kind === 'object' || n.kind === 'array') ?? node;
    if (node.kind === 'object') {
      if (node.open) return { kind: 'union', of: [num(), str(), bool, nul, arr(or(num(), str())), obj({}, true)] };
      const fld = node.fields[key];
      if (!fld)
        throw new RecipeError(
          join(seen.join('.'), key),
          `unknown key in ${where} (known here: ${Object.keys(node.fields)
            .filter((x) => x !== 'extends')
            .join(', ')})`,
        );
      node = fld.node;
    } else if (node.kind === 'array') {
      if (!/^\d+$/.test(key)) throw new RecipeError(join(seen.join('.'), key), `${where}: a list index is expected here`);
      node = node.of;
    } else {
      throw new RecipeError(seen.join('.'), `${where}: ${describe(node)} has no key "${key}"`);
    }
    seen.push(key);
  }
  return node;
}

function accepts(node: Node, pred: (n: Node) => boolean): boolean {
  return node.kind === 'union' ? node.of.some((n) => accepts(n, pred)) : pred(node);
}

/** A command-line string typed by the schema node it is for. */
export function typedValue(node: Node, raw: string): unknown {
  const t = raw.trim();
  if (t === 'null' || t === '~') return accepts(node, (n) => n.kind === 'null') ? null : raw;
  if (accepts(node, (n) => n.kind === 'number') && t !== '' && Number.isFinite(Number(t))) return Number(t);
  if (accepts(node, (n) => n.kind === 'boolean') && (t === 'true' || t === 'false')) return t === 'true';
  if (accepts(node, (n) => n.kind === 'array' || n.kind === 'object') && /^[[{]/.test(t)) {
    try {
      return parseYaml(t) as unknown;
    } catch (e) {
      throw new Error(`cannot parse ${JSON.stringify(raw)} (${(e as Error).message.split('\n')[0]})`);
    }
  }
  return raw;
}
