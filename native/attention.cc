// Attention with its batched products through the chosen fp32 GEMM kernel (gemm.cc). libtorch's
// fused CPU attention runs its small products on MKL, which on AMD CPUs runs at about half of
// oneDNN's rate there: measured on a 2-core EPYC, one LoAA training step spent 20% of its time in
// flash attention (forward and backward) against 13% in these products. The price is memory: the
// attention probabilities [.., L, S] are kept for backward (batch 8 x 12 heads x 258^2 floats is
// 26 MB a block), where the fused kernel keeps only their log-sum-exp.
#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include <utility>
#include <vector>

#include "gemm.h"

namespace loaa {
namespace gemm {
namespace {

// [.., L, d] as [B, L, d]: a view where the leading dims merge, a copy otherwise
at::Tensor batch3(const at::Tensor& t) { return t.reshape({-1, t.size(-2), t.size(-1)}); }

// q's leading dims and length with v's width: the output's sizes
std::vector<int64_t> outSizes(const at::Tensor& q, const at::Tensor& v) {
  auto sizes = q.sizes().vec();
  sizes.back() = v.size(-1);
  return sizes;
}

// the probabilities softmax(q k^T * scale) and the output p v, over [B, L, d] operands
std::pair<at::Tensor, at::Tensor> products(Kernel kn, const at::Tensor& q3, const at::Tensor& k3, const at::Tensor& v3, double scale) {
  at::Tensor p = at::_softmax(bmm(kn, q3, k3.transpose(1, 2), static_cast<float>(scale)), -1, false);
  at::Tensor o = bmm(kn, p, v3, 1.f);
  return {p, o};
}

struct AttentionFn : public torch::autograd::Function<AttentionFn> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            double scale, int64_t kernel) {
    at::Tensor q3 = batch3(q), k3 = batch3(k), v3 = batch3(v);
    auto [p, o] = products(static_cast<Kernel>(kernel), q3, k3, v3, scale);
    ctx->saved_data["kernel"] = kernel;
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["q_sizes"] = q.sizes().vec();
    ctx->saved_data["k_sizes"] = k.sizes().vec();
    ctx->saved_data["v_sizes"] = v.sizes().vec();
    ctx->save_for_backward({q3, k3, v3, p});
    return o.view(outSizes(q, v));
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::tensor_list g) {
    const Kernel kn = static_cast<Kernel>(ctx->saved_data["kernel"].toInt());
    const float scale = static_cast<float>(ctx->saved_data["scale"].toDouble());
    auto s = ctx->get_saved_variables();
    const at::Tensor &q3 = s[0], &k3 = s[1], &v3 = s[2], &p = s[3];
    at::Tensor dO = batch3(g[0]).contiguous();
    at::Tensor dq, dk, dv;
    if (ctx->needs_input_grad(2)) dv = bmm(kn, p.transpose(1, 2), dO, 1.f).view(ctx->saved_data["v_sizes"].toIntVector());
    if (ctx->needs_input_grad(0) || ctx->needs_input_grad(1)) {
      // d(scores) = p * (dp - sum(dp * p)) over the last dim: softmax's backward
      at::Tensor ds = at::_softmax_backward_data(bmm(kn, dO, v3.transpose(1, 2), 1.f), p, -1, at::kFloat);
      if (ctx->needs_input_grad(0)) dq = bmm(kn, ds, k3, scale).view(ctx->saved_data["q_sizes"].toIntVector());
      if (ctx->needs_input_grad(1)) dk = bmm(kn, ds.transpose(1, 2), q3, scale).view(ctx->saved_data["k_sizes"].toIntVector());
    }
    return {dq, dk, dv, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale) {
  const Kernel kn = active();
  if (q.dim() < 3 || k.dim() != q.dim() || v.dim() != q.dim() || !takes(kn, q) || !takes(kn, k) || !takes(kn, v)) return {};
  if (q.sizes().slice(0, q.dim() - 2) != k.sizes().slice(0, k.dim() - 2) || k.sizes().slice(0, k.dim() - 1) != v.sizes().slice(0, v.dim() - 1) ||
      q.size(-1) != k.size(-1) || q.numel() == 0 || k.numel() == 0) {
    return {};  // broadcasting and empty shapes stay libtorch's, which reports the errors
  }
  if (at::GradMode::is_enabled() && (q.requires_grad() || k.requires_grad() || v.requires_grad())) {
    return AttentionFn::apply(q, k, v, scale, static_cast<int64_t>(kn));
  }
  at::NoGradGuard ng;
  return products(kn, batch3(q), batch3(k), batch3(v), scale).second.view(outSizes(q, v));
}

}  // namespace gemm
}  // namespace loaa
