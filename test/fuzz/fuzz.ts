/** Runs a fuzz target with fast-check: random bytes and mutations of its corpus seeds, shrunk on failure. */
import fc from 'fast-check';
import { performance } from 'node:perf_hooks';
import { seeds, SRC, type FuzzTarget } from './targets.js';

/** One input must be handled (accepted or refused) in this time, or it is a finding. */
export const PER_INPUT_MS = 2_000;

interface Mutation {
  kind: 'set' | 'trunc' | 'insert' | 'dup' | 'flip';
  pos: number;
  byte: number;
  len: number;
}

function mutate(seed: Uint8Array, muts: Mutation[]): Uint8Array {
  let b = Buffer.from(seed);
  for (const m of muts) {
    const at = b.length ? m.pos % (b.length + 1) : 0;
    if (m.kind === 'set' && b.length) b[at % b.length] = m.byte;
    else if (m.kind === 'flip' && b.length) b[at % b.length] ^= 1 << (m.byte & 7);
    else if (m.kind === 'trunc') b = b.subarray(0, at);
    else if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.alloc(m.len, m.byte), b.subarray(at)]);
    else if (m.kind === 'dup') b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + m.len), b.subarray(at)]);
  }
  return new Uint8Array(b);
}

export function inputs(target: string): fc.Arbitrary<Uint8Array> {
  const s = seeds(target);
  const random = fc.uint8Array({ maxLength: 2048 });
  if (s.length === 0) return random;
  const mutation = fc.record({
    kind: fc.constantFrom<Mutation['kind']>('set', 'trunc', 'insert', 'dup', 'flip'),
    pos: fc.nat(),
    byte: fc.integer({ min: 0, max: 255 }),
    len: fc.nat({ max: 64 }),
  });
  const mutated = fc
    .tuple(fc.nat({ max: s.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 8 }))
    .map(([i, m]) => mutate(s[i]!, m));
  return fc.oneof({ arbitrary: mutated, weight: 4 }, { arbitrary: random, weight: 1 });
}

/** Throws (with the shrunk counterexample) when an input is not a clean accept or a named refusal. */
export async function check(target: FuzzTarget, bytes: Uint8Array): Promise<void> {
  const t0 = performance.now();
  try {
    // streaming readers (tar) are async: their refusals arrive as rejections
    await target.run(bytes, SRC);
  } catch (e) {
    if (!(e instanceof Error)) throw new Error(`${target.name}: threw a non-Error ${String(e)}`);
    if (!e.message.startsWith(`${SRC}`))
      throw new Error(`${target.name}: error does not name the input: ${e.constructor.name}: ${e.message.slice(0, 300)}`);
  }
  const ms = performance.now() - t0;
  if (ms > PER_INPUT_MS) throw new Error(`${target.name}: ${bytes.length}-byte input took ${ms.toFixed(0)} ms`);
}

export interface FuzzResult {
  runs: number;
  failed: boolean;
  counterexample: Uint8Array | null;
  message: string;
}

export async function fuzz(target: FuzzTarget, seconds: number, seed?: number): Promise<FuzzResult> {
  const r = await fc.check(
    fc.asyncProperty(inputs(target.name), (b) => check(target, b)),
    {
      numRuns: Number.MAX_SAFE_INTEGER,
      interruptAfterTimeLimit: seconds * 1000,
      seed,
      markInterruptAsFailure: false,
    },
  );
  return {
    runs: r.numRuns,
    failed: r.failed,
    counterexample: r.counterexample ? r.counterexample[0] : null,
    message: r.failed ? `${fc.defaultReportMessage(r) ?? ''}`.slice(0, 2000) : '',
  };
}
