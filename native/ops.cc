// The op table: name -> a lambda over `Args`. Every op runs inside one try/catch in `dispatch`,
// which turns libtorch errors into JS Errors that name the op and its tensor shapes.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/api/include/torch/version.h>

#include <cstring>
#ifdef __linux__
#include <sched.h>
#endif
#include <sstream>

#include "args.h"
#include "gemm.h"
#include "ops.h"

namespace loaa {
namespace {

using V = Napi::Value;

V W(const Args& a, at::Tensor t) { return wrap(a.env(), std::move(t)); }
V Wlist(const Args& a, const std::vector<at::Tensor>& ts) {
  auto arr = Napi::Array::New(a.env(), ts.size());
  for (size_t i = 0; i < ts.size(); ++i) arr.Set(i, wrap(a.env(), ts[i]));
  return arr;
}
V Wpair(const Args& a, const std::tuple<at::Tensor, at::Tensor>& p) {
  return Wlist(a, {std::get<0>(p), std::get<1>(p)});
}

int64_t reduction(const Args& a, size_t i) {
  std::string r = a.str(i, "mean");
  if (r == "mean") return at::Reduction::Mean;
  if (r == "sum") return at::Reduction::Sum;
  if (r == "none") return at::Reduction::None;
  a.fail(i, "reduction must be mean, sum or none, not \"" + r + "\"");
}

// Binary ops take a tensor or a number as their second operand.
template <typename FT, typename FS>
V binary(const Args& a, FT onTensor, FS onScalar) {
  if (a.isTensor(1)) return W(a, onTensor(a.tensor(0), a.tensor(1)));
  return W(a, onScalar(a.tensor(0), a.scalar(1)));
}

c10::optional<at::Generator> seededGenerator(const Args& a, size_t i) {
  if (!a.has(i)) return c10::nullopt;
  return at::detail::createCPUGenerator(static_cast<uint64_t>(a.i64(i)));
}

at::OptionalIntArrayRef optDims(const c10::optional<std::vector<int64_t>>& d) {
  if (!d) return c10::nullopt;
  return at::IntArrayRef(*d);
}

const std::vector<OpDef>& table() {
  static const std::vector<OpDef> ops = {
      // ---- creation and transfer
      {"fromBytes", [](Args& a) -> V {  // (bytes: ArrayBufferView, shape, dtype) -> copy
         if (!a.raw(0).IsTypedArray() && !a.raw(0).IsBuffer()) a.fail(0, "expected a TypedArray");
         auto ta = a.raw(0).As<Napi::TypedArray>();
         auto shape = a.ints(1);
         auto dt = a.dtype(2);
         auto t = at::empty(shape, at::TensorOptions().dtype(dt));
         size_t need = static_cast<size_t>(t.numel()) * t.element_size();
         if (ta.ByteLength() != need) {
           a.fail(0, "holds " + std::to_string(ta.ByteLength()) + " bytes but " + dtypeName(dt) + " " +
                         c10::str(t.sizes()) + " needs " + std::to_string(need));
         }
         auto* src = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
         if (need) std::memcpy(t.data_ptr(), src, need);
         return W(a, t);
       }},
      {"toBytes", [](Args& a) -> V {  // (t) -> ArrayBuffer copy of the contiguous CPU data
         auto t = a.tensor(0).detach().to(at::kCPU).contiguous();
         size_t n = static_cast<size_t>(t.numel()) * t.element_size();
         auto buf = Napi::ArrayBuffer::New(a.env(), n);
         if (n) std::memcpy(buf.Data(), t.data_ptr(), n);
         return buf;
       }},
      {"item", [](Args& a) -> V {
         auto t = a.tensor(0);
         if (t.numel() != 1) a.fail(0, "item() needs a tensor with one element, found " + c10::str(t.sizes()));
         return Napi::Number::New(a.env(), t.item().toDouble());
       }},
      {"zeros", [](Args& a) -> V { return W(a, at::zeros(a.ints(0), a.options(1, 2))); }},
      {"ones", [](Args& a) -> V { return W(a, at::ones(a.ints(0), a.options(1, 2))); }},
      {"full", [](Args& a) -> V { return W(a, at::full(a.ints(0), a.scalar(1), a.options(2, 3))); }},
      {"arange", [](Args& a) -> V { return W(a, at::arange(a.scalar(0), a.scalar(1), a.scalar(2), a.options(3, 4))); }},
      {"eye", [](Args& a) -> V { return W(a, at::eye(a.i64(0), a.options(1, 2))); }},
      {"rand", [](Args& a) -> V { return W(a, at::rand(a.ints(0), seededGenerator(a, 3), a.options(1, 2))); }},
      {"randn", [](Args& a) -> V { return W(a, at::randn(a.ints(0), seededGenerator(a, 3), a.options(1, 2))); }},
      {"randint", [](Args& a) -> V {  // (low, high, shape, dtype, device, seed)
         return W(a, at::randint(a.i64(0), a.i64(1), a.ints(2), seededGenerator(a, 5), a.options(3, 4)));
       }},
      {"randperm", [](Args& a) -> V {
         return W(a, at::randperm(a.i64(0), seededGenerator(a, 1), at::TensorOptions().dtype(at::kLong)));
       }},
      {"uniform_", [](Args& a) -> V {  // in place, for initialisers: (t, low, high, seed?)
         at::NoGradGuard g;
         a.tensor(0).uniform_(a.num(1), a.num(2), seededGenerator(a, 3));
         return a.raw(0);
       }},
      {"normal_", [](Args& a) -> V {
         at::NoGradGuard g;
         a.tensor(0).normal_(a.num(1), a.num(2), seededGenerator(a, 3));
         return a.raw(0);
       }},
      {"to", [](Args& a) -> V {  // (t, dtype|null, device|null)
         auto& t = a.tensor(0);
         auto dt = a.has(1) ? a.dtype(1) : t.scalar_type();
         auto dev = a.has(2) ? c10::Device(a.str(2)) : t.device();
         return W(a, t.to(dev, dt));
       }},
      {"clone", [](Args& a) -> V { return W(a, a.tensor(0).clone()); }},
      {"detach", [](Args& a) -> V { return W(a, a.tensor(0).detach()); }},
      {"contiguous", [](Args& a) -> V { return W(a, a.tensor(0).contiguous()); }},
      {"alias", [](Args& a) -> V { return W(a, a.tensor(0)); }},  // a second handle on the same tensor

      // ---- views and indexing
      {"reshape", [](Args& a) -> V { return W(a, a.tensor(0).reshape(a.ints(1))); }},
      {"view", [](Args& a) -> V { return W(a, a.tensor(0).view(a.ints(1))); }},
      {"permute", [](Args& a) -> V { return W(a, a.tensor(0).permute(a.ints(1))); }},
      {"transpose", [](Args& a) -> V { return W(a, a.tensor(0).transpose(a.i64(1), a.i64(2))); }},
      {"narrow", [](Args& a) -> V { return W(a, a.tensor(0).narrow(a.i64(1), a.i64(2), a.i64(3))); }},
      {"slice", [](Args& a) -> V {  // (t, dim, start, end, step)
         return W(a, a.tensor(0).slice(a.i64(1), a.i64(2), a.i64(3), a.i64(4, 1)));
       }},
      {"select", [](Args& a) -> V { return W(a, a.tensor(0).select(a.i64(1), a.i64(2))); }},
      {"indexSelect", [](Args& a) -> V { return W(a, a.tensor(0).index_select(a.i64(1), a.tensor(2))); }},
      {"gather", [](Args& a) -> V { return W(a, a.tensor(0).gather(a.i64(1), a.tensor(2))); }},
      {"unsqueeze", [](Args& a) -> V { return W(a, a.tensor(0).unsqueeze(a.i64(1))); }},
      {"squeeze", [](Args& a) -> V {
         return W(a, a.has(1) ? a.tensor(0).squeeze(a.i64(1)) : a.tensor(0).squeeze());
       }},
      {"expand", [](Args& a) -> V { return W(a, a.tensor(0).expand(a.ints(1))); }},
      {"repeat", [](Args& a) -> V { return W(a, a.tensor(0).repeat(a.ints(1))); }},
      {"flatten", [](Args& a) -> V { return W(a, a.tensor(0).flatten(a.i64(1, 0), a.i64(2, -1))); }},
      {"cat", [](Args& a) -> V { return W(a, at::cat(a.tensors(0), a.i64(1, 0))); }},
      {"stack", [](Args& a) -> V { return W(a, at::stack(a.tensors(0), a.i64(1, 0))); }},
      {"split", [](Args& a) -> V {  // (t, sizes[], dim)
         return Wlist(a, a.tensor(0).split_with_sizes(a.ints(1), a.i64(2, 0)));
       }},
      {"chunk", [](Args& a) -> V { return Wlist(a, a.tensor(0).chunk(a.i64(1), a.i64(2, 0))); }},
      // views along `dim` whose backward is one stack, where per-index select() would zero-fill a
      // full-size gradient for each of them
      {"unbind", [](Args& a) -> V { return Wlist(a, a.tensor(0).unbind(a.i64(1, 0))); }},
      {"roll", [](Args& a) -> V { return W(a, a.tensor(0).roll(a.ints(1), a.ints(2))); }},
      {"flip", [](Args& a) -> V { return W(a, a.tensor(0).flip(a.ints(1))); }},
      {"pad", [](Args& a) -> V { return W(a, at::constant_pad_nd(a.tensor(0), a.ints(1), a.num(2, 0.0))); }},
      {"tril", [](Args& a) -> V { return W(a, a.tensor(0).tril(a.i64(1, 0))); }},

      // ---- elementwise
      {"add", [](Args& a) -> V {  // (a, b, alpha)
         at::Scalar alpha = a.has(2) ? a.scalar(2) : at::Scalar(1);
         return binary(a, [&](auto& x, auto& y) { return at::add(x, y, alpha); },
                       [&](auto& x, auto s) { return at::add(x, s, alpha); });
       }},
      {"sub", [](Args& a) -> V {
         at::Scalar alpha = a.has(2) ? a.scalar(2) : at::Scalar(1);
         return binary(a, [&](auto& x, auto& y) { return at::sub(x, y, alpha); },
                       [&](auto& x, auto s) { return at::sub(x, s, alpha); });
       }},
      {"mul", [](Args& a) -> V {
         return binary(a, [](auto& x, auto& y) { return at::mul(x, y); }, [](auto& x, auto s) { return at::mul(x, s); });
       }},
      {"div", [](Args& a) -> V {
         return binary(a, [](auto& x, auto& y) { return at::div(x, y); }, [](auto& x, auto s) { return at::div(x, s); });
       }},
      {"pow", [](Args& a) -> V {
         return binary(a, [](auto& x, auto& y) { return at::pow(x, y); }, [](auto& x, auto s) { return at::pow(x, s); });
       }},
      {"maximum", [](Args& a) -> V { return W(a, at::maximum(a.tensor(0), a.tensor(1))); }},
      {"minimum", [](Args& a) -> V { return W(a, at::minimum(a.tensor(0), a.tensor(1))); }},
      {"eq", [](Args& a) -> V {
         return binary(a, [](auto& x, auto& y) { return at::eq(x, y); }, [](auto& x, auto s) { return at::eq(x, s); });
       }},
      {"ne", [](Args& a) -> V {
         return binary(a, [](auto& x, auto& y) { return at::ne(x, y); }, [](auto& x, auto s) { return at::ne(x, s); });
       }},
      {"lt", [](Args& a) -> V {
         return binary(a, [](auto& x, auto& y) { return at::lt(x, y); }, [](auto& x, auto s) { return at::lt(x, s); });
       }},
      {"le", [](Args& a) -> V {
         return binary(a, [](auto& x, auto& y) { return at::le(x, y); }, [](auto& x, auto s) { return at::le(x, s); });
       }},
      {"gt", [](Args& a) -> V {
         return binary(a, [](auto& x, auto& y) { return at::gt(x, y); }, [](auto& x, auto s) { return at::gt(x, s); });
       }},
      {"ge", [](Args& a) -> V {
         return binary(a, [](auto& x, auto& y) { return at::ge(x, y); }, [](auto& x, auto s) { return at::ge(x, s); });
       }},
      {"where", [](Args& a) -> V { return W(a, at::where(a.tensor(0), a.tensor(1), a.tensor(2))); }},
      {"maskedFill", [](Args& a) -> V { return W(a, a.tensor(0).masked_fill(a.tensor(1), a.scalar(2))); }},
      {"clamp", [](Args& a) -> V {
         c10::optional<at::Scalar> lo, hi;
         if (a.has(1)) lo = a.scalar(1);
         if (a.has(2)) hi = a.scalar(2);
         return W(a, at::clamp(a.tensor(0), lo, hi));
       }},
      {"neg", [](Args& a) -> V { return W(a, at::neg(a.tensor(0))); }},
      {"exp", [](Args& a) -> V { return W(a, at::exp(a.tensor(0))); }},
      {"log", [](Args& a) -> V { return W(a, at::log(a.tensor(0))); }},
      {"sqrt", [](Args& a) -> V { return W(a, at::sqrt(a.tensor(0))); }},
      {"rsqrt", [](Args& a) -> V { return W(a, at::rsqrt(a.tensor(0))); }},
      {"abs", [](Args& a) -> V { return W(a, at::abs(a.tensor(0))); }},
      {"sign", [](Args& a) -> V { return W(a, at::sign(a.tensor(0))); }},
      {"tanh", [](Args& a) -> V { return W(a, at::tanh(a.tensor(0))); }},
      {"sigmoid", [](Args& a) -> V { return W(a, at::sigmoid(a.tensor(0))); }},
      {"relu", [](Args& a) -> V { return W(a, at::relu(a.tensor(0))); }},
      {"erf", [](Args& a) -> V { return W(a, at::erf(a.tensor(0))); }},
      {"sin", [](Args& a) -> V { return W(a, at::sin(a.tensor(0))); }},
      {"cos", [](Args& a) -> V { return W(a, at::cos(a.tensor(0))); }},
      {"floor", [](Args& a) -> V { return W(a, at::floor(a.tensor(0))); }},
      {"reciprocal", [](Args& a) -> V { return W(a, at::reciprocal(a.tensor(0))); }},
      {"isfinite", [](Args& a) -> V { return W(a, at::isfinite(a.tensor(0))); }},
      {"logicalNot", [](Args& a) -> V { return W(a, at::logical_not(a.tensor(0))); }},
      {"gelu", [](Args& a) -> V { return W(a, at::gelu(a.tensor(0), a.str(1, "none"))); }},

      // ---- in place, for optimizers and initialisers (callers hold no-grad)
      {"add_", [](Args& a) -> V {
         at::Scalar alpha = a.has(2) ? a.scalar(2) : at::Scalar(1);
         if (a.isTensor(1)) a.tensor(0).add_(a.tensor(1), alpha);
         else a.tensor(0).add_(a.scalar(1), alpha);
         return a.raw(0);
       }},
      {"mul_", [](Args& a) -> V {
         if (a.isTensor(1)) a.tensor(0).mul_(a.tensor(1));
         else a.tensor(0).mul_(a.scalar(1));
         return a.raw(0);
       }},
      {"div_", [](Args& a) -> V {
         if (a.isTensor(1)) a.tensor(0).div_(a.tensor(1));
         else a.tensor(0).div_(a.scalar(1));
         return a.raw(0);
       }},
      {"addcmul_", [](Args& a) -> V {
         a.tensor(0).addcmul_(a.tensor(1), a.tensor(2), a.scalar(3));
         return a.raw(0);
       }},
      {"addcdiv_", [](Args& a) -> V {
         a.tensor(0).addcdiv_(a.tensor(1), a.tensor(2), a.scalar(3));
         return a.raw(0);
       }},
      {"sqrt_", [](Args& a) -> V { a.tensor(0).sqrt_(); return a.raw(0); }},
      {"copy_", [](Args& a) -> V { a.tensor(0).copy_(a.tensor(1)); return a.raw(0); }},
      {"zero_", [](Args& a) -> V { a.tensor(0).zero_(); return a.raw(0); }},
      {"fill_", [](Args& a) -> V { a.tensor(0).fill_(a.scalar(1)); return a.raw(0); }},
      {"clampMax_", [](Args& a) -> V { a.tensor(0).clamp_max_(a.scalar(1)); return a.raw(0); }},
      {"maximum_", [](Args& a) -> V {  // out = max(t, other), in place (amsgrad)
         at::maximum_out(a.tensor(0), a.tensor(0), a.tensor(1));
         return a.raw(0);
       }},

      // ---- linear algebra and network layers
      {"matmul", [](Args& a) -> V { return W(a, gemm::matmul(a.tensor(0), a.tensor(1))); }},
      {"linear", [](Args& a) -> V { return W(a, gemm::linear(a.tensor(0), a.tensor(1), a.optTensor(2))); }},
      {"conv1d", [](Args& a) -> V {  // (x, w, b, stride, padding, dilation, groups)
         return W(a, at::conv1d(a.tensor(0), a.tensor(1), a.optTensor(2), a.ints(3), a.ints(4), a.ints(5), a.i64(6, 1)));
       }},
      {"conv2d", [](Args& a) -> V {
         return W(a, at::conv2d(a.tensor(0), a.tensor(1), a.optTensor(2), a.ints(3), a.ints(4), a.ints(5), a.i64(6, 1)));
       }},
      {"layerNorm", [](Args& a) -> V {  // (x, normalizedShape, w, b, eps)
         return W(a, at::layer_norm(a.tensor(0), a.ints(1), a.optTensor(2), a.optTensor(3), a.num(4, 1e-5)));
       }},
      {"softmax", [](Args& a) -> V { return W(a, at::softmax(a.tensor(0), a.i64(1))); }},
      {"logSoftmax", [](Args& a) -> V { return W(a, at::log_softmax(a.tensor(0), a.i64(1))); }},
      {"dropout", [](Args& a) -> V { return W(a, at::dropout(a.tensor(0), a.num(1), a.flag(2))); }},
      {"attention", [](Args& a) -> V {  // (q, k, v, scale): softmax(q k^T * scale) v, [.., L, d]
         auto& q = a.tensor(0);
         auto& k = a.tensor(1);
         auto& v = a.tensor(2);
         double scale = a.num(3);
         auto attn = at::softmax(at::matmul(q, k.transpose(-2, -1)).mul_(scale), -1);
         return W(a, at::matmul(attn, v));
       }},
      {"upsampleBilinear2d", [](Args& a) -> V {  // (x [N,C,H,W], [h, w], alignCorners)
         return W(a, at::upsample_bilinear2d(a.tensor(0), a.ints(1), a.flag(2), c10::nullopt, c10::nullopt));
       }},

      // ---- reductions
      {"sum", [](Args& a) -> V {
         auto d = a.optInts(1);
         if (!d) return W(a, a.tensor(0).sum());
         return W(a, a.tensor(0).sum(*d, a.flag(2)));
       }},
      {"mean", [](Args& a) -> V {
         auto d = a.optInts(1);
         if (!d) return W(a, a.tensor(0).mean());
         return W(a, a.tensor(0).mean(*d, a.flag(2)));
       }},
      {"amax", [](Args& a) -> V { return W(a, at::amax(a.tensor(0), a.has(1) ? a.ints(1) : std::vector<int64_t>{}, a.flag(2))); }},
      {"amin", [](Args& a) -> V { return W(a, at::amin(a.tensor(0), a.has(1) ? a.ints(1) : std::vector<int64_t>{}, a.flag(2))); }},
      {"max", [](Args& a) -> V { return Wpair(a, at::max(a.tensor(0), a.i64(1), a.flag(2))); }},
      {"argmax", [](Args& a) -> V {
         c10::optional<int64_t> d;
         if (a.has(1)) d = a.i64(1);
         return W(a, at::argmax(a.tensor(0), d, a.flag(2)));
       }},
      {"topk", [](Args& a) -> V {  // (t, k, dim, largest, sorted)
         return Wpair(a, at::topk(a.tensor(0), a.i64(1), a.i64(2, -1), a.flag(3, true), a.flag(4, true)));
       }},
      {"sort", [](Args& a) -> V { return Wpair(a, at::sort(a.tensor(0), a.i64(1, -1), a.flag(2, false))); }},
      {"var", [](Args& a) -> V {  // (t, dims|null, correction, keepdim)
         auto d = a.optInts(1);
         return W(a, at::var(a.tensor(0), optDims(d), c10::optional<int64_t>(a.i64(2, 1)), a.flag(3)));
       }},
      {"norm", [](Args& a) -> V {  // (t, p, dims|null, keepdim)
         auto d = a.optInts(2);
         if (!d) return W(a, at::norm(a.tensor(0), a.scalar(1)));
         return W(a, at::norm(a.tensor(0), a.scalar(1), *d, a.flag(3)));
       }},
      {"logsumexp", [](Args& a) -> V { return W(a, at::logsumexp(a.tensor(0), a.ints(1), a.flag(2))); }},
      {"cumsum", [](Args& a) -> V { return W(a, at::cumsum(a.tensor(0), a.i64(1))); }},
      {"all", [](Args& a) -> V { return W(a, at::all(a.tensor(0))); }},

      // ---- losses
      {"crossEntropy", [](Args& a) -> V {  // (logits, target (int64 indices or float probabilities), reduction, smoothing)
         return W(a, at::cross_entropy_loss(a.tensor(0), a.tensor(1), c10::nullopt, reduction(a, 2), -100, a.num(3, 0.0)));
       }},
      {"bceWithLogits", [](Args& a) -> V {  // (logits, target, reduction, posWeight)
         return W(a, at::binary_cross_entropy_with_logits(a.tensor(0), a.tensor(1), c10::nullopt, a.optTensor(3), reduction(a, 2)));
       }},
      {"mseLoss", [](Args& a) -> V { return W(a, at::mse_loss(a.tensor(0), a.tensor(1), reduction(a, 2))); }},

      // ---- autograd
      {"backward", [](Args& a) -> V {  // (t, grad?, retainGraph?)
         auto& t = a.tensor(0);
         if (a.has(1)) t.backward(a.tensor(1), a.flag(2));
         else t.backward({}, a.flag(2));
         return a.env().Undefined();
       }},
      {"requiresGrad_", [](Args& a) -> V { a.tensor(0).requires_grad_(a.flag(1, true)); return a.raw(0); }},
      {"setGradEnabled", [](Args& a) -> V {
         bool prev = c10::GradMode::is_enabled();
         c10::GradMode::set_enabled(a.flag(0));
         return Napi::Boolean::New(a.env(), prev);
       }},
      {"isGradEnabled", [](Args& a) -> V { return Napi::Boolean::New(a.env(), c10::GradMode::is_enabled()); }},
      {"sameStorage", [](Args& a) -> V {  // do two handles share memory? (tests of views and of freezing)
         return Napi::Boolean::New(a.env(), a.tensor(0).is_alias_of(a.tensor(1)));
       }},

      // ---- runtime
      {"manualSeed", [](Args& a) -> V { at::manual_seed(static_cast<uint64_t>(a.i64(0))); return a.env().Undefined(); }},
      {"setNumThreads", [](Args& a) -> V { at::set_num_threads(static_cast<int>(a.i64(0))); return a.env().Undefined(); }},
      {"setThreadAffinity", [](Args& a) -> V {  // (cpus[]): the calling thread may run on these CPUs
#ifdef __linux__
         cpu_set_t set;
         CPU_ZERO(&set);
         for (int64_t c : a.ints(0)) {
           if (c < 0 || c >= CPU_SETSIZE) a.fail(0, "CPU " + std::to_string(c) + " is out of range");
           CPU_SET(static_cast<int>(c), &set);
         }
         if (sched_setaffinity(0, sizeof(set), &set) != 0) a.fail(0, "sched_setaffinity failed");
         return Napi::Boolean::New(a.env(), true);
#else
         return Napi::Boolean::New(a.env(), false);
#endif
       }},
      {"getNumThreads", [](Args& a) -> V { return Napi::Number::New(a.env(), at::get_num_threads()); }},
      {"info", [](Args& a) -> V {
         auto o = Napi::Object::New(a.env());
         o.Set("torchVersion", std::string(TORCH_VERSION));
         o.Set("cuda", at::hasCUDA());  // a usable GPU: 2.x says false without one
         o.Set("cudaBuilt", at::detail::getCUDAHooks().hasCUDART());  // linked against libtorch_cuda
         o.Set("cudaDevices", static_cast<double>(at::hasCUDA() ? at::detail::getCUDAHooks().getNumGPUs() : 0));
         o.Set("mkldnn", at::hasMKLDNN());
         o.Set("parallel", at::get_parallel_info());
         o.Set("config", at::show_config());
         return o;
       }},
  };
  return ops;
}

void describeValue(std::ostringstream& os, Napi::Env env, const Napi::Value& v, int depth) {
  if (isTensor(env, v)) {
    auto* w = TensorWrap::Unwrap(v.As<Napi::Object>());
    if (w->alive()) os << dtypeName(w->tensor().scalar_type()) << c10::str(w->tensor().sizes());
    else os << "disposed";
  } else if (v.IsNumber()) {
    os << v.As<Napi::Number>().DoubleValue();
  } else if (v.IsArray() && depth == 0) {
    // shapes, strides and tensor lists (cat, stack): the elements say what went wrong
    auto arr = v.As<Napi::Array>();
    os << "[";
    for (uint32_t k = 0; k < arr.Length() && k < 8; ++k) {
      if (k) os << ", ";
      describeValue(os, env, arr.Get(k), depth + 1);
    }
    if (arr.Length() > 8) os << ", ..";
    os << "]";
  } else if (v.IsArray()) {
    os << "[..]";
  } else if (v.IsString()) {
    os << '"' << v.As<Napi::String>().Utf8Value() << '"';
  } else {
    os << "_";
  }
}

std::string describeInputs(const Napi::CallbackInfo& info) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < info.Length(); ++i) {
    if (i) os << ", ";
    describeValue(os, info.Env(), info[i], 0);
  }
  os << ")";
  return os.str();
}

std::string firstLine(const std::string& s) {
  auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

Napi::Value dispatch(const Napi::CallbackInfo& info) {
  const OpDef* op = static_cast<const OpDef*>(info.Data());
  Args args(info, op->name);
  try {
    return op->fn(args);
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(info.Env(), std::string(op->name) + describeInputs(info) + ": " +
                                           firstLine(e.what_without_backtrace()));
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string(op->name) + describeInputs(info) + ": " + e.what());
  }
}

}  // namespace

void registerOps(Napi::Env env, Napi::Object exports) {
  auto ops = Napi::Object::New(env);
  for (const auto* list : {&table(), &deviceOps(), &profilerOps(), &gemm::ops()}) {
    for (const OpDef& op : *list) ops.Set(op.name, Napi::Function::New(env, dispatch, op.name, const_cast<OpDef*>(&op)));
  }
  exports.Set("ops", ops);
}

}  // namespace loaa
