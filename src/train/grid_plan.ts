/**
 * What a grid would train, without data or weights: every planned run with its recipe, the AST
 * geometry its recipe implies, and its trainable parameter count counted from the config alone
 * (src/peft/params.ts). `loaa grid --dry-run` prints this; the paper-grid test checks it against
 * the paper's rows.
 *
 * Two shares are given because the paper's percentages are not trainable / total of the model as
 * built. Its 0.04% (linear probe) / 1.2% / 2.3% / 4.6% (one adapter of r 18 / 36 / 72 on EPIC-SOUNDS:
 * 1,030,700 / 2,026,028 / 4,016,684 trainable parameters, the 44-class head included) are all
 * reproduced by trainable (head included) / 87,630,032, the parameter count of the ImageNet
 * DeiT-B/384 as timm builds it (its two 1000-class heads and 24 x 24 positions included): 0.040% /
 * 1.18% / 2.31% / 4.58%. The earlier convention, (trainable - head) / 86 M, fits the adapters but
 * gives the linear probe 0%. `share` is trainable / total as built (head included on both sides);
 * `paperShare` is trainable / 87,630,032 (full fine-tuning: 100%).
 */
import { getArch } from '../models/archs.js';
import { countAst, type AstGeometry, type ParamCounts } from '../peft/params.js';
import { loadRecipe, type Recipe } from './recipe.js';
import type { Grid, PlannedRun } from './grid.js';

/** timm's deit_base_distilled_patch16_384 (ImageNet, both heads): the denominator of the paper's shares. */
export const PAPER_BACKBONE_PARAMS = 87_630_032;

/** Class counts of the datasets the recipes name (the head's size). */
const CLASSES: Record<string, number> = { esc50: 50, speechcommands: 35, epic: 44, fsdd: 10 };

export interface RunCount {
  run: PlannedRun;
  recipe: Recipe;
  geometry: AstGeometry;
  counts: ParamCounts;
  /** parameters of the head (LayerNorm + Linear), trained by every PEFT method */
  head: number;
  /** trainable / total of the model as built */
  share: number;
  /** trainable (head included) / 87,630,032: the paper's convention */
  paperShare: number;
}

/** The head's class count for a recipe: `data.options.classes` when given, else the dataset's. */
export function recipeClasses(recipe: Recipe, where: string): number {
  const given = recipe.data.options.classes;
  if (typeof given === 'number' && Number.isInteger(given) && given > 0) return given;
  if (typeof given === 'string' && /^\d+$/.test(given)) return Number(given);
  const n = CLASSES[recipe.data.type];
  if (n === undefined) throw new Error(`${where}: data.type ${recipe.data.type}: unknown class count (give data.options.classes)`);
  return n;
}

export function recipeGeometry(recipe: Recipe, classes: number): AstGeometry {
  const m = recipe.model;
  return {
    arch: m.arch,
    numClasses: classes,
    melBins: recipe.frontend.num_mel_bins,
    frames: recipe.frontend.target_length,
    fstride: m.fstride,
    tstride: m.tstride,
    ...(m.depth !== null ? { depth: m.depth } : {}),
  };
}

/** Counts one planned run from its recipe (the base plus the run's `--set`s). */
export function countRun(run: PlannedRun): RunCount {
  const recipe = loadRecipe(run.base, { set: run.sets });
  const classes = recipeClasses(recipe, `${run.base} (run ${run.id})`);
  const geometry = recipeGeometry(recipe, classes);
  const p = recipe.peft;
  const counts = countAst(geometry, {
    method: p.method,
    adapters: p.adapters,
    ...(p.lora ? { lora: p.lora } : {}),
    ...(p.prompt ? { prompt: p.prompt } : {}),
  });
  const D = getArch(recipe.model.arch).embedDim;
  const head = 2 * D + classes * D + classes;
  // full fine-tuning trains the whole model: the paper's convention has nothing to add there
  const paperShare = p.method === 'full' ? counts.ratio : counts.trainable / PAPER_BACKBONE_PARAMS;
  return { run, recipe, geometry, counts, head, share: counts.ratio, paperShare };
}

export function countGrid(runs: PlannedRun[]): RunCount[] {
  return runs.map(countRun);
}

/** Axis value -> the label the grid's report section gives it (its name when none). */
export function gridLabels(g: Pick<Grid, 'report'>): Record<string, Record<string, string>> {
  const r = g.report as { labels?: unknown } | null;
  const out: Record<string, Record<string, string>> = {};
  if (!r || typeof r !== 'object' || !r.labels || typeof r.labels !== 'object') return out;
  for (const [axis, map] of Object.entries(r.labels as Record<string, unknown>)) {
    if (!map || typeof map !== 'object') continue;
    out[axis] = Object.fromEntries(Object.entries(map as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
  }
  return out;
}

/** One line per run's adapters: `attn 1x3 r36 + ffn 3x1 r36`, or the method's own tensors. */
export function describePeft(recipe: Recipe): string {
  const p = recipe.peft;
  const parts = p.adapters.map(
    (a) => `${a.position} ${a.kernel[0]}x${a.kernel[1]} r${a.bottleneck}${a.bias ? ' +bias' : ''}${a.mode === 'sequential' ? ' seq' : ''}`,
  );
  if (p.lora) parts.push(`lora ${p.lora.targets.join('')} r${p.lora.rank}`);
  if (p.prompt) parts.push(`prompt ${p.prompt.tokens}`);
  return `${p.method}${parts.length ? `: ${parts.join(' + ')}` : ''}`;
}

const pct = (x: number): string => `${x >= 0.995 ? (100 * x).toFixed(0) : (100 * x).toFixed(2)}%`;

/**
 * The dry-run listing: one row per run with its axis values (as labelled), the PEFT setting, the
 * dataset, the trainable count and both shares. Runs that differ only in a replicate axis (folds,
 * seeds) are shown once with a count, as the paper's tables show them.
 */
export function formatGridCounts(g: Grid, counts: RunCount[], replicates: string[] = defaultReplicates(g)): string {
  const labels = gridLabels(g);
  const axes = g.axes.map((a) => a.name).filter((a) => !replicates.includes(a));
  const rows = new Map<string, { cells: string[]; n: number }>();
  for (const c of counts) {
    const cells = [
      ...axes.map((a) => labels[a]?.[c.run.axes[a]!] ?? c.run.axes[a]!),
      describePeft(c.recipe),
      c.counts.trainable.toLocaleString('en-US'),
      pct(c.share),
      pct(c.paperShare),
    ];
    const k = JSON.stringify(cells);
    const row = rows.get(k);
    if (row) row.n++;
    else rows.set(k, { cells, n: 1 });
  }
  const head = [...axes, 'trains', 'trainable', 'share', 'paper share', ...(replicates.length ? ['runs'] : [])];
  const body = [...rows.values()].map((r) => [...r.cells, ...(replicates.length ? [String(r.n)] : [])]);
  const width = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const right = new Set([axes.length + 1, axes.length + 2, axes.length + 3, axes.length + 4]);
  const line = (cells: string[]): string =>
    cells
      .map((x, i) => (right.has(i) ? x.padStart(width[i]!) : x.padEnd(width[i]!)))
      .join('  ')
      .trimEnd();
  return [line(head), ...body.map(line)].join('\n');
}

export function defaultReplicates(g: Pick<Grid, 'axes' | 'report'>): string[] {
  const r = g.report as { replicates?: unknown } | null;
  if (r && Array.isArray(r.replicates)) return r.replicates.map(String);
  return g.axes.map((a) => a.name).filter((a) => /^(folds?|seeds?|reps?|repeats?|trials?)$/i.test(a));
}
