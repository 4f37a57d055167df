import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { AudioHdf5 } from '../../src/audio/hdf5.js';
import { audioFixture } from './golden-util.js';

test('HDF5: lists videos, reads slices, rejects bad slices and names', async () => {
  const path = audioFixture('epic.h5');
  const h5 = await AudioHdf5.open(path);
  try {
    assert.deepEqual(h5.keys().sort(), ['P01_01', 'P02_03']);
    assert.equal(h5.length('P01_01'), 49200);
    assert.equal(h5.length('P02_03'), 14400);
    const a = h5.read('P01_01', 4000, 4100);
    const b = h5.read('P01_01', 4050, 4060);
    assert.equal(a.length, 100);
    assert.deepEqual(b, a.subarray(50, 60));
    assert.throws(() => h5.read('P01_01', 49000, 49201), /P01_01\[49000:49201\]: slice outside/);
    assert.throws(() => h5.read('P01_01', 10, 10), /slice outside/);
    assert.throws(() => h5.read('P09_99', 0, 10), new RegExp(`${path}: no dataset "P09_99"`));
  } finally {
    h5.close();
  }
  assert.throws(() => h5.read('P01_01', 0, 10), /closed/);
  await assert.rejects(AudioHdf5.open(audioFixture('cases.json')), /not an HDF5 file/);
  await assert.rejects(AudioHdf5.open(audioFixture('missing.h5')), /missing\.h5: cannot read HDF5 file: no such file/);
});

test('HDF5: a dataset with external storage (samples in another host file) is refused naming file and dataset', async () => {
  const raw = readFileSync(audioFixture('hdf5_external', 'samples.raw'));
  const samples = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  const cwd = process.cwd();
  // from the fixture's folder the library would find samples.raw and read it as this file's audio
  process.chdir(audioFixture('hdf5_external'));
  try {
    for (const name of ['external_v0.h5', 'external_v2.h5']) {
      const path = audioFixture('hdf5_external', name);
      const h5 = await AudioHdf5.open(path);
      try {
        assert.deepEqual(h5.read('P01_01', 0, 64), samples, `${name}: a dataset stored in the file still reads`);
        for (const f of [() => h5.length('P01_02'), () => h5.read('P01_02', 0, 4)]) {
          assert.throws(
            f,
            (e: Error) => e.message.startsWith(`${path}: dataset "P01_02" uses external storage`) && e.message.includes('"samples.raw"'),
            name,
          );
        }
      } finally {
        h5.close();
      }
    }
  } finally {
    process.chdir(cwd);
  }
});
