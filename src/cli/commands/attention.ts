/** `loaa attention`: the paper's Figure 3 for one input, one row per model. */
import { UsageError, type Command } from '../command.js';
import { boolFlag, listFlag, numberFlag, parseFlags, stringFlag, type FlagSpec } from '../args.js';
import { highestEnergyRange, patchAttention, queryColumns, queryTokens, renderAttentionFigure, type FrameRange, type Upsample } from '../../viz/attention.js';

const help = `usage: loaa attention <audio | features.safetensors> --backbone <ckpt | pretrained | random:<arch>>
                      [--adapter <dir> ...] [--compare <dir>] [--no-backbone-row] [--layer -1]
                      [--frames a:b] [--upsample nearest|bilinear] --out map.png [--json]
       loaa attention <audio> --row name=...,backbone=...[,adapter=...] --row ... --out fig.svg

Draws what the model attends to (the paper's Figure 3): the mel spectrogram (frequency up, time
right) and, per model, the attention that the patch tokens of a time range pay to every patch,
averaged over the heads and over those query tokens, on the 16x16 patch areas. All rows share one
colour scale. The first row is the bare backbone (unless --no-backbone-row), then one row per
--adapter; --compare adds that adapter as a row and, beside every other row, the difference to it.
The query range is bracketed in white; the share of attention that goes to the cls/dist (and
prompt) tokens is printed under each label.

options:
  --backbone B          checkpoint (timm / DeiT / Hugging Face / AST), "pretrained" (the
                        loaa pull cache) or random:<arch> (seeded random weights, e.g.
                        random:deit_tiny_patch16_224)
  --adapter DIR         adapter directory (adapter_config.json + adapter_model.safetensors);
                        repeat for several models. The first adapter sets the input geometry
                        and the front end (sample rate, mel bins, target length, mean/std)
  --compare DIR         an adapter to compare against (difference panels)
  --no-backbone-row     leave out the bare backbone's row
  --layer L             block whose attention is drawn (default -1: the last; 0 = the first)
  --frames A:B          query frames [A, B) (default: the patch column with the highest energy)
  --upsample M          nearest (the patch areas; default) or bilinear
  --out FILE            the PNG to write (required); FILE.svg draws the paper's Figure 3 layout
                        (text, time in s, frequency in Hz, colour bars, padding cropped)
  --title TEXT          caption at the top
  --row SPEC            one row of the figure with its own model (repeatable; replaces
                        --backbone / --adapter): name=LABEL,backbone=B[,adapter=DIR][,arch=A]
                        [,target_length=N][,fstride=S][,tstride=S][,seed=N][,depth=N]
                        [,source_grid=FxT]; quote values with commas: name="LoAA, T".
                        Every row is drawn on the same time axis (its own patch grid); the
                        output is an SVG (the paper's Figure 3, e.g. an ImageNet DeiT, an
                        audio-pretrained SSAST with 16x16 patches on 1024 frames and
                        --frames 320:336, and LoAA)
  --source-grid FxT     positional grid of an audio checkpoint whose grid cannot be read from
                        it (e.g. 8x64 for an SSAST-style 128x1024 input with 16x16 patches)
  --json                print {"out", "layer", "frames", "rows": [...], ...} as one JSON object

without an adapter (input geometry and front end):
  --arch NAME           architecture of a checkpoint backbone
  --target-length N     frames (default: the clip's own length)
  --num-mel-bins N      default 128
  --sample-rate HZ      default 16000
  --mean M --std S      normalisation (default: none, or the adapter's)
  --fstride S --tstride S   patch strides (default 16)
  --depth N             blocks of a random backbone
  --seed N              random backbone seed (default 0)
`;

const SPEC: FlagSpec = {
  backbone: { type: 'string' },
  adapter: { type: 'string', multiple: true },
  compare: { type: 'string' },
  'no-backbone-row': { type: 'boolean' },
  layer: { type: 'string' },
  frames: { type: 'string' },
  upsample: { type: 'string' },
  out: { type: 'string' },
  title: { type: 'string' },
  arch: { type: 'string' },
  'target-length': { type: 'string' },
  'num-mel-bins': { type: 'string' },
  'sample-rate': { type: 'string' },
  mean: { type: 'string' },
  std: { type: 'string' },
  fstride: { type: 'string' },
  tstride: { type: 'string' },
  depth: { type: 'string' },
  seed: { type: 'string' },
  row: { type: 'string', multiple: true },
  'source-grid': { type: 'string' },
};

/** `--layer -1` and `--mean -6.6`: node's parser wants `--layer=-1` for values starting with '-'. */
export function joinNegativeValues(argv: string[], spec: FlagSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const name = a.startsWith('--') ? a.slice(2) : '';
    const next = argv[i + 1];
    if (spec[name]?.type === 'string' && next !== undefined && /^-\d|^-\.\d/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else {
      out.push(a);
    }
  }
  return out;
}

