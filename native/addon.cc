// Entry point of the loaa addon: the NativeTensor class and the op table, per environment.
#include <napi.h>

#include "cpu_allocator.h"
#include "distributed.h"
#include "ops.h"
#include "tensor_wrap.h"

namespace loaa {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  CachingCPUAllocator::install();
  auto* data = new AddonData();
  Napi::Function ctor = TensorWrap::Init(env);
  data->tensorCtor = Napi::Persistent(ctor);
  env.SetInstanceData<AddonData>(data);  // deleted with the environment (worker exit)
  exports.Set("NativeTensor", ctor);
  registerOps(env, exports);
  registerDistributed(env, exports);
  return exports;
}

}  // namespace loaa

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return loaa::Init(env, exports); }

NODE_API_MODULE(loaa_native, InitModule)
