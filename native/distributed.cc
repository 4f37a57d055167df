// c10d process groups for data-parallel training. Collectives block the calling JS thread (the training
// loop is synchronous) except `allreduce(..., true)`, which returns a work id so that several buckets
// travel at once. A failed or timed-out collective is diagnosed before it becomes a JS Error: every rank
// bumps a heartbeat counter in the rendezvous store from its own thread, so the rank whose counter
// stopped (and that did not report a failure of its own) is the one named as lost.
#include "distributed.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <ATen/ATen.h>
#include <torch/csrc/api/include/torch/version.h>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

// Gloo's headers come with the wheels' libtorch only partly (Gloo is compiled in, its headers are not):
// Debian's libgloo-dev provides them. Without them the addon still builds and says what is missing.
#if __has_include(<gloo/algorithm.h>)
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#define LOAA_HAVE_GLOO 1
#else
#define LOAA_HAVE_GLOO 0
#endif

// NCCL only in CUDA builds whose include path reaches nccl.h (the CUDA wheel's nvidia/nccl/include).
#if __has_include(<nccl.h>) && __has_include(<c10/cuda/CUDAStream.h>)
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#define LOAA_HAVE_NCCL 1
#else
#define LOAA_HAVE_NCCL 0
#endif

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <unistd.h>

#include "tensor_wrap.h"

namespace loaa {
namespace {

// libtorch 2 moved the collectives from ProcessGroup to Backend; the backends derive from whichever
// holds them in the version at hand.
#if TORCH_VERSION_MAJOR >= 2
using BackendBase = c10d::Backend;
#else
using BackendBase = c10d::ProcessGroup;
#endif

using ms = std::chrono::milliseconds;

std::string firstLine(const std::string& s) {
  auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

// The heartbeat's own store connection: the TCPStore client is not meant for two threads at once, and
// the main thread may be blocked inside a collective exactly when the heartbeat matters.
struct Heartbeat {
  c10::intrusive_ptr<c10d::TCPStore> store;
  std::mutex mu;  // store access: heartbeat thread vs. diagnosis on the JS thread
  std::atomic<bool> stop{false};
  int rank = 0;
  ms interval{1000};

  void run() {
    const std::string key = "loaa/hb/" + std::to_string(rank);
    while (!stop.load()) {
      {
        std::lock_guard<std::mutex> lock(mu);
        // A store that went away (rank 0 lost) is reported by the diagnosis, not here.
        try { store->add(key, 1); } catch (...) {}
      }
      auto until = std::chrono::steady_clock::now() + interval;
      while (!stop.load() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(ms(20));
    }
  }
};

struct Config {
  std::string backend = "gloo";
  int rank = 0;
  int worldSize = 1;
  std::string masterAddr = "127.0.0.1";
  int masterPort = 29500;
  ms timeout{300000};
  ms heartbeat{1000};
  std::string host;   // address this rank's Gloo device binds to ("" = by master address)
  std::string iface;  // or a network interface (GLOO_SOCKET_IFNAME)
};

class GroupWrap : public Napi::ObjectWrap<GroupWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "ProcessGroup", {
      InstanceMethod("allreduce", &GroupWrap::Allreduce),
      InstanceMethod("wait", &GroupWrap::Wait),
      InstanceMethod("broadcast", &GroupWrap::Broadcast),
      InstanceMethod("allgather", &GroupWrap::Allgather),
      InstanceMethod("barrier", &GroupWrap::Barrier),
      InstanceMethod("markFailed", &GroupWrap::MarkFailed),
      InstanceMethod("shutdown", &GroupWrap::Shutdown),
      InstanceAccessor("rank", &GroupWrap::Rank, nullptr),
      InstanceAccessor("worldSize", &GroupWrap::WorldSize, nullptr),
      InstanceAccessor("backend", &GroupWrap::Backend, nullptr),
    });
  }

