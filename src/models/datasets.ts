/**
 * `loaa pull fsdd` / `loaa pull esc50`: a dataset archive from its upstream (or a mirror) into
 * `$LOAA_HOME/datasets/<name>`, in the layout the readers take (fsdd: `recordings/*.wav`;
 * esc50: `audio/*.wav` + `meta/esc50.csv`).
 *
 * Steps: download the archive with `downloadFile` (Range resume, size and sha256 checks, atomic
 * rename) to `$LOAA_HOME/datasets/<file>`; unpack the folders the readers need into a temporary
 * sibling folder; check what was unpacked (file counts, every clip the metadata lists, and for FSDD
 * the content of every recording against a pinned manifest); then rename the folder into place and
 * delete the archive. An interrupted run leaves either the `.part` download (resumed next time) or
 * nothing under the real name.
 *
 * What is pinned, and why not more: GitHub builds these archives on demand, so their bytes (and
 * sha256) are not something we could obtain offline; inventing a hash would only make every
 * download fail. FSDD is pinned to a commit instead, and its 3,000 recordings are checked one by one
 * against git's blob hashes for that commit (the manifest below, computed from
 * `git ls-tree 26eb9aaf76e81b692f806f9140c2d2777410d7a1:recordings`). ESC-50's branch archive is
 * checked by structure (2,000 WAVs, each one listed in meta/esc50.csv). A mirror that knows the
 * archive's sha256 can announce it (ETag), and it is then checked; the size is checked against
 * Content-Length.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createGunzip } from 'node:zlib';
import { basename, dirname, join } from 'node:path';
import { readTar } from '../io/tar.js';
import { ZipReader } from '../io/zip.js';
import { processAlive, readdirOrEmpty, writeFileAtomic } from '../util/fs.js';
import { downloadFile, sha256File, sizeOf } from './download.js';
import { loaaHome, type FetchOptions } from './pull.js';
import { openInputStream, readInput, readInputJson, readInputText, renameGuarded, writeFileNew } from '../util/guarded_fs.js';

export type DatasetName = 'fsdd' | 'esc50';

export interface DatasetSpec {
  name: DatasetName;
  title: string;
  /** where upstream serves the archive */
  url: string;
  /** the archive's file name in the cache and on a mirror (`<endpoint>/<file>`) */
  file: string;
  format: 'tar.gz' | 'zip';
  /** the archive's sha256 and size when they can be pinned; null says why not in `unpinned` */
  sha256: string | null;
  size: number | null;
  unpinned?: string;
  /** folders (below the archive's single top folder) that are unpacked; the rest is skipped */
  keep: string[];
  /** the folder holding the WAVs and how many there must be */
  audioDir: string;
  files: number;
  /** sha256 of the sorted lines "<file name> <git blob sha1>\n" of audioDir, when pinned */
  manifest: string | null;
  /** a CSV (relative path) whose first column lists every clip of audioDir */
  listing?: string;
  /** what a reader is given: the dataset folder itself or one below it */
  readerRoot: string;
  licence: string;
}

const FSDD_COMMIT = '26eb9aaf76e81b692f806f9140c2d2777410d7a1';

export const DATASETS: Record<DatasetName, DatasetSpec> = {
  fsdd: {
    name: 'fsdd',
    title: 'Free Spoken Digit Dataset (3,000 clips, 8 kHz)',
    url: `https://github.com/Jakobovski/free-spoken-digit-dataset/archive/${FSDD_COMMIT}.tar.gz`,
    file: `free-spoken-digit-dataset-${FSDD_COMMIT.slice(0, 7)}.tar.gz`,
    format: 'tar.gz',
    sha256: null,
    size: null,
    unpinned: 'GitHub generates the tarball on demand; the recordings are checked against the pinned manifest of the commit instead',
    keep: ['recordings'],
    audioDir: 'recordings',
    files: 3000,
    manifest: 'ffdfffa578e96ff40058001e39a248aec5c50b68584ef782f9a9545182cb13c3',
    readerRoot: 'recordings',
    licence: 'CC BY-SA 4.0',
  },
  esc50: {
    name: 'esc50',
    title: 'ESC-50 (2,000 clips of 5 s, 44.1 kHz, 50 classes)',
    url: 'https://github.com/karolpiczak/ESC-50/archive/refs/heads/master.zip',
    file: 'ESC-50-master.zip',
    format: 'zip',
    sha256: null,
    size: null,
    unpinned:
      'a branch archive GitHub generates on demand (unknown offline); checked by structure: 2,000 WAVs, each listed in meta/esc50.csv',
    keep: ['audio', 'meta'],
    audioDir: 'audio',
    files: 2000,
    manifest: null,
    listing: 'meta/esc50.csv',
    readerRoot: '.',
    licence: 'CC BY-NC 3.0',
  },
};

