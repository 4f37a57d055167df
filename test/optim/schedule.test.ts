import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constantLr, cosineLr, epicLr, multiStepLr, stepDecayLr } from '../../src/optim/index.js';

const close = (a: number, b: number, msg?: string) => assert.ok(Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b)), msg ?? `${a} vs ${b}`);

test('constantLr', () => {
  const s = constantLr(0.1);
  assert.equal(s(0), 0.1);
  assert.equal(s(57.3), 0.1);
});

test('stepDecayLr is torch MultiStepLR over range(start, 1000, every) (AST: start 5, gamma 0.85)', () => {
  const s = stepDecayLr({ lr: 1e-5, start: 5, gamma: 0.85 });
  for (let e = 0; e < 5; e++) assert.equal(s(e), 1e-5);
  close(s(5), 1e-5 * 0.85);
  close(s(6), 1e-5 * 0.85 ** 2);
  close(s(5.9), 1e-5 * 0.85);
  const t = stepDecayLr({ lr: 1, start: 2, gamma: 0.5, every: 3 });
  assert.deepEqual([0, 1, 2, 3, 4, 5, 8].map(t), [1, 1, 0.5, 0.5, 0.5, 0.25, 0.125]);
});

test('epicLr: 2 warm-up epochs from 1e-6, then lr, x0.05 from 10, x0.01 from 20', () => {
  const s = epicLr(1e-3);
  close(s(0), 1e-6);
  close(s(1), 1e-6 + (1e-3 - 1e-6) / 2);
  close(s(0.5), 1e-6 + (1e-3 - 1e-6) / 4);
  close(s(2), 1e-3);
  close(s(9.99), 1e-3);
  close(s(10), 5e-5);
  close(s(19), 5e-5);
  close(s(20), 1e-5);
  close(s(29), 1e-5);
});

test('multiStepLr checks its arguments', () => {
  assert.throws(() => multiStepLr({ lr: 1, milestones: [1, 2], factors: [0.1] }), /2 milestones but 1 factors/);
  assert.throws(() => multiStepLr({ lr: 1, milestones: [2, 1], factors: [0.1, 0.2] }), /must increase/);
  assert.throws(() => stepDecayLr({ lr: -1, start: 0, gamma: 0.5 }), /lr must be/);
});

test('cosineLr goes from lr to minLr over `epochs`, after an optional warm-up', () => {
  const s = cosineLr({ lr: 1, epochs: 10, minLr: 0.1 });
  close(s(0), 1);
  close(s(5), 0.55);
  close(s(10), 0.1);
  close(s(12), 0.1);
  const w = cosineLr({ lr: 1, epochs: 10, warmupEpochs: 2, warmupStartLr: 0 });
  const end = 0.5 * (1 + Math.cos((Math.PI * 2) / 10));
  close(w(0), 0);
  close(w(1), end / 2);
  close(w(2), end);
  close(w(3), 0.5 * (1 + Math.cos((Math.PI * 3) / 10)));
});
