#!/usr/bin/env node
/**
 * FSDD-sized stand-ins for the paper's three datasets, in their real on-disk layouts, so the paper
 * grids (grids/paper_table*.yaml) run unchanged through the real readers:
 *
 *   <out>/ESC-50-master/         audio/*.wav (44.1 kHz) + meta/esc50.csv, 50 classes, 5 folds
 *   <out>/speech_commands_v0.02/ one folder per word (16 kHz), validation_list.txt, testing_list.txt
 *   <out>/epic-sounds/           EPIC_Sounds_{train,validation}.csv, the recognition test timestamps
 *                                CSV and EPIC-KITCHENS-100_audio.hdf5 (one 24 kHz float32 dataset
 *                                per video id, written with h5wasm, which the EPIC reader also uses)
 *
 * Classes are FSDD's (digit, speaker) pairs in digit-major order, so every stand-in has the real
 * class count (50 / 35 / 44) and the grids' heads and parameter counts are the ones they plan.
 * Sizes are small on purpose (about 130-200 training clips each): the rehearsal proves that the
 * grids, the loaders and the reports work on real run directories, not what the paper measured.
 *
 *   node tools/rehearsal/make_data.mjs [--out DIR] [--only esc50,speechcommands,epic_sounds] [--fsdd DIR]
 *
 * Default out: <repo>/data (where the grids' data.root points; /data/ is git-ignored). A dataset
 * folder is rewritten only when it holds REHEARSAL (the marker this script writes): real data there
 * is never touched. Needs the compiled sources (npx tsc): it reads WAVs and resamples with loaa's own
 * code.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = join(repo, 'dist', 'src');
if (!existsSync(join(dist, 'audio', 'wav.js'))) {
  process.stderr.write(`make_data: ${dist}: not built (run npx tsc -p tsconfig.json first)\n`);
  process.exit(2);
}
const { parseWav, encodeWav } = await import(join(dist, 'audio', 'wav.js'));
const { resample } = await import(join(dist, 'audio', 'resample.js'));

const DATASETS = ['esc50', 'speechcommands', 'epic_sounds'];
const DIRS = { esc50: 'ESC-50-master', speechcommands: 'speech_commands_v0.02', epic_sounds: 'epic-sounds' };
const MARKER = 'REHEARSAL';
const DIGITS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    only: { type: 'string' },
    fsdd: { type: 'string' },
    help: { type: 'boolean' },
  },
});
if (values.help) {
  process.stdout.write(
    readFileSync(fileURLToPath(import.meta.url), 'utf8')
      .split('*/')[0]
      .replace(/^#!.*\n\/\*\*\n?/, '')
      .replace(/^ \* ?/gm, ''),
  );
  process.exit(0);
}
const out = resolve(values.out ?? join(repo, 'data'));
const fsdd = resolve(values.fsdd ?? join(repo, '..', 'shared', 'data', 'fsdd', 'recordings'));
const only = values.only ? values.only.split(',').map((s) => s.trim()) : DATASETS;
for (const d of only) if (!DATASETS.includes(d)) fail(`--only ${d}: expected one of ${DATASETS.join(', ')}`);
if (!existsSync(fsdd)) fail(`${fsdd}: FSDD recordings not found (--fsdd DIR)`);

function fail(msg) {
  process.stderr.write(`make_data: ${msg}\n`);
  process.exit(2);
}

// ---------------------------------------------------------------- FSDD as (digit, speaker) classes

const NAME = /^(\d)_([a-z]+)_(\d+)\.wav$/;
/** class -> its recordings sorted by index; classes in (digit, speaker) order */
const byClass = new Map();
for (const f of readdirSync(fsdd).sort()) {
  const m = NAME.exec(f);
  if (!m) continue;
  const key = `${m[1]}_${m[2]}`;
  if (!byClass.has(key)) byClass.set(key, { digit: Number(m[1]), speaker: m[2], files: [] });
  byClass.get(key).files.push({ file: join(fsdd, f), index: Number(m[3]) });
}
const classes = [...byClass.values()].sort((a, b) => a.digit - b.digit || (a.speaker < b.speaker ? -1 : a.speaker > b.speaker ? 1 : 0));
for (const c of classes) c.files.sort((a, b) => a.index - b.index);

/** The first `n` classes, each with at least `per` recordings. */
function pick(n, per, what) {
  const ok = classes.filter((c) => c.files.length >= per);
  if (ok.length < n) fail(`${fsdd}: ${what} needs ${n} (digit, speaker) classes with ${per} recordings each, found ${ok.length}`);
  return ok.slice(0, n);
}

function readMono(path, rate) {
  const a = parseWav(readFileSync(path), path);
  const x = a.channels[0];
  return a.sampleRate === rate ? x : resample(x, a.sampleRate, rate);
}

function wav(x, rate) {
  return encodeWav({ sampleRate: rate, channels: [x] });
}

/** A dataset folder to (re)write: refuse one that this script did not make. */
function fresh(name) {
  const dir = join(out, DIRS[name]);
  if (existsSync(dir)) {
    if (!existsSync(join(dir, MARKER)))
      fail(`${dir}: exists and was not made by this script (no ${MARKER} file): left alone; pass --out DIR`);
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, MARKER),
    `Made by tools/rehearsal/make_data.mjs from ${fsdd} (FSDD (digit, speaker) pairs as classes): not the real ${DIRS[name]}.\n`,
  );
  return dir;
}

const label = (c) => `${DIGITS[c.digit]}_${c.speaker}`;

// ---------------------------------------------------------------- ESC-50