export const DATASET_NAMES = Object.keys(DATASETS) as DatasetName[];

/** The environment variable naming a mirror that serves `<endpoint>/<archive file>`. */
export const DATASETS_ENDPOINT_ENV = 'LOAA_DATASETS_ENDPOINT';

const MARKER = '.loaa-dataset.json';

export function isDatasetName(s: string): s is DatasetName {
  return Object.hasOwn(DATASETS, s);
}

export function datasetsHome(home: string = loaaHome()): string {
  return join(home, 'datasets');
}

/** The folder a dataset is unpacked to. */
export function datasetDir(name: DatasetName, home: string = loaaHome()): string {
  return join(datasetsHome(home), name);
}

/**
 * The folder to give the dataset's reader when the dataset has been pulled (or unpacked there by
 * hand, as the offline message suggests); null when it has not.
 */
export function pulledDataset(name: DatasetName, home: string = loaaHome()): string | null {
  const dir = datasetDir(name, home);
  const spec = DATASETS[name];
  return existsSync(join(dir, MARKER)) || existsSync(join(dir, spec.audioDir)) ? join(dir, spec.readerRoot) : null;
}

export function datasetUrl(spec: DatasetSpec, endpoint?: string, env: NodeJS.ProcessEnv = process.env): string {
  const base = endpoint ?? env[DATASETS_ENDPOINT_ENV];
  return base ? `${base.replace(/\/+$/, '')}/${spec.file}` : spec.url;
}

/** `endpoint`: a mirror serving `<endpoint>/<archive file>`; default $LOAA_DATASETS_ENDPOINT, else upstream */
export interface DatasetPullOptions extends FetchOptions {
  /** one line per stage (unpacking, checking) */
  log?: (line: string) => void;
}

export interface DatasetPullResult {
  name: DatasetName;
  /** the dataset folder */
  path: string;
  /** the folder its reader takes */
  root: string;
  url: string;
  files: number;
  /** null when nothing was downloaded */
  archive: { bytes: number; sha256: string; verified: 'sha256' | 'size' | 'none' } | null;
  /** FSDD: every recording matched the pinned manifest */
  manifest: 'verified' | 'not pinned';
  skipped: boolean;
  resumed: boolean;
}

/** A name below the archive's top folder, or null for the top folder itself; refuses escapes. */
function innerName(name: string, source: string): string | null {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (name.startsWith('/') || parts.some((p) => p === '..' || p.includes('\\'))) throw new Error(`${source}: unsafe entry name "${name}"`);
  return parts.length > 1 ? parts.slice(1).join('/') : null;
}

function kept(spec: DatasetSpec, inner: string): boolean {
  return spec.keep.some((k) => inner === k || inner.startsWith(`${k}/`));
}

async function unpack(spec: DatasetSpec, archive: string, into: string): Promise<number> {
  let n = 0;
  const write = (inner: string, data: Uint8Array) => {
    const dest = join(into, inner);
    mkdirSync(dirname(dest), { recursive: true });
    writeFileNew(dest, 'archive entry', data); // into a private temporary folder that is renamed whole
    n++;
  };
  if (spec.format === 'tar.gz') {
    const src = openInputStream(archive, { what: 'dataset archive' }).pipe(createGunzip());
    try {
      const wanted = (e: { name: string }): boolean => {
        const inner = innerName(e.name, archive);
        return inner !== null && kept(spec, inner);
      };
      // entries outside `keep` are streamed past, never held in memory
      await readTar(
        src,
        archive,
        (e, data) => {
          if (e.type === 'file' && data && wanted(e)) write(innerName(e.name, archive)!, data);
        },
        { want: wanted },
      );
    } catch (e) {
      src.destroy();
      const msg = (e as Error).message;
      throw new Error(msg.startsWith(archive) ? msg : `${archive}: cannot unpack: ${msg}`);
    }
  } else {
    const zip = ZipReader.open(archive);
    try {
      for (const e of zip.entries) {
        if (e.name.endsWith('/')) continue;
        const inner = innerName(e.name, archive);
        if (inner && kept(spec, inner)) write(inner, zip.readEntry(e));
      }
    } finally {
      zip.close();
    }
  }
  return n;
}

