/**
 * The reference's 2-s windows of an EPIC-SOUNDS annotation (training: a random start; test: five
 * evenly spaced views), against numpy / Python arithmetic (fixtures/audio/epic_augment.json).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fixture } from '../helpers.js';
import { EPIC_TEST_VIEWS, epicTestViews, epicWindow } from '../../src/data/epic_sounds.js';

interface WindowCase {
  start: number;
  stop: number;
  view?: number;
  views?: number;
  random?: number;
  window: [number, number];
}

const file = fixture('audio', 'epic_augment.json');
const fx = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { windows: WindowCase[] }) : null;

test('windows match the reference: linspace views, random.uniform starts, int() truncation, short clips whole', {
  skip: fx ? false : `${file} missing (run tools/fixtures/epic_augment_fixtures.py)`,
}, () => {
  assert.ok(fx!.windows.length > 20);
  for (const c of fx!.windows) {
    const got =
      c.random !== undefined
        ? epicWindow(c.start, c.stop, { random: c.random })
        : epicWindow(c.start, c.stop, c.view!, { views: c.views! });
    assert.deepEqual(got, c.window, JSON.stringify(c));
  }
});

test('a 2-s window is 47,975 samples inside the annotation; the views span it evenly', () => {
  const [s, e] = epicWindow(73560, 346728, 0);
  assert.equal(s, 73560);
  assert.equal(e - s, Math.round(24000 * 1.999) - 1);
  const views = epicTestViews({ id: 'P01_11_1', path: 'x.h5', label: 4, start: 73560, end: 346728 });
  assert.equal(views.length, EPIC_TEST_VIEWS);
  assert.deepEqual(
    views.map((v) => v.id),
    [0, 1, 2, 3, 4].map((k) => `P01_11_1#view${k}`),
  );
  assert.equal(views[4]!.end, 346728 - 1);
  for (const v of views) {
    assert.ok(v.start! >= 73560 && v.end! <= 346728);
    assert.equal(v.label, 4);
  }
  // a short annotation is read whole, in every view
  assert.deepEqual(epicWindow(100, 5000, 3), [100, 5000]);
  assert.throws(() => epicWindow(10, 5, 0), /start < stop/);
  assert.throws(() => epicWindow(0, 100000, 5), /view 5 outside 0\.\.4/);
  assert.throws(() => epicWindow(0, 100000, { random: 1 }), /\[0, 1\)/);
});
