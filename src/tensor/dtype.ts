/**
 * Element types and raw tensors (bytes + dtype + shape): the vocabulary the engine and the file
 * formats share. It lives with the tensors so that tensor/ needs nothing above it; io/ reads and
 * writes these.
 */
export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

/** A tensor as bytes: what file formats carry before the engine sees it. */
export interface RawTensor {
  dtype: DType;
  shape: number[];
  /** little-endian element bytes, row-major; may be a view into a larger file buffer */
  data: Uint8Array;
}

export const DTYPE_BYTES: Record<DType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
