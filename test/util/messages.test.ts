/**
 * The messages of issue #25 name the input once and say what to do: a device as backbone is called
 * one (not "the checkpoint file is empty"), V8's bare "Array buffer allocation failed" names the
 * input, and a message that already starts with the input is not prefixed again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { namedError } from '../../src/util/errors.js';
import { loadBackboneStateDict } from '../../src/models/checkpoint_keys.js';

test('a character device as the backbone: named as one, not "the checkpoint file is empty"', () => {
  assert.throws(
    () => loadBackboneStateDict('/dev/zero'),
    (e: Error) => {
      assert.match(e.message, /^\/dev\/zero: cannot read checkpoint: it is a character device, not a regular file$/);
      assert.doesNotMatch(e.message, /empty/);
      return true;
    },
  );
});

test('namedError: allocation failures name the input and the cure; no doubled "in/tone.wav: in/tone.wav:" prefix', () => {
  assert.equal(namedError('in/tone.wav', new Error('in/tone.wav: truncated data chunk')).message, 'in/tone.wav: truncated data chunk');
  assert.equal(namedError('in/tone.wav', new Error('bad header')).message, 'in/tone.wav: bad header');
  const m = namedError('in/big.mp3', new RangeError('Array buffer allocation failed'), 'this clip').message;
  assert.match(
    m,
    /^in\/big\.mp3: not enough memory to process this clip \(Array buffer allocation failed\): use a shorter or smaller input/,
  );
  let real: unknown;
  try {
    new Float32Array(2 ** 40);
  } catch (e) {
    real = e;
  }
  assert.match(namedError('x.wav', real).message, /^x\.wav: not enough memory to process it/);
});
