/** `loaa/peft`: adapters (LoAA, parallel, sequential), LoRA, BitFit, prompts; adapter checkpoints. */
export { applyPeft, resolvePeft, removePeft, peftOf, trainableNames } from '../peft/methods.js';
export { parsePeft, describePeft, PEFT_METHODS, type PeftConfig, type PeftMethod, type ResolvedPeft, type AdapterSpec } from '../peft/config.js';
export {
  saveAdapter, loadAdapter, readAdapterConfig, astConfigFromAdapter, ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE,
  type AdapterConfigFile, type FrontendConfig,
} from '../peft/checkpoint.js';
export { countAst, countModel, bottleneckForBudget, type ParamCounts } from '../peft/params.js';
