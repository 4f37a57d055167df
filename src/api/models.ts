/** `loaa/models`: backbones (timm ViT / DeiT) turned into Audio Spectrogram Transformers, and their weights. */
export { loadAst, AudioSpectrogramTransformer, astFromImageStateDict, astFromAudioStateDict, type AstConfig, type LoadedAst } from '../models/ast.js';
export { ARCHS, ARCH_NAMES, isArchName, getArch, inferArch, checkBackbone, type ArchName, type ArchSpec } from '../models/archs.js';
export { pullBackbone, backbonePath, loaaHome, type PullOptions, type PullResult } from '../models/pull.js';
