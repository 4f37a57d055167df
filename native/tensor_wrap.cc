#include "tensor_wrap.h"

namespace loaa {

Napi::Function TensorWrap::Init(Napi::Env env) {
  return DefineClass(env, "NativeTensor",
                     {
                         InstanceMethod("dispose", &TensorWrap::Dispose),
                         InstanceAccessor("disposed", &TensorWrap::Disposed, nullptr),
                         InstanceAccessor("shape", &TensorWrap::Shape, nullptr),
                         InstanceAccessor("dtype", &TensorWrap::DType, nullptr),
                         InstanceAccessor("device", &TensorWrap::Device, nullptr),
                         InstanceAccessor("requiresGrad", &TensorWrap::RequiresGrad, &TensorWrap::SetRequiresGrad),
                         InstanceAccessor("grad", &TensorWrap::Grad, &TensorWrap::SetGrad),
                         InstanceAccessor("isLeaf", &TensorWrap::IsLeaf, nullptr),
                     });
}

TensorWrap::TensorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorWrap>(info) {}

TensorWrap::~TensorWrap() {
  // Finalizer of a handle the program forgot to dispose: the GC fallback.
  if (alive_ && accounted_ != 0) Napi::MemoryManagement::AdjustExternalMemory(Env(), -accounted_);
}

static int64_t bytesOf(const at::Tensor& t) {
  if (!t.defined() || !t.is_cpu()) return 0;  // GPU memory is not the JS heap's business
  // A view holds no memory of its own: counting it again (every reshape, permute, narrow of a
  // forward) told V8 of gigabytes that did not exist, and its external-memory pressure GCs cost
  // 5% of a ViT-B training step (measured: 230 -> 65 ms outside libtorch per forward).
  if (t.is_view()) return 0;
  return static_cast<int64_t>(t.numel()) * static_cast<int64_t>(t.element_size());
}

void TensorWrap::set(Napi::Env env, at::Tensor value) {
  release(env);
  t_ = std::move(value);
  alive_ = true;
  // Tell V8 how much native memory this small object holds, so that handles nobody disposed are
  // still collected under memory pressure.
  accounted_ = bytesOf(t_);
  if (accounted_ != 0) Napi::MemoryManagement::AdjustExternalMemory(env, accounted_);
}

void TensorWrap::release(Napi::Env env) {
  if (!alive_) return;
  if (accounted_ != 0) Napi::MemoryManagement::AdjustExternalMemory(env, -accounted_);
  accounted_ = 0;
  t_ = at::Tensor();
  alive_ = false;
}

Napi::Value TensorWrap::Dispose(const Napi::CallbackInfo& info) {
  release(info.Env());
  return info.Env().Undefined();
}

Napi::Value TensorWrap::Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !alive_); }

static void requireAlive(Napi::Env env, bool alive) {
  if (!alive) throw Napi::Error::New(env, "tensor has been disposed");
}

Napi::Value TensorWrap::Shape(const Napi::CallbackInfo& info) {
  requireAlive(info.Env(), alive_);
  auto sizes = t_.sizes();
  Napi::Array out = Napi::Array::New(info.Env(), sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) out.Set(i, Napi::Number::New(info.Env(), static_cast<double>(sizes[i])));
  return out;
}

Napi::Value TensorWrap::DType(const Napi::CallbackInfo& info) {
  requireAlive(info.Env(), alive_);
  return Napi::String::New(info.Env(), dtypeName(t_.scalar_type()));
}

Napi::Value TensorWrap::Device(const Napi::CallbackInfo& info) {
  requireAlive(info.Env(), alive_);
  return Napi::String::New(info.Env(), t_.device().str());
}

Napi::Value TensorWrap::RequiresGrad(const Napi::CallbackInfo& info) {
  requireAlive(info.Env(), alive_);
  return Napi::Boolean::New(info.Env(), t_.requires_grad());
}

void TensorWrap::SetRequiresGrad(const Napi::CallbackInfo& info, const Napi::Value& v) {
  requireAlive(info.Env(), alive_);
  try {
    t_.requires_grad_(v.ToBoolean().Value());
  } catch (const c10::Error& e) {
    throw Napi::Error::New(info.Env(), std::string("requiresGrad: ") + e.what_without_backtrace());
  }
}

Napi::Value TensorWrap::Grad(const Napi::CallbackInfo& info) {
  requireAlive(info.Env(), alive_);
  const at::Tensor& g = t_.grad();
  if (!g.defined()) return info.Env().Null();
  return wrap(info.Env(), g);
}

void TensorWrap::SetGrad(const Napi::CallbackInfo& info, const Napi::Value& v) {
  requireAlive(info.Env(), alive_);
  if (v.IsNull() || v.IsUndefined()) {
    t_.mutable_grad().reset();
    return;
  }
  const at::Tensor& g = unwrap(info.Env(), v, "grad");
  // torch's own setter checks this too: a mismatched gradient would only fail later, in backward
  // or in the optimizer, far from the assignment
  if (g.sizes() != t_.sizes() || g.scalar_type() != t_.scalar_type() || g.device() != t_.device()) {
    throw Napi::Error::New(info.Env(), "grad: assigned gradient " + dtypeName(g.scalar_type()) + c10::str(g.sizes()) + " on " +
                                           g.device().str() + " does not match the tensor's " + dtypeName(t_.scalar_type()) +
                                           c10::str(t_.sizes()) + " on " + t_.device().str());
  }
  t_.mutable_grad() = g;
}

Napi::Value TensorWrap::IsLeaf(const Napi::CallbackInfo& info) {
  requireAlive(info.Env(), alive_);
  return Napi::Boolean::New(info.Env(), t_.is_leaf());
}

Napi::Value wrap(Napi::Env env, at::Tensor t) {
  auto* data = env.GetInstanceData<AddonData>();
  Napi::Object obj = data->tensorCtor.New({});
  TensorWrap::Unwrap(obj)->set(env, std::move(t));
  return obj;
}

bool isTensor(Napi::Env env, const Napi::Value& v) {
  if (!v.IsObject()) return false;
  auto* data = env.GetInstanceData<AddonData>();
  return v.As<Napi::Object>().InstanceOf(data->tensorCtor.Value());
}

at::Tensor& unwrap(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!isTensor(env, v)) throw Napi::TypeError::New(env, what + ": expected a tensor");
  TensorWrap* w = TensorWrap::Unwrap(v.As<Napi::Object>());
  if (!w->alive()) throw Napi::Error::New(env, what + ": tensor has been disposed");
  return w->tensor();
}

std::string dtypeName(c10::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kShort: return "int16";
    case at::kChar: return "int8";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    default: return std::string("unsupported:") + c10::toString(t);
  }
}

c10::ScalarType parseDtype(Napi::Env env, const std::string& name) {
  if (name == "float32") return at::kFloat;
  if (name == "float64") return at::kDouble;
  if (name == "float16") return at::kHalf;
  if (name == "bfloat16") return at::kBFloat16;
  if (name == "int64") return at::kLong;
  if (name == "int32") return at::kInt;
  if (name == "int16") return at::kShort;
  if (name == "int8") return at::kChar;
  if (name == "uint8") return at::kByte;
  if (name == "bool") return at::kBool;
  throw Napi::TypeError::New(env, "unknown dtype \"" + name + "\"");
}

}  // namespace loaa
