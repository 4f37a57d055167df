// Argument conversion for ops: each op reads its JS arguments by position through `Args`, so adding
// an op is a few lines in ops.cc.
#pragma once
#include <ATen/ATen.h>
#include <napi.h>

#include <c10/util/Optional.h>
#include <string>
#include <vector>

#include "tensor_wrap.h"

namespace loaa {

class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* op) : info_(info), env_(info.Env()), op_(op) {}
  Napi::Env env() const { return env_; }
  size_t size() const { return info_.Length(); }
  bool has(size_t i) const { return i < info_.Length() && !info_[i].IsUndefined() && !info_[i].IsNull(); }
  Napi::Value raw(size_t i) const { return info_[i]; }

  at::Tensor& tensor(size_t i) const { return unwrap(env_, info_[i], where(i)); }
  c10::optional<at::Tensor> optTensor(size_t i) const {
    if (!has(i)) return c10::nullopt;
    return tensor(i);
  }
  bool isTensor(size_t i) const { return i < info_.Length() && loaa::isTensor(env_, info_[i]); }

  double num(size_t i) const {
    if (i >= info_.Length() || !info_[i].IsNumber()) fail(i, "expected a number");
    return info_[i].As<Napi::Number>().DoubleValue();
  }
  double num(size_t i, double dflt) const { return has(i) ? num(i) : dflt; }
  c10::optional<double> optNum(size_t i) const {
    if (!has(i)) return c10::nullopt;
    return num(i);
  }
  int64_t i64(size_t i) const {
    double d = num(i);
    if (d != static_cast<double>(static_cast<int64_t>(d))) fail(i, "expected an integer");
    return static_cast<int64_t>(d);
  }
  int64_t i64(size_t i, int64_t dflt) const { return has(i) ? i64(i) : dflt; }
  bool flag(size_t i, bool dflt = false) const { return has(i) ? info_[i].ToBoolean().Value() : dflt; }
  std::string str(size_t i) const {
    if (i >= info_.Length() || !info_[i].IsString()) fail(i, "expected a string");
    return info_[i].As<Napi::String>().Utf8Value();
  }
  std::string str(size_t i, const std::string& dflt) const { return has(i) ? str(i) : dflt; }

  std::vector<int64_t> ints(size_t i) const {
    if (i >= info_.Length() || !info_[i].IsArray()) fail(i, "expected an array of integers");
    auto arr = info_[i].As<Napi::Array>();
    std::vector<int64_t> out(arr.Length());
    for (uint32_t k = 0; k < arr.Length(); ++k) {
      Napi::Value v = arr.Get(k);
      if (!v.IsNumber()) fail(i, "expected an array of integers");
      double d = v.As<Napi::Number>().DoubleValue();
      if (d != static_cast<double>(static_cast<int64_t>(d))) fail(i, "expected an array of integers");
      out[k] = static_cast<int64_t>(d);
    }
    return out;
  }
  c10::optional<std::vector<int64_t>> optInts(size_t i) const {
    if (!has(i)) return c10::nullopt;
    return ints(i);
  }
  std::vector<at::Tensor> tensors(size_t i) const {
    if (i >= info_.Length() || !info_[i].IsArray()) fail(i, "expected an array of tensors");
    auto arr = info_[i].As<Napi::Array>();
    std::vector<at::Tensor> out;
    out.reserve(arr.Length());
    for (uint32_t k = 0; k < arr.Length(); ++k) out.push_back(unwrap(env_, arr.Get(k), where(i)));
    return out;
  }
  c10::ScalarType dtype(size_t i, c10::ScalarType dflt = at::kFloat) const {
    return has(i) ? parseDtype(env_, str(i)) : dflt;
  }
  at::TensorOptions options(size_t dtypeIdx, size_t deviceIdx) const {
    auto o = at::TensorOptions().dtype(dtype(dtypeIdx));
    if (has(deviceIdx)) o = o.device(c10::Device(str(deviceIdx)));
    return o;
  }
  at::Scalar scalar(size_t i) const {
    if (i < info_.Length() && info_[i].IsBoolean()) return at::Scalar(info_[i].As<Napi::Boolean>().Value());
    return at::Scalar(num(i));
  }

  [[noreturn]] void fail(size_t i, const std::string& msg) const {
    throw Napi::TypeError::New(env_, where(i) + ": " + msg);
  }

 private:
  std::string where(size_t i) const { return std::string(op_) + " argument " + std::to_string(i); }
  const Napi::CallbackInfo& info_;
  Napi::Env env_;
  const char* op_;
};

}  // namespace loaa
