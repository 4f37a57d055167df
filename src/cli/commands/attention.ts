/** `loaa attention`: the paper's Figure 3 for one input, one row per model. */
import { UsageError } from '../command.js';
import { defineCommand, type CommandArgs } from '../define.js';
import { DEVICE_FLAGS, engineOptions, engineUsage } from '../engine_flags.js';
import { adapterDirOf, recordedBackboneFlag } from '../adapter_args.js';
import {
  highestEnergyRange,
  patchAttention,
  queryColumns,
  queryTokens,
  renderAttentionFigure,
  type FrameRange,
  type Upsample,
} from '../../viz/attention.js';
import { SAMPLE_RATE } from '../../audio/frontend.js';

const DESCRIPTION = `Draws what the model attends to (the paper's Figure 3): the mel spectrogram (frequency up, time
right) and, per model, the attention that the patch tokens of a time range pay to every patch,
averaged over the heads and over those query tokens, on the 16x16 patch areas. All rows share one
colour scale. The first row is the bare backbone (unless --no-backbone-row), then one row per
--adapter; --compare adds that adapter as a row and, beside every other row, the difference to it.
The query range is bracketed in white; the share of attention that goes to the cls/dist (and
prompt) tokens is printed under each label. --json prints {"out", "layer", "frames", "rows": [...], ...}.

Without an adapter, --arch, --target-length (default: the clip's own length), --num-mel-bins,
--sample-rate, --mean/--std (default: none, or the adapter's), --fstride/--tstride, --depth and
--seed give the input geometry and the front end.

--device and --precision say where and how the forwards run (as loaa predict): on a GPU, or under
torch.autocast in bf16 or fp16 (softmax stays fp32); the maps come back as float32. A bf16 map is
within 2% of the fp32 map's peak, element by element (the tested tolerance; measured 0.3%).`;

const FLAGS = {
  backbone: {
    type: 'string',
    value: 'B',
    help: 'checkpoint (timm / DeiT / Hugging Face / AST), "pretrained" (the\nloaa pull cache) or random:<arch> (seeded random weights, e.g.\nrandom:deit_tiny_patch16_224); default: the one the first adapter records',
  },
  adapter: {
    type: 'list',
    value: 'DIR',
    help: 'adapter directory (adapter_config.json + adapter_model.safetensors)\nor a run directory (its best/); one row per adapter. The first adapter sets the input geometry\nand the front end (sample rate, mel bins, target length, mean/std)',
  },
  compare: { type: 'string', value: 'DIR', help: 'an adapter to compare against (difference panels)' },
  'no-backbone-row': { type: 'boolean', help: "leave out the bare backbone's row" },
  layer: { type: 'int', value: 'L', default: -1, help: 'block whose attention is drawn (-1: the last; 0 = the first)' },
  frames: { type: 'string', value: 'A:B', help: 'query frames [A, B) (default: the patch column with the highest energy)' },
  upsample: { type: 'string', value: 'M', default: 'nearest', choices: ['nearest', 'bilinear'], help: 'nearest draws the patch areas' },
  out: {
    type: 'string',
    value: 'FILE',
    help: "the PNG to write (required); FILE.svg draws the paper's Figure 3 layout\n(text, time in s, frequency in Hz, colour bars, padding cropped)",
  },
  title: { type: 'string', value: 'TEXT', help: 'caption at the top' },
  row: {
    type: 'list',
    value: 'SPEC',
    help: 'one row of the figure with its own model (replaces --backbone / --adapter):\nname=LABEL,backbone=B[,adapter=DIR][,arch=A][,target_length=N][,fstride=S]\n[,tstride=S][,seed=N][,depth=N][,source_grid=FxT]; quote values with commas:\nname="LoAA, T". Every row is drawn on the same time axis (its own patch grid);\nthe output is an SVG (the paper\'s Figure 3, e.g. an ImageNet DeiT, an\naudio-pretrained SSAST with 16x16 patches on 1024 frames and --frames 320:336, and LoAA)',
  },
  'source-grid': {
    type: 'string',
    value: 'FxT',
    help: 'positional grid of an audio checkpoint whose grid cannot be read from\nit (e.g. 8x64 for an SSAST-style 128x1024 input with 16x16 patches)',
  },
  arch: { type: 'string', value: 'NAME', help: 'architecture of a checkpoint backbone (without an adapter)' },
  'target-length': { type: 'int', min: 16, help: "frames (without an adapter; default: the clip's own length)" },
  'num-mel-bins': { type: 'int', min: 16, help: 'mel bins (without an adapter; default 128)' },
  'sample-rate': { type: 'int', value: 'HZ', min: 1, help: `sample rate (without an adapter; default ${SAMPLE_RATE})` },
  mean: { type: 'number', value: 'M', help: "normalisation mean (with --std; default: none, or the adapter's)" },
  std: { type: 'number', value: 'S', help: 'normalisation std (with --mean)' },
  fstride: { type: 'int', value: 'S', min: 1, max: 16, help: 'patch stride over frequency (default 16)' },
  tstride: { type: 'int', value: 'S', min: 1, max: 16, help: 'patch stride over time (default 16)' },
  depth: { type: 'int', min: 1, help: 'blocks of a random backbone' },
  seed: { type: 'int', min: 0, help: 'random backbone seed (default 0)' },
  ...DEVICE_FLAGS,
} as const;