function gitBlobSha1(data: Uint8Array): string {
  return createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
}

/** sha256 of the sorted "<name> <git blob sha1>\n" lines of a folder's files (the FSDD pin). */
export function folderManifest(dir: string): { sha256: string; files: number } {
  const lines = readdirSync(dir)
    .map((f) => `${f} ${gitBlobSha1(readInput(join(dir, f), { what: 'dataset file' }))}\n`)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { sha256: createHash('sha256').update(lines.join('')).digest('hex'), files: lines.length };
}

/** Checks an unpacked dataset folder; returns the clip count or throws naming what is wrong. */
export function checkDataset(spec: DatasetSpec, dir: string): { files: number; manifest: 'verified' | 'not pinned' } {
  const audio = join(dir, spec.audioDir);
  if (!existsSync(audio)) throw new Error(`${audio}: missing: the archive has no ${spec.audioDir}/ folder (not the ${spec.name} layout)`);
  const wavs = readdirSync(audio).filter((f) => f.toLowerCase().endsWith('.wav'));
  if (wavs.length !== spec.files) throw new Error(`${audio}: ${wavs.length} WAV files, expected ${spec.files}`);
  if (spec.listing) {
    const csv = join(dir, spec.listing);
    if (!existsSync(csv)) throw new Error(`${csv}: missing: the ${spec.name} metadata is not in the archive`);
    const have = new Set(wavs);
    const rows = readInputText(csv, { what: 'dataset listing' })
      .split(/\r?\n/)
      .slice(1)
      .filter((l) => l.trim() !== '');
    const missing = rows.map((l) => l.split(',')[0]!.trim()).filter((f) => !have.has(f));
    if (rows.length !== spec.files || missing.length) {
      throw new Error(
        `${csv}: lists ${rows.length} clips (expected ${spec.files})${missing.length ? `; ${missing.length} of them are not in ${audio}, e.g. ${missing[0]}` : ''}`,
      );
    }
  }
  if (spec.manifest) {
    const m = folderManifest(audio);
    if (m.sha256 !== spec.manifest) {
      throw new Error(
        `${audio}: the recordings differ from the pinned ${spec.name} release (manifest sha256 ${m.sha256}, expected ${spec.manifest})`,
      );
    }
    return { files: wavs.length, manifest: 'verified' };
  }
  return { files: wavs.length, manifest: 'not pinned' };
}

