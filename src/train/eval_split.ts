/**
 * One evaluation split of the training loop (validation every epoch, test at the end): by one
 * process over every clip, or sharded over data-parallel ranks. Sharded, each rank runs the forward
 * pass on its clips (makeLoaders' `evalShard`), the rows are gathered back into clip order on every
 * rank, and the metrics are computed from all of them: the numbers one process would compute, on
 * every rank, so that the ranks also agree on which epoch is best.
 */
import type { DataLoader } from '../data/loader.js';
import type { ClipRef } from '../data/types.js';
import type { AudioSpectrogramTransformer } from '../models/ast.js';
import type { Engine } from '../tensor/engine.js';
import type { Progress } from './progress.js';
import { emptyRows, evalResult, evaluateRows, type EvalOptions, type EvalResult, type EvalRows } from './step.js';
import { averageViews, clipIdsOfViews } from './views.js';

/** The part of the trainer's data-parallel hooks an evaluation needs (TrainOptions.parallel). */
export interface EvalGather {
  /** every rank's rows in clip order, from this rank's rows of its evalShard of n clips (a collective) */
  gatherEval(rows: EvalRows, n: number): EvalRows;
}

export async function evaluateSplit(
  model: AudioSpectrogramTransformer,
  /** this rank's loader; null on a rank whose shard is empty */
  loader: DataLoader | null,
  /** the split's clips, all of them */
  clips: ClipRef[],
  o: {
    loss: 'ce' | 'bce';
    numClasses: number;
    progress?: Progress;
    engine?: Engine;
    parallel?: EvalGather;
    requireFinite?: boolean;
    logits?: EvalOptions['logits'];
  },
): Promise<EvalResult> {
  // a loader with views reads each clip's windows in a row: averaged per clip before anything else
  const views = loader?.window?.views ?? 1;
  const t0 = performance.now();
  if (!o.parallel) {
    if (!loader) throw new Error('evaluateSplit: no loader for a single-process evaluation');
    const { rows, ids } = await evaluateRows(model, loader, o);
    return evalResult(averageViews(rows, views, o.loss), clipIdsOfViews(ids, views), (performance.now() - t0) / 1000);
  }
  const local = loader ? averageViews((await evaluateRows(model, loader, o)).rows, views, o.loss) : emptyRows(o.numClasses);
  const all = o.parallel.gatherEval(local, clips.length);
  return evalResult(
    all,
    clips.map((c) => c.id),
    (performance.now() - t0) / 1000,
  );
}
