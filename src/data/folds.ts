import type { ClipRef, Dataset } from './types.js';

/** The `foldK` split names of a dataset, in fold order. */
export function foldNames(ds: Dataset): string[] {
  return Object.keys(ds.splits)
    .filter((n) => /^fold\d+$/.test(n))
    .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)));
}

/** k-fold cross-validation: `fold{testFold}` is the test set, the other folds (in order) the training set. */
export function foldTrainTest(ds: Dataset, testFold: number | string): { train: ClipRef[]; test: ClipRef[] } {
  const name = typeof testFold === 'number' || /^\d+$/.test(testFold) ? `fold${testFold}` : testFold;
  const folds = foldNames(ds);
  if (!folds.includes(name)) {
    throw new Error(`testFold: ${ds.name} has no split ${name} (folds: ${folds.join(', ') || 'none'})`);
  }
  const train: ClipRef[] = [];
  for (const f of folds) if (f !== name) train.push(...ds.splits[f]!);
  return { train, test: [...ds.splits[name]!] };
}
