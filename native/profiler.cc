// A generic per-op profiler over libtorch's RecordFunction callbacks: while it runs, every op
// libtorch records (aten ops, autograd nodes, user scopes) is counted and timed, inclusive and
// self (minus the ops nested in it), aggregated by name. It knows nothing of models, so any work
// can be profiled from TypeScript; the callback API is the same on 1.13 and 2.x.
// binding.gyp defines NDEBUG as libtorch's release builds do: RecordFunction has a member only
// without NDEBUG, so without it this file saw another layout than libtorch and inputs() asserted.
#include <ATen/record_function.h>

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "args.h"
#include "ops.h"

namespace loaa {
namespace {

using V = Napi::Value;
using Clock = std::chrono::steady_clock;

struct Stat {
  int64_t calls = 0;
  double totalUs = 0;
  double selfUs = 0;
};
struct Frame {
  Clock::time_point t0;
  double childUs = 0;
  // input sizes, read at the start (libtorch keeps the inputs only during the start callback)
  std::string shapes;
};

std::mutex mu;
std::unordered_map<std::string, Stat> stats;
bool running = false;
// with shapes, ops are told apart by their tensor inputs' sizes too ("aten::mm [516, 768] [768, 3072]")
bool withShapes = false;
at::CallbackHandle handle = 0;
// RecordFunctions nest strictly on one thread (RAII), so a per-thread stack pairs start with end
// and gives each op the time of its children for the self time.
thread_local std::vector<Frame> frames;

std::unique_ptr<at::ObserverContext> onStart(const at::RecordFunction& fn) {
  std::string shapes;
  if (withShapes) {
    for (const c10::IValue& v : fn.inputs()) {
      if (!v.isTensor()) continue;
      const at::Tensor& t = v.toTensor();
      shapes += t.defined() ? " " + c10::str(t.sizes()) : " undefined";
    }
  }
  frames.push_back({Clock::now(), 0, std::move(shapes)});
  return nullptr;
}

void onEnd(const at::RecordFunction& fn, at::ObserverContext*) {
  if (frames.empty()) return;
  Frame f = std::move(frames.back());
  frames.pop_back();
  double us = std::chrono::duration<double, std::micro>(Clock::now() - f.t0).count();
  if (!frames.empty()) frames.back().childUs += us;
  std::lock_guard<std::mutex> lock(mu);
  Stat& s = stats[f.shapes.empty() ? std::string(fn.name()) : fn.name() + f.shapes];
  s.calls++;
  s.totalUs += us;
  s.selfUs += us - f.childUs;
}

const std::vector<OpDef>& table() {
  static const std::vector<OpDef> ops = {
      {"profilerStart", [](Args& a) -> V {  // (shapes?) starts counting (clears what an earlier run left)
         if (running) throw Napi::Error::New(a.env(), "profilerStart: the profiler is already running");
         {
           std::lock_guard<std::mutex> lock(mu);
           stats.clear();
         }
         withShapes = a.size() > 0 && a.raw(0).IsBoolean() && a.raw(0).As<Napi::Boolean>().Value();
         handle = at::addGlobalCallback(at::RecordFunctionCallback(onStart, onEnd).needsInputs(withShapes));
         running = true;
         return a.env().Undefined();
       }},
      {"profilerStop", [](Args& a) -> V {  // stops; returns [{name, calls, totalUs, selfUs}]
         if (!running) throw Napi::Error::New(a.env(), "profilerStop: the profiler is not running");
         at::removeCallback(handle);
         running = false;
         std::lock_guard<std::mutex> lock(mu);
         auto out = Napi::Array::New(a.env(), stats.size());
         uint32_t i = 0;
         for (const auto& [name, s] : stats) {
           auto o = Napi::Object::New(a.env());
           o.Set("name", name);
           o.Set("calls", static_cast<double>(s.calls));
           o.Set("totalUs", s.totalUs);
           o.Set("selfUs", s.selfUs);
           out.Set(i++, o);
         }
         stats.clear();
         return out;
       }},
  };
  return ops;
}

}  // namespace

const std::vector<OpDef>& profilerOps() { return table(); }

}  // namespace loaa
