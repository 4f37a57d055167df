import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { fixture } from '../helpers.js';
import {
  averagePrecision,
  confusionMatrix,
  dPrime,
  evaluate,
  macroAuc,
  meanAveragePrecision,
  meanClassAccuracy,
  normPpf,
  rocAuc,
  topKAccuracy,
  type MetricReport,
} from '../../src/train/metrics.js';

type Num = number | 'nan' | 'inf' | '-inf';
interface Case {
  name: string;
  numClasses: number;
  scores: number[][];
  targetKind: 'index' | 'matrix';
  targets: number[] | number[][];
  expected: Record<string, Num | (number | null)[] | number[][]>;
}
const doc = JSON.parse(readFileSync(fixture('metrics', 'metrics_cases.json'), 'utf8')) as {
  cases: Case[];
  ppf: { p: number; x: Num }[];
};

function num(x: Num): number {
  return x === 'nan' ? NaN : x === 'inf' ? Infinity : x === '-inf' ? -Infinity : x;
}

function close(actual: number, expected: number, what: string, tol = 1e-9): void {
  if (Number.isNaN(expected) || !Number.isFinite(expected)) {
    assert.ok(Object.is(actual, expected), `${what}: ${actual} vs ${expected}`);
    return;
  }
  assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${what}: ${actual} vs ${expected}`);
}

const scalarKeys = ['top1', 'top5', 'mAP', 'meanClassAccuracy', 'macroAUC', 'dPrime'] as const;

function checkReport(r: MetricReport, c: Case): void {
  for (const k of scalarKeys) close(r[k], num(c.expected[k] as Num), `${c.name} ${k}`);
  for (const k of ['perClassAP', 'perClassAUC'] as const) {
    const exp = c.expected[k] as (number | null)[];
    assert.equal(r[k].length, exp.length);
    r[k].forEach((v, j) => {
      if (exp[j] === null) assert.equal(v, null, `${c.name} ${k}[${j}]`);
      else close(v as number, exp[j]!, `${c.name} ${k}[${j}]`);
    });
  }
  assert.deepEqual(r.confusion, c.expected.confusion);
}

test('metrics match sklearn on the golden cases (number[][] inputs)', () => {
  assert.ok(doc.cases.length >= 6);
  for (const c of doc.cases) checkReport(evaluate(c.scores, c.targets), c);
});

test('metrics match sklearn with flat Float64Array scores and flat (typed) targets', () => {
  for (const c of doc.cases) {
    const flat = Float64Array.from(c.scores.flat());
    const targets = c.targetKind === 'index' ? Int32Array.from(c.targets as number[]) : Float64Array.from((c.targets as number[][]).flat());
    checkReport(evaluate(flat, targets, { numClasses: c.numClasses }), c);
  }
});

test('single-metric functions agree with evaluate', () => {
  for (const c of doc.cases) {
    const e = c.expected;
    close(topKAccuracy(c.scores, c.targets, 1), num(e.top1 as Num), `${c.name} top1`);
    close(topKAccuracy(c.scores, c.targets, 5), num(e.top5 as Num), `${c.name} top5`);
    close(meanAveragePrecision(c.scores, c.targets), num(e.mAP as Num), `${c.name} mAP`);
    close(macroAuc(c.scores, c.targets), num(e.macroAUC as Num), `${c.name} macroAUC`);
    close(meanClassAccuracy(c.scores, c.targets), num(e.meanClassAccuracy as Num), `${c.name} mca`);
    assert.deepEqual(confusionMatrix(c.scores, c.targets), e.confusion);
  }
});

test('the cases cover ties, absent classes and multi-label targets', () => {
  const names = doc.cases.map((c) => c.name).join(' | ');
  assert.match(names, /ties/);
  assert.match(names, /absent/);
  assert.match(names, /multi-label/);
  const absent = doc.cases.find((c) => c.name.includes('absent'))!;
  assert.ok((absent.expected.perClassAP as (number | null)[]).includes(null));
});

test('normPpf matches scipy.stats.norm.ppf', () => {
  for (const { p, x } of doc.ppf) close(normPpf(p), num(x), `ppf(${p})`, 1e-12);
  assert.ok(Number.isNaN(normPpf(-0.1)));
  assert.ok(Number.isNaN(normPpf(1.5)));
  assert.equal(dPrime(0.5), 0);
  assert.equal(dPrime(1), Infinity);
});

test('Float32Array scores give the same results as their float64 values', () => {
  const c = doc.cases[0]!;
  const f32 = Float32Array.from(c.scores.flat());
  const rows: number[][] = [];
  for (let i = 0; i < c.scores.length; i++) rows.push(Array.from(f32.subarray(i * c.numClasses, (i + 1) * c.numClasses)));
  assert.deepEqual(evaluate(f32, c.targets, { numClasses: c.numClasses }), evaluate(rows, c.targets));
});

test('AUC equals the pairwise (Mann-Whitney) count with ties as half', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 5 })), { minLength: 2, maxLength: 30 }), (rows) => {
      const y = rows.map((r) => (r[0] ? 1 : 0));
      const s = rows.map((r) => r[1]);
      let pairs = 0;
      let wins = 0;
      for (let i = 0; i < y.length; i++) {
        for (let j = 0; j < y.length; j++) {
          if (y[i] === 1 && y[j] === 0) {
            pairs++;
            wins += s[i]! > s[j]! ? 1 : s[i] === s[j] ? 0.5 : 0;
          }
        }
      }
      const auc = rocAuc(y, s);
      if (pairs === 0) return Number.isNaN(auc);
      return Math.abs(auc - wins / pairs) < 1e-12;
    }),
  );
});

test('AP is 1 for a perfect ranking and invariant to an order-preserving score map', () => {
  assert.equal(averagePrecision([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1]), 1);
  assert.ok(Number.isNaN(averagePrecision([0, 0], [0.1, 0.2])));
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.boolean(), fc.double({ min: -5, max: 5, noNaN: true })), { minLength: 1, maxLength: 30 }), (rows) => {
      const y = rows.map((r) => (r[0] ? 1 : 0));
      const s = rows.map((r) => r[1]);
      const a = averagePrecision(y, s);
      const b = averagePrecision(
        y,
        s.map((v) => 4 * v),
      );
      return (Number.isNaN(a) && Number.isNaN(b)) || Math.abs(a - b) < 1e-12 || a === b;
    }),
  );
});

test('bad inputs name the argument at fault', () => {
  assert.throws(() => evaluate(new Float32Array(6), [0, 1]), /^Error: numClasses:/);
  assert.throws(() => evaluate(new Float32Array(7), [0, 1], { numClasses: 3 }), /^Error: scores: length 7/);
  assert.throws(() => evaluate([[0, 1], [1]], [0, 1]), /^Error: scores: row 1 has 1 values/);
  assert.throws(
    () =>
      evaluate(
        [
          [0, 1],
          [1, 0],
        ],
        [0, 2],
      ),
    /^Error: targets: row 1 has class index 2/,
  );
  assert.throws(
    () =>
      evaluate(
        [
          [0, 1],
          [1, 0],
        ],
        [0, 1, 1],
      ),
    /^Error: targets: length 3/,
  );
  assert.throws(() => evaluate([[0, NaN]], [0]), /^Error: scores: NaN at row 0, class 1/);
  assert.throws(() => topKAccuracy([[0, 1]], [0], 0), /^Error: k:/);
});
