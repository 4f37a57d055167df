// PyTorch's c10d for the addon: a TCPStore rendezvous and a process group (Gloo on CPUs, NCCL in CUDA
// builds) whose collectives work on the addon's tensors in place.
#pragma once
#include <napi.h>

namespace loaa {

// Adds `exports.dist` = { available: {gloo, nccl}, ProcessGroup }.
void registerDistributed(Napi::Env env, Napi::Object exports);

}  // namespace loaa
