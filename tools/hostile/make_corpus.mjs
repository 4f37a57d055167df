#!/usr/bin/env node
/**
 * Writes the hostile-input corpus into a folder and `cases.json` describing how to run each case:
 * `node tools/hostile/make_corpus.mjs <dir>`. The files are generated, not committed (some are
 * large or special: FIFOs, symlinks, a 3 GB deflate bomb in 200 KB). Each case names the defect of
 * issue #17 (or #25) it covers, the command (a `loaa` CLI call or a parser through tools/hostile/probe.mjs),
 * the text its error must contain (the file or the key at fault) and its deadline.
 *
 * test/hostile/corpus.test.ts runs every case under a 4 GB address-space limit.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { constants as zc, crc32 as zcrc32, deflateRawSync } from 'node:zlib';
import { addIssue25Cases } from './cases_25.mjs';

const out = resolve(process.argv[2] ?? 'hostile-corpus');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
// LOAA_HOSTILE_REPO runs the corpus against another checkout (e.g. the code before a fix)
const repo = resolve(process.env.LOAA_HOSTILE_REPO ?? new URL('../..', import.meta.url).pathname);
const loaa = join(repo, 'bin', 'loaa.js');
const probe = join(new URL('.', import.meta.url).pathname, 'probe.mjs');
const cases = [];
const p = (name) => join(out, name);

/**
 * A case: argv after `node`; expect 'error' (non-zero exit, stderr holds every string of `names`),
 * 'ok' (exit 0: a large but honest input handled within its deadline) or 'bounded' (either, but
 * by itself and in time: a crafted input that is technically valid).
 */
function add(id, item, argv, names, opts = {}) {
  cases.push({
    id,
    item,
    argv,
    names,
    expect: opts.expect ?? 'error',
    deadline: opts.deadline ?? 20,
    wasmLimit: opts.wasmLimit ?? false,
    after: opts.after ?? null,
  });
}

// ------------------------------------------------------------------ pickle / zip builders

class Pickle {
  constructor() {
    this.parts = [Buffer.from([0x80, 2])];
  }
  op(...bytes) {
    this.parts.push(Buffer.from(bytes));
    return this;
  }
  int(n) {
    const b = Buffer.alloc(5);
    b[0] = 0x4a;
    b.writeInt32LE(n, 1);
    this.parts.push(b);
    return this;
  }
  str(s) {
    const u = Buffer.from(s, 'utf8');
    const b = Buffer.alloc(5);
    b[0] = 0x58;
    b.writeUInt32LE(u.length, 1);
    this.parts.push(b, u);
    return this;
  }
  global(mod, name) {
    this.parts.push(Buffer.from(`c${mod}\n${name}\n`, 'latin1'));
    return this;
  }
  put(i) {
    return this.op(0x71, i);
  }
  get(i) {
    return this.op(0x68, i);
  }
  mark() {
    return this.op(0x28);
  }
  bytes() {
    return Buffer.concat([...this.parts, Buffer.from('.')]);
  }
}

/** ('storage', torch.FloatStorage, key, 'cpu', numel) as a persistent id. */
function storagePid(pk, key, numel) {
  pk.mark().str('storage').global('torch', 'FloatStorage').str(key).str('cpu').int(numel).op(0x74).op(0x51);
}

