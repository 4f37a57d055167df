/**
 * EPIC-SOUNDS audio: one HDF5 file holding a 1-D dataset of 24 kHz samples per video id
 * (`P01_01`, ...). Read through h5wasm's Node build, which reads the host file directly (NODERAWFS):
 * a slice reads only the chunks it covers, never a whole video. Float datasets are returned as they
 * are; integer datasets are scaled to [-1, 1) by their full scale, as torchaudio does for PCM.
 */
import { closeSync, readSync } from 'node:fs';
import { openRegular } from '../util/fs.js';
import { refuseExternalStorage, referenceAddress } from './hdf5_header.js';
import { checkFinite } from './types.js';
import { requireWasmMemory } from './wasm_probe.js';

const SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

type H5Module = typeof import('h5wasm/node');
type H5File = InstanceType<H5Module['File']>;
type H5Dataset = InstanceType<H5Module['Dataset']>;

let h5: Promise<H5Module['default']> | null = null;

async function loadH5(): Promise<H5Module['default']> {
  if (!h5) {
    h5 = import('h5wasm/node').then(async (m) => {
      await m.default.ready;
      return m.default;
    });
  }
  return h5;
}

/** The HDF5 superblock signature sits at 0 or at a power-of-two offset >= 512 (after a user block). */
function hasHdf5Signature(path: string): boolean {
  // regular files only: h5wasm would block forever on a FIFO and read /dev/zero without end
  const { fd, size } = openRegular(path, 'HDF5 file');
  try {
    const b = Buffer.alloc(8);
    for (let off = 0; off + 8 <= size; off = off === 0 ? 512 : off * 2) {
      if (readSync(fd, b, 0, 8, off) === 8 && SIGNATURE.every((v, i) => b[i] === v)) return true;
    }
    return false;
  } finally {
    closeSync(fd);
  }
}

/** h5wasm fails in its own words (and under a memory limit, in wasm's): every failure names the file. */
function namedSync<T>(path: string, doing: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (msg.startsWith(`${path}:`)) throw e;
    throw new Error(`${path}: ${doing}: ${e instanceof RangeError ? 'out of memory' : msg}`);
  }
}

async function named<T>(path: string, doing: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (msg.startsWith(`${path}:`)) throw e;
    throw new Error(`${path}: ${doing}: ${e instanceof RangeError ? 'out of memory' : msg}`);
  }
}

export class AudioHdf5 {
  private datasets = new Map<string, H5Dataset>();

  private constructor(
    readonly path: string,
    private file: H5File | null,
  ) {}

  static async open(path: string): Promise<AudioHdf5> {
    if (!hasHdf5Signature(path)) throw new Error(`${path}: not an HDF5 file (no HDF5 signature)`);
    requireWasmMemory(path, 'open the HDF5 file');
    const file = await named(path, 'cannot open the HDF5 file', async () => new (await loadH5()).File(path, 'r'));
    if ((file as unknown as { file_id: bigint }).file_id < 0n) throw new Error(`${path}: HDF5 library could not open the file`);
    return new AudioHdf5(path, file);
  }

  /** Dataset names at the file's root (the video ids). */
  keys(): string[] {
    return this.handle().keys();
  }

  private handle(): H5File {
    if (!this.file) throw new Error(`${this.path}: HDF5 file is closed`);
    return this.file;
  }

  private dataset(id: string): H5Dataset {
    const hit = this.datasets.get(id);
    if (hit) return hit;
    const f = this.handle();
    if (id.includes('/') || !f.keys().includes(id)) throw new Error(`${this.path}: no dataset ${JSON.stringify(id)}`);
    // an external link would make the library open another file of the host (any file, a FIFO that
    // never answers): refused before anything resolves it
    const ext = namedSync(this.path, `cannot inspect ${JSON.stringify(id)}`, () => f.get_external_link(id)) as { filename?: string } | null;
    if (ext && typeof ext.filename === 'string') {
      throw new Error(
        `${this.path}: ${JSON.stringify(id)} is an external link to ${JSON.stringify(ext.filename)}: refused (the audio must be stored in this file)`,
      );
    }
    const d = namedSync(this.path, `cannot open dataset ${JSON.stringify(id)}`, () => f.get(id)) as { type?: string } | null;
    if (d?.type !== 'Dataset') throw new Error(`${this.path}: ${JSON.stringify(id)} is not a dataset`);
    const ds = d as H5Dataset;
    const shape = ds.shape;
    if (shape?.length !== 1)
      throw new Error(`${this.path}: dataset ${JSON.stringify(id)} has shape ${JSON.stringify(shape)}, expected 1-D samples`);
    const md = ds.metadata;
    if (md.type !== 0 && md.type !== 1) throw new Error(`${this.path}: dataset ${JSON.stringify(id)} is not numeric`);
    if (md.virtual_sources && md.virtual_sources.length > 0) {
      const files = md.virtual_sources
        .map((v) => v.file_name)
        .slice(0, 3)
        .join(', ');
      throw new Error(
        `${this.path}: dataset ${JSON.stringify(id)} is a virtual dataset reading other files (${files}): refused (the audio must be stored in this file)`,
      );
    }
    // external storage (raw samples in other host files) is invisible through h5wasm: read the header
    const ref = namedSync(this.path, `cannot locate dataset ${JSON.stringify(id)}`, () => ds.create_reference().ref_data);
    refuseExternalStorage(this.path, id, referenceAddress(this.path, id, ref));
    this.datasets.set(id, ds);
    return ds;
  }

  /** Number of samples in a video's dataset. */
  length(id: string): number {
    return (this.dataset(id).shape as number[])[0];
  }

  /** Samples [start, stop) of a video, as float32. */
  read(id: string, start: number, stop: number): Float32Array {
    const ds = this.dataset(id);
    const n = (ds.shape as number[])[0];
    const where = `${this.path}: ${id}[${start}:${stop}]`;
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(stop) || start < 0 || stop > n || start >= stop) {
      throw new Error(`${where}: slice outside the dataset's ${n} samples (or empty)`);
    }
    const md = ds.metadata;
    const raw = namedSync(this.path, `cannot read ${id}[${start}:${stop}]`, () => ds.slice([[start, stop]]));
    if (!ArrayBuffer.isView(raw) || (raw as unknown as ArrayLike<unknown>).length !== stop - start) {
      throw new Error(`${where}: HDF5 read returned ${raw === null ? 'nothing' : 'unexpected data'}`);
    }
    const out = new Float32Array(stop - start);
    const src = raw as unknown as ArrayLike<number | bigint>;
    if (md.type === 1) {
      for (let i = 0; i < out.length; i++) out[i] = Number(src[i]);
      checkFinite(out, where);
    } else {
      const bits = md.size * 8;
      // unsigned integers are centred on half their range, like 8-bit PCM
      const scale = 2 ** (bits - 1);
      const offset = md.signed ? 0 : 2 ** (bits - 1);
      for (let i = 0; i < out.length; i++) out[i] = (Number(src[i]) - offset) / scale;
    }
    return out;
  }

  close(): void {
    this.datasets.clear();
    this.file?.close();
    this.file = null;
  }
}
