import test from 'node:test';
import assert from 'node:assert/strict';
import { budgetFor, LOAD_BUDGET_ENV, LoadBudget, parseByteCount } from '../../src/io/budget.js';
import { unpickle } from '../../src/io/pickle.js';
import { parseSafetensors } from '../../src/io/safetensors.js';
import { firstDuplicateKey } from '../../src/io/json_keys.js';

/** builtins.set applied `calls` times to one memoised list of `n` ints (protocol 2). */
function amplifyingPickle(n: number, calls: number): Uint8Array {
  const parts: Buffer[] = [Buffer.from([0x80, 2]), Buffer.from('cbuiltins\nset\nq\x01]q\x00(', 'latin1')];
  for (let i = 0; i < n; i++) {
    const b = Buffer.alloc(5);
    b[0] = 0x4a;
    b.writeInt32LE(i, 1);
    parts.push(b);
  }
  parts.push(Buffer.from('e0', 'latin1'));
  for (let i = 0; i < calls; i++) parts.push(Buffer.from([0x68, 1, 0x68, 0, 0x85, 0x52, 0x30]));
  parts.push(Buffer.from('}.', 'latin1'));
  return new Uint8Array(Buffer.concat(parts));
}

test('a budget counts every charge and names the file, what and the override when over', () => {
  const b = new LoadBudget('w.pth', 1000);
  b.charge(600, 'tensor "a"');
  assert.equal(b.remaining, 400);
  assert.throws(
    () => b.charge(401, 'tensor "b"'),
    (e: Error) => e.message.startsWith('w.pth: tensor "b" would bring') && e.message.includes(LOAD_BUDGET_ENV),
  );
  assert.equal(budgetFor('x', 1 << 20, {}).limit, 64 * 2 ** 20 + 3 * 2 ** 20);
  assert.equal(budgetFor('x', 1 << 20, { [LOAD_BUDGET_ENV]: '8G' }).limit, 8 * 2 ** 30);
  assert.equal(parseByteCount('512M', 'k'), 512 * 2 ** 20);
  assert.throws(() => parseByteCount('lots', 'LOAA_MAX_LOAD_BYTES'), /^Error: LOAA_MAX_LOAD_BYTES: "lots" is not a byte count/);
});

test('pickle REDUCE copies of one memoised object are charged: amplification is a named Error', () => {
  const small = amplifyingPickle(1000, 3);
  assert.ok(unpickle(small, { source: 's.pkl' }).value instanceof Map, 'a few honest copies load');
  const hostile = amplifyingPickle(50_000, 2000);
  assert.throws(
    () => unpickle(hostile, { source: 'bomb.pkl' }),
    (e: Error) => /^bomb\.pkl: pickle REDUCE of builtins\.set at byte \d+ would bring/.test(e.message),
  );
  // the same file passes with an explicit, larger budget
  assert.doesNotThrow(() => unpickle(amplifyingPickle(50_000, 20), { source: 'ok.pkl', budget: new LoadBudget('ok.pkl', 2 ** 30) }));
});

test('safetensors headers naming a tensor twice are refused (JSON.parse would keep the last)', () => {
  const header = '{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  const buf = Buffer.concat([len, Buffer.from(header), Buffer.alloc(4)]);
  assert.throws(
    () => parseSafetensors(buf, 'dup.safetensors'),
    /^Error: dup\.safetensors: not a valid safetensors file: header names "w" twice$/,
  );
  assert.equal(firstDuplicateKey('{"a":{"x":1,"y":[{"x":2,"x":3}]},"b":"a\\"a"}'), 'a.y.[].x');
  assert.equal(firstDuplicateKey('{"a":1,"b":{"a":2},"c":["a","a"]}'), null);
  assert.equal(firstDuplicateKey('{"__metadata__":{"k":"v","k":"w"}}'), '__metadata__.k');
});