function parseFrames(s: string): FrameRange {
  const m = /^\s*(\d+)\s*:\s*(\d+)\s*$/.exec(s);
  if (!m) throw new UsageError(`--frames: expected A:B (frame indices, B > A), got ${JSON.stringify(s)}`);
  const a = Number(m[1]);
  const b = Number(m[2]);
  if (!(b > a)) throw new UsageError(`--frames: ${s}: the end must be after the start`);
  return [a, b];
}

async function sourceGridFlag(v: string): Promise<[number, number]> {
  const { parseGrid } = await import('../../viz/figure3_run.js');
  try {
    return parseGrid(v, '--source-grid');
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** `--row` mode: one model per row, drawn as the Figure 3 SVG (src/viz/figure3_run.ts). */
async function runRows(a: ReturnType<typeof parseFlags>, input: string, rowArgs: string[]): Promise<number> {
  for (const f of ['backbone', 'adapter', 'compare', 'no-backbone-row', 'source-grid'] as const) {
    if (a.values[f] !== undefined) throw new UsageError(`--${f}: not with --row (each row names its own backbone, adapter and source_grid)`);
  }
  const out = stringFlag(a, 'out');
  if (!out || !/\.svg$/i.test(out)) throw new UsageError('--out: with --row the figure is an SVG: give FILE.svg (rsvg-convert FILE.svg -o FILE.png makes a PNG)');
  const up = stringFlag(a, 'upsample') ?? 'nearest';
  if (up !== 'nearest' && up !== 'bilinear') throw new UsageError(`--upsample: expected nearest or bilinear, got ${JSON.stringify(up)}`);
  const framesArg = stringFlag(a, 'frames');
  const { parseRowSpec, runFigureRows } = await import('../../viz/figure3_run.js');
  let specs;
  try {
    specs = rowArgs.map((s) => parseRowSpec(s));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { svg, info, rows } = await runFigureRows(input, specs, {
    layer: numberFlag(a, 'layer', { integer: true }) ?? -1,
    ...(framesArg !== undefined ? { frames: parseFrames(framesArg) } : {}),
    upsample: up,
    ...(stringFlag(a, 'title') !== undefined ? { title: stringFlag(a, 'title')! } : {}),
    ...(numberFlag(a, 'sample-rate', { integer: true, min: 1 }) !== undefined ? { sampleRate: numberFlag(a, 'sample-rate', { integer: true, min: 1 })! } : {}),
  });
  const { writeFileAtomic } = await import('../../util/fs.js');
  writeFileAtomic(out, svg);
  const summary = { out, input, size: [info.width, info.height], frames: info.frames, rows: rows.map((r) => ({ label: r.label, grid: [r.geometry.fDim, r.geometry.tDim], input_shape: [r.geometry.frames, r.geometry.bins], query: r.query, to_special: r.toSpecial ?? null })) };
  if (boolFlag(a, 'json')) process.stdout.write(JSON.stringify(summary) + '\n');
  else {
    process.stdout.write(`${out}: ${info.width}x${info.height}, ${rows.length} row(s), ${info.frames} frames shown\n`);
    for (const r of summary.rows) process.stdout.write(`  ${r.label}: ${r.grid.join('x')} patches on ${r.input_shape.join('x')}, query frames ${r.query.join(':')}\n`);
  }
  return 0;
}

export const command: Command = {
  name: 'attention',
  summary: "draw what the model attends to over a spectrogram (the paper's Figure 3), per model",
  help,
  async run(argv: string[]): Promise<number> {
    const a = parseFlags(joinNegativeValues(argv, SPEC), SPEC, 'attention');
    if (boolFlag(a, 'help')) {
      process.stdout.write(help);
      return 0;
    }
    if (a.positionals.length !== 1) {
      throw new UsageError(a.positionals.length === 0 ? '<audio>: missing input file' : `<audio>: expected one input, got ${a.positionals.length}`);
    }
    const input = a.positionals[0]!;
    const rowArgs = listFlag(a, 'row');
    if (rowArgs.length) return runRows(a, input, rowArgs);
    const backbone = stringFlag(a, 'backbone');
    if (!backbone) throw new UsageError('--backbone: required (a checkpoint, "pretrained" or random:<arch>)');
    const out = stringFlag(a, 'out');
    if (!out) throw new UsageError('--out: missing output PNG');
    const up = stringFlag(a, 'upsample') ?? 'nearest';
    if (up !== 'nearest' && up !== 'bilinear') throw new UsageError(`--upsample: expected nearest or bilinear, got ${JSON.stringify(up)}`);
    const framesArg = stringFlag(a, 'frames');
    const frames = framesArg !== undefined ? parseFrames(framesArg) : undefined;
    const mean = numberFlag(a, 'mean');
    const std = numberFlag(a, 'std', { min: Number.MIN_VALUE });
    if ((mean === undefined) !== (std === undefined)) throw new UsageError(`${mean === undefined ? '--mean' : '--std'}: required with ${mean === undefined ? '--std' : '--mean'}`);
    const adapters = listFlag(a, 'adapter');
    const noBackbone = boolFlag(a, 'no-backbone-row');
    if (noBackbone && !adapters.length && stringFlag(a, 'compare') === undefined) throw new UsageError('--no-backbone-row: needs at least one --adapter or --compare');

    // loaded here so that `loaa attention --help` and argument errors do not start libtorch
    const { runAttentionModels } = await import('../../viz/attention_models.js');
    const r = await runAttentionModels({
      input,
      backbone,
      adapters,
      compare: stringFlag(a, 'compare'),
      backboneRow: !noBackbone,
      layer: numberFlag(a, 'layer', { integer: true }) ?? -1,
      arch: stringFlag(a, 'arch'),
      targetLength: numberFlag(a, 'target-length', { integer: true, min: 16 }),
      numMelBins: numberFlag(a, 'num-mel-bins', { integer: true, min: 16 }),
      sampleRate: numberFlag(a, 'sample-rate', { integer: true, min: 1 }),
      mean,
      std,
      fstride: numberFlag(a, 'fstride', { integer: true, min: 1, max: 16 }),
      tstride: numberFlag(a, 'tstride', { integer: true, min: 1, max: 16 }),
      depth: numberFlag(a, 'depth', { integer: true, min: 1 }),
      seed: numberFlag(a, 'seed', { integer: true, min: 0 }),
      ...(stringFlag(a, 'source-grid') !== undefined ? { sourceGrid: await sourceGridFlag(stringFlag(a, 'source-grid')!) } : {}),
    });
    const g = r.geometry;
    if (frames && frames[1] > g.frames) throw new UsageError(`--frames: ${frames[0]}:${frames[1]} ends after the input's ${g.frames} frames`);
    const query = frames ?? highestEnergyRange(r.fbank, g, r.validFrames);
    const cols = queryColumns(query, g);
    const tokens = queryTokens(cols, g);
    const rows = r.matrices.map((m) => patchAttention(m, tokens, g));
    const layerName = `LAYER ${r.layer + 1}/${r.depth}`;
    const title = stringFlag(a, 'title') ?? `${r.arch}  ${layerName}  QUERY FRAMES ${query[0]}-${query[1]} (${tokens.length} TOKENS)  MEAN OVER HEADS`;
    let info: { width: number; height: number; scale?: [number, number]; diffScale?: [number, number]; panels: unknown[] };
    if (/\.svg$/i.test(out)) {
      // the paper's Figure 3 layout (src/viz/figure3.ts): real text, axes in s and Hz, padding cropped
      const { writeFigure3 } = await import('../../viz/figure3_run.js');
      info = writeFigure3(out, r, rows, query, { title: stringFlag(a, 'title'), upsample: up as Upsample, sampleRate: numberFlag(a, 'sample-rate', { integer: true, min: 1 }), adapters });
    } else {
      const fig = renderAttentionFigure({ data: r.fbank, frames: g.frames, bins: g.bins }, g, rows, query, {
        title,
        upsample: up as Upsample,
        compareIndex: r.compareIndex,
        validFrames: r.validFrames,
      });
      fig.canvas.writePng(out);
      info = fig.info;
    }
    const summary = {
      out,
      input,
      arch: r.arch,
      layer: r.layer,
      depth: r.depth,
      frames: query,
      query_columns: cols,
      query_tokens: tokens.length,
      grid: [g.fDim, g.tDim],
      input_shape: [g.frames, g.bins],
      size: [info.width, info.height],
      scale: info.scale,
      ...(info.diffScale ? { diff_scale: info.diffScale } : {}),
      // where each row's attention panel lies in the PNG, in pixels
      panels: info.panels,
      rows: rows.map((row) => {
        let k = 0;
        for (let i = 1; i < row.map.length; i++) if (row.map[i]! > row.map[k]!) k = i;
        const f = Math.floor(k / g.tDim);
        const t = k % g.tDim;
        return {
          label: row.label,
          to_special: row.toSpecial,
          max: row.map[k],
          // where the most-attended patch lies, in input coordinates
          peak: { frames: [t * g.tstride, t * g.tstride + g.patch], bins: [f * g.fstride, f * g.fstride + g.patch] },
        };
      }),
    };
    if (boolFlag(a, 'json')) process.stdout.write(JSON.stringify(summary) + '\n');
    else {
      process.stdout.write(`${out}: ${info.width}x${info.height}, ${rows.length} row(s), ${layerName}, query frames ${query[0]}:${query[1]}\n`);
      for (const s of summary.rows) process.stdout.write(`  ${s.label}: ${(100 * s.to_special).toFixed(1)}% to special tokens, peak at frames ${s.peak.frames.join('-')}, bins ${s.peak.bins.join('-')}\n`);
    }
    return 0;
  },
};
