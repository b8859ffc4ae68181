#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "ir/graph.h"
#include "ops/args.h"
#include "ref/tensor.h"

// Helpers shared by the op families: dims, broadcasting, type promotion, index walking.
namespace kiln::ops {

// dim in [-rank, rank) made non-negative (rank 0 accepts -1 and 0, as PyTorch does).
int64_t wrap_dim(int64_t dim, int64_t rank, const Args& args);

// PyTorch's broadcasting of two shapes. Symbolic dims that are neither equal nor 1 are taken to
// be equal (the export has proven it); known unequal dims throw naming the node.
std::vector<sym::Expr> broadcast_shapes(const std::vector<sym::Expr>& a,
                                        const std::vector<sym::Expr>& b, const Args& args);

// Concrete sizes as constant expressions, and back.
std::vector<sym::Expr> to_exprs(const std::vector<int64_t>& sizes);
std::vector<int64_t> to_ints(const std::vector<sym::Expr>& sizes, const Args& args);

// A contiguous tensor type on the device of `like`.
ir::TensorType make_type(ir::DType dtype, std::vector<sym::Expr> sizes, const ir::Device& device);

// PyTorch's type promotion (c10::promoteTypes) of two dtypes.
ir::DType promote_types(ir::DType a, ir::DType b);

// The operands of an op, for torch.result_type: tensors with dims outrank zero-dim tensors,
// which outrank Python numbers, unless a lower rank holds a higher category (bool < integral <
// floating). A Python float counts as the default dtype (float32), an int as int64.
class ResultType {
 public:
  void add_tensor(const ir::TensorType& t);
  void add_scalar(const Scalar& s);
  ir::DType result() const;

 private:
  ir::DType dim_ = ir::DType::kUndefined;
  ir::DType zero_dim_ = ir::DType::kUndefined;
  ir::DType wrapped_ = ir::DType::kUndefined;
};

// Maps a flat index of a broadcast result to the flat index of one operand.
class BroadcastIndex {
 public:
  BroadcastIndex(const std::vector<int64_t>& operand_sizes, const std::vector<int64_t>& out_sizes);
  int64_t operator()(int64_t out_flat) const;

 private:
  std::vector<int64_t> out_sizes_;
  std::vector<int64_t> operand_strides_;  // 0 for broadcast dims, aligned to out_sizes_
};

// A row-major walk over `sizes` keeping N flat offsets, offset k stepping by strides[k][d] along
// dim d (0 where an operand broadcasts): no division per element, for loops over whole tensors
// (constant folding evaluates elementwise ops and views over entire weights).
template <size_t N>
class StridedWalk {
 public:
  StridedWalk(std::vector<int64_t> sizes, std::array<std::vector<int64_t>, N> strides,
              std::array<int64_t, N> start = {})
      : sizes_(std::move(sizes)),
        strides_(std::move(strides)),
        counter_(sizes_.size(), 0),
        at_(start) {}
  int64_t offset(size_t k) const { return at_[k]; }
  void next() {
    for (size_t d = sizes_.size(); d-- > 0;) {
      for (size_t k = 0; k < N; ++k)
        at_[k] += strides_[k][d];
      if (++counter_[d] < sizes_[d]) return;
      for (size_t k = 0; k < N; ++k)
        at_[k] -= strides_[k][d] * sizes_[d];
      counter_[d] = 0;
    }
  }

 private:
  std::vector<int64_t> sizes_;
  std::array<std::vector<int64_t>, N> strides_;
  std::vector<int64_t> counter_;
  std::array<int64_t, N> at_;
};

// Row-major multi-index <-> flat index.
std::vector<int64_t> unravel(int64_t flat, const std::vector<int64_t>& sizes);
int64_t ravel(const std::vector<int64_t>& index, const std::vector<int64_t>& sizes);

}  // namespace kiln::ops
