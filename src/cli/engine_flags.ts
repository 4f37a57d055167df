/**
 * `--device` and `--precision`, declared once for every command that computes with a model (train,
 * eval, cv, predict, serve, attention, bench), and the one way their resolution errors become usage
 * errors naming the flag.
 */
import { UsageError } from './command.js';
import type { FlagDef } from './define.js';
import { PRECISIONS, type DeviceSpec, type PrecisionSpec } from '../tensor/engine_spec.js';
import { INFER_ENGINES } from '../infer/engine_choice.js';

export const DEVICE_FLAGS = {
  device: {
    type: 'string',
    value: 'D',
    help: "cpu, cuda, cuda:N or auto (the first GPU when there is one); default cpu,\nor the recipe's train.device for train, eval and cv",
  },
  precision: {
    type: 'string',
    value: 'P',
    choices: PRECISIONS,
    help: "mixed precision with torch.autocast's semantics; default fp32, or the recipe's\ntrain.precision; fp16 training scales the loss and skips overflowing steps; auto\nis bf16 on a GPU and on CPUs where bf16 matmul measures faster (AMX)",
  },
} as const satisfies Record<string, FlagDef>;

/** `--engine`, for the commands that only infer (predict, eval, serve): which runtime computes the logits. */
export const ENGINE_FLAG = {
  engine: {
    type: 'string',
    value: 'E',
    choices: INFER_ENGINES,
    help: 'auto (default): onnxruntime-node where it is installed and measured faster for\nthis model on this machine (once, cached in $LOAA_HOME/machine), libtorch otherwise;\nonnx (CPU fp32 only); torch',
  },
} as const satisfies Record<string, FlagDef>;

/** The flags as options (absent ones left out, so the callee's defaults apply); the callee checks the words at run time. */
export function engineOptions(flags: { device?: string; precision?: string }): { device?: DeviceSpec; precision?: PrecisionSpec } {
  return {
    ...(flags.device !== undefined ? { device: flags.device as DeviceSpec } : {}),
    ...(flags.precision !== undefined ? { precision: flags.precision as PrecisionSpec } : {}),
  };
}

/** Runs `f`; a device or precision error (`--device: cuda requested but ...`, or as the API names it) is a usage error naming the flag. */
export async function engineUsage<T>(f: () => Promise<T> | T): Promise<T> {
  try {
    return await f();
  } catch (e) {
    const m = (e as Error).message;
    if (/^--(device|precision|engine)[: ]/.test(m)) throw new UsageError(m);
    if (/^(device|precision|engine)[: ]/.test(m)) throw new UsageError(`--${m}`);
    throw e;
  }
}
