/** `loaa/models`: backbones (timm ViT / DeiT) turned into Audio Spectrogram Transformers, their weights, and the datasets `loaa pull` fetches. */
export {
  loadAst,
  AudioSpectrogramTransformer,
  astFromImageStateDict,
  astFromAudioStateDict,
  type AstConfig,
  type AstOptions,
  type AstGrid,
  type AstForwardOptions,
  type LoadedAst,
} from '../models/ast.js';
export type { WithAttentions } from '../models/vit.js';
export type { InputGeometry, LegacyInputNames, PatchGrid } from '../models/input_geometry.js';
export { ARCHS, ARCH_NAMES, isArchName, getArch, inferArch, checkBackbone, type ArchName, type ArchSpec } from '../models/archs.js';
export { pullBackbone, backbonePath, loaaHome, type PullOptions, type PullResult } from '../models/pull.js';
export {
  pullDataset,
  pulledDataset,
  datasetDir,
  DATASETS,
  DATASET_NAMES,
  type DatasetName,
  type DatasetSpec,
  type DatasetPullOptions,
  type DatasetPullResult,
} from '../models/datasets.js';