  explicit GroupWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<GroupWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "ProcessGroup: expected an options object");
    cfg_ = parse(env, info[0].As<Napi::Object>());
    try {
      connect();
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, prefix("rendezvous") + "could not join the group at " + cfg_.masterAddr + ":" +
                                      std::to_string(cfg_.masterPort) + " within " + seconds(cfg_.timeout) + ": " +
                                      firstLine(whatOf(e)));
    }
  }

  ~GroupWrap() override { stopHeartbeat(); }

 private:
  static std::string whatOf(const std::exception& e) {
    if (auto* ce = dynamic_cast<const c10::Error*>(&e)) return ce->what_without_backtrace();
    return e.what();
  }
  static std::string seconds(ms d) {
    std::ostringstream s;
    s << static_cast<double>(d.count()) / 1000.0 << " s";
    return s.str();
  }

  static Config parse(Napi::Env env, Napi::Object o) {
    Config c;
    auto str = [&](const char* k, std::string& out) {
      Napi::Value v = o.Get(k);
      if (v.IsUndefined() || v.IsNull()) return;
      if (!v.IsString()) throw Napi::TypeError::New(env, std::string("ProcessGroup option ") + k + ": expected a string");
      out = v.As<Napi::String>().Utf8Value();
    };
    auto num = [&](const char* k, double dflt) -> double {
      Napi::Value v = o.Get(k);
      if (v.IsUndefined() || v.IsNull()) return dflt;
      if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string("ProcessGroup option ") + k + ": expected a number");
      return v.As<Napi::Number>().DoubleValue();
    };
    str("backend", c.backend);
    str("masterAddr", c.masterAddr);
    str("host", c.host);
    str("iface", c.iface);
    c.rank = static_cast<int>(num("rank", 0));
    c.worldSize = static_cast<int>(num("worldSize", 1));
    c.masterPort = static_cast<int>(num("masterPort", 29500));
    c.timeout = ms(static_cast<int64_t>(num("timeoutMs", 300000)));
    c.heartbeat = ms(static_cast<int64_t>(num("heartbeatMs", 1000)));
    if (c.worldSize < 1) throw Napi::RangeError::New(env, "ProcessGroup option worldSize: must be at least 1");
    if (c.rank < 0 || c.rank >= c.worldSize) {
      throw Napi::RangeError::New(env, "ProcessGroup option rank: " + std::to_string(c.rank) + " is outside [0, " +
                                           std::to_string(c.worldSize) + ")");
    }
    if (c.masterPort < 1 || c.masterPort > 65535) throw Napi::RangeError::New(env, "ProcessGroup option masterPort: must be in 1..65535");
    if (c.timeout.count() < 1) throw Napi::RangeError::New(env, "ProcessGroup option timeoutMs: must be positive");
    if (c.heartbeat.count() < 10) throw Napi::RangeError::New(env, "ProcessGroup option heartbeatMs: must be at least 10");
    if (c.backend != "gloo" && c.backend != "nccl") {
      throw Napi::TypeError::New(env, "ProcessGroup option backend: \"" + c.backend + "\" is not gloo or nccl");
    }
    if (c.backend == "gloo" && !LOAA_HAVE_GLOO) {
      throw Napi::Error::New(env, "ProcessGroup option backend: this addon was built without Gloo's headers "
                                  "(install Debian's libgloo-dev and rebuild: node scripts/setup.mjs --build-only)");
    }
    if (c.backend == "nccl" && !LOAA_HAVE_NCCL) {
      throw Napi::Error::New(env, "ProcessGroup option backend: NCCL needs a CUDA build of the addon (libtorch with CUDA and nccl.h)");
    }
    return c;
  }

  c10::intrusive_ptr<c10d::TCPStore> makeStore(bool server, bool wait) const {
    c10d::TCPStoreOptions o;
    o.port = static_cast<std::uint16_t>(cfg_.masterPort);
    o.isServer = server;
    o.numWorkers = static_cast<std::size_t>(cfg_.worldSize);
    o.waitWorkers = wait;
    o.timeout = cfg_.timeout;
#if TORCH_VERSION_MAJOR >= 2
    // c10d's server binds every interface; for a single-node run (a loopback master address) hand
    // it a socket already bound to 127.0.0.1, so no other host can read or write the store
    if (server && isLoopback(cfg_.masterAddr)) o.masterListenFd = loopbackListener(o.port);
#endif
    return c10::make_intrusive<c10d::TCPStore>(cfg_.masterAddr, o);
  }

  static bool isLoopback(const std::string& addr) {
    return addr == "localhost" || addr.rfind("127.", 0) == 0;
  }

  // A listening IPv4 socket on 127.0.0.1:port (the store owns and closes it).
  static int loopbackListener(std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(std::string("TCPStore: socket(): ") + std::strerror(errno));
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 2048) != 0) {
      int e = errno;
      ::close(fd);
      throw std::runtime_error("TCPStore: cannot listen on 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(e));
    }
    return fd;
  }

  void connect() {
    store_ = makeStore(cfg_.rank == 0, true);
    hb_ = std::make_shared<Heartbeat>();
    hb_->store = makeStore(false, false);
    hb_->rank = cfg_.rank;
    hb_->interval = cfg_.heartbeat;
    std::shared_ptr<Heartbeat> hb = hb_;
    // Detached: it holds its own reference, so a process that exits without shutdown() is not blocked.
    std::thread([hb] { hb->run(); }).detach();

#if LOAA_HAVE_GLOO
    if (cfg_.backend == "gloo") {
      auto opts = c10d::ProcessGroupGloo::Options::create(cfg_.timeout);
      if (!cfg_.iface.empty()) {
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(cfg_.iface));
      } else {
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(cfg_.host.empty() ? defaultHost() : cfg_.host));
      }
      pg_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store_, cfg_.rank, cfg_.worldSize, opts);
    }
