#pragma once
#include <napi.h>

#include "args.h"

namespace loaa {

struct OpDef {
  const char* name;
  Napi::Value (*fn)(Args&);
};

void registerOps(Napi::Env env, Napi::Object exports);

}  // namespace loaa
