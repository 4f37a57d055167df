/**
 * A recipe's data.root that is not there: the error says how to point at the data (--data-root) and,
 * for the datasets `loaa pull` downloads, how to get it. A packaged recipe's relative root resolves
 * into node_modules, where no dataset ever is, so this is the first thing a user of the package sees.
 */
import { existsSync } from 'node:fs';
import { datasetDir, DATASETS, isDatasetName, pulledDataset } from '../models/datasets.js';

export function checkDataRoot(d: { type: string; root: string }): void {
  if (existsSync(d.root)) return;
  const hint = ['pass --data-root DIR (or set data.root in the recipe)'];
  if (isDatasetName(d.type)) {
    const pulled = pulledDataset(d.type);
    hint.push(
      pulled
        ? `it is pulled already: --data-root ${pulled}`
        : `or download it with \`loaa pull ${d.type}\` and pass --data-root ${datasetDir(d.type)}/${DATASETS[d.type].readerRoot === '.' ? '' : DATASETS[d.type].readerRoot}`,
    );
  }
  throw new Error(`data.root: ${d.root} not found (${d.type} dataset): ${hint.join('; ')}`);
}
