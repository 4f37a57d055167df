/**
 * onnxruntime-node, loaded on first use: it is an optional peer of loaa (294 MB that train, predict
 * and serve never touch), so a lean install has none and `loaa/onnx` says what to install instead
 * of failing with a bare ERR_MODULE_NOT_FOUND.
 */
export type Ort = typeof import('onnxruntime-node');

/** The one command that installs it (the variable skips a CUDA download the CPU runtime never uses). */
export const INSTALL_ORT_NODE = 'ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node';

export async function loadOrtNode(who: string): Promise<Ort> {
  try {
    return await import('onnxruntime-node');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ERR_MODULE_NOT_FOUND' && /onnxruntime-node/.test(err.message)) {
      throw new Error(`${who}: onnxruntime-node is not installed; install it with: ${INSTALL_ORT_NODE}`);
    }
    throw new Error(`${who}: cannot load onnxruntime-node (${err.message}); reinstall it with: ${INSTALL_ORT_NODE}`);
  }
}
