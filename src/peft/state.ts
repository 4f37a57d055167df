/**
 * What PEFT did to a model, kept beside it (models know nothing of PEFT): the resolved config, and
 * the backbone tensors' original values wherever a method overwrote them (BitFit / full fine-tuning
 * adapters loaded on a shared backbone, LoRA merged into qkv), so that the backbone can be restored
 * and serve the next adapter.
 */
import type { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../tensor/functional.js';
import type { Module } from '../nn/module.js';

export interface PeftState<C> {
  config: C;
  /** original values of overwritten backbone tensors, by name (kept clones) */
  originals: Map<string, Tensor>;
}

const states = new WeakMap<Module, PeftState<unknown>>();

export function getState<C>(m: Module): PeftState<C> | undefined {
  return states.get(m) as PeftState<C> | undefined;
}
export function setState<C>(m: Module, s: PeftState<C> | undefined): void {
  if (s) states.set(m, s);
  else states.delete(m);
}

/** Remembers a backbone tensor's value before it is overwritten (once: the first value is the backbone's). */
export function recordOriginal(m: Module, name: string, t: Tensor): void {
  let s = states.get(m);
  if (!s) {
    s = { config: undefined, originals: new Map() };
    states.set(m, s);
  }
  if (!s.originals.has(name)) s.originals.set(name, noGrad(() => t.detach().clone()).keep());
}

/** Puts the remembered values back and forgets them; returns the names restored. */
export function restoreOriginals(m: Module): string[] {
  const s = states.get(m);
  if (!s || s.originals.size === 0) return [];
  const own = new Map(m.namedParameters());
  const names: string[] = [];
  noGrad(() => {
    for (const [name, v] of s.originals) {
      const t = own.get(name);
      if (t) {
        t.copy_(v);
        names.push(name);
      }
      v.dispose();
    }
  });
  s.originals.clear();
  return names;
}
