// Ops for devices, autocast (mixed precision) and fused attention: the parts of the engine whose
// libtorch API changed between Debian's 1.13 and PyTorch 2.x, each behind a small #if.
#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/version.h>

#include "args.h"
#include "gemm.h"
#include "ops.h"

#define LOAA_TORCH_AT_LEAST(maj, min) \
  (TORCH_VERSION_MAJOR > (maj) || (TORCH_VERSION_MAJOR == (maj) && TORCH_VERSION_MINOR >= (min)))

namespace loaa {
namespace {

using V = Napi::Value;

c10::DeviceType autocastDevice(const Args& a, size_t i) {
  std::string d = a.str(i);
  if (d == "cpu") return c10::DeviceType::CPU;
  if (d == "cuda") return c10::DeviceType::CUDA;
  a.fail(i, "autocast device must be cpu or cuda, not \"" + d + "\"");
}

// 2.4 made autocast state per device type; 1.13 had one setter per device.
bool autocastEnabled(c10::DeviceType d) {
#if LOAA_TORCH_AT_LEAST(2, 4)
  return at::autocast::is_autocast_enabled(d);
#else
  return d == c10::DeviceType::CPU ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
#endif
}
void setAutocastEnabled(c10::DeviceType d, bool on) {
#if LOAA_TORCH_AT_LEAST(2, 4)
  at::autocast::set_autocast_enabled(d, on);
#else
  if (d == c10::DeviceType::CPU) at::autocast::set_cpu_enabled(on);
  else at::autocast::set_enabled(on);
#endif
}
at::ScalarType autocastDtype(c10::DeviceType d) {
#if LOAA_TORCH_AT_LEAST(2, 4)
  return at::autocast::get_autocast_dtype(d);
#else
  return d == c10::DeviceType::CPU ? at::autocast::get_autocast_cpu_dtype() : at::autocast::get_autocast_gpu_dtype();
#endif
}
void setAutocastDtype(c10::DeviceType d, at::ScalarType t) {
#if LOAA_TORCH_AT_LEAST(2, 4)
  at::autocast::set_autocast_dtype(d, t);
#else
  if (d == c10::DeviceType::CPU) at::autocast::set_autocast_cpu_dtype(t);
  else at::autocast::set_autocast_gpu_dtype(t);
#endif
}

V state(const Args& a, c10::DeviceType d) {
  auto o = Napi::Object::New(a.env());
  o.Set("enabled", autocastEnabled(d));
  o.Set("dtype", dtypeName(autocastDtype(d)));
  return o;
}

bool cudaAvailable() { return at::hasCUDA() && at::detail::getCUDAHooks().getNumGPUs() > 0; }

const std::vector<OpDef>& table() {
  static const std::vector<OpDef> ops = {
      // ---- autocast, with torch.autocast's enter/exit: the weight-cast cache lives while any
      // region is open and is cleared when the outermost one closes
      {"autocastEnter", [](Args& a) -> V {  // (device, dtype) -> previous state
         auto d = autocastDevice(a, 0);
         auto dt = a.dtype(1);
         if (dt != at::kBFloat16 && dt != at::kHalf) a.fail(1, "autocast dtype must be bfloat16 or float16");
         V prev = state(a, d);
         setAutocastEnabled(d, true);
         setAutocastDtype(d, dt);
         at::autocast::increment_nesting();
         return prev;
       }},
      {"autocastExit", [](Args& a) -> V {  // (device, prevEnabled, prevDtype)
         auto d = autocastDevice(a, 0);
         if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
         setAutocastEnabled(d, a.flag(1));
         setAutocastDtype(d, a.dtype(2));
         return a.env().Undefined();
       }},
      {"autocastState", [](Args& a) -> V { return state(a, autocastDevice(a, 0)); }},

      // ---- devices
      {"cudaAvailable", [](Args& a) -> V { return Napi::Boolean::New(a.env(), cudaAvailable()); }},
      {"cudaDeviceCount", [](Args& a) -> V {
         return Napi::Number::New(a.env(), at::hasCUDA() ? at::detail::getCUDAHooks().getNumGPUs() : 0);
       }},
      {"pinMemory", [](Args& a) -> V {  // page-locked copy for fast, asynchronous host-to-GPU copies
         auto& t = a.tensor(0);
         if (!cudaAvailable() || !t.is_cpu()) return wrap(a.env(), t);  // a new handle either way
         return wrap(a.env(), t.pin_memory());
       }},
      {"toAsync", [](Args& a) -> V {  // (t, device): non_blocking copy, for pinned batches
         auto& t = a.tensor(0);
         return wrap(a.env(), t.to(c10::Device(a.str(1)), t.scalar_type(), /*non_blocking=*/true));
       }},
      {"moveTo_", [](Args& a) -> V {  // (t, dtype|null, device|null): the handle now holds a moved copy
         // what `param.data = param.to(device)` does in torch's Module.to: every holder of the
         // handle (a layer's field, the module's map, the optimizer) sees the moved tensor
         auto& t = a.tensor(0);
         auto dt = a.has(1) ? a.dtype(1) : t.scalar_type();
         auto dev = a.has(2) ? c10::Device(a.str(2)) : t.device();
         if (dt == t.scalar_type() && dev == t.device()) return a.raw(0);
         bool req = t.requires_grad();
         at::Tensor moved = t.detach().to(dev, dt).requires_grad_(req && at::isFloatingType(dt));
         TensorWrap::Unwrap(a.raw(0).As<Napi::Object>())->set(a.env(), std::move(moved));
         return a.raw(0);
       }},

      // ---- attention: softmax(q k^T * scale) v over [.., L, d]: the GEMM kernel's, fused, or composite
      {"sdpa", [](Args& a) -> V {
         auto& q = a.tensor(0);
         auto& k = a.tensor(1);
         auto& v = a.tensor(2);
         double scale = a.num(3);
         // fp32 on the CPU with a GEMM kernel faster than libtorch's own: its products through it
         if (at::Tensor o = gemm::attention(q, k, v, scale); o.defined()) return wrap(a.env(), o);
         // bf16/fp16 on the CPU: the composite, with autocast's semantics op by op. libtorch's
         // fused CPU kernel in bf16 took a third of a LoAA training step on an AMD EPYC with
         // avx512_bf16 (one step 2.17 s fused, 1.63 s composite: its products run on oneDNN's bf16
         // GEMM); on CUDA the fused kernels stay.
         const bool lowCpu = q.device().is_cpu() && (autocastEnabled(c10::DeviceType::CPU) || q.scalar_type() != at::kFloat);
#if LOAA_TORCH_AT_LEAST(2, 1)
         if (!lowCpu) return wrap(a.env(), at::scaled_dot_product_attention(q, k, v, c10::nullopt, 0.0, false, scale));
#else
         (void)lowCpu;
#endif
         auto attn = at::softmax(at::matmul(q, k.transpose(-2, -1)).mul_(scale), -1);
         return wrap(a.env(), at::matmul(attn, v));
       }},
      {"hasFusedAttention", [](Args& a) -> V { return Napi::Boolean::New(a.env(), LOAA_TORCH_AT_LEAST(2, 1)); }},
  };
  return ops;
}

}  // namespace

const std::vector<OpDef>& deviceOps() { return table(); }

}  // namespace loaa
