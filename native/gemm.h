// fp32 GEMM kernel choice for linear and matmul (gemm.cc).
#pragma once
#include <ATen/ATen.h>

#include <vector>

#include "ops.h"

namespace loaa {
namespace gemm {

enum class Kernel { Torch = 0, OneDnn = 1, OpenBlas = 2, Blis = 3 };

Kernel active();
// at::linear / at::matmul, with fp32 CPU math outside autocast through the active kernel
at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& b);
at::Tensor matmul(const at::Tensor& a, const at::Tensor& b);
// gemmKernels, gemmLibraries, gemmKernel, gemmSetKernel, gemmMm
const std::vector<OpDef>& ops();

}  // namespace gemm
}  // namespace loaa
