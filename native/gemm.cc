// fp32 GEMM kernels behind `linear` and `matmul`: libtorch's own (MKL in the wheel), oneDNN's
// fp32 matmul (inside libtorch), and CPU-tuned BLAS libraries (OpenBLAS, BLIS) loaded at run time.
// On AMD CPUs MKL takes a generic path at about a quarter of the chip's rate, so which kernel is
// fastest depends on the machine: the TS side measures them (`gemmMm`) and picks one
// (`gemmSetKernel`). Every kernel computes the same fp32 products; only summation order differs.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/version.h>

#include <dlfcn.h>

#include <atomic>
#include <mutex>
#include <string>

#include "args.h"
#include "gemm.h"
#include "ops.h"

namespace loaa {
namespace gemm {
namespace {

using V = Napi::Value;

const char* const kNames[] = {"torch", "onednn", "openblas", "blis"};
std::atomic<int> g_kernel{static_cast<int>(Kernel::Torch)};

// ---- BLAS libraries through dlopen: RTLD_LOCAL | RTLD_DEEPBIND so their sgemm_/cblas_* never
// bind to (or replace) the ones libtorch exports.
enum { CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112 };
using SgemmFn = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
using SetThreadsFn = void (*)(int);

struct Blas {
  SgemmFn sgemm = nullptr;
  std::string path;   // the file that loaded
  std::string error;  // why it is unavailable
};

Blas loadBlas(std::initializer_list<const char*> candidates, const char* setThreads) {
  Blas b;
  // Tests point this at a missing file to check the fallback.
  std::string envKey = std::string("LOAA_GEMM_LIB_") + (setThreads[0] == 'o' ? "OPENBLAS" : "BLIS");
  std::vector<std::string> paths;
  if (const char* over = std::getenv(envKey.c_str())) paths.push_back(over);
  else for (const char* c : candidates) paths.push_back(c);
  for (const auto& p : paths) {
    void* h = dlopen(p.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (!h) {
      const char* e = dlerror();
      if (b.error.empty()) b.error = e ? e : ("cannot load " + p);
      continue;
    }
    auto fn = reinterpret_cast<SgemmFn>(dlsym(h, "cblas_sgemm"));
    if (!fn) {
      b.error = p + " has no cblas_sgemm";
      dlclose(h);
      continue;
    }
    if (auto st = reinterpret_cast<SetThreadsFn>(dlsym(h, setThreads))) st(at::get_num_threads());
    b.sgemm = fn;
    b.path = p;
    b.error.clear();
    return b;
  }
  return b;
}

const Blas& openblas() {
  static const Blas b = loadBlas({"libopenblas.so.0", "/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0",
                                  "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0"},
                                 "openblas_set_num_threads");
  return b;
}
const Blas& blis() {
  static const Blas b = loadBlas({"libblis.so.4", "/usr/lib/x86_64-linux-gnu/blis-openmp/libblis.so.4",
                                  "/usr/lib/x86_64-linux-gnu/blis-pthread/libblis.so.4"},
                                 "bli_thread_set_num_threads");
  return b;
}

// ---- oneDNN: at::native::mkldnn_matmul is exported by libtorch_cpu but its header is not shipped,
// and its signature differs across versions, so it is looked up by its mangled name: a libtorch
// without it leaves the kernel unavailable instead of failing to load the addon.
using MkldnnMatmulFn = void (*)(const at::Tensor&, const at::Tensor&, const at::Tensor&, float, float);
MkldnnMatmulFn mkldnnMatmul() {
  static const MkldnnMatmulFn fn = reinterpret_cast<MkldnnMatmulFn>(
      dlsym(RTLD_DEFAULT, "_ZN2at6native13mkldnn_matmulERKNS_6TensorES3_S3_ff"));
  return fn;
}

// One unit stride per operand, as BLAS needs: a row-major view (trans false) or a transposed one.
struct Operand {
  at::Tensor t;
  bool trans;
  int ld;
};
Operand operand(const at::Tensor& m) {
  const int64_t r = m.size(0), c = m.size(1);
  if (m.stride(1) == 1 && m.stride(0) >= std::max<int64_t>(1, c)) return {m, false, static_cast<int>(m.stride(0))};
  if (m.stride(0) == 1 && m.stride(1) >= std::max<int64_t>(1, r)) return {m, true, static_cast<int>(m.stride(1))};
  return {m.contiguous(), false, static_cast<int>(std::max<int64_t>(1, c))};
}

// out[M,N] = beta * out + alpha * a[M,K] @ b[K,N]; out contiguous. 3-D operands are a batch of
// such products ([B,M,K] @ [B,K,N] into [B,M,N]): oneDNN takes the batch whole, a BLAS one by one.
void run(Kernel k, const at::Tensor& a, const at::Tensor& b, at::Tensor& out, float beta, float alpha = 1.f) {
  RECORD_FUNCTION(k == Kernel::OneDnn ? "loaa::mm_onednn" : k == Kernel::OpenBlas ? "loaa::mm_openblas" : "loaa::mm_blis",
                  std::vector<c10::IValue>({a, b}));
  const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  if (M == 0 || N == 0 || out.numel() == 0) return;
  if (K == 0) {
    if (beta == 0.f) out.zero_();
    else out.mul_(beta);
    return;
  }
  if (k == Kernel::OneDnn) {
    mkldnnMatmul()(a, b, out, beta, alpha);
    return;
  }
  if (a.dim() == 3) {
    for (int64_t i = 0; i < a.size(0); ++i) {
      at::Tensor o = out.select(0, i);
      run(k, a.select(0, i), b.select(0, i), o, beta, alpha);
    }
    return;
  }
  const Blas& lib = k == Kernel::OpenBlas ? openblas() : blis();
  Operand A = operand(a), B = operand(b);
  lib.sgemm(CblasRowMajor, A.trans ? CblasTrans : CblasNoTrans, B.trans ? CblasTrans : CblasNoTrans, static_cast<int>(M),
            static_cast<int>(N), static_cast<int>(K), alpha, A.t.data_ptr<float>(), A.ld, B.t.data_ptr<float>(), B.ld, beta,
            out.data_ptr<float>(), static_cast<int>(N));
}

// a @ b (+ bias broadcast over rows) with kernel k; 2-D fp32 CPU operands.
at::Tensor mm(Kernel k, const at::Tensor& a, const at::Tensor& b, const at::Tensor& bias = at::Tensor()) {
  if (k == Kernel::Torch) return bias.defined() ? at::addmm(bias, a, b) : at::mm(a, b);
  at::Tensor out;
  if (bias.defined()) {
    // a fresh tensor: for one row, expand(...).contiguous() is the bias itself, and run() accumulates into it
    out = at::empty({a.size(0), b.size(1)}, a.options());
    out.copy_(bias.expand({a.size(0), b.size(1)}));
    run(k, a, b, out, 1.f);
  } else {
    out = at::empty({a.size(0), b.size(1)}, a.options());
    run(k, a, b, out, 0.f);
  }
  return out;
}

// y = x @ w^T + b over the last dimension of x, with the gradients through the same kernel:
// dX = dY @ W, dW = dY^T @ X, db = sum of dY over rows. Saves only what a needed gradient uses,
// so a frozen weight's forward keeps no activation alive.
struct LinearFn : public torch::autograd::Function<LinearFn> {
  // an absent bias is an empty optional: autograd rejects undefined tensor inputs
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w,
                            const c10::optional<at::Tensor>& bias, int64_t kernel) {
    const at::Tensor b = bias ? *bias : at::Tensor();
    const Kernel k = static_cast<Kernel>(kernel);
    at::Tensor x2 = x.reshape({-1, x.size(-1)});
    ctx->saved_data["kernel"] = kernel;
    ctx->saved_data["x_sizes"] = x.sizes().vec();
    ctx->saved_data["bias"] = b.defined();
    ctx->save_for_backward({w.requires_grad() ? x2 : at::Tensor(), x.requires_grad() ? w : at::Tensor()});
    auto sizes = x.sizes().vec();
    sizes.back() = w.size(0);
    return mm(k, x2, w.t(), b).view(sizes);
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::tensor_list g) {
    const Kernel k = static_cast<Kernel>(ctx->saved_data["kernel"].toInt());
    auto saved = ctx->get_saved_variables();
    at::Tensor dy = g[0].reshape({-1, g[0].size(-1)});
    at::Tensor dx, dw, db;
    if (ctx->needs_input_grad(0)) dx = mm(k, dy, saved[1]).view(ctx->saved_data["x_sizes"].toIntVector());
    if (ctx->needs_input_grad(1)) dw = mm(k, dy.t(), saved[0]);
    if (ctx->saved_data["bias"].toBool() && ctx->needs_input_grad(2)) db = dy.sum(0);
    return {dx, dw, db, at::Tensor()};
  }
};

bool autocastCpu() {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  return at::autocast::is_autocast_enabled(c10::DeviceType::CPU);
#else
  return at::autocast::is_cpu_enabled();
#endif
}

bool plainCpuFloat(const at::Tensor& t) {
  return t.device().is_cpu() && t.scalar_type() == at::kFloat && t.layout() == at::kStrided && !t.is_conj() &&
         !t.is_neg();
}

// Our kernel only for fp32 CPU math outside autocast: under autocast libtorch's linear casts to the
// low-precision dtype, and everything else (CUDA, other dtypes, batched matmul) stays libtorch's.
bool ours(Kernel k, const at::Tensor& x, const at::Tensor& w, const at::Tensor* b) {
  if (x.dim() < 1 || w.dim() != 2 || !takes(k, x) || !takes(k, w) || (b && !takes(k, *b))) return false;
  if (b && (b->dim() != 1 || b->size(0) != w.size(0))) return false;
  return x.size(-1) == w.size(1) && x.numel() > 0;
}

at::Tensor linearWith(Kernel k, const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  const bool grad = at::GradMode::is_enabled() && (x.requires_grad() || w.requires_grad() || (b.defined() && b.requires_grad()));
  if (grad) return LinearFn::apply(x, w, b.defined() ? c10::optional<at::Tensor>(b) : c10::nullopt, static_cast<int64_t>(k));
  at::NoGradGuard ng;
  auto sizes = x.sizes().vec();
  sizes.back() = w.size(0);
  return mm(k, x.reshape({-1, x.size(-1)}), w.t(), b).view(sizes);
}

Kernel parseKernel(const Args& a, size_t i) {
  std::string n = a.str(i);
  for (int k = 0; k < 4; ++k) if (n == kNames[k]) return static_cast<Kernel>(k);
  a.fail(i, "GEMM kernel must be torch, onednn, openblas or blis, not \"" + n + "\"");
}

std::string unavailable(Kernel k) {
  switch (k) {
    case Kernel::Torch: return "";
#if TORCH_VERSION_MAJOR < 2
    // 1.x exports the function but refuses float32 in it ("only enabled for bf16 path")
    case Kernel::OneDnn: return "libtorch " C10_STRINGIZE(TORCH_VERSION_MAJOR) "." C10_STRINGIZE(TORCH_VERSION_MINOR) "'s mkldnn_matmul takes bf16 only (fp32 needs libtorch 2.x)";
#else
    case Kernel::OneDnn: return mkldnnMatmul() ? "" : "this libtorch exports no at::native::mkldnn_matmul";
#endif
    case Kernel::OpenBlas: return openblas().sgemm ? "" : openblas().error;
    case Kernel::Blis: return blis().sgemm ? "" : blis().error;
  }
  return "unknown kernel";
}

}  // namespace

Kernel active() { return static_cast<Kernel>(g_kernel.load(std::memory_order_relaxed)); }

bool takes(Kernel k, const at::Tensor& t) { return k != Kernel::Torch && !autocastCpu() && plainCpuFloat(t); }

at::Tensor bmm(Kernel k, const at::Tensor& a, const at::Tensor& b, float alpha) {
  at::Tensor out = at::empty({a.size(0), a.size(1), b.size(2)}, a.options());
  if (k == Kernel::Torch) return at::bmm_out(out, a, b).mul_(alpha);
  run(k, a, b, out, 0.f, alpha);
  return out;
}

at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& b) {
  const Kernel k = active();
  if (!ours(k, x, w, b ? &*b : nullptr)) return at::linear(x, w, b);
  return linearWith(k, x, w, b ? *b : at::Tensor());
}

// x [..., K] @ w [K, N] is a linear with weight w^T; batched products stay libtorch's.
at::Tensor matmul(const at::Tensor& a, const at::Tensor& b) {
  const Kernel k = active();
  if (a.dim() < 2 || !ours(k, a, b.dim() == 2 ? b.t() : b, nullptr)) return at::matmul(a, b);
  return linearWith(k, a, b.t(), at::Tensor());
}

// LOAA_GEMM set when the addon loads forces the kernel in every process, including ones that never
// call chooseGemm (tests, API users); an unknown or unavailable name is left to chooseGemm to report.
static void applyEnvKernel() {
  const char* want = std::getenv("LOAA_GEMM");
  if (!want) return;
  for (int k = 0; k < 4; ++k) {
    if (std::string(want) == kNames[k] && unavailable(static_cast<Kernel>(k)).empty()) g_kernel.store(k);
  }
}

const std::vector<OpDef>& ops() {
  static const bool envApplied = (applyEnvKernel(), true);
  (void)envApplied;
  static const std::vector<OpDef> list = {
      // which kernels load here: {name: "" or why not}, and the libraries' paths
      {"gemmKernels", [](Args& a) -> V {
         auto o = Napi::Object::New(a.env());
         for (int k = 0; k < 4; ++k) o.Set(kNames[k], unavailable(static_cast<Kernel>(k)));
         return o;
       }},
      {"gemmLibraries", [](Args& a) -> V {
         auto o = Napi::Object::New(a.env());
         o.Set("openblas", openblas().path);
         o.Set("blis", blis().path);
         return o;
       }},
      {"gemmKernel", [](Args& a) -> V { return Napi::String::New(a.env(), kNames[static_cast<int>(active())]); }},
      {"gemmSetKernel", [](Args& a) -> V {  // (name): the kernel fp32 linear/matmul use from now on
         Kernel k = parseKernel(a, 0);
         std::string why = unavailable(k);
         if (!why.empty()) a.fail(0, std::string(kNames[static_cast<int>(k)]) + " is unavailable: " + why);
         g_kernel.store(static_cast<int>(k));
         return a.env().Undefined();
       }},
      {"gemmMm", [](Args& a) -> V {  // (name, a [M,K], b [K,N], bias?) or (name, a [B,M,K], b [B,K,N]): a @ b with that kernel, no autograd
         Kernel k = parseKernel(a, 0);
         std::string why = unavailable(k);
         if (!why.empty()) a.fail(0, std::string(kNames[static_cast<int>(k)]) + " is unavailable: " + why);
         const at::Tensor &x = a.tensor(1), &y = a.tensor(2);
         if (!plainCpuFloat(x) || !plainCpuFloat(y)) a.fail(1, "expected float32 CPU tensors");
         at::NoGradGuard ng;
         if (x.dim() == 3 && !a.has(3)) {  // a batch of products [B,M,K] @ [B,K,N]
           if (y.dim() != 3 || x.size(0) != y.size(0) || x.size(2) != y.size(1)) a.fail(2, "expected 3-D operands [B,M,K] and [B,K,N]");
           return wrap(a.env(), bmm(k, x, y, 1.f));
         }
         if (x.dim() != 2 || y.dim() != 2 || x.size(1) != y.size(0)) a.fail(2, "expected 2-D operands [M,K] and [K,N]");
         at::Tensor bias = a.has(3) ? a.tensor(3) : at::Tensor();
         if (bias.defined() && (!plainCpuFloat(bias) || bias.dim() != 1 || bias.size(0) != y.size(1))) a.fail(3, "expected a float32 bias [N]");
         return wrap(a.env(), mm(k, x, y, bias));
       }},
  };
  return list;
}

}  // namespace gemm
}  // namespace loaa
