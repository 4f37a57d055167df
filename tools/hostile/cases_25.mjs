/**
 * The hostile cases of issue #25 (bounded work, FIFOs and devices where files are expected), added
 * to the corpus by make_corpus.mjs. Each names the file or key its refusal must mention.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

/** One ustar header declaring `size` bytes of type `flag` (the data need not follow). */
function tarHeader(name, size, flag) {
  const h = Buffer.alloc(512);
  h.write(name, 0, 'utf8');
  h.write('0000644\0', 100, 'ascii');
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
  h.write(flag, 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

/** {K: {K: ... {0: t, ..., n-1: t}}} with one memoised K of `keyChars` characters. */
function namesBomb(Pickle, zip, keyChars, levels, tensors) {
  const pk = new Pickle();
  pk.global('torch._utils', '_rebuild_tensor_v2').mark();
  pk.mark().str('storage').global('torch', 'FloatStorage').str('0').str('cpu').int(1).op(0x74).op(0x51);
  pk.int(0).mark().int(1).op(0x74).mark().int(1).op(0x74).op(0x89).op(0x7d).op(0x74).op(0x52).put(1).op(0x30);
  pk.op(0x7d).str('k'.repeat(keyChars)).put(0);
  for (let l = 1; l < levels; l++) pk.op(0x7d).get(0);
  pk.op(0x7d).mark();
  for (let i = 0; i < tensors; i++) pk.int(i).get(1);
  pk.op(0x75);
  for (let l = 0; l < levels; l++) pk.op(0x73);
  return zip([
    { name: 'archive/data.pkl', data: pk.bytes() },
    { name: 'archive/data/0', data: Buffer.alloc(4) },
  ]);
}

export function addIssue25Cases({ p, add, loaa, probe, repo, Pickle, zip, goodWav }) {
  // pickle: a 1 MB key memoised once, reused at 30 levels over 400 tensors (30 MB names each)
  writeFileSync(p('names_bomb.pth'), namesBomb(Pickle, zip, 1 << 20, 30, 400));
  add('pickle-names-budget', 25, [probe, 'pth', p('names_bomb.pth')], ['names_bomb.pth', 'tensor name']);

  // tar: symlink (2) and contiguous-file (7) entries declaring gigabytes, in a few bytes of gzip
  for (const flag of ['2', '7']) {
    const f = `tar_type${flag}.tar.gz`;
    writeFileSync(p(f), gzipSync(Buffer.concat([tarHeader(`top/big${flag}`, 2.5 * 2 ** 30, flag), Buffer.alloc(64 * 1024)])));
    add(`tar-type-${flag}-cap`, 25, [probe, 'tar', p(f)], [f, 'over the']);
  }

  // YAML: 80k keys in one mapping (52 s quadratic before), in block and in flow style
  let many = 'name: many\ndescription:\n';
  for (let i = 0; i < 80_000; i++) many += `  k${i}: ${i}\n`;
  writeFileSync(p('many_keys.yaml'), many);
  add('yaml-80k-keys', 25, [probe, 'recipe', p('many_keys.yaml')], ['many_keys.yaml', 'more than'], { deadline: 20 });
  let flow = 'description: {';
  for (let i = 0; i < 30_000; i++) flow += `k${i}: ${i}, `;
  writeFileSync(p('flow_keys.yaml'), `${flow}}\n`);
  add('yaml-30k-flow-keys', 25, [probe, 'recipe', p('flow_keys.yaml')], ['flow_keys.yaml', 'keys'], { deadline: 20 });

  // FIFOs where a recipe, a grid file or a backbone is expected; devices as backbone
  for (const f of ['recipe_fifo.yaml', 'grid_fifo.yaml', 'backbone_fifo.pth']) execFileSync('mkfifo', [p(f)]);
  add('recipe-fifo', 25, [probe, 'recipe', p('recipe_fifo.yaml')], ['recipe_fifo.yaml', 'FIFO']);
  add('grid-fifo', 25, [probe, 'grid', p('grid_fifo.yaml')], ['grid_fifo.yaml', 'FIFO']);
  add('backbone-fifo', 25, [probe, 'backbone', p('backbone_fifo.pth')], ['backbone_fifo.pth', 'FIFO']);
  add('backbone-dev-zero', 25, [probe, 'backbone', '/dev/zero'], ['/dev/zero', 'character device']);
  add('backbone-sha-dev-zero', 25, [probe, 'sha256', '/dev/zero'], ['/dev/zero', 'character device']);

  // adapter geometry inside the old bounds: tdim 100000 at stride 1, bottleneck 1e9
  const cfg = JSON.parse(readFileSync(join(repo, 'fixtures', 'models', 'adapters', 'loaa_attn_1x3_s10_adapter_config.json'), 'utf8'));
  const adapterDir = (name, o) => {
    mkdirSync(p(name));
    writeFileSync(join(p(name), 'adapter_config.json'), JSON.stringify({ ...cfg, ...o }));
    return p(name);
  };
  add(
    'adapter-tdim-100000-stride-1',
    25,
    [
      probe,
      'adapter-config',
      adapterDir('adapter_tdim', { input: { ...cfg.input, tdim: 100000, fstride: 1, tstride: 1 }, frontend: undefined }),
    ],
    ['adapter_config.json', 'tokens'],
  );
  add(
    'adapter-bottleneck-1e9',
    25,
    [probe, 'adapter-config', adapterDir('adapter_wide', { adapters: cfg.adapters.map((a) => ({ ...a, bottleneck: 1e9 })) })],
    ['adapter_config.json', 'bottleneck'],
  );

  // report over a run whose results.json is /dev/zero and whose metrics.jsonl is a FIFO
  const run = p('report_runs/r1');
  mkdirSync(run, { recursive: true });
  writeFileSync(join(run, 'recipe.json'), '{}');
  symlinkSync('/dev/zero', join(run, 'results.json'));
  execFileSync('mkfifo', [join(run, 'metrics.jsonl')]);
  add('report-results-dev-zero', 25, [loaa, 'report', p('report_runs'), '--out', p('report_out')], [], { expect: 'bounded', deadline: 30 });

  // batch predict's inputs include a FIFO: refused by name, no hang (the folder form needs a model:
  // the decoder path is what hung, probed directly)
  execFileSync('mkfifo', [p('input_fifo.wav')]);
  add('batch-input-fifo', 25, [probe, 'batch-input', p('input_fifo.wav')], ['input_fifo.wav', 'FIFO']);
  add('batch-input-ok', 25, [probe, 'batch-input', goodWav], [], { expect: 'ok' });
}
