/**
 * report.md escapes HTML from titles, descriptions, table titles, axis values and run names as
 * report.html does (issue #25): Markdown passes raw HTML through, so `<script>` or `<img onerror>`
 * in a grid's title ran in any viewer that renders the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildReport, parseReportSpec } from '../../src/viz/report.js';
import type { RunRecord } from '../../src/viz/runs.js';

function run(axes: Record<string, string>, top1: number): RunRecord {
  return {
    dir: `/runs/${Object.values(axes).join('_')}`,
    axes,
    results: { params: { total: 100000, trainable: 1000 }, final: { epoch: 2, split: 'validation', metrics: { top1 } } },
    epochs: [
      { epoch: 1, train_loss: 1, val: { top1 } },
      { epoch: 2, train_loss: 0.5, val: { top1 } },
    ],
    problems: ['/runs/x: <img src=x onerror=alert(3)> unreadable'],
  };
}

test('no raw HTML from names or titles reaches report.md; the marks report.md makes itself stay', () => {
  const evil = '<script>alert(1)</script>';
  const runs = [run({ method: '<img src=x onerror=alert(2)>' }, 0.9), run({ method: 'b&c' }, 0.7)];
  const spec = parseReportSpec({ title: evil, description: `about ${evil}`, tables: [{ title: `T ${evil}`, rows: ['method'] }] });
  const r = buildReport({ runs, spec, order: {}, roots: ['/runs'] });
  assert.doesNotMatch(r.markdown, /<script|<img/);
  assert.match(r.markdown, /^# &lt;script&gt;alert\(1\)&lt;\/script&gt;$/m);
  assert.match(r.markdown, /^about &lt;script&gt;/m);
  assert.match(r.markdown, /^## T &lt;script&gt;/m);
  assert.match(r.markdown, /\| &lt;img src=x onerror=alert\(2\)&gt; \|/);
  assert.match(r.markdown, /\| b&amp;c \|/);
  assert.match(r.markdown, /\*\*90\.00\*\*/);
  assert.match(r.markdown, /<u>70\.00<\/u>/, "the second-best mark is report.md's own HTML");
  assert.doesNotMatch(r.html, /<script>alert|<img src=x/);
});
