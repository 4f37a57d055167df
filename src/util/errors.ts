/**
 * Error messages that name their input once. "Array buffer allocation failed" (V8's RangeError when
 * a typed array does not fit) says neither which input nor what to do; a message that already starts
 * with the input is not prefixed again ("in/tone.wav: in/tone.wav: ...").
 */
export function namedError(source: string, e: unknown, what = 'it'): Error {
  const m = e instanceof Error ? e.message : String(e);
  if (e instanceof RangeError && /Array buffer allocation failed|Invalid typed array length|Invalid array buffer length/.test(m)) {
    return new Error(
      `${source}: not enough memory to process ${what} (${m}): use a shorter or smaller input, or a machine with more memory`,
    );
  }
  return new Error(m.startsWith(`${source}: `) || m === source ? m : `${source}: ${m}`);
}