type AttentionArgs = CommandArgs<typeof FLAGS> & { json: boolean };

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
async function runRows({ flags, given, json }: AttentionArgs, input: string, rowArgs: string[]): Promise<number> {
  for (const f of ['backbone', 'adapter', 'compare', 'no-backbone-row', 'source-grid'] as const) {
    if (given(f)) throw new UsageError(`--${f}: not with --row (each row names its own backbone, adapter and source_grid)`);
  }
  const out = flags.out;
  if (!out || !/\.svg$/i.test(out))
    throw new UsageError('--out: with --row the figure is an SVG: give FILE.svg (rsvg-convert FILE.svg -o FILE.png makes a PNG)');
  const up = flags.upsample as Upsample;
  const framesArg = flags.frames;
  const { parseRowSpec, runFigureRows } = await import('../../viz/figure3_run.js');
  let specs: ReturnType<typeof parseRowSpec>[];
  try {
    specs = rowArgs.map((s) => parseRowSpec(s));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { svg, info, rows } = await engineUsage(() =>
    runFigureRows(input, specs, {
      layer: flags.layer,
      ...engineOptions(flags),
      ...(framesArg !== undefined ? { frames: parseFrames(framesArg) } : {}),
      upsample: up,
      ...(flags.title !== undefined ? { title: flags.title } : {}),
      ...(flags['sample-rate'] !== undefined ? { sampleRate: flags['sample-rate'] } : {}),
    }),
  );
  const { writeFileAtomic } = await import('../../util/fs.js');
  writeFileAtomic(out, svg);
  const summary = {
    out,
    input,
    size: [info.width, info.height],
    frames: info.frames,
    rows: rows.map((r) => ({
      label: r.label,
      grid: [r.geometry.gridRows, r.geometry.gridCols],
      input_shape: [r.geometry.frames, r.geometry.bins],
      query: r.query,
      to_special: r.toSpecial ?? null,
    })),
  };
  if (json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    process.stdout.write(`${out}: ${info.width}x${info.height}, ${rows.length} row(s), ${info.frames} frames shown\n`);
    for (const r of summary.rows)
      process.stdout.write(`  ${r.label}: ${r.grid.join('x')} patches on ${r.input_shape.join('x')}, query frames ${r.query.join(':')}\n`);
  }
  return 0;
}

export const command = defineCommand({
  name: 'attention',
  usage: [
    '<audio | features.safetensors> [--backbone <ckpt | pretrained | random:<arch>>] [--adapter <dir> ...] [--compare <dir>] [--layer -1] [--frames a:b] [--device D] [--precision P] --out map.png|fig.svg [--json]',
    '<audio> --row name=...,backbone=...[,adapter=...] --row ... [--device D] [--precision P] --out fig.svg',
  ],
  description: DESCRIPTION,
  flags: FLAGS,
  examples: [
    'loaa attention clip.wav --adapter runs/fsdd_loaa --out map.png   # the backbone the adapter records',
    'loaa attention clip.wav --backbone random:deit_tiny_distilled_patch16_224 --seed 0 --out map.png',
    'loaa attention clip.wav --row name=DeiT,backbone=pretrained --row name=LoAA,backbone=pretrained,adapter=runs/x/best --out figure3.svg',
  ],
  async run(args) {
    const { flags, positionals } = args;
    if (positionals.length !== 1) {
      throw new UsageError(
        positionals.length === 0 ? '<audio>: missing input file' : `<audio>: expected one input, got ${positionals.length}`,
      );
    }
    const input = positionals[0]!;
    const rowArgs = flags.row;
    if (rowArgs.length) return runRows(args, input, rowArgs);
    const adapters = flags.adapter.map(adapterDirOf);
    const compare = flags.compare === undefined ? undefined : adapterDirOf(flags.compare);
    // without --backbone, the one the (first) adapter records, as predict uses it
    let backbone = flags.backbone;
    let seed = flags.seed;
    const recordedBy = adapters[0] ?? compare;
    if (!backbone && recordedBy !== undefined) {
      let rec: ReturnType<typeof recordedBackboneFlag>;
      try {
        rec = recordedBackboneFlag(recordedBy);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      if (rec) {
        backbone = rec.backbone;
        seed ??= rec.seed;
      }
    }
    if (!backbone) {
      throw new UsageError(
        `--backbone: required (a checkpoint, "pretrained" or random:<arch>)${recordedBy !== undefined ? `: ${recordedBy}/adapter_config.json records none` : ''}`,
      );
    }
    const out = flags.out;
    if (!out) throw new UsageError('--out: missing output PNG');
    const up = flags.upsample as Upsample;
    const frames = flags.frames !== undefined ? parseFrames(flags.frames) : undefined;
    const { mean, std } = flags;
    if ((mean === undefined) !== (std === undefined))
      throw new UsageError(`${mean === undefined ? '--mean' : '--std'}: required with ${mean === undefined ? '--std' : '--mean'}`);
    if (std !== undefined && !(std > 0)) throw new UsageError(`--std: expected a positive number, got ${std}`);
    const noBackbone = flags['no-backbone-row'];
    if (noBackbone && !adapters.length && compare === undefined)
      throw new UsageError('--no-backbone-row: needs at least one --adapter or --compare');

    // loaded here so that `loaa attention --help` and argument errors do not start libtorch
    const { runAttentionModels } = await import('../../viz/attention_models.js');
    const sourceGrid = flags['source-grid'] !== undefined ? await sourceGridFlag(flags['source-grid']) : undefined;
    const r = await engineUsage(() =>
      runAttentionModels({
        input,
        backbone,
        ...engineOptions(flags),
        adapters,
        compare,
        backboneRow: !noBackbone,
        layer: flags.layer,
        arch: flags.arch,
        targetLength: flags['target-length'],
        numMelBins: flags['num-mel-bins'],
        sampleRate: flags['sample-rate'],
        mean,
        std,
        fstride: flags.fstride,
        tstride: flags.tstride,
        depth: flags.depth,
        seed,
        ...(sourceGrid ? { sourceGrid } : {}),
      }),
    );
    const g = r.geometry;
    if (frames && frames[1] > g.frames)
      throw new UsageError(`--frames: ${frames[0]}:${frames[1]} ends after the input's ${g.frames} frames`);
    const query = frames ?? highestEnergyRange(r.fbank, g, r.validFrames);
    const cols = queryColumns(query, g);
    const tokens = queryTokens(cols, g);
    const rows = r.matrices.map((m) => patchAttention(m, tokens, g));
    const layerName = `LAYER ${r.layer + 1}/${r.depth}`;
    const title = flags.title ?? `${r.arch}  ${layerName}  QUERY FRAMES ${query[0]}-${query[1]} (${tokens.length} TOKENS)  MEAN OVER HEADS`;
    let info: { width: number; height: number; scale?: [number, number]; diffScale?: [number, number]; panels: unknown[] };
    if (/\.svg$/i.test(out)) {
      // the paper's Figure 3 layout (src/viz/figure3.ts): real text, axes in s and Hz, padding cropped
      const { writeFigure3 } = await import('../../viz/figure3_run.js');
      info = writeFigure3(out, r, rows, query, { title: flags.title, upsample: up, sampleRate: flags['sample-rate'], adapters });
    } else {
      const fig = renderAttentionFigure({ data: r.fbank, frames: g.frames, bins: g.bins }, g, rows, query, {
        title,
        upsample: up,
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
      device: r.device,
      precision: r.precision,
      layer: r.layer,
      depth: r.depth,
      frames: query,
      query_columns: cols,
      query_tokens: tokens.length,
      grid: [g.gridRows, g.gridCols],
      input_shape: [g.frames, g.bins],
      size: [info.width, info.height],
      scale: info.scale,
      ...(info.diffScale ? { diff_scale: info.diffScale } : {}),
      // where each row's attention panel lies in the PNG, in pixels
      panels: info.panels,
      rows: rows.map((row) => {
        let k = 0;
        for (let i = 1; i < row.map.length; i++) if (row.map[i]! > row.map[k]!) k = i;
        const f = Math.floor(k / g.gridCols);
        const t = k % g.gridCols;
        return {
          label: row.label,
          to_special: row.toSpecial,
          max: row.map[k],
          // where the most-attended patch lies, in input coordinates
          peak: { frames: [t * g.tstride, t * g.tstride + g.patch], bins: [f * g.fstride, f * g.fstride + g.patch] },
        };
      }),
    };
    if (args.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else {
      process.stdout.write(
        `${out}: ${info.width}x${info.height}, ${rows.length} row(s), ${layerName}, query frames ${query[0]}:${query[1]}\n`,
      );
      for (const s of summary.rows)
        process.stdout.write(
          `  ${s.label}: ${(100 * s.to_special).toFixed(1)}% to special tokens, peak at frames ${s.peak.frames.join('-')}, bins ${s.peak.bins.join('-')}\n`,
        );
    }
    return 0;
  },
});
