/** The shape of the compiled addon, as TypeScript sees it. Ops are loosely typed here; src/tensor wraps them. */
export interface NativeTensor {
  readonly shape: number[];
  readonly dtype: string;
  readonly device: string;
  requiresGrad: boolean;
  grad: NativeTensor | null;
  readonly isLeaf: boolean;
  readonly disposed: boolean;
  dispose(): void;
}

// biome-ignore lint/suspicious/noExplicitAny: the addon's functions take and return whatever their C++ binding does; the wrappers in src/tensor give each call its type
export type NativeOp = (...args: any[]) => any;

export interface NativeInfo {
  torchVersion: string;
  cuda: boolean;
  /** the addon was linked against a CUDA libtorch (true even where no GPU is visible) */
  cudaBuilt: boolean;
  cudaDevices: number;
  mkldnn: boolean;
  parallel: string;
  config: string;
}

export interface NativeAddon {
  NativeTensor: new () => NativeTensor;
  ops: Record<string, NativeOp> & {
    info(): NativeInfo;
    setNumThreads(n: number): void;
    getNumThreads(): number;
  };
}