/** 50 classes x 5 folds x 1 clip: 200 training clips per fold run, 50 held out. */
function esc50() {
  const dir = fresh('esc50');
  const rate = 44100;
  mkdirSync(join(dir, 'audio'));
  mkdirSync(join(dir, 'meta'));
  const rows = ['filename,fold,target,category,esc10,src_file,take'];
  pick(50, 5, 'ESC-50').forEach((c, target) => {
    for (let fold = 1; fold <= 5; fold++) {
      const rec = c.files[fold - 1];
      // ESC-50's names: {fold}-{freesound id}-{take}-{target}.wav
      const src = 100000 + target * 10 + fold;
      const name = `${fold}-${src}-A-${target}.wav`;
      writeFileSync(join(dir, 'audio', name), wav(readMono(rec.file, rate), rate));
      rows.push(`${name},${fold},${target},${label(c)},${target < 10 ? 'True' : 'False'},${src},A`);
    }
  });
  writeFileSync(join(dir, 'meta', 'esc50.csv'), `${rows.join('\n')}\n`);
  return rows.length - 1;
}

// ---------------------------------------------------------------- Speech Commands V2

/** 35 words x (4 train + 1 validation + 1 test). */
function speechcommands() {
  const dir = fresh('speechcommands');
  const rate = 16000;
  const lists = { validation: [], test: [] };
  let n = 0;
  for (const c of pick(35, 6, 'Speech Commands')) {
    const word = label(c);
    mkdirSync(join(dir, word));
    c.files.slice(0, 6).forEach((rec, k) => {
      // Speech Commands' names: {speaker hash}_nohash_{n}.wav
      const name = `${c.speaker}${rec.index}_nohash_0.wav`;
      writeFileSync(join(dir, word, name), wav(readMono(rec.file, rate), rate));
      if (k === 4) lists.validation.push(`${word}/${name}`);
      if (k === 5) lists.test.push(`${word}/${name}`);
      n++;
    });
  }
  writeFileSync(join(dir, 'validation_list.txt'), `${lists.validation.join('\n')}\n`);
  writeFileSync(join(dir, 'testing_list.txt'), `${lists.test.join('\n')}\n`);
  return n;
}

// ---------------------------------------------------------------- EPIC-SOUNDS

function timestamp(sample, rate) {
  const t = sample / rate;
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const s = t % 60;
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${s.toFixed(3).padStart(6, '0')}`;
}

/**
 * 44 classes x (3 train + 1 validation + 1 unlabelled test). Each speaker's clips of a split are one
 * "video" (P0k_01 train, P0k_101 validation, P0k_201 test), 0.25 s of silence between them, so the
 * annotations cut clips out of long recordings as the real ones do.
 */
async function epic() {
  const dir = fresh('epic_sounds');
  const rate = 24000;
  const gap = Math.round(0.25 * rate);
  const chosen = pick(44, 5, 'EPIC-SOUNDS');
  const speakers = [...new Set(chosen.map((c) => c.speaker))].sort();
  const participant = (s) => `P${String(speakers.indexOf(s) + 1).padStart(2, '0')}`;
  const splits = [
    { name: 'train', file: 'EPIC_Sounds_train.csv', video: '01', recs: [0, 1, 2], labelled: true },
    { name: 'validation', file: 'EPIC_Sounds_validation.csv', video: '101', recs: [3], labelled: true },
    { name: 'test', file: 'EPIC_Sounds_recognition_test_timestamps.csv', video: '201', recs: [4], labelled: false },
  ];
  const videos = new Map(); // video id -> Float32Array[] parts
  const lengths = new Map();
  let n = 0;
  for (const sp of splits) {
    const rows = [
      `annotation_id,participant_id,video_id,start_timestamp,stop_timestamp,start_sample,stop_sample${sp.labelled ? ',description,class,class_id' : ''}`,
    ];
    const anns = [];
    chosen.forEach((c, classId) => {
      for (const k of sp.recs) anns.push({ c, classId, rec: c.files[k] });
    });
    // clips of a video in time order; the CSV in annotation order, as the real files
    anns.sort((a, b) => (a.c.speaker < b.c.speaker ? -1 : a.c.speaker > b.c.speaker ? 1 : 0));
    const counter = new Map();
    for (const a of anns) {
      const p = participant(a.c.speaker);
      const video = `${p}_${sp.video}`;
      if (!videos.has(video)) {
        videos.set(video, [new Float32Array(gap)]);
        lengths.set(video, gap);
      }
      const x = readMono(a.rec.file, rate);
      const start = lengths.get(video);
      videos.get(video).push(x, new Float32Array(gap));
      lengths.set(video, start + x.length + gap);
      const k = counter.get(video) ?? 0;
      counter.set(video, k + 1);
      const stop = start + x.length;
      const cells = [`${video}_${k}`, p, video, timestamp(start, rate), timestamp(stop, rate), start, stop];
      if (sp.labelled) cells.push(`spoken ${DIGITS[a.c.digit]}`, label(a.c), a.classId);
      rows.push(cells.join(','));
      n++;
    }
    writeFileSync(join(dir, sp.file), `${rows.join('\n')}\n`);
  }
  const h5wasm = (await import('h5wasm/node')).default;
  await h5wasm.ready;
  const f = new h5wasm.File(join(dir, 'EPIC-KITCHENS-100_audio.hdf5'), 'w');
  try {
    for (const [video, parts] of videos) {
      const all = new Float32Array(lengths.get(video));
      let o = 0;
      for (const p of parts) {
        all.set(p, o);
        o += p.length;
      }
      f.create_dataset({ name: video, data: all, dtype: '<f', chunks: [Math.min(4096, all.length)] });
    }
  } finally {
    f.close();
  }
  return n;
}

const makers = { esc50, speechcommands, epic_sounds: epic };
for (const d of only) {
  const t0 = performance.now();
  const n = await makers[d]();
  process.stdout.write(`${join(out, DIRS[d])}: ${n} clips (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
}
