#pragma once

#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "ir/graph.h"
#include "ref/tensor.h"

namespace kiln::testing {

// An argument of a test call, by schema name.
using TestArg =
    std::variant<ir::NoneArg, ref::Tensor, std::vector<ref::Tensor>,
                 std::vector<std::optional<ref::Tensor>>, int64_t, std::vector<int64_t>, double,
                 std::vector<double>, bool, std::string, ir::DType, ir::Device, ir::MemoryFormat>;
using TestArgs = std::vector<std::pair<std::string, TestArg>>;

struct RunOptions {
  // Also run the shape rule with every dim > 1 made symbolic (dims of equal size share a
  // symbol) and check it evaluates to the concrete result's sizes.
  bool symbolic_shapes = true;
};

// Runs the op's reference kernel on a one-node graph. Checks (with gtest assertions) that the
// shape rule's dtypes and sizes match every tensor the kernel returns, concretely and
// symbolically. Throws kiln::Error from the op unchanged.
std::vector<ref::RValue> run_op(std::string_view target, const TestArgs& args,
                                RunOptions options = {});
// The single tensor output of run_op.
ref::Tensor run_op_tensor(std::string_view target, const TestArgs& args, RunOptions options = {});

const ref::Tensor& as_tensor(const ref::RValue& v);

// The one-node program of run_op as a whole exported program: each tensor argument is a user
// input (with `symbolic`, every dim > 1 is a symbol d<size> with range [2, inf], equal sizes
// sharing one), the node's outputs typed by its shape rule, and each tensor it returns a user
// output. `inputs` are the tensor arguments in signature order.
struct OpProgram {
  ir::ExportedProgram program;
  std::vector<ref::Tensor> inputs;
};
OpProgram build_op_program(std::string_view target, const TestArgs& args, bool symbolic);

// Fresh random data: floats uniform in [lo, hi); integers uniform in [lo, hi); bools 50/50.
ref::Tensor random_tensor(ir::DType dtype, std::vector<int64_t> sizes, std::mt19937& rng,
                          double lo = -2.0, double hi = 2.0);
// A tensor from explicit values (row-major).
ref::Tensor make_tensor(ir::DType dtype, std::vector<int64_t> sizes, const std::vector<double>& v);

// ||got - want|| / ||want|| over all elements (0 when both are all zero); infinity when shapes,
// dtypes or NaN positions differ.
double relative_error(const ref::Tensor& got, const ref::Tensor& want);
// Exact equality of dtype, shape and every element (NaN equal to NaN).
bool same_values(const ref::Tensor& a, const ref::Tensor& b);

}  // namespace kiln::testing

// gtest helper: EXPECT_TENSOR_NEAR(got, want, 1e-6)
#define EXPECT_TENSOR_NEAR(got, want, tol)                                   \
  do {                                                                       \
    const auto& kiln_got_ = (got);                                           \
    const auto& kiln_want_ = (want);                                         \
    EXPECT_EQ(kiln_got_.str(), kiln_want_.str());                            \
    EXPECT_LE(::kiln::testing::relative_error(kiln_got_, kiln_want_), (tol)) \
        << "got " << kiln_got_.str() << " want " << kiln_want_.str();        \
  } while (0)
