// The JS handle of one at::Tensor. The addon knows tensors and ops, never models.
#pragma once
#include <ATen/ATen.h>
#include <napi.h>

#include <string>
#include <vector>

namespace loaa {

// Per-environment state (one per main thread / worker thread): no static JS references, so the
// addon can be loaded in several worker threads at once.
struct AddonData {
  Napi::FunctionReference tensorCtor;
};

class TensorWrap : public Napi::ObjectWrap<TensorWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit TensorWrap(const Napi::CallbackInfo& info);
  ~TensorWrap() override;

  void set(Napi::Env env, at::Tensor value);
  // Drops this handle's reference now; the memory goes when the last reference (views, autograd
  // graph) goes. Idempotent.
  void release(Napi::Env env);
  bool alive() const { return alive_; }
  at::Tensor& tensor() { return t_; }

 private:
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);
  Napi::Value Shape(const Napi::CallbackInfo& info);
  Napi::Value DType(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value RequiresGrad(const Napi::CallbackInfo& info);
  void SetRequiresGrad(const Napi::CallbackInfo& info, const Napi::Value& v);
  Napi::Value Grad(const Napi::CallbackInfo& info);
  void SetGrad(const Napi::CallbackInfo& info, const Napi::Value& v);
  Napi::Value IsLeaf(const Napi::CallbackInfo& info);

  at::Tensor t_;
  bool alive_ = false;
  int64_t accounted_ = 0;
};

// Wraps a result tensor into a new JS handle.
Napi::Value wrap(Napi::Env env, at::Tensor t);
// The tensor behind a JS handle; throws a TypeError naming `what` if it is not a live tensor.
at::Tensor& unwrap(Napi::Env env, const Napi::Value& v, const std::string& what);
bool isTensor(Napi::Env env, const Napi::Value& v);

std::string dtypeName(c10::ScalarType t);
c10::ScalarType parseDtype(Napi::Env env, const std::string& name);

}  // namespace loaa