#endif
#if LOAA_HAVE_NCCL
    if (cfg_.backend == "nccl") {
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = cfg_.timeout;
      pg_ = c10::make_intrusive<c10d::ProcessGroupNCCL>(store_, cfg_.rank, cfg_.worldSize, opts);
    }
#endif
  }

  // Local runs (the master on a loopback address) stay on loopback; otherwise the address the host
  // name resolves to, as torch.distributed does.
  std::string defaultHost() const {
    const std::string& m = cfg_.masterAddr;
    if (m == "localhost" || m.rfind("127.", 0) == 0 || m == "::1") return m == "localhost" ? "127.0.0.1" : m;
    char name[256] = {0};
    if (gethostname(name, sizeof(name) - 1) == 0 && name[0]) return name;
    return "127.0.0.1";
  }

  std::string prefix(const std::string& op) const {
    return "dist rank " + std::to_string(cfg_.rank) + "/" + std::to_string(cfg_.worldSize) + " " + op + ": ";
  }

  void requireOpen(Napi::Env env, const char* op) const {
    if (!pg_) throw Napi::Error::New(env, prefix(op) + "the process group is shut down");
  }

  // Which ranks stopped: their heartbeat counter does not move over a few intervals and they did not
  // report a failure themselves (a rank that failed because another was lost is still alive).
  std::string diagnose() {
    if (!hb_) return "";
    auto key = [](const char* what, int r) { return std::string("loaa/") + what + "/" + std::to_string(r); };
    std::vector<int64_t> before(cfg_.worldSize), after(cfg_.worldSize);
    try {
      {
        std::lock_guard<std::mutex> lock(hb_->mu);
        for (int r = 0; r < cfg_.worldSize; ++r) before[r] = hb_->store->add(key("hb", r), 0);
      }
      std::this_thread::sleep_for(std::max(ms(1000), cfg_.heartbeat * 5 / 2));
      std::vector<int> lost;
      std::lock_guard<std::mutex> lock(hb_->mu);
      for (int r = 0; r < cfg_.worldSize; ++r) {
        after[r] = hb_->store->add(key("hb", r), 0);
        if (after[r] == before[r] && !hb_->store->check({key("failed", r)})) lost.push_back(r);
      }
      if (lost.empty()) return "no rank stopped (every rank still has a heartbeat)";
      std::string s = lost.size() == 1 ? "lost rank " : "lost ranks ";
      for (size_t i = 0; i < lost.size(); ++i) s += (i ? ", " : "") + std::to_string(lost[i]);
      return s + " (no heartbeat for " + seconds(std::max(ms(1000), cfg_.heartbeat * 5 / 2)) + ")";
    } catch (const std::exception&) {
      return cfg_.rank == 0 ? "the rendezvous store stopped answering"
                            : "lost rank 0 (the rendezvous store it hosts at " + cfg_.masterAddr + ":" +
                                  std::to_string(cfg_.masterPort) + " is unreachable)";
    }
  }

  void markFailed(const std::string& why) {
    if (!hb_) return;
    try {
      std::lock_guard<std::mutex> lock(hb_->mu);
      hb_->store->set("loaa/failed/" + std::to_string(cfg_.rank), std::vector<uint8_t>(why.begin(), why.end()));
    } catch (...) {}
  }

  // Runs one collective to completion; a failure names this rank, the operation and the lost rank(s).
  void run(Napi::Env env, const std::string& op, const std::function<c10::intrusive_ptr<c10d::Work>()>& start) {
    std::string error;
    try {
      auto work = start();
      work->wait();
      return;
    } catch (const std::exception& e) {
      error = firstLine(whatOf(e));
    }
    fail(env, op, error);
  }

  [[noreturn]] void fail(Napi::Env env, const std::string& op, const std::string& error) {
    markFailed(op + ": " + error);
    std::string cause = diagnose();
    throw Napi::Error::New(env, prefix(op) + (cause.empty() ? "" : cause + "; ") + cfg_.backend + ": " + error);
  }

  std::vector<at::Tensor> tensorsArg(const Napi::CallbackInfo& info, size_t i, const char* op) {
    if (info.Length() <= i || !info[i].IsArray()) throw Napi::TypeError::New(info.Env(), prefix(op) + "expected an array of tensors");
    auto arr = info[i].As<Napi::Array>();
    std::vector<at::Tensor> out;
    for (uint32_t k = 0; k < arr.Length(); ++k) {
      at::Tensor& t = unwrap(info.Env(), arr.Get(k), prefix(op) + "tensor " + std::to_string(k));
      // Gloo reads and writes the storage directly: views with gaps would be reduced wrongly.
      if (!t.is_contiguous()) throw Napi::TypeError::New(info.Env(), prefix(op) + "tensor " + std::to_string(k) + " is not contiguous");
      out.push_back(t);
    }
    return out;
  }

  Napi::Value Allreduce(const Napi::CallbackInfo& info) {
    requireOpen(info.Env(), "allreduce");
    auto tensors = tensorsArg(info, 0, "allreduce");
    bool async = info.Length() > 1 && info[1].ToBoolean().Value();
    if (!async) {
      run(info.Env(), "allreduce", [&] { return pg_->allreduce(tensors, c10d::AllreduceOptions()); });
      return info.Env().Undefined();
    }
    try {
      int64_t id = nextWork_++;
      pending_[id] = pg_->allreduce(tensors, c10d::AllreduceOptions());
      return Napi::Number::New(info.Env(), static_cast<double>(id));
    } catch (const std::exception& e) {
      fail(info.Env(), "allreduce", firstLine(whatOf(e)));
    }
  }

  Napi::Value Wait(const Napi::CallbackInfo& info) {
    int64_t id = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int64Value() : -1;
    auto it = pending_.find(id);
    if (it == pending_.end()) throw Napi::Error::New(info.Env(), prefix("wait") + "no pending work " + std::to_string(id));
    auto work = it->second;
    pending_.erase(it);
    run(info.Env(), "allreduce", [&] { return work; });
    return info.Env().Undefined();
  }

  Napi::Value Broadcast(const Napi::CallbackInfo& info) {
    requireOpen(info.Env(), "broadcast");
    auto tensors = tensorsArg(info, 0, "broadcast");
    c10d::BroadcastOptions o;
    o.rootRank = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 0;
    if (o.rootRank < 0 || o.rootRank >= cfg_.worldSize) throw Napi::RangeError::New(info.Env(), prefix("broadcast") + "root rank out of range");
    // Gloo broadcasts one tensor per call per device; a loop keeps the call order identical everywhere.
    for (auto& t : tensors) {
      std::vector<at::Tensor> one{t};
      run(info.Env(), "broadcast", [&] { return pg_->broadcast(one, o); });
    }
    return info.Env().Undefined();
  }

  Napi::Value Allgather(const Napi::CallbackInfo& info) {
    requireOpen(info.Env(), "allgather");
    auto in = tensorsArg(info, 0, "allgather");
    if (in.size() != 1) throw Napi::TypeError::New(info.Env(), prefix("allgather") + "expected exactly one tensor");
    std::vector<std::vector<at::Tensor>> out(1);
    for (int r = 0; r < cfg_.worldSize; ++r) out[0].push_back(at::empty_like(in[0]));
    run(info.Env(), "allgather", [&] { return pg_->allgather(out, in, c10d::AllgatherOptions()); });
    auto arr = Napi::Array::New(info.Env(), out[0].size());
    for (size_t r = 0; r < out[0].size(); ++r) arr.Set(r, wrap(info.Env(), out[0][r]));
    return arr;
  }

  Napi::Value Barrier(const Napi::CallbackInfo& info) {
    requireOpen(info.Env(), "barrier");
    run(info.Env(), "barrier", [&] { return pg_->barrier(c10d::BarrierOptions()); });
    return info.Env().Undefined();
  }

  Napi::Value MarkFailed(const Napi::CallbackInfo& info) {
    markFailed(info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "failed");
    return info.Env().Undefined();
  }

  void stopHeartbeat() {
    if (hb_) hb_->stop = true;
  }

  Napi::Value Shutdown(const Napi::CallbackInfo& info) {
    pending_.clear();
    pg_.reset();
    stopHeartbeat();
    store_.reset();
    return info.Env().Undefined();
  }

  Napi::Value Rank(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), cfg_.rank); }
  Napi::Value WorldSize(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), cfg_.worldSize); }
  Napi::Value Backend(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), cfg_.backend); }

  Config cfg_;
  c10::intrusive_ptr<c10d::TCPStore> store_;
  c10::intrusive_ptr<BackendBase> pg_;
  std::shared_ptr<Heartbeat> hb_;
  std::map<int64_t, c10::intrusive_ptr<c10d::Work>> pending_;
  int64_t nextWork_ = 1;
};

}  // namespace

void registerDistributed(Napi::Env env, Napi::Object exports) {
  auto dist = Napi::Object::New(env);
  auto available = Napi::Object::New(env);
  available.Set("gloo", Napi::Boolean::New(env, LOAA_HAVE_GLOO));
  available.Set("nccl", Napi::Boolean::New(env, LOAA_HAVE_NCCL));
  dist.Set("available", available);
  dist.Set("ProcessGroup", GroupWrap::Init(env));
  exports.Set("dist", dist);
}

}  // namespace loaa
