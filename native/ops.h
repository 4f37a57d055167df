#pragma once
#include <napi.h>

#include <vector>

#include "args.h"

namespace loaa {

struct OpDef {
  const char* name;
  Napi::Value (*fn)(Args&);
};

void registerOps(Napi::Env env, Napi::Object exports);
// devices, autocast and fused attention (device_ops.cc)
const std::vector<OpDef>& deviceOps();
// per-op timing through libtorch's RecordFunction callbacks (profiler.cc)
const std::vector<OpDef>& profilerOps();

}  // namespace loaa
