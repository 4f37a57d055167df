/**
 * AudioClassifier's lifecycle and batch errors: a clear error after dispose(), `Symbol.dispose` /
 * `using`, and `classifyMany(..., { errors: 'return' })` giving the good inputs' labels beside the
 * bad ones' errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AudioClassifier, type ClassifyOutcome, type Scored } from '../../src/api/classifier.js';
import { installDisposeSymbol } from '../../src/api/dispose_symbol.js';
import { encodeWav } from '../../src/audio/wav.js';
import { adapterDir, backbonePath, caseNamed, freshDir } from '../models/model_cases.js';

const C = caseNamed('loaa_attn_1x3_s10');
const backbone = backbonePath(C.backbone);

function tone(f: number, sr = 16000): Float32Array {
  return new Float32Array(Math.round(0.7 * sr)).map((_, i) => 0.3 * Math.sin((2 * Math.PI * f * i) / sr));
}

function wavFile(dir: string, name: string, f: number): string {
  const p = join(dir, name);
  writeFileSync(p, encodeWav({ sampleRate: 16000, channels: [tone(f)] }));
  return p;
}

test('every use after dispose() is the error "AudioClassifier has been disposed"; dispose() twice is fine', async () => {
  const dir = freshDir('api-disposed');
  const wav = wavFile(dir, 'a.wav', 440);
  const clf = await AudioClassifier.fromPretrained(adapterDir(C)!, { backbone });
  assert.equal(clf.disposed, false);
  clf.dispose();
  assert.equal(clf.disposed, true);
  const gone = /^Error: AudioClassifier has been disposed$/;
  await assert.rejects(clf.classify(wav), gone);
  await assert.rejects(clf.classify(tone(440), { sampleRate: 16000 }), gone);
  await assert.rejects(clf.classifyMany([wav, wav]), gone);
  await assert.rejects(clf.classifyMany([wav], { errors: 'return' }), gone, 'a disposed classifier is not a per-item error');
  await assert.rejects(clf.classifyBatch([{ input: { kind: 'audio', samples: tone(440), sampleRate: 16000 }, topK: 1 }], 'default'), gone);
  assert.throws(() => clf.labels, gone);
  assert.throws(() => clf.device, gone);
  assert.throws(() => clf.adapters(), gone);
  assert.throws(() => clf.useAdapter('default'), gone);
  assert.throws(() => clf.addAdapter('x', adapterDir(C)!), gone);
  clf.dispose();
  clf[Symbol.dispose]();
});

test("Symbol.dispose exists, is Node's registered symbol, and `using` disposes the classifier", async () => {
  assert.equal(typeof Symbol.dispose, 'symbol');
  assert.equal(Symbol.dispose, Symbol.for('nodejs.dispose'), 'the symbol Node 20 defines, so both agree');
  let seen: AudioClassifier | undefined;
  {
    using clf = await AudioClassifier.fromPretrained(adapterDir(C)!, { backbone });
    seen = clf;
    assert.equal((await clf.classify(tone(300), { sampleRate: 16000, topK: 2 })).length, 2);
  }
  assert.equal(seen.disposed, true, 'left the block: disposed');
  await assert.rejects(seen.classify(tone(300), { sampleRate: 16000 }), /AudioClassifier has been disposed/);
});

test("the dispose-symbol polyfill installs Node's registered symbol where there is none, and leaves one alone", () => {
  const bare = {};
  assert.equal(installDisposeSymbol(bare), Symbol.for('nodejs.dispose'));
  assert.equal((bare as { dispose?: symbol }).dispose, Symbol.for('nodejs.dispose'));
  const own = Symbol('mine');
  assert.equal(installDisposeSymbol({ dispose: own }), own);
});

test('classifyMany with errors: "return": one bad file among good ones gives the good ones\' labels', async () => {
  const dir = freshDir('api-many-errors');
  const good1 = wavFile(dir, 'a.wav', 523);
  const good2 = wavFile(dir, 'b.wav', 180);
  const missing = join(dir, 'nope.wav');
  const garbage = join(dir, 'garbage.wav');
  writeFileSync(garbage, 'not audio at all');
  const clf = await AudioClassifier.fromPretrained(adapterDir(C)!, { backbone });
  try {
    const inputs = [good1, missing, good2, garbage, tone(700)];
    const out: ClassifyOutcome[] = await clf.classifyMany(inputs, { topK: 3, batchSize: 2, errors: 'return', sampleRate: 16000 });
    assert.deepEqual(
      out.map((o) => o.ok),
      [true, false, true, false, true],
    );
    assert.deepEqual(
      out.map((o) => o.input),
      inputs,
      'each outcome names its input, in input order',
    );
    const top = (o: ClassifyOutcome): Scored[] => (o.ok ? o.top : assert.fail(`${String(o.input)}: ${o.error.message}`));
    assert.deepEqual(top(out[0]!), await clf.classify(good1, { topK: 3 }));
    assert.deepEqual(top(out[2]!), await clf.classify(good2, { topK: 3 }));
    assert.deepEqual(top(out[4]!), await clf.classify(tone(700), { topK: 3, sampleRate: 16000 }));
    const err = (o: ClassifyOutcome): Error => (o.ok ? assert.fail('expected an error') : o.error);
    assert.match(err(out[1]!).message, /nope\.wav: cannot read audio file: no such file/);
    assert.match(err(out[3]!).message, /garbage\.wav: not an audio file/);
    // the default still rejects on the first bad input, naming it
    await assert.rejects(clf.classifyMany([good1, missing, good2]), /nope\.wav: cannot read audio file/);
    await assert.rejects(
      clf.classifyMany([good1], { errors: 'skip' as 'return' }),
      /^Error: errors: expected "throw" or "return", not "skip"$/,
    );
  } finally {
    clf.dispose();
  }
});
