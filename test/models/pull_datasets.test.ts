import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { DATASETS, datasetUrl, folderManifest, pullDataset, pulledDataset, type DatasetSpec } from '../../src/models/datasets.js';
import { readTar } from '../../src/io/tar.js';
import { command } from '../../src/cli/commands/pull.js';
import { buildZip } from '../io/zip_builder.js';
import { wavBytes } from '../data/wav_writer.js';
import { captureOutput, fsddDir, tempDir } from '../helpers.js';

const FSDD_TOP = 'free-spoken-digit-dataset-26eb9aaf76e81b692f806f9140c2d2777410d7a1';
const FSDD_NAMES = ['0_george_0.wav', '0_george_5.wav', '1_jackson_0.wav', '1_jackson_7.wav'];

function wavOf(i: number): Buffer {
  return wavBytes(
    Array.from({ length: 400 }, (_, k) => Math.sin((k * (i + 1)) / 7) * 0.5),
    { sampleRate: 8000 },
  );
}

/** git's own blob id, computed here independently of the module under test. */
function blobSha1(data: Buffer): string {
  return createHash('sha1')
    .update(Buffer.concat([Buffer.from(`blob ${data.length}\0`), data]))
    .digest('hex');
}

function manifestOf(files: Map<string, Buffer>): string {
  const lines = [...files].map(([n, d]) => `${n} ${blobSha1(d)}\n`).sort();
  return createHash('sha256').update(lines.join('')).digest('hex');
}

const git = spawnSync('git', ['--version']).status === 0;
const NO_GIT = 'git is not installed (the FSDD archive is made with git archive, as GitHub makes it)';

