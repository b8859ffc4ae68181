#pragma once

// A fixed-size array that lives on the stack when small, so that kiln_run needs no heap
// allocation for its per-call tables (symbols, data pointers, output shapes).

#include <cstddef>
#include <memory>

namespace kiln::rt {

template <typename T, size_t N>
class SmallBuffer {
 public:
  explicit SmallBuffer(size_t size) : size_(size) {
    if (size > N) heap_.reset(new T[size]);
    data_ = size > N ? heap_.get() : inline_;
  }
  SmallBuffer(const SmallBuffer&) = delete;
  SmallBuffer& operator=(const SmallBuffer&) = delete;

  T* data() { return data_; }
  size_t size() const { return size_; }
  T& operator[](size_t i) { return data_[i]; }

 private:
  T inline_[N];
  std::unique_ptr<T[]> heap_;
  T* data_;
  size_t size_;
};

}  // namespace kiln::rt
