/**
 * The short fuzz run of the suite: each target for LOAA_FUZZ_SECONDS (default 1.5 s) of random and
 * mutated inputs. `npm run fuzz` runs the same targets for longer and saves what it finds.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { fuzz } from './fuzz.js';
import { seeds, TARGETS } from './targets.js';

const seconds = Number(process.env.LOAA_FUZZ_SECONDS ?? 1.5);

for (const t of TARGETS) {
  test(`fuzz ${t.name}: random and mutated inputs are accepted or refused naming the input`, async () => {
    assert.ok(seeds(t.name).length > 0, `no committed corpus under test/fuzz/corpus/${t.name}`);
    const r = await fuzz(t, seconds);
    assert.ok(r.runs > 0);
    assert.equal(r.failed, false, r.message);
  });
}