/** A tarball as GitHub serves it: `git archive` of a repository in FSDD's layout. */
function fsddTarball(): { archive: Buffer; files: Map<string, Buffer> } {
  const repo = mkdtempSync(join(tmpdir(), 'loaa-fsdd-repo-'));
  try {
    const files = new Map(FSDD_NAMES.map((n, i) => [n, wavOf(i)] as const));
    mkdirSync(join(repo, 'recordings'));
    for (const [n, d] of files) writeFileSync(join(repo, 'recordings', n), d);
    writeFileSync(join(repo, 'README.md'), 'FSDD\n');
    // over 100 characters: git archive writes a pax header for it
    mkdirSync(join(repo, 'utils', 'a'.repeat(60)), { recursive: true });
    writeFileSync(join(repo, 'utils', 'a'.repeat(60), `${'b'.repeat(60)}.py`), 'x = 1\n');
    const g = (...args: string[]) => {
      const r = spawnSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { maxBuffer: 1 << 26 });
      if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    g('init', '-q');
    g('add', '.');
    g('commit', '-qm', 'fsdd');
    return { archive: g('archive', '--format=tar.gz', `--prefix=${FSDD_TOP}/`, 'HEAD'), files };
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
}

/** ESC-50's branch zip: ESC-50-master/{audio,meta,...}. */
function esc50Zip(opts: { drop?: string } = {}): { archive: Buffer; spec: DatasetSpec } {
  const clips = ['1-100032-A-0.wav', '1-100038-A-14.wav', '2-100648-A-43.wav'];
  const csv = `filename,fold,target,category,esc10,src_file,take\n${clips.map((c, i) => `${c},${i + 1},${i},cat${i},False,100,A`).join('\n')}\n`;
  const entries = [
    { name: 'ESC-50-master/', data: new Uint8Array(0) },
    { name: 'ESC-50-master/README.md', data: Buffer.from('ESC-50\n') },
    { name: 'ESC-50-master/meta/esc50.csv', data: Buffer.from(csv), deflate: true },
    ...clips.filter((c) => c !== opts.drop).map((c, i) => ({ name: `ESC-50-master/audio/${c}`, data: wavOf(i) })),
    { name: 'ESC-50-master/tests/test_dataset.py', data: Buffer.from('pass\n'), deflate: true },
  ];
  return { archive: buildZip(entries), spec: { ...DATASETS.esc50, files: clips.length } };
}

interface Seen {
  url: string;
  range?: string;
}

/** A mirror serving `/<file>` with Range; `cut` drops the first response after that many bytes. */
async function mirror(file: string, body: Buffer, opts: { cut?: number } = {}) {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push({ url: req.url ?? '', range: req.headers.range });
    if (req.url !== `/${file}`) {
      res.writeHead(404).end('not found');
      return;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m) {
      const from = Number(m[1]);
      res.writeHead(206, {
        'content-range': `bytes ${from}-${body.length - 1}/${body.length}`,
        'content-length': String(body.length - from),
      });
      res.end(body.subarray(from));
    } else if (opts.cut !== undefined && seen.length === 1) {
      res.writeHead(200, { 'content-length': String(body.length) });
      res.write(body.subarray(0, opts.cut), () => setTimeout(() => res.socket?.destroy(), 50));
    } else {
      res.writeHead(200, { 'content-length': String(body.length) });
      res.end(body);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

test('the pinned table: real upstream URLs; what is not pinned says why', () => {
  assert.equal(DATASETS.fsdd.url, `https://github.com/Jakobovski/free-spoken-digit-dataset/archive/${FSDD_TOP.slice(26)}.tar.gz`);
  assert.equal(DATASETS.esc50.url, 'https://github.com/karolpiczak/ESC-50/archive/refs/heads/master.zip');
  for (const s of Object.values(DATASETS)) {
    if (s.sha256 === null) assert.ok((s.unpinned ?? '').length > 20, `${s.name}: an unpinned sha256 needs its reason`);
  }
  assert.equal(datasetUrl(DATASETS.fsdd, 'http://m/x/'), `http://m/x/${DATASETS.fsdd.file}`);
  assert.equal(datasetUrl(DATASETS.esc50, undefined, { LOAA_DATASETS_ENDPOINT: 'http://m' }), `http://m/${DATASETS.esc50.file}`);
  assert.equal(datasetUrl(DATASETS.esc50, undefined, {}), DATASETS.esc50.url);
});

test('the pinned FSDD manifest matches the FSDD copy beside the repository', (t) => {
  if (!existsSync(fsddDir)) return t.skip(`${fsddDir} is absent`);
  const m = folderManifest(fsddDir);
  assert.equal(m.files, 3000);
  assert.equal(m.sha256, DATASETS.fsdd.manifest);
});

test('fsdd: a git-archive tarball is fetched, unpacked to the reader layout and checked; a second pull is a no-op', async (t) => {
  if (!git) return t.skip(NO_GIT);
  const { archive, files } = fsddTarball();
  const spec: DatasetSpec = { ...DATASETS.fsdd, files: files.size, manifest: manifestOf(files) };
  const s = await mirror(spec.file, archive);
  const home = tempDir('pull-data');
  try {
    assert.equal(pulledDataset('fsdd', home), null);
    const lines: string[] = [];
    const r = await pullDataset(spec, { endpoint: s.endpoint, home, log: (l) => lines.push(l) });
    assert.equal(r.path, join(home, 'datasets', 'fsdd'));
    assert.equal(r.root, join(home, 'datasets', 'fsdd', 'recordings'));
    assert.equal(r.files, files.size);
    assert.equal(r.manifest, 'verified');
    assert.equal(r.archive!.bytes, archive.length);
    assert.equal(r.archive!.sha256, createHash('sha256').update(archive).digest('hex'));
    assert.equal(r.archive!.verified, 'size');
    assert.equal(r.skipped, false);
    assert.deepEqual(readdirSync(r.root).sort(), [...files.keys()].sort());
    for (const [n, d] of files) assert.ok(readFileSync(join(r.root, n)).equals(d), n);
    // only the reader's folder is unpacked; the archive and temporary folders are gone
    assert.deepEqual(readdirSync(r.path).sort(), ['.loaa-dataset.json', 'recordings']);
    assert.deepEqual(readdirSync(join(home, 'datasets')), ['fsdd']);
    assert.equal(pulledDataset('fsdd', home), r.root);
    assert.ok(lines.some((l) => l.startsWith('unpacking')));

    const n = s.seen.length;
    const again = await pullDataset(spec, { endpoint: s.endpoint, home });
    assert.equal(again.skipped, true);
    assert.equal(again.files, files.size);
    assert.equal(s.seen.length, n, 'an already-present dataset makes no request');
  } finally {
    await s.close();
    rmSync(home, { recursive: true, force: true });
  }
});

test('fsdd: a cut connection is resumed with Range, within the run and by the next run', async (t) => {
  if (!git) return t.skip(NO_GIT);
  const { archive, files } = fsddTarball();
  const spec: DatasetSpec = { ...DATASETS.fsdd, files: files.size, manifest: manifestOf(files) };
  const cut = Math.floor(archive.length / 2);
  for (const retries of [3, 0]) {
    const s = await mirror(spec.file, archive, { cut });
    const home = tempDir('pull-data');
    try {
      if (retries === 0) {
        await assert.rejects(
          pullDataset(spec, { endpoint: s.endpoint, home, retries }),
          /connection dropped after \d+ bytes.*run the command again to resume/,
        );
        assert.ok(existsSync(join(home, 'datasets', `${spec.file}.part`)));
        assert.equal(pulledDataset('fsdd', home), null);
      }
      const r = await pullDataset(spec, { endpoint: s.endpoint, home, retries, retryDelayMs: 10 });
      assert.equal(r.resumed, retries === 0);
      assert.equal(r.archive!.sha256, createHash('sha256').update(archive).digest('hex'));
      assert.equal(r.files, files.size);
      const ranges = s.seen.map((x) => x.range).filter(Boolean);
      assert.equal(ranges.length, 1);
      assert.match(ranges[0]!, /^bytes=\d+-$/);
      assert.ok(Number(/\d+/.exec(ranges[0]!)![0]) > 0);
    } finally {
      await s.close();
      rmSync(home, { recursive: true, force: true });
    }
  }
});

test('fsdd: a checksum or content mismatch is refused and nothing is kept under the real names', async (t) => {
  if (!git) return t.skip(NO_GIT);
  const { archive, files } = fsddTarball();
  const good: DatasetSpec = { ...DATASETS.fsdd, files: files.size, manifest: manifestOf(files) };
  const s = await mirror(good.file, archive);
  const home = tempDir('pull-data');
  try {
    const wrongSha = { ...good, sha256: '0'.repeat(64) };
    await assert.rejects(
      pullDataset(wrongSha, { endpoint: s.endpoint, home }),
      /sha256 mismatch: expected 0{64}, got [0-9a-f]{64}; the download was discarded/,
    );
    const wrongSize = { ...good, size: archive.length + 1 };
    await assert.rejects(
      pullDataset(wrongSize, { endpoint: s.endpoint, home }),
      new RegExp(`downloaded ${archive.length} bytes but expected ${archive.length + 1}`),
    );
    // the real pinned manifest: these are not FSDD's recordings
    const realPin = { ...good, manifest: DATASETS.fsdd.manifest };
    await assert.rejects(pullDataset(realPin, { endpoint: s.endpoint, home }), (e: Error) => {
      assert.match(
        e.message,
        /the archive does not hold the expected dataset and was deleted: .*recordings differ from the pinned fsdd release/,
      );
      assert.ok(e.message.startsWith(`${s.endpoint}/${good.file}: `));
      return true;
    });
    const wrongCount = { ...good, files: files.size + 1 };
    await assert.rejects(
      pullDataset(wrongCount, { endpoint: s.endpoint, home }),
      new RegExp(`${files.size} WAV files, expected ${files.size + 1}`),
    );
    assert.deepEqual(readdirSync(join(home, 'datasets')), [], 'no dataset folder, archive, .part or temporary folder is left');
  } finally {
    await s.close();
    rmSync(home, { recursive: true, force: true });
  }
});

test('esc50: the branch zip is unpacked to audio/ + meta/ and checked against its metadata', async () => {
  const { archive, spec } = esc50Zip();
  const s = await mirror(spec.file, archive);
  const home = tempDir('pull-data');
  try {
    const r = await pullDataset(spec, { endpoint: s.endpoint, home });
    assert.equal(r.root, join(home, 'datasets', 'esc50'));
    assert.equal(r.files, 3);
    assert.equal(r.manifest, 'not pinned');
    assert.deepEqual(readdirSync(r.path).sort(), ['.loaa-dataset.json', 'audio', 'meta']);
    assert.equal(readdirSync(join(r.path, 'audio')).length, 3);
    const { readEsc50 } = await import('../../src/data/esc50.js');
    const ds = readEsc50(r.root);
    assert.equal(Object.values(ds.splits).flat().length, 3);
  } finally {
    await s.close();
    rmSync(home, { recursive: true, force: true });
  }
  const broken = esc50Zip({ drop: '2-100648-A-43.wav' });
  const s2 = await mirror(broken.spec.file, broken.archive);
  const home2 = tempDir('pull-data');
  try {
    await assert.rejects(
      pullDataset({ ...broken.spec, files: 2 }, { endpoint: s2.endpoint, home: home2 }),
      /lists 3 clips \(expected 2\); 1 of them are not in .*audio, e\.g\. 2-100648-A-43\.wav/,
    );
  } finally {
    await s2.close();
    rmSync(home2, { recursive: true, force: true });
  }
});

test('offline: the message names the URL, where to put the archive, and the mirror settings', async () => {
  const s = await mirror('x', Buffer.alloc(1));
  const dead = s.endpoint;
  await s.close();
  const home = tempDir('pull-data');
  try {
    await assert.rejects(pullDataset('esc50', { endpoint: dead, home }), (e: Error) => {
      assert.ok(e.message.startsWith(`${dead}/ESC-50-master.zip: cannot download (ECONNREFUSED)`), e.message);
      assert.ok(e.message.includes(`place it at ${join(home, 'datasets', 'ESC-50-master.zip')}`));
      assert.ok(e.message.includes('LOAA_DATASETS_ENDPOINT'));
      return true;
    });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('an archive placed by hand is checked and unpacked without a download', async (t) => {
  if (!git) return t.skip(NO_GIT);
  const { archive, files } = fsddTarball();
  const spec: DatasetSpec = { ...DATASETS.fsdd, files: files.size, manifest: manifestOf(files) };
  const home = tempDir('pull-data');
  try {
    mkdirSync(join(home, 'datasets'));
    writeFileSync(join(home, 'datasets', spec.file), archive);
    const r = await pullDataset(spec, { endpoint: 'http://127.0.0.1:9', home });
    assert.equal(r.files, files.size);
    assert.equal(r.archive!.verified, 'none');
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('tar reader: unsafe names are refused, a truncated archive is an error naming the source', async (t) => {
  if (!git) return t.skip(NO_GIT);
  const raw = gunzipSync(fsddTarball().archive);
  const names: string[] = [];
  await readTar(Readable.from([raw]), 'a.tar', (e) => {
    if (e.type === 'file') names.push(e.name);
  });
  assert.ok(names.includes(`${FSDD_TOP}/utils/${'a'.repeat(60)}/${'b'.repeat(60)}.py`), 'a pax long name is read');
  assert.ok(names.includes(`${FSDD_TOP}/recordings/0_george_0.wav`));
  await assert.rejects(
    readTar(Readable.from([raw.subarray(0, 1500)]), 'cut.tar', () => {}),
    /^Error: cut\.tar: truncated tar archive/,
  );
  const bad = Buffer.from(raw);
  bad[10] ^= 0xff; // inside the first header's name
  await assert.rejects(
    readTar(Readable.from([bad]), 'bad.tar', () => {}),
    /bad\.tar: corrupt tar header at byte 0 /,
  );

  const evil = buildZip([{ name: 'ESC-50-master/../../evil.wav', data: new Uint8Array(4) }]);
  const s = await mirror(DATASETS.esc50.file, evil);
  const home = tempDir('pull-data');
  try {
    await assert.rejects(
      pullDataset({ ...DATASETS.esc50, files: 1 }, { endpoint: s.endpoint, home }),
      /unsafe entry name "ESC-50-master\/\.\.\/\.\.\/evil\.wav"/,
    );
    assert.ok(!existsSync(join(home, 'evil.wav')));
  } finally {
    await s.close();
    rmSync(home, { recursive: true, force: true });
  }
});

test('loaa pull esc50 (the command): help lists the datasets; a failed check is one line on stderr, exit 1', async () => {
  const { archive, spec } = esc50Zip();
  assert.equal(spec.file, DATASETS.esc50.file);
  const s = await mirror(spec.file, archive);
  const home = tempDir('pull-data');
  const saved = process.env.LOAA_HOME;
  process.env.LOAA_HOME = home;
  try {
    const help = await captureOutput(() => command.run(['--help']));
    assert.equal(help.code, 0);
    assert.match(help.out, /loaa pull fsdd\|esc50/);
    assert.ok(help.out.includes(DATASETS.fsdd.url) && help.out.includes(DATASETS.esc50.url));
    // the real table wants 2,000 clips, this archive has 3
    const { code, out, err } = await captureOutput(() => command.run(['esc50', '--endpoint', s.endpoint, '--json']));
    assert.equal(code, 1);
    assert.equal(out, '');
    assert.match(err, /^loaa pull: .*3 WAV files, expected 2000\n$/m);
    assert.ok(!existsSync(join(home, 'datasets', 'esc50')));
  } finally {
    if (saved === undefined) delete process.env.LOAA_HOME;
    else process.env.LOAA_HOME = saved;
    await s.close();
    rmSync(home, { recursive: true, force: true });
  }
});

test('a corrupt archive is deleted so the next run downloads afresh; an incomplete hand-made copy names --force', async () => {
  const { archive, spec } = esc50Zip();
  const good = await mirror(spec.file, archive);
  const home = tempDir('pull-data');
  try {
    mkdirSync(join(home, 'datasets'));
    // a cached archive that is not a zip (say, an HTML error page saved by hand)
    writeFileSync(join(home, 'datasets', spec.file), '<html>rate limited</html>');
    await assert.rejects(
      pullDataset(spec, { endpoint: good.endpoint, home }),
      /the archive does not hold the expected dataset and was deleted: .*ESC-50-master\.zip/,
    );
    assert.equal(good.seen.length, 0);
    assert.ok(!existsSync(join(home, 'datasets', spec.file)));
    const r = await pullDataset(spec, { endpoint: good.endpoint, home });
    assert.equal(r.files, 3);
    assert.equal(good.seen.length, 1);
    assert.equal(pulledDataset('esc50', home), r.root);

    // a folder made by hand that is missing clips: not taken, and the way out is named
    rmSync(join(r.path, '.loaa-dataset.json'));
    rmSync(join(r.path, 'audio', '1-100032-A-0.wav'));
    await assert.rejects(
      pullDataset(spec, { endpoint: good.endpoint, home }),
      /esc50: present but not a complete esc50 copy \(.*2 WAV files, expected 3\); remove it or pass --force to download again/,
    );
    const forced = await pullDataset(spec, { endpoint: good.endpoint, home, force: true });
    assert.equal(forced.files, 3);
    assert.equal(forced.skipped, false);
  } finally {
    await good.close();
    rmSync(home, { recursive: true, force: true });
  }
});