/** Downloads, unpacks and checks a dataset; see the file comment. */
export async function pullDataset(nameOrSpec: DatasetName | DatasetSpec, opts: DatasetPullOptions = {}): Promise<DatasetPullResult> {
  const spec = typeof nameOrSpec === 'string' ? DATASETS[nameOrSpec] : nameOrSpec;
  if (!spec) throw new Error(`${String(nameOrSpec)}: unknown dataset (known: ${DATASET_NAMES.join(', ')})`);
  const env = opts.env ?? process.env;
  const home = opts.home ?? loaaHome(env);
  const dir = datasetDir(spec.name, home);
  const archive = join(datasetsHome(home), spec.file);
  const url = datasetUrl(spec, opts.endpoint, env);
  const log = opts.log ?? (() => {});
  const result = (r: Partial<DatasetPullResult>): DatasetPullResult => ({
    name: spec.name,
    path: dir,
    root: join(dir, spec.readerRoot),
    url,
    files: 0,
    archive: null,
    manifest: 'not pinned',
    skipped: false,
    resumed: false,
    ...r,
  });

  // every pull, even one that finds the dataset in place, clears what killed pulls left
  removeStaleUnpacking(dir, log);
  if (!opts.force && existsSync(dir)) {
    if (existsSync(join(dir, MARKER))) {
      const m = readInputJson<{ files?: number; manifest?: 'verified' | 'not pinned' }>(join(dir, MARKER), { what: 'dataset marker' });
      return result({ files: m.files ?? 0, manifest: m.manifest ?? 'not pinned', skipped: true });
    }
    // unpacked by hand: accepted once it passes the same checks
    let c: { files: number; manifest: 'verified' | 'not pinned' };
    try {
      c = checkDataset(spec, dir);
    } catch (e) {
      throw new Error(
        `${dir}: present but not a complete ${spec.name} copy (${(e as Error).message}); remove it or pass --force to download again`,
      );
    }
    writeMarker(dir, spec, url, null, c);
    return result({ ...c, skipped: true });
  }

  let archiveInfo: DatasetPullResult['archive'] = null;
  let resumed = false;
  if (opts.force || !existsSync(archive)) {
    const r = await downloadFile(url, archive, {
      size: spec.size ?? undefined,
      sha256: spec.sha256 ?? undefined,
      fresh: opts.force,
      retries: opts.retries,
      retryDelayMs: opts.retryDelayMs,
      idleTimeoutMs: opts.idleTimeoutMs,
      onProgress: opts.onProgress,
      offlineHint:
        `Download it elsewhere and place it at ${archive} (then run \`loaa pull ${spec.name}\` again to check and unpack it), ` +
        `or unpack it yourself so that ${join(dir, spec.audioDir)}/*.wav exists, or point --endpoint / ${DATASETS_ENDPOINT_ENV} at a mirror serving ${spec.file}`,
      notFound: `not found (HTTP 404): the endpoint does not serve ${spec.file}`,
    });
    archiveInfo = { bytes: r.bytes, sha256: r.sha256, verified: r.verified };
    resumed = r.resumed;
  } else {
    // placed by hand (or left by a run that stopped while unpacking): check what can be checked
    const sha = await sha256File(archive);
    if (spec.sha256 && sha !== spec.sha256)
      throw new Error(`${archive}: sha256 ${sha}, expected ${spec.sha256}: not the ${spec.name} archive (delete it to download again)`);
    if (spec.size !== null && sizeOf(archive) !== spec.size)
      throw new Error(`${archive}: ${sizeOf(archive)} bytes, expected ${spec.size} (delete it to download again)`);
    archiveInfo = { bytes: sizeOf(archive), sha256: sha, verified: spec.sha256 ? 'sha256' : spec.size !== null ? 'size' : 'none' };
    log(`using ${archive} (already downloaded)`);
  }

  const tmp = `${dir}.unpacking-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    let c: { files: number; manifest: 'verified' | 'not pinned' };
    try {
      log(`unpacking ${archive}`);
      await unpack(spec, archive, tmp);
      log(`checking ${tmp}`);
      c = checkDataset(spec, tmp);
    } catch (e) {
      // a wrong or corrupt archive is not resumed or reused: the next run downloads afresh
      rmSync(archive, { force: true });
      throw new Error(`${url}: the archive does not hold the expected dataset and was deleted: ${(e as Error).message}`);
    }
    writeMarker(tmp, spec, url, archiveInfo, c);
    rmSync(dir, { recursive: true, force: true });
    renameGuarded(tmp, dir, 'the unpacked dataset');
    rmSync(archive, { force: true });
    return result({ ...c, archive: archiveInfo, resumed });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * `<dir>.unpacking-<pid>` folders of pulls that died (kill -9, power loss) hold a partial unpack
 * (tens of MB) no later pull would reuse: removed when their process is gone.
 */
export function removeStaleUnpacking(dir: string, log: (s: string) => void = () => {}): string[] {
  const parent = dirname(dir);
  const prefix = `${basename(dir)}.unpacking-`;
  const removed: string[] = [];
  for (const n of readdirOrEmpty(parent)) {
    if (!n.startsWith(prefix) || !/^\d+$/.test(n.slice(prefix.length))) continue;
    const pid = Number(n.slice(prefix.length));
    if (pid === process.pid || processAlive(pid)) continue;
    rmSync(join(parent, n), { recursive: true, force: true });
    log(`removed ${join(parent, n)} (left by a pull that stopped, process ${pid})`);
    removed.push(n);
  }
  return removed;
}

function writeMarker(
  dir: string,
  spec: DatasetSpec,
  url: string,
  archive: DatasetPullResult['archive'],
  c: { files: number; manifest: string },
): void {
  writeFileAtomic(
    join(dir, MARKER),
    `${JSON.stringify({ name: spec.name, url, archive, files: c.files, manifest: c.manifest, licence: spec.licence, unpacked: new Date().toISOString() }, null, 2)}\n`,
  );
}
