#!/usr/bin/env node
/**
 * Runs one parser of the built package on one file, as the CLI would, for the hostile corpus and
 * for trying a suspicious file by hand: `node tools/hostile/probe.mjs <parser> <file> [arg]`.
 * Exit 0 with a one-line summary when the file is accepted, 1 with `probe: <message>` when it is
 * refused. Parsers: pth, safetensors, zip, pickle, audio ([options JSON] for the AST front end),
 * hdf5 <key>, epic [options JSON], labels, csv, adapter-config, recipe, grid, tar, backbone, sha256,
 * batch-input.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

// LOAA_HOSTILE_REPO: probe another checkout's build (e.g. the code before a fix)
const other = process.env.LOAA_HOSTILE_REPO;
const dist = other ? pathToFileURL(`${join(other, 'dist', 'src')}/`) : new URL('../../dist/src/', import.meta.url);
const load = (m) => import(new URL(m, dist).href);
const [parser, file, arg] = process.argv.slice(2);

async function run() {
  switch (parser) {
    case 'pth': {
      const { readPthFile } = await load('io/pth.js');
      const r = readPthFile(file);
      return `${r.tensors.size} tensors (${r.format})`;
    }
    case 'safetensors': {
      const { readSafetensors } = await load('io/safetensors.js');
      return `${readSafetensors(file).tensors.size} tensors`;
    }
    case 'zip': {
      const { ZipReader } = await load('io/zip.js');
      const z = ZipReader.open(file);
      try {
        let n = 0;
        for (const e of z.entries) n += z.readEntry(e).byteLength;
        return `${z.entries.length} entries, ${n} bytes`;
      } finally {
        z.close();
      }
    }
    case 'pickle': {
      const { unpickle } = await load('io/pickle.js');
      const { readRegularFile } = await load('util/fs.js');
      unpickle(readRegularFile(file, 'pickle'), { source: file });
      return 'unpickled';
    }
    case 'audio': {
      const { readAudio } = await load('audio/decode.js');
      const { astFeatures } = await load('audio/frontend.js');
      const spec = astFeatures(await readAudio(file), arg ? JSON.parse(arg) : {}, file);
      return `fbank [${spec.frames}, ${spec.bins}]`;
    }
    case 'hdf5': {
      const { AudioHdf5 } = await load('audio/hdf5.js');
      const h = await AudioHdf5.open(file);
      try {
        const n = h.length(arg);
        return `${h.read(arg, 0, Math.min(n, 24000)).length} samples of ${n}`;
      } finally {
        h.close();
      }
    }
    case 'epic': {
      const { readEpicSounds } = await load('data/epic_sounds.js');
      const d = readEpicSounds(file, arg ? JSON.parse(arg) : {});
      return `${Object.values(d.splits).flat().length} clips`;
    }
    case 'labels': {
      const { readLabelFile } = await load('data/label_file.js');
      return `${readLabelFile(file).length} labels`;
    }
    case 'csv': {
      const { readCsvManifest } = await load('data/csv_manifest.js');
      const d = readCsvManifest(file, { verifyFiles: false });
      return `${Object.values(d.splits).flat().length} clips`;
    }
    case 'adapter-config': {
      const { readAdapterConfig } = await load('peft/checkpoint.js');
      readAdapterConfig(file);
      return 'config read';
    }
    case 'recipe': {
      const { loadRecipe } = await load('train/recipe.js');
      loadRecipe(file);
      return 'recipe read';
    }
    case 'grid': {
      const { readGrid } = await load('train/grid.js');
      return `${readGrid(file).name}`;
    }
    case 'tar': {
      // as a dataset pull reads it: gunzipped, entries outside the kept folders streamed past
      const { readTar } = await load('io/tar.js');
      const { openInputStream } = await load('util/guarded_fs.js');
      const { createGunzip } = await import('node:zlib');
      let n = 0;
      const src = openInputStream(file, { what: 'archive' });
      await readTar(file.endsWith('.gz') ? src.pipe(createGunzip()) : src, file, () => void n++, { want: () => false });
      return `${n} entries`;
    }
    case 'backbone': {
      const { loadBackboneStateDict } = await load('models/checkpoint_keys.js');
      return `${loadBackboneStateDict(file).tensors.size} tensors`;
    }
    case 'sha256': {
      const { fileSha256 } = await load('infer/provenance.js');
      return fileSha256(file);
    }
    case 'batch-input': {
      const { loadAudioInput } = await load('batch/run.js');
      const x = await loadAudioInput(file);
      return `${x.samples.length} samples`;
    }
    case 'json': {
      // raw text files (used by the fuzz corpus replays)
      JSON.parse(readFileSync(file, 'utf8'));
      return 'json';
    }
    default:
      throw new Error(`probe: unknown parser ${JSON.stringify(parser)}`);
  }
}

try {
  process.stdout.write(`${await run()}\n`);
} catch (e) {
  process.stderr.write(`probe: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
