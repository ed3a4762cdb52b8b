// Memory flush against an inaccessible page, for tests that prove a kernel or the driver reads
// and writes nothing outside its buffers: any access past the end (or before the start) faults.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace qtest {

enum class Flush { after, before };

// `bytes` of read-write memory with a PROT_NONE page touching its end (Flush::after) or its
// start (Flush::before).
class Guarded {
 public:
  Guarded(size_t bytes, Flush flush) : bytes_(bytes) {
    page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t data_pages = std::max<size_t>(1, (bytes + page_ - 1) / page_);
    total_ = (data_pages + 2) * page_;
    void* m = mmap(nullptr, total_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return;
    base_ = static_cast<char*>(m);
    if (mprotect(base_, page_, PROT_NONE) != 0 || mprotect(base_ + total_ - page_, page_, PROT_NONE) != 0) {
      munmap(base_, total_);
      base_ = nullptr;
      return;
    }
    ptr_ = flush == Flush::before ? base_ + page_ : base_ + total_ - page_ - bytes;
  }
  ~Guarded() {
    if (base_) munmap(base_, total_);
  }
  Guarded(const Guarded&) = delete;
  Guarded& operator=(const Guarded&) = delete;
  bool ok() const { return base_ != nullptr; }
  template <typename T>
  T* as() const {
    return reinterpret_cast<T*>(ptr_);
  }
  template <typename T>
  T* fill(const std::vector<T>& v) {
    std::memcpy(ptr_, v.data(), std::min(bytes_, v.size() * sizeof(T)));
    return as<T>();
  }

 private:
  size_t bytes_, page_ = 0, total_ = 0;
  char* base_ = nullptr;
  char* ptr_ = nullptr;
};

}  // namespace qtest