/** A zip from entries {name, data | raw (already deflated) + size + crc, method}. */
function zip(entries) {
  const parts = [];
  const central = [];
  let off = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const method = e.raw ? 8 : 0;
    const body = e.raw ?? e.data;
    const size = e.raw ? e.size : e.data.length;
    const crc = e.raw ? e.crc : zcrc32(e.data);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(method, 8);
    lh.writeUInt32LE(crc >>> 0, 14);
    lh.writeUInt32LE(body.length, 18);
    lh.writeUInt32LE(size, 22);
    lh.writeUInt16LE(name.length, 26);
    parts.push(lh, name, body);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(20, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(method, 10);
    ch.writeUInt32LE(crc >>> 0, 16);
    ch.writeUInt32LE(body.length, 20);
    ch.writeUInt32LE(size, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(off, 42);
    central.push(ch, name);
    off += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(off, 16);
  return Buffer.concat([...parts, cd, eocd]);
}

function wav({ rate = 16000, channels = 1, frames, fill }) {
  const data = Buffer.alloc(frames * channels * 2);
  if (fill) for (let i = 0; i < frames * channels; i++) data.writeInt16LE(fill(i), i * 2);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * channels * 2, 28);
  h.writeUInt16LE(channels * 2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

const goodWav = p('good.wav');
writeFileSync(goodWav, wav({ frames: 16000, fill: (i) => Math.round(8000 * Math.sin(i / 10)) }));

// ------------------------------------------------------------------ 1. pickle amplification, views, inflate bombs

{
  // one memoised 200k-element list handed to builtins.set 3000 times: 1 MB of pickle, ~30 GB of sets
  const pk = new Pickle();
  pk.global('builtins', 'set').put(1);
  pk.op(0x5d).put(0).mark();
  for (let i = 0; i < 200_000; i++) pk.int(i);
  pk.op(0x65).op(0x30);
  for (let i = 0; i < 3000; i++) pk.get(1).get(0).op(0x85).op(0x52).op(0x30);
  pk.op(0x7d);
  writeFileSync(p('amplify_set.pth'), zip([{ name: 'archive/data.pkl', data: pk.bytes() }]));
  add('pickle-reduce-amplification', 1, [probe, 'pth', p('amplify_set.pth')], ['amplify_set.pth', 'load budget']);
}
{
  // OrderedDict over one memoised dict, again and again
  const pk = new Pickle();
  pk.global('collections', 'OrderedDict').put(1);
  pk.op(0x7d).put(0).mark();
  for (let i = 0; i < 100_000; i++) pk.int(i).int(i);
  pk.op(0x75).op(0x30);
  for (let i = 0; i < 3000; i++) pk.get(1).get(0).op(0x85).op(0x52).op(0x30);
  pk.op(0x7d);
  writeFileSync(p('amplify_odict.pkl.pth'), zip([{ name: 'archive/data.pkl', data: pk.bytes() }]));
  add('pickle-ordereddict-amplification', 1, [probe, 'pth', p('amplify_odict.pkl.pth')], ['amplify_odict.pkl.pth', 'load budget']);
}
{
  // 300 stride-0 views of 4M floats over one 16 MB storage: 4.8 GB of copies
  const n = 4 * 1024 * 1024;
  const pk = new Pickle();
  pk.op(0x7d).mark();
  for (let i = 0; i < 300; i++) {
    pk.str(`t${i}`).global('torch._utils', '_rebuild_tensor_v2').mark();
    storagePid(pk, '0', n);
    pk.int(0).mark().int(n).op(0x74).mark().int(0).op(0x74).op(0x89).op(0x7d).op(0x74).op(0x52);
  }
  pk.op(0x75);
  writeFileSync(
    p('views.pth'),
    zip([
      { name: 'archive/data.pkl', data: pk.bytes() },
      { name: 'archive/data/0', data: Buffer.alloc(4 * n) },
    ]),
  );
  add('pth-stride0-views', 1, [probe, 'pth', p('views.pth')], ['views.pth', 'load budget'], { deadline: 30 });
}
{
  // a 3 GB run of zeros, deflated into ~3 MB: one 64 MB full-flushed block repeated, then a final block
  const block = deflateRawSync(Buffer.alloc(64 * 1024 * 1024), { finishFlush: zc.Z_FULL_FLUSH, level: 9 });
  const reps = 48;
  const raw = Buffer.concat([...Array(reps).fill(block), Buffer.from([0x03, 0x00])]);
  const size = reps * 64 * 1024 * 1024;
  const pk = new Pickle();
  pk.op(0x7d).str('w').global('torch._utils', '_rebuild_tensor_v2').mark();
  storagePid(pk, '0', size / 4);
  pk.int(0)
    .mark()
    .int(size / 4)
    .op(0x74)
    .mark()
    .int(1)
    .op(0x74)
    .op(0x89)
    .op(0x7d)
    .op(0x74)
    .op(0x52)
    .op(0x73);
  writeFileSync(
    p('deflate_bomb.pth'),
    zip([
      { name: 'archive/data.pkl', data: pk.bytes() },
      { name: 'archive/data/0', raw, size, crc: 0 },
    ]),
  );
  add('zip-deflate-bomb', 1, [probe, 'pth', p('deflate_bomb.pth')], ['deflate_bomb.pth', 'load budget']);
}

// ------------------------------------------------------------------ 2, 12. special files as inputs

const fifo = p('fifo.wav');
execFileSync('mkfifo', [fifo]);
add('audio-dev-zero', 2, [loaa, 'features', '/dev/zero', '--out', p('o1.safetensors')], ['/dev/zero', 'character device']);
add('audio-fifo', 2, [loaa, 'features', fifo, '--out', p('o2.safetensors')], ['fifo.wav', 'FIFO']);
add('weights-dev-zero', 12, [probe, 'pth', '/dev/zero'], ['/dev/zero', 'character device']);
add('weights-urandom-safetensors', 2, [probe, 'safetensors', '/dev/urandom'], ['/dev/urandom', 'character device']);
add('weights-fifo', 2, [probe, 'pth', fifo], ['fifo.wav', 'FIFO']);
add('hdf5-fifo', 2, [probe, 'hdf5', fifo, 'P01_01'], ['fifo.wav', 'FIFO']);
add('labels-dev-zero', 2, [probe, 'labels', '/dev/zero'], ['/dev/zero', 'character device']);
add('csv-fifo', 2, [probe, 'csv', fifo], ['fifo.wav', 'FIFO']);

// adapter configs and recipes (`extends:` included) are read as regular files only
{
  const d = p('adapter_dev_zero');
  mkdirSync(d);
  symlinkSync('/dev/zero', join(d, 'adapter_config.json'));
  add('adapter-config-dev-zero', 2, [probe, 'adapter-config', d], ['adapter_config.json', 'character device']);
  writeFileSync(p('extends_fifo.yaml'), `extends: ${fifo}\nname: x\n`);
  add('recipe-extends-fifo', 2, [probe, 'recipe', p('extends_fifo.yaml')], ['fifo.wav', 'FIFO']);
  const c = p('adapter_classes');
  mkdirSync(c);
  const cfg = JSON.parse(readFileSync(join(repo, 'fixtures', 'models', 'adapters', 'loaa_attn_1x3_s10_adapter_config.json'), 'utf8'));
  writeFileSync(join(c, 'adapter_config.json'), JSON.stringify({ ...cfg, num_classes: 1e9, labels: undefined }));
  add('adapter-num-classes-1e9', 7, [probe, 'adapter-config', c], ['adapter_config.json', 'num_classes']);
  const r = p('adapter_rate');
  mkdirSync(r);
  writeFileSync(
    join(r, 'adapter_config.json'),
    JSON.stringify({ ...cfg, frontend: { sample_rate: 1e9, num_mel_bins: cfg.input.fdim, target_length: cfg.input.tdim } }),
  );
  add('adapter-sample-rate-1e9', 5, [probe, 'adapter-config', r], ['adapter_config.json', 'frontend.sample_rate']);
}

// ------------------------------------------------------------------ 3. --out never replaces special files

const outFifo = p('out_fifo.safetensors');
execFileSync('mkfifo', [outFifo]);
add('out-fifo', 3, [loaa, 'features', goodWav, '--out', outFifo], ['out_fifo.safetensors', 'FIFO'], { after: { fifo: outFifo } });
writeFileSync(p('real_target.safetensors'), 'keep me');
symlinkSync(p('real_target.safetensors'), p('out_link.safetensors'));
add('out-symlink', 3, [loaa, 'features', goodWav, '--out', p('out_link.safetensors')], ['out_link.safetensors', 'symbolic link'], {
  after: { symlink: p('out_link.safetensors'), content: [p('real_target.safetensors'), 'keep me'] },
});

// ------------------------------------------------------------------ 5. the front end is bounded

writeFileSync(p('rate_1hz.wav'), wav({ rate: 1, frames: 16000, fill: (i) => (i % 200) * 100 }));
add('wav-1hz', 5, [loaa, 'features', p('rate_1hz.wav'), '--out', p('o3.safetensors')], ['rate_1hz.wav', '1 Hz']);
// ~1.7 hours at 16 kHz (192 MB): with a target length only the first frames are computed
writeFileSync(p('long.wav'), wav({ frames: 96 * 1024 * 1024, fill: null }));
add('wav-long-target-length', 5, [probe, 'audio', p('long.wav'), '{"targetLength":1024}'], [], { expect: 'ok', deadline: 30 });
add('frontend-rate-1e9', 5, [probe, 'audio', goodWav, '{"sampleRate":1e9,"targetLength":1024}'], ['sample_rate', '1000000000']);
add('frontend-target-length-huge', 7, [probe, 'audio', goodWav, '{"targetLength":1e9}'], ['target_length']);
writeFileSync(
  p('channels.wav'),
  (() => {
    const b = wav({ frames: 10, channels: 1 });
    b.writeUInt16LE(4000, 22);
    b.writeUInt16LE(8000, 32);
    return b;
  })(),
);
add('wav-4000-channels', 5, [probe, 'audio', p('channels.wav'), '{}'], ['channels.wav', 'channel']);
{
  const d = p('epic_span');
  mkdirSync(d);
  writeFileSync(
    join(d, 'EPIC_Sounds_train.csv'),
    'annotation_id,participant_id,video_id,start_timestamp,stop_timestamp,start_sample,stop_sample,description,class,class_id\n' +
      'P01_01_0,P01,P01_01,00:00:00.000,05:00:00.000,0,400000000,x,rustle,0\n',
  );
  add('epic-span-400M', 5, [probe, 'epic', d, '{"verifyFiles":false}'], ['EPIC_Sounds_train.csv', 'line 2']);
  const e = p('epic_classes');
  mkdirSync(e);
  writeFileSync(
    join(e, 'EPIC_Sounds_train.csv'),
    'annotation_id,participant_id,video_id,start_timestamp,stop_timestamp,start_sample,stop_sample,description,class,class_id\n' +
      'P01_01_0,P01,P01_01,0,1,0,24000,x,rustle,0\n',
  );
  add('epic-numclasses-1e9', 7, [probe, 'epic', e, '{"verifyFiles":false,"numClasses":1000000000}'], ['numClasses']);
}

// ------------------------------------------------------------------ 6. MP3 probing is linear

{
  const id3 = Buffer.from([0x49, 0x44, 0x33, 3, 0, 0, 0, 0, 0, 10, ...Buffer.alloc(10)]);
  const frames = Buffer.alloc(64 * 1024);
  for (let i = 0; i + 3 <= frames.length; i += 3) frames.set([0xff, 0xe2, 0xea], i);
  writeFileSync(p('mp3_quadratic.mp3'), Buffer.concat([id3, frames, Buffer.alloc(40 * 1024 * 1024)]));
  // valid frame headers over nothing: decoding them is fine, what must not happen is the probe
  // rescanning the 40 MB of zeros for every candidate frame (minutes) or the decoder resyncing over them
  add('mp3-probe-quadratic', 6, [loaa, 'features', p('mp3_quadratic.mp3'), '--out', p('o4.safetensors')], [], {
    expect: 'bounded',
    deadline: 10,
  });
}

// ------------------------------------------------------------------ 7. counts

writeFileSync(p('labels_huge_index.csv'), 'index,name\n0,a\n999999999,b\n');
add('label-index-999999999', 7, [probe, 'labels', p('labels_huge_index.csv')], ['labels_huge_index.csv', '999999999']);
writeFileSync(p('labels_huge.json'), JSON.stringify({ a: 0, b: 999999999 }));
add('label-json-index-999999999', 7, [probe, 'labels', p('labels_huge.json')], ['labels_huge.json', '999999999']);

add(
  'attention-depth-100000',
  7,
  [loaa, 'attention', goodWav, '--backbone', 'random:deit_tiny_patch16_224', '--depth', '100000', '--out', p('att.png')],
  ['depth', '100000'],
);
add('params-depth-100000', 7, [loaa, 'params', '--arch', 'deit_tiny_patch16_224', '--depth', '100000'], ['depth', '100000']);

// ------------------------------------------------------------------ 10. decoders under a memory limit

// bin/loaa.js restarts node with --disable-wasm-trap-handler under an address-space limit: the
// compressed formats decode; a parser called directly (the probe) still fails with a named error
for (const [i, f] of ['tone.flac', 'tone.ogg', 'tone.mp3'].entries()) {
  add(
    `${f.split('.')[1]}-under-as-limit`,
    10,
    [loaa, 'features', join(repo, 'fixtures', 'audio', 'formats', f), '--out', p(`o5_${i}.safetensors`)],
    [],
    { expect: 'ok', wasmLimit: true },
  );
}
add(
  'flac-probe-under-as-limit',
  10,
  [probe, 'audio', join(repo, 'fixtures', 'audio', 'formats', 'tone.flac')],
  ['tone.flac', 'WebAssembly memory'],
  { wasmLimit: true },
);
add('hdf5-under-as-limit', 10, [probe, 'hdf5', join(repo, 'fixtures', 'audio', 'epic.h5'), 'P01_01'], ['epic.h5', 'WebAssembly memory'], {
  wasmLimit: true,
});

// ------------------------------------------------------------------ 11. HDF5 links to other files

{
  const h5 = (await import('h5wasm/node')).default;
  await h5.ready;
  const target = p('other.h5');
  let f = new h5.File(target, 'w');
  f.create_dataset({ name: 'P01_01', data: new Float32Array(48000) });
  f.close();
  f = new h5.File(p('external_link.h5'), 'w');
  f.create_external_link(target, 'P01_01', 'P01_01');
  f.close();
  add('hdf5-external-link', 11, [probe, 'hdf5', p('external_link.h5'), 'P01_01'], ['external_link.h5', 'external link']);
}
// external storage (h5py's create_dataset(external=...)): made by tools/fixtures/hdf5_external_fixtures.py.
// From this checkout's fixtures even when LOAA_HOSTILE_REPO names another (older) one.
{
  const fx = new URL('../../fixtures/audio/hdf5_external/', import.meta.url).pathname;
  for (const v of ['v0', 'v2']) {
    add(
      `hdf5-external-storage-${v}`,
      11,
      [probe, 'hdf5', join(fx, `external_${v}.h5`), 'P01_02'],
      [`external_${v}.h5`, 'P01_02', 'external storage'],
    );
  }
}

// ------------------------------------------------------------------ minor: safetensors

{
  const header = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  writeFileSync(p('dup_keys.safetensors'), Buffer.concat([len, Buffer.from(header), Buffer.alloc(4)]));
  add('safetensors-duplicate-key', 'minor', [probe, 'safetensors', p('dup_keys.safetensors')], ['dup_keys.safetensors', 'twice']);
}

// ------------------------------------------------------------------ 25. bounded work, special files everywhere

addIssue25Cases({ p, add, loaa, probe, repo, Pickle, zip, goodWav });

writeFileSync(join(out, 'cases.json'), `${JSON.stringify(cases, null, 1)}\n`);
process.stdout.write(`${cases.length} cases in ${out}\n`);
