/**
 * `npm run fuzz [target...]`: the long run. LOAA_FUZZ_SECONDS per target (default 300); a finding is
 * written to test/fuzz/corpus/<target>/finding-<hash>.bin (commit it with the fix: it becomes a seed
 * every later run replays) and the run exits 1.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fuzz } from './fuzz.js';
import { corpusDir, TARGETS } from './targets.js';

const seconds = Number(process.env.LOAA_FUZZ_SECONDS ?? 300);
const want = process.argv.slice(2);
let bad = 0;
for (const t of TARGETS.filter((x) => want.length === 0 || want.includes(x.name))) {
  const r = await fuzz(t, seconds);
  process.stdout.write(`${t.name}: ${r.runs} inputs in ${seconds} s${r.failed ? ': FINDING' : ''}\n`);
  if (r.failed && r.counterexample) {
    bad++;
    const dir = corpusDir(t.name);
    mkdirSync(dir, { recursive: true });
    const f = join(dir, `finding-${createHash('sha256').update(r.counterexample).digest('hex').slice(0, 12)}.bin`);
    writeFileSync(f, r.counterexample);
    process.stdout.write(`  ${r.message.split('\n').slice(0, 3).join('\n  ')}\n  saved ${f}\n`);
  }
}
process.exitCode = bad ? 1 : 0;
