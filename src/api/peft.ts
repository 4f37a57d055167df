/** `loaa/peft`: adapters (LoAA, parallel, sequential), LoRA, BitFit, prompts; adapter checkpoints. */
export { applyPeft, resolvePeft, removePeft, peftOf, trainableNames } from '../peft/methods.js';
export {
  parsePeft,
  describePeft,
  PEFT_METHODS,
  type PeftConfig,
  type PeftMethod,
  type ResolvedPeft,
  type AdapterSpec,
} from '../peft/config.js';
export {
  saveAdapter,
  loadAdapter,
  removeAdapter,
  readAdapterConfig,
  astConfigFromAdapter,
  recordBackbone,
  readBackbone,
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  type AdapterConfigFile,
  type FrontendConfig,
  type BackboneRecord,
  type LoadedAdapter,
  type AdapterMeta,
} from '../peft/checkpoint.js';
export { mergeLora } from '../peft/lora.js';
export { countAst, countModel, bottleneckForBudget, type ParamCounts, type AstGeometry, type AstGeometryOptions } from '../peft/params.js';
