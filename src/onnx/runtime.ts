/**
 * onnxruntime-node, loaded on first use: it is an optional peer of loaa (294 MB that training never
 * touches; inference takes it where it is faster, `--engine`), so a lean install has none and
 * `loaa/onnx` or `--engine onnx` says what to install instead of failing with a bare
 * ERR_MODULE_NOT_FOUND, and `--engine auto` falls back to libtorch.
 */
export type Ort = typeof import('onnxruntime-node');

/** The one command that installs it (the variable skips a CUDA download the CPU runtime never uses). */
export const INSTALL_ORT_NODE = 'ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node';

/**
 * The module loaded: `$LOAA_ORT_MODULE` when set (a test points it at a missing module to see the
 * fallback a lean install takes), else onnxruntime-node.
 */
export function ortModuleName(env: NodeJS.ProcessEnv = process.env): string {
  return env.LOAA_ORT_MODULE?.length ? env.LOAA_ORT_MODULE : 'onnxruntime-node';
}

export async function loadOrtNode(who: string): Promise<Ort> {
  const name = ortModuleName();
  try {
    return (name === 'onnxruntime-node' ? await import('onnxruntime-node') : await import(name)) as Ort;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ERR_MODULE_NOT_FOUND' && err.message.includes(name)) {
      throw new Error(`${who}: onnxruntime-node is not installed; install it with: ${INSTALL_ORT_NODE}`);
    }
    throw new Error(`${who}: cannot load onnxruntime-node (${err.message}); reinstall it with: ${INSTALL_ORT_NODE}`);
  }
}
