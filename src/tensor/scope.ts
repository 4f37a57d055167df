/**
 * Deterministic tensor lifetimes. The GC cannot free native memory in time: a synchronous training
 * loop never yields to run finalizers, and RSS grows by hundreds of MB per step. So every tensor
 * made inside `scope(fn)` is disposed when `fn` returns, except what it returns (handed to the
 * enclosing scope) and what was `keep()`-ed (parameters, optimizer state, caches).
 */
export interface Disposable {
  dispose(): void;
  /** true once kept: no scope will dispose it */
  readonly kept: boolean;
}

const stack: Disposable[][] = [];

export function track<T extends Disposable>(t: T): T {
  const top = stack[stack.length - 1];
  if (top !== undefined) top.push(t);
  return t;
}

function collect(value: unknown, out: Set<unknown>, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 8) return;
  if (typeof (value as Disposable).dispose === 'function' && 'kept' in (value as object)) {
    out.add(value);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collect(v, out, depth + 1);
  else if (value instanceof Map) for (const v of value.values()) collect(v, out, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collect(v, out, depth + 1);
}

export function scope<T>(fn: () => T): T {
  if (stack.length > 10_000) throw new Error('scope: nested more than 10000 deep (unbounded recursion?)');
  const mine: Disposable[] = [];
  stack.push(mine);
  let result: T;
  try {
    result = fn();
    if (result instanceof Promise) {
      throw new Error('scope: the function returned a Promise; scopes are synchronous (use one scope per step inside async code)');
    }
  } catch (e) {
    stack.pop();
    for (const t of mine) if (!t.kept) t.dispose();
    throw e;
  }
  stack.pop();
  const escaping = new Set<unknown>();
  collect(result, escaping);
  const parent = stack[stack.length - 1];
  for (const t of mine) {
    if (t.kept) continue;
    if (escaping.has(t)) {
      if (parent !== undefined) parent.push(t);
    } else {
      t.dispose();
    }
  }
  return result;
}

/** How many scopes are open (tests of the memory discipline). */
export function scopeDepth(): number {
  return stack.length;
}
