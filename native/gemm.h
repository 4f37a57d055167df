// fp32 GEMM kernel choice for linear and matmul (gemm.cc).
#pragma once
#include <ATen/ATen.h>

#include <vector>

#include "ops.h"

namespace loaa {
namespace gemm {

enum class Kernel { Torch = 0, OneDnn = 1, OpenBlas = 2, Blis = 3 };

Kernel active();
// whether kernel k computes with t: not libtorch's own, fp32 strided CPU, outside autocast
bool takes(Kernel k, const at::Tensor& t);
// alpha * a[B,M,K] @ b[B,K,N], no autograd; operands may be transposed in their last two dims
at::Tensor bmm(Kernel k, const at::Tensor& a, const at::Tensor& b, float alpha);
// softmax(q k^T * scale) v over [.., L, d] with its products through the active kernel, as an
// autograd function; undefined where the kernel does not take these tensors (attention.cc)
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale);
// at::linear / at::matmul, with fp32 CPU math outside autocast through the active kernel
at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& b);
at::Tensor matmul(const at::Tensor& a, const at::Tensor& b);
// gemmKernels, gemmLibraries, gemmKernel, gemmSetKernel, gemmMm
const std::vector<OpDef>& ops();

}  // namespace gemm
}  // namespace loaa
