/**
 * One fuzz target per parser that reads user files. Each takes bytes and either accepts them or
 * throws an Error whose message starts with the name it was given (the file, or the file and key):
 * anything else (a TypeError from inside, a RangeError from an allocation, a non-Error, a hang
 * past the per-input deadline) is a finding. Seeds are the committed files under
 * test/fuzz/corpus/<target>/ (valid inputs to mutate, and past findings kept as regressions).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseWav } from '../../src/audio/wav.js';
import { refuseExternalStorage } from '../../src/audio/hdf5_header.js';
import { checkMpegFrames, checkOggPages, flacStreamInfo, sniffAudio } from '../../src/audio/sniff.js';
import { parseSafetensors } from '../../src/io/safetensors.js';
import { ZipReader } from '../../src/io/zip.js';
import { unpickle } from '../../src/io/pickle.js';
import { parsePth } from '../../src/io/pth.js';
import { LoadBudget } from '../../src/io/budget.js';
import { readTar } from '../../src/io/tar.js';
import { parseCsv } from '../../src/data/csv.js';
import { readCsvManifest } from '../../src/data/csv_manifest.js';
import { readLabelFile } from '../../src/data/label_file.js';
import { readAdapterConfig } from '../../src/peft/checkpoint.js';
import { finishRecipe, readRecipeFile } from '../../src/train/recipe.js';
import { repoRoot } from '../helpers.js';

export interface FuzzTarget {
  name: string;
  /** accept or throw (or reject with) an Error naming `source` */
  run(bytes: Uint8Array, source: string): void | Promise<void>;
}

const SRC = 'fuzz-input';

/** A scratch folder for targets whose parser reads a path. */
let scratch: string | null = null;
function scratchDir(): string {
  if (!scratch) {
    scratch = mkdtempSync(join(tmpdir(), 'loaa-fuzz-'));
    process.on('exit', () => rmSync(scratch!, { recursive: true, force: true }));
  }
  return scratch;
}

export const TARGETS: FuzzTarget[] = [
  { name: 'wav', run: (b, s) => void parseWav(b, s) },
  {
    name: 'audio-prechecks',
    run(b, s) {
      const k = sniffAudio(b);
      if (!k || 'unsupported' in k) return;
      if (k.format === 'flac') flacStreamInfo(b, k.offset, s);
      if (k.format === 'ogg-vorbis') checkOggPages(b, s);
      if (k.format === 'mp3') checkMpegFrames(b, k.offset, s);
    },
  },
  { name: 'safetensors', run: (b, s) => void parseSafetensors(b, s) },
  {
    name: 'zip',
    run(b, s) {
      const z = ZipReader.fromBuffer(b, s);
      for (const e of z.entries) z.readEntry(e);
    },
  },
  { name: 'pickle', run: (b, s) => void unpickle(b, { source: s }) },
  { name: 'pth', run: (b, s) => void parsePth(b, s) },
  {
    // nested state dicts under a small budget: the names a dict flattens to are charged and capped
    name: 'pth-names',
    run: (b, s) => void parsePth(b, s, new LoadBudget(s, 4 * 1024 * 1024)),
  },
  {
    // a dataset archive as a pull reads it: every entry type capped, entries outside `keep` skipped
    name: 'tar',
    run: (b, s) =>
      readTar(
        (async function* () {
          yield b;
        })(),
        s,
        (e, data) => {
          if (data && data.length !== e.size) throw new Error(`${s}: ${e.name}: handed ${data.length} bytes of ${e.size}`);
        },
        { maxEntryBytes: 64 * 1024, want: (e) => e.name.endsWith('.wav') },
      ),
  },
  {
    name: 'csv',
    run(b, s) {
      const text = Buffer.from(b).toString('utf8');
      parseCsv(text, s);
      const f = join(scratchDir(), 'manifest.csv');
      writeFileSync(f, b);
      try {
        readCsvManifest(f, { verifyFiles: false });
      } catch (e) {
        rename(e, f, s);
      }
    },
  },
  {
    name: 'labels-json',
    run(b, s) {
      const f = join(scratchDir(), 'labels.json');
      writeFileSync(f, b);
      try {
        readLabelFile(f);
      } catch (e) {
        rename(e, f, s);
      }
    },
  },
  {
    name: 'adapter-config',
    run(b, s) {
      const d = join(scratchDir(), 'adapter');
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'adapter_config.json'), b);
      try {
        readAdapterConfig(d);
      } catch (e) {
        rename(e, d, s);
      }
    },
  },
  {
    name: 'recipe-yaml',
    run(b, s) {
      const f = join(scratchDir(), 'recipe.yaml');
      writeFileSync(f, b);
      try {
        finishRecipe(readRecipeFile(f), f);
      } catch (e) {
        rename(e, f, s);
      }
    },
  },
  {
    // the HDF5 object-header walk behind the external-storage check (h5wasm itself is not fuzzed here)
    name: 'hdf5-header',
    run(b, s) {
      const f = join(scratchDir(), 'fuzz.h5');
      writeFileSync(f, b);
      // the seeds' dataset headers (external_v0.h5: 800, 1400; external_v2.h5: 179, 447) and a stray one
      for (const address of [800, 1400, 179, 447, 96]) {
        try {
          refuseExternalStorage(f, 'P01_02', address);
        } catch (e) {
          if (!(e instanceof Error && e.message.startsWith(f))) rename(e, f, s);
        }
      }
    },
  },
];

/** Path-reading parsers name the scratch path: restate as the fuzz source, or rethrow as a finding. */
function rename(e: unknown, path: string, source: string): never {
  if (e instanceof Error && e.message.startsWith(path)) throw new Error(source + e.message.slice(path.length));
  // recipe errors may name the key first and the file after: still an Error that names it
  if (e instanceof Error && e.message.includes(path)) throw new Error(`${source}: ${e.message.split(path).join(source)}`);
  throw e;
}

export function corpusDir(target: string): string {
  return join(repoRoot, 'test', 'fuzz', 'corpus', target);
}

export function seeds(target: string): Uint8Array[] {
  let names: string[];
  try {
    names = readdirSync(corpusDir(target)).sort();
  } catch {
    return [];
  }
  return names.map((n) => new Uint8Array(readFileSync(join(corpusDir(target), n))));
}

export { SRC };
