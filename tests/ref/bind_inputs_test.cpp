// Input binding and checking: every kind of bad input gets an error naming the input, the dim,
// the value and what the program allows.
#include "ref/bind_inputs.h"

#include <gtest/gtest.h>

#include "frontend/load.h"
#include "op_harness.h"
#include "test_paths.h"
#include "util/error.h"

namespace kiln::testing {
namespace {

// Builds a program with inputs x: f32[s0, 4], y: f32[s0, 2*s1], n: SymInt(s2); s0 in [2, 8],
// s1 in [1, inf], s2 in [0, 5].
ir::ExportedProgram make_program() {
  ir::ExportedProgram p;
  auto s0 = sym::Expr::symbol("s0"), s1 = sym::Expr::symbol("s1"), s2 = sym::Expr::symbol("s2");
  auto add_input = [&](ir::Value v) {
    ir::ValueId id = p.graph.add_value(std::move(v));
    p.graph.inputs.push_back(id);
    ir::InputSpec spec;
    spec.kind = ir::InputKind::kUserInput;
    spec.arg = ir::TensorArg{id};
    p.signature.inputs.push_back(spec);
  };
  ir::Value x;
  x.name = "x";
  x.type = ir::TensorType::contiguous(ir::DType::kFloat32, {s0, 4});
  add_input(x);
  ir::Value y;
  y.name = "y";
  y.type = ir::TensorType::contiguous(ir::DType::kFloat32, {s0, 2 * s1});
  add_input(y);
  ir::Value n;
  n.name = "n";
  n.kind = ir::ValueKind::kSymInt;
  n.sym = s2;
  add_input(n);
  p.ranges["s0"] = {2, 8};
  p.ranges["s1"] = {1, std::nullopt};
  p.ranges["s2"] = {0, 5};
  return p;
}

std::string bind_error(const std::vector<ref::RValue>& inputs) {
  try {
    ref::bind_inputs(make_program(), inputs);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

ref::Tensor f32(std::vector<int64_t> sizes) {
  std::mt19937 rng(7);
  return random_tensor(ir::DType::kFloat32, std::move(sizes), rng);
}

TEST(BindInputs, BindsBareAndDerivedSymbols) {
  auto b = ref::bind_inputs(make_program(), {f32({3, 4}), f32({3, 10}), int64_t{4}});
  EXPECT_EQ(b.at("s0"), 3);
  EXPECT_EQ(b.at("s1"), 5);
  EXPECT_EQ(b.at("s2"), 4);
}

TEST(BindInputs, RefusesEachKindOfBadInput) {
  auto has = [](const std::string& message, std::initializer_list<const char*> parts) {
    for (const char* p : parts) {
      if (message.find(p) == std::string::npos) return ::testing::AssertionFailure() << message;
    }
    return ::testing::AssertionSuccess();
  };
  std::mt19937 rng(3);
  // Wrong dtype.
  EXPECT_TRUE(
      has(bind_error({random_tensor(ir::DType::kInt64, {3, 4}, rng), f32({3, 2}), int64_t{1}}),
          {"'x'", "i64", "f32"}));
  // Wrong rank.
  EXPECT_TRUE(has(bind_error({f32({3, 4, 1}), f32({3, 2}), int64_t{1}}), {"'x'", "rank 3"}));
  // A static dim.
  EXPECT_TRUE(has(bind_error({f32({3, 5}), f32({3, 2}), int64_t{1}}), {"'x' dim 1", "5", "4"}));
  // A dynamic dim out of range, at and past each bound.
  EXPECT_TRUE(
      has(bind_error({f32({9, 4}), f32({9, 2}), int64_t{1}}), {"'x' dim 0", "s0", "[2, 8]"}));
  EXPECT_TRUE(has(bind_error({f32({1, 4}), f32({1, 2}), int64_t{1}}), {"s0", "[2, 8]"}));
  EXPECT_EQ(bind_error({f32({8, 4}), f32({8, 2}), int64_t{5}}), "");
  EXPECT_EQ(bind_error({f32({2, 4}), f32({2, 2}), int64_t{0}}), "");
  // Unequal shared dims.
  EXPECT_TRUE(
      has(bind_error({f32({3, 4}), f32({4, 2}), int64_t{1}}), {"'y' dim 0", "'x' dim 0", "s0"}));
  // A derived dim no symbol value satisfies (2*s1 must be even).
  EXPECT_TRUE(has(bind_error({f32({3, 4}), f32({3, 7}), int64_t{1}}), {"'y' dim 1", "2*s1"}));
  // A SymInt input out of range, and of the wrong kind.
  EXPECT_TRUE(has(bind_error({f32({3, 4}), f32({3, 2}), int64_t{6}}), {"s2", "[0, 5]"}));
  EXPECT_TRUE(has(bind_error({f32({3, 4}), f32({3, 2}), f32({1})}), {"'n'", "int"}));
  // Too few and too many inputs.
  EXPECT_TRUE(has(bind_error({f32({3, 4})}), {"missing input 'y'"}));
  EXPECT_TRUE(
      has(bind_error({f32({3, 4}), f32({3, 2}), int64_t{1}, int64_t{1}}), {"4 were given"}));
}

TEST(BindInputs, FixtureRangesComeFromTheArchive) {
  auto loaded = frontend::load_program(fixture_dir() / "torch2.15" / "mlp" / "model.pt2");
  std::mt19937 rng(5);
  auto x = random_tensor(ir::DType::kFloat32, {3, 16}, rng);
  auto b = ref::bind_inputs(loaded.program, {x});
  EXPECT_EQ(b.size(), 1u);
  EXPECT_THROW(ref::bind_inputs(loaded.program, {random_tensor(ir::DType::kFloat32, {3, 15}, rng)}),
               Error);
}

}  // namespace
}  // namespace kiln::testing
