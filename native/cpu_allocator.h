// Tensor memory for the CPU: large blocks come from mmap and are cached by size for reuse.
//
// Why not glibc's malloc (c10's default): a JS handle's small native objects (the wrapper, its
// reference) live until V8 collects the handle, long after `dispose()` freed the tensor, and a
// synchronous training loop never runs those finalizers. glibc places the small objects in the hole
// the freed tensor left, the next tensor of that size no longer fits, and the heap grows by about
// one tensor per op per step, without bound (measured: +250 MB per 1000 steps for one 256 KB
// tensor). Forcing large tensors onto plain mmap/munmap fixes the growth but page-faults every
// activation afresh (+40% on a ViT-B block). Caching mmap'd blocks by size does neither: training
// reallocates the same shapes every step, so after the first step nearly every request is a cache
// hit, and freed blocks never mix with the malloc heap. The cache holds at most LOAA_CPU_CACHE_MB
// (default: an eighth of RAM, at most 4 GiB); blocks beyond that are unmapped when freed.
#pragma once
#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>
#include <torch/version.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

// PyTorch 2.3 made Allocator::allocate non-const and added the pure virtual copy_data.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
#define LOAA_ALLOCATE_CONST
#define LOAA_ALLOCATOR_HAS_COPY_DATA 1
#else
#define LOAA_ALLOCATE_CONST const
#define LOAA_ALLOCATOR_HAS_COPY_DATA 0
#endif

namespace loaa {

class CachingCPUAllocator final : public c10::Allocator {
 public:
  // Below this, malloc as before: small tensors cannot fragment much.
  static constexpr size_t kMinBytes = 16 << 10;
  // The block's size sits in front of the data; 64 keeps c10's 64-byte alignment.
  static constexpr size_t kHeader = 64;

  // Installs the allocator process-wide, once (every environment's addon shares libtorch).
  static void install() {
    static std::once_flag once;
    std::call_once(once, [] {
      size_t limitMb = 0;
      const char* env = std::getenv("LOAA_CPU_CACHE_MB");
      if (env != nullptr && *env != '\0') {
        limitMb = static_cast<size_t>(std::strtoull(env, nullptr, 10));
      } else {
        // an eighth of RAM, at most 4 GiB: what one step's activations of the largest model need
        long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
        size_t ram = pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) : 0;
        limitMb = std::min<size_t>(4096, (ram >> 20) / 8);
      }
      // never destroyed: tensors may be freed during static destruction at exit
      self_ = new CachingCPUAllocator(limitMb << 20);
      c10::SetCPUAllocator(self_, /*priority=*/1);
    });
  }

  c10::DataPtr allocate(size_t n) LOAA_ALLOCATE_CONST override {
    void* base = nullptr;
    size_t total = 0;  // 0 in the header marks a malloc'd block
    if (n < kMinBytes) {
      // malloc'd here rather than by c10's allocator: raw_allocate callers free through our
      // raw_deleter, so every block must carry our header
      TORCH_CHECK(posix_memalign(&base, kHeader, n + kHeader) == 0, "loaa: out of memory: cannot allocate ", n, " bytes");
    } else {
      total = (n + kHeader + kPage - 1) & ~(kPage - 1);
      base = take(total);
      if (base == nullptr) base = map(total);
    }
    *static_cast<size_t*>(base) = total;
    void* data = static_cast<char*>(base) + kHeader;
    return {data, data, &CachingCPUAllocator::release, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &CachingCPUAllocator::release; }
#if LOAA_ALLOCATOR_HAS_COPY_DATA
  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }
#endif

 private:
  static constexpr size_t kPage = 4096;

  explicit CachingCPUAllocator(size_t limit) : limit_(limit) {}

  void* map(size_t total) const {
    void* p = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {  // give the cached blocks back and try once more
      trim();
      p = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    }
    TORCH_CHECK(p != MAP_FAILED, "loaa: out of memory: cannot map ", total, " bytes for a tensor");
    return p;
  }

  void* take(size_t total) const {
    std::lock_guard<std::mutex> g(mu_);
    auto it = free_.find(total);
    if (it == free_.end() || it->second.empty()) return nullptr;
    void* p = it->second.back();
    it->second.pop_back();
    cached_ -= total;
    return p;
  }

  void put(void* base, size_t total) const {
    {
      std::lock_guard<std::mutex> g(mu_);
      if (cached_ + total <= limit_) {
        free_[total].push_back(base);
        cached_ += total;
        return;
      }
    }
    munmap(base, total);
  }

  // Unmaps every cached block.
  void trim() const {
    std::unordered_map<size_t, std::vector<void*>> all;
    {
      std::lock_guard<std::mutex> g(mu_);
      all.swap(free_);
      cached_ = 0;
    }
    for (auto& [size, blocks] : all)
      for (void* b : blocks) munmap(b, size);
  }

  static void release(void* data) {
    void* base = static_cast<char*>(data) - kHeader;
    size_t total = *static_cast<size_t*>(base);
    if (total == 0) std::free(base);
    else self_->put(base, total);
  }

  static inline CachingCPUAllocator* self_ = nullptr;
  const size_t limit_;
  mutable std::mutex mu_;
  mutable std::unordered_map<size_t, std::vector<void*>> free_;
  mutable size_t cached_ = 0;
};

}  // namespace loaa
