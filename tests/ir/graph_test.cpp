#include "ir/graph.h"

#include <gtest/gtest.h>

#include "sample_graphs.h"
#include "util/error.h"

namespace kiln::ir {
namespace {

using kiln::testing::s;

TEST(Graph, AddAndFind) {
  Graph g;
  Value a;
  a.name = "a";
  EXPECT_EQ(g.add_value(a), 0);
  Value b;
  b.name = "b";
  EXPECT_EQ(g.add_value(b), 1);
  EXPECT_EQ(g.find("a"), 0);
  EXPECT_EQ(g.find("b"), 1);
  EXPECT_EQ(g.find("c"), std::nullopt);
  EXPECT_THROW(g.add_value(a), Error);
  Value unnamed;
  EXPECT_THROW(g.add_value(unnamed), Error);
  EXPECT_EQ(g.values.size(), 2u);
}

TEST(Graph, CopyKeepsIndex) {
  auto p = kiln::testing::small_program();
  Graph copy = p.graph;
  EXPECT_EQ(copy.find("linear"), p.graph.find("linear"));
}

TEST(Node, InputByName) {
  auto p = kiln::testing::small_program();
  const Node& view = p.graph.nodes[2];
  ASSERT_NE(view.input("size"), nullptr);
  EXPECT_EQ(view.input("size")->kind, ArgKindHint::kPositional);
  EXPECT_EQ(view.input("missing"), nullptr);
}

TEST(TensorType, StrAndNumel) {
  auto t = TensorType::contiguous(DType::kFloat32, {s("s0"), 3, 224, 224});
  EXPECT_EQ(t.str(), "f32[s0, 3, 224, 224]");
  EXPECT_EQ(t.rank(), 4u);
  EXPECT_EQ(t.numel(), s("s0") * 150528);
  EXPECT_EQ(t.strides, (std::vector<sym::Expr>{150528, 50176, 224, 1}));

  auto scalar = TensorType::contiguous(DType::kBool, {});
  EXPECT_EQ(scalar.str(), "b8[]");
  EXPECT_EQ(scalar.numel(), sym::Expr(1));
}

TEST(TensorType, ContiguousStrides) {
  EXPECT_EQ(TensorType::contiguous_strides({s("s17"), 2, 1, 8}),
            (std::vector<sym::Expr>{16, 8, 8, 1}));
  EXPECT_EQ(TensorType::contiguous_strides({3, s("s0")}), (std::vector<sym::Expr>{s("s0"), 1}));
  // torch computes strides past a zero-size dim as if it were 1.
  EXPECT_EQ(TensorType::contiguous_strides({2, 0, 5}), (std::vector<sym::Expr>{5, 5, 1}));
}

TEST(Argument, Values) {
  EXPECT_EQ(argument_values(TensorArg{3}), (std::vector<ValueId>{3}));
  EXPECT_EQ(argument_values(std::vector<TensorArg>{{1}, {2}}), (std::vector<ValueId>{1, 2}));
  EXPECT_EQ(argument_values(std::vector<OptionalTensorArg>{{4}, {}}), (std::vector<ValueId>{4}));
  EXPECT_EQ(argument_values(std::vector<SymIntArg>{{5, 0}, {std::nullopt, 7}}),
            (std::vector<ValueId>{5}));
  EXPECT_EQ(argument_values(CustomObjArg{"obj", "Foo", 6}), (std::vector<ValueId>{6}));
  EXPECT_TRUE(argument_values(int64_t{3}).empty());
  EXPECT_TRUE(argument_values(SubgraphArg{"g", nullptr}).empty());
}

TEST(KindNames, All) {
  EXPECT_EQ(input_kind_name(InputKind::kTensorConstant), "tensor_constant");
  EXPECT_EQ(input_kind_name(InputKind::kConstantInput), "constant_input");
  EXPECT_EQ(output_kind_name(OutputKind::kBufferMutation), "buffer_mutation");
  EXPECT_EQ(output_kind_name(OutputKind::kParameterMutation), "parameter_mutation");
  EXPECT_EQ(value_kind_name(ValueKind::kSymInt), "SymInt");
}

}  // namespace
}  // namespace kiln::ir
