/**
 * `loaa train --dry-run`: what a recipe would do, without training. The resolved recipe (bases and
 * overrides applied) and the plan: parameter counts from the backbone name's geometry (no weights
 * read or allocated), training clips and steps per epoch from the dataset's index when it is there
 * (annotation CSVs, file lists: never audio), the effective batch and the learning rate of every
 * epoch, as the trainer computes them.
 */
import { existsSync } from 'node:fs';
import { countAst, type ParamCounts } from '../peft/params.js';
import { makeSchedule } from './build.js';
import { selectData } from './data.js';
import { recipeClasses, recipeGeometry } from './grid_plan.js';
import type { Recipe } from './recipe.js';

export interface TrainPlan {
  recipe: Recipe;
  classes: number;
  params: ParamCounts;
  /** training clips after data.train_limit; null when the dataset's index is not there */
  train_clips: number | null;
  /** why train_clips is null */
  train_clips_note?: string;
  /** optimizer steps per epoch (batches / train.accumulate, rounded up); null without train_clips */
  steps_per_epoch: number | null;
  batches_per_epoch: number | null;
  effective_batch: number;
  /** the learning rate at the start of each epoch (epoch 1 first); warm-up then moves it per step */
  lr_per_epoch: number[];
}

/** The training clips the recipe would read, from the dataset's index only (no audio is opened). */
function trainClips(recipe: Recipe): { n: number | null; classes?: number; note?: string } {
  if (!existsSync(recipe.data.root)) return { n: null, note: `data.root ${recipe.data.root} is not there` };
  try {
    const r = structuredClone(recipe);
    r.data.options = { ...r.data.options, verifyFiles: false };
    const d = selectData(r);
    return { n: d.train.length, classes: d.labels.length };
  } catch (e) {
    return { n: null, note: (e as Error).message };
  }
}

export function planTraining(recipe: Recipe): TrainPlan {
  const clips = trainClips(recipe);
  // the dataset's own class count when its index is there, else the recipe's / the known datasets'
  const classes = clips.classes ?? recipeClasses(recipe, recipe.name);
  const p = recipe.peft;
  const params = countAst(recipeGeometry(recipe, classes), {
    method: p.method,
    adapters: p.adapters,
    ...(p.lora ? { lora: p.lora } : {}),
    ...(p.prompt ? { prompt: p.prompt } : {}),
  });
  const t = recipe.train;
  const batches = clips.n === null ? null : t.drop_last ? Math.floor(clips.n / t.batch_size) : Math.ceil(clips.n / t.batch_size);
  const schedule = makeSchedule(recipe);
  return {
    recipe,
    classes,
    params,
    train_clips: clips.n,
    ...(clips.note !== undefined ? { train_clips_note: clips.note } : {}),
    steps_per_epoch: batches === null ? null : Math.ceil(batches / t.accumulate),
    batches_per_epoch: batches,
    effective_batch: t.batch_size * t.accumulate,
    lr_per_epoch: Array.from({ length: t.epochs }, (_, e) => schedule(e)),
  };
}

/** The plan as the lines `loaa train --dry-run` prints after the recipe. */
export function planLines(plan: TrainPlan): string[] {
  const t = plan.recipe.train;
  const n = (v: number): string => v.toLocaleString('en-US');
  const lrs: string[] = [];
  // runs of equal lrs as "epochs a-b: lr"
  let from = 0;
  plan.lr_per_epoch.forEach((lr, e) => {
    const next = plan.lr_per_epoch[e + 1];
    if (next !== undefined && next === lr) return;
    lrs.push(`    epochs ${from + 1}${e > from ? `-${e + 1}` : ''}: ${lr.toExponential(3)}`);
    from = e + 1;
  });
  return [
    `plan: ${plan.recipe.model.arch}${plan.recipe.model.depth !== null ? ` depth ${plan.recipe.model.depth}` : ''}, ${plan.classes} classes, ${plan.recipe.peft.method}`,
    `  parameters: ${n(plan.params.trainable)} trainable of ${n(plan.params.total)} (${(100 * plan.params.ratio).toFixed(3)}%)`,
    `  training clips: ${plan.train_clips === null ? `unknown (${plan.train_clips_note})` : n(plan.train_clips)}`,
    `  batch ${t.batch_size} x accumulate ${t.accumulate} = effective batch ${plan.effective_batch}; ` +
      `${plan.steps_per_epoch === null ? '? steps' : `${n(plan.steps_per_epoch)} optimizer steps (${n(plan.batches_per_epoch!)} batches)`} per epoch, ${t.epochs} epochs`,
    `  learning rate at the start of each epoch:`,
    ...lrs,
  ];
}
