#include "ir/verifier.h"

#include <gtest/gtest.h>

#include "sample_graphs.h"
#include "util/error.h"

namespace kiln::ir {
namespace {

using kiln::testing::s;
using kiln::testing::small_program;

// Runs `f` expecting a kiln::Error whose message contains every one of `parts`.
template <typename F>
void expect_error(F&& f, std::initializer_list<std::string_view> parts) {
  try {
    f();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    std::string msg = e.what();
    for (auto part : parts)
      EXPECT_NE(msg.find(part), std::string::npos) << msg;
  }
}

ValueId id(const ExportedProgram& p, const char* name) {
  return *p.graph.find(name);
}

TEST(Verifier, AcceptsWellFormed) {
  auto p = small_program();
  EXPECT_NO_THROW(verify(p));
  EXPECT_NO_THROW(verify(p.graph));
}

TEST(Verifier, UseBeforeDef) {
  auto p = small_program();
  std::swap(p.graph.nodes[1], p.graph.nodes[2]);  // view now runs before linear
  p.graph.values[id(p, "linear")].producer = 2;
  p.graph.values[id(p, "view")].producer = 1;
  expect_error([&] { verify(p.graph); }, {"node 'view' (aten.view.default)", "argument 'self'",
                                          "%linear is used before it is defined"});
}

TEST(Verifier, DanglingId) {
  auto p = small_program();
  p.graph.nodes[1].inputs[1].arg = TensorArg{42};
  expect_error([&] { verify(p); }, {"node 'linear'", "argument 'weight'", "value id 42"});
  p = small_program();
  p.graph.outputs = {TensorArg{-1}};
  expect_error([&] { verify(p.graph); }, {"graph output #0", "value id -1"});
  p = small_program();
  p.graph.inputs.push_back(17);
  expect_error([&] { verify(p.graph); }, {"graph input #2", "value id 17"});
}

TEST(Verifier, RankMismatch) {
  auto p = small_program();
  p.graph.values[id(p, "linear")].type.strides.pop_back();
  expect_error([&] { verify(p); }, {"tensor %linear has 2 sizes but 1 strides"});
}

TEST(Verifier, DefinedTwice) {
  auto p = small_program();
  p.graph.nodes[2].outputs = {TensorArg{id(p, "linear")}};
  expect_error([&] { verify(p.graph); }, {"node 'view'", "%linear is defined more than once"});
}

TEST(Verifier, WrongProducer) {
  auto p = small_program();
  p.graph.values[id(p, "linear")].producer = 2;
  expect_error([&] { verify(p.graph); }, {"output #0", "%linear has producer index 2"});
  p = small_program();
  p.graph.values[id(p, "x")].producer = 0;
  expect_error([&] { verify(p.graph); }, {"graph input %x has producer index 0"});
  p = small_program();
  p.graph.values[id(p, "view")].producer = 7;
  expect_error([&] { verify(p.graph); }, {"%view has producer index 7"});
}

TEST(Verifier, OrphanProducer) {
  auto p = small_program();
  p.graph.nodes[2].outputs = {NoneArg{}};
  p.graph.outputs = {TensorArg{id(p, "linear")}};
  p.signature.outputs[0].arg = TensorArg{id(p, "linear")};
  expect_error([&] { verify(p); }, {"%view names node 'view'", "does not output it"});
}

TEST(Verifier, KindMismatch) {
  auto p = small_program();
  p.graph.nodes[1].inputs[1].arg = TensorArg{id(p, "sym_size_int")};
  expect_error([&] { verify(p.graph); },
               {"argument 'weight'", "%sym_size_int is a SymInt but is used as a Tensor"});
  p = small_program();
  p.graph.nodes[2].inputs[1].arg = std::vector<SymIntArg>{{id(p, "x"), 0}};
  expect_error([&] { verify(p.graph); }, {"%x is a Tensor but is used as a SymInt"});
}

TEST(Verifier, NameIndex) {
  auto p = small_program();
  Value stray;
  stray.name = "stray";
  p.graph.values.push_back(stray);  // bypasses add_value
  expect_error([&] { verify(p.graph); }, {"%stray", "missing from the graph's name index"});
}

TEST(Verifier, SignatureMismatch) {
  auto p = small_program();
  p.signature.inputs.pop_back();
  expect_error([&] { verify(p); }, {"1 input specs but the graph has 2 inputs"});

  p = small_program();
  std::swap(p.signature.inputs[0], p.signature.inputs[1]);
  expect_error([&] { verify(p); }, {"input spec #0 (user_input) refers to %x", "is %p_w"});

  p = small_program();
  p.signature.inputs[0].arg = SymIntArg{id(p, "p_w"), 0};
  expect_error([&] { verify(p); }, {"input spec #0 (parameter)", "must be a tensor"});

  p = small_program();
  p.signature.inputs[0].target.clear();
  expect_error([&] { verify(p); }, {"must be named by a target FQN"});

  p = small_program();
  p.signature.inputs[1].arg = int64_t{3};
  expect_error([&] { verify(p); }, {"input spec #1 (user_input) is a constant"});

  p = small_program();
  p.signature.outputs[0].arg = TensorArg{id(p, "linear")};
  expect_error([&] { verify(p); }, {"output spec #0 (user_output) is %linear", "is %view"});

  p = small_program();
  p.signature.outputs.clear();
  expect_error([&] { verify(p); }, {"0 output specs but the graph has 1 outputs"});

  p = small_program();
  p.graph.outputs.push_back(TensorArg{id(p, "linear")});
  p.signature.outputs.push_back({OutputKind::kBufferMutation, TensorArg{id(p, "linear")}, "buf"});
  expect_error([&] { verify(p); }, {"targets 'buf', which is not a buffer input"});
}

TEST(Verifier, ConstantInputs) {
  auto p = small_program();
  Value k;
  k.name = "arg2";
  k.kind = ValueKind::kConstant;
  k.constant = int64_t{4};
  p.graph.inputs.push_back(p.graph.add_value(k));
  p.signature.inputs.push_back({InputKind::kUserInput, int64_t{4}, "", true});
  EXPECT_NO_THROW(verify(p));
  p.signature.inputs.back().arg = int64_t{5};
  expect_error([&] { verify(p); }, {"input spec #2", "not that constant"});
}

TEST(Verifier, Ranges) {
  auto p = small_program();
  p.ranges.clear();
  expect_error([&] { verify(p); }, {"symbol s0 in the type of input %x has no range entry"});
  p.ranges["s0"] = sym::Range{10, 2};
  expect_error([&] { verify(p); }, {"symbol s0", "min > max"});
  // Symbols first seen in node outputs are unbacked: no range needed.
  p = small_program();
  p.graph.values[id(p, "linear")].type = TensorType::contiguous(DType::kFloat32, {s("u0"), 16});
  EXPECT_NO_THROW(verify(p));
}

TEST(Verifier, Subgraph) {
  auto p = small_program();
  auto body = std::make_shared<Graph>();
  Value a;
  a.name = "a";
  a.type = TensorType::contiguous(DType::kFloat32, {2});
  body->inputs = {body->add_value(a)};
  body->outputs = {TensorArg{5}};  // dangling inside the subgraph
  p.graph.nodes[1].inputs.push_back({"", SubgraphArg{"body_0", body}, ArgKindHint::kPositional});
  expect_error([&] { verify(p); },
               {"subgraph @body_0 of node 'linear'", "graph output #0", "value id 5"});
  body->outputs = {TensorArg{0}};
  EXPECT_NO_THROW(verify(p));
  p.graph.nodes[1].inputs.back().arg = SubgraphArg{"gone", nullptr};
  expect_error([&] { verify(p); }, {"subgraph @gone is missing"});
}

}  // namespace
}  // namespace kiln::ir
