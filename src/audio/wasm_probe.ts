/**
 * The wasm decoders (FLAC, Ogg/Vorbis, MP3) and h5wasm need WebAssembly memory, for which V8
 * reserves about 10 GB of address space per instance (guard regions for trap-based bounds checks).
 * Under an address-space limit (ulimit -v, prlimit --as) that reservation fails inside the
 * libraries, as an unhandled rejection or "filename.startsWith is not a function", killing the
 * process with a stack trace. Probing first turns that into an Error naming the file and the cure.
 */
let probed: string | null | undefined;

function probe(): string | null {
  if (probed === undefined) {
    try {
      const wasm = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number }) => unknown } }).WebAssembly;
      new wasm.Memory({ initial: 1 });
      probed = null;
    } catch (e) {
      probed = e instanceof Error ? e.message : String(e);
    }
  }
  return probed;
}

/** Throws `${source}: cannot <what>: ...` when WebAssembly memory cannot be had in this process. */
export function requireWasmMemory(source: string, what: string): void {
  const why = probe();
  if (why !== null) {
    throw new Error(
      `${source}: cannot ${what}: WebAssembly memory cannot be reserved in this process (${why}); ` +
        'under an address-space limit (ulimit -v / prlimit --as) run node with --disable-wasm-trap-handler, or raise the limit',
    );
  }
}
