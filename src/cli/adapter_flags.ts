/**
 * `--adapter`, `--backbone` and `--force`, declared once for the commands that run a trained
 * adapter on the backbone it records (predict in its three forms, serve; export shares `--force`).
 */
import type { FlagDef } from './define.js';

export const ADAPTER_FLAG = {
  adapter: { type: 'string', value: 'DIR', help: 'adapter checkpoint directory, or a run directory (its best/)' },
} as const satisfies Record<string, FlagDef>;

export const BACKBONE_FLAG = {
  backbone: {
    type: 'string',
    value: 'FILE',
    help: 'backbone checkpoint (file or Hugging Face model directory); default: the\none the adapter records (a random one is rebuilt from its seed)',
  },
} as const satisfies Record<string, FlagDef>;

export const FORCE_FLAG = {
  force: { type: 'boolean', help: 'use --backbone even if its sha256 is not the recorded one' },
} as const satisfies Record<string, FlagDef>;
