#include "ir/printer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>

#include "sample_graphs.h"

namespace kiln::ir {
namespace {

using kiln::testing::s;

TEST(Printer, FormatDouble) {
  EXPECT_EQ(format_double(0.1), "0.1");
  EXPECT_EQ(format_double(1e-05), "1e-05");
  EXPECT_EQ(format_double(2.0), "2.0");
  EXPECT_EQ(format_double(-3.0), "-3.0");
  EXPECT_EQ(format_double(-0.0), "-0.0");
  EXPECT_EQ(format_double(1e300), "1e+300");
  EXPECT_EQ(format_double(0.5946035575013605), "0.5946035575013605");
  EXPECT_EQ(format_double(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(format_double(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(format_double(-std::numeric_limits<double>::infinity()), "-inf");
  EXPECT_EQ(format_double(std::nan("")), "nan");
  // Round trip at full precision.
  for (double v : {0.1 + 0.2, 1e-310, 123456789.123456789, std::numeric_limits<double>::max()}) {
    EXPECT_EQ(std::strtod(format_double(v).c_str(), nullptr), v) << format_double(v);
  }
}

TEST(Printer, QuoteString) {
  EXPECT_EQ(quote_string("abc"), "\"abc\"");
  EXPECT_EQ(quote_string("a\"b\\c\n\t\r"), "\"a\\\"b\\\\c\\n\\t\\r\"");
  EXPECT_EQ(quote_string(std::string("\x01\x7f", 2)), "\"\\x01\\x7f\"");
  EXPECT_EQ(quote_string("caf\xc3\xa9"), "\"caf\xc3\xa9\"");  // UTF-8 passes through
}

TEST(Printer, SmallProgram) {
  EXPECT_EQ(print(kiln::testing::small_program()),
            "graph(%p_w: f32[16, 8], %x: f32[s0, 8]):\n"
            "  %sym_size_int: SymInt(s0) = aten.sym_size.int(%x, 0)\n"
            "  %linear: f32[s0, 16] = aten.linear.default(%x, %p_w)\n"
            "  %view: f32[s0, 2, 8] = aten.view.default(%linear, [%sym_size_int, 2, 8])\n"
            "  return (%view)\n"
            "signature:\n"
            "  input %p_w: parameter w\n"
            "  input %x: user_input\n"
            "  output %view: user_output\n"
            "ranges:\n"
            "  s0: [2, 64]\n");
}

TEST(Printer, ArgumentKinds) {
  Graph g;
  Value t;
  t.name = "t";
  t.type = TensorType::contiguous(DType::kFloat32, {2});
  ValueId tid = g.add_value(t);
  Value n;
  n.name = "n";
  n.kind = ValueKind::kSymInt;
  ValueId nid = g.add_value(n);
  Value b;
  b.name = "b";
  b.kind = ValueKind::kSymBool;
  ValueId bid = g.add_value(b);
  Value f;
  f.name = "f";
  f.kind = ValueKind::kSymFloat;
  ValueId fid = g.add_value(f);

  auto p = [&](const Argument& a) { return print_argument(a, g); };
  EXPECT_EQ(p(NoneArg{}), "None");
  EXPECT_EQ(p(TensorArg{tid}), "%t");
  EXPECT_EQ(p(TensorArg{99}), "%<bad id 99>");
  EXPECT_EQ(p(std::vector<TensorArg>{{tid}, {tid}}), "[%t, %t]");
  EXPECT_EQ(p(std::vector<TensorArg>{}), "[]");
  EXPECT_EQ(p(OptionalTensorArg{}), "None");
  EXPECT_EQ(p(std::vector<OptionalTensorArg>{{tid}, {}}), "[%t, None]");
  EXPECT_EQ(p(int64_t{-7}), "-7");
  EXPECT_EQ(p(std::vector<int64_t>{1, 2}), "[1, 2]");
  EXPECT_EQ(p(0.5), "0.5");
  EXPECT_EQ(p(std::vector<double>{1.0, std::numeric_limits<double>::infinity()}), "[1.0, inf]");
  EXPECT_EQ(p(true), "True");
  EXPECT_EQ(p(std::vector<bool>{true, false}), "[True, False]");
  EXPECT_EQ(p(std::string("x\"y")), "\"x\\\"y\"");
  EXPECT_EQ(p(std::vector<std::string>{"a", "b"}), "[\"a\", \"b\"]");
  EXPECT_EQ(p(SymIntArg{nid, 0}), "%n");
  EXPECT_EQ(p(std::vector<SymIntArg>{{nid, 0}, {std::nullopt, 3}}), "[%n, 3]");
  EXPECT_EQ(p(SymBoolArg{bid, false}), "%b");
  EXPECT_EQ(p(std::vector<SymBoolArg>{{std::nullopt, true}}), "[True]");
  EXPECT_EQ(p(SymFloatArg{fid, 0}), "%f");
  EXPECT_EQ(p(std::vector<SymFloatArg>{{std::nullopt, 0.25}}), "[0.25]");
  EXPECT_EQ(p(ScalarTypeArg{DType::kBFloat16}), "bf16");
  EXPECT_EQ(p(MemoryFormat::kChannelsLast), "channels_last");
  EXPECT_EQ(p(Layout::kStrided), "strided");
  EXPECT_EQ(p(Device{"cuda", 1}), "cuda:1");
  EXPECT_EQ(p(SubgraphArg{"true_graph_0", nullptr}), "@true_graph_0");
  EXPECT_EQ(p(CustomObjArg{"obj", "Foo", std::nullopt}), "%obj");
  EXPECT_EQ(p(OperatorArg{"aten.add.Tensor"}), "aten.add.Tensor");
}

TEST(Printer, Types) {
  Value v;
  v.name = "v";
  v.type = TensorType::contiguous(DType::kFloat16, {s("s0"), 4}, Device{"cuda", 0});
  EXPECT_EQ(print_type(v), "f16[s0, 4] cuda:0");
  v.type.strides = {1, s("s0")};
  v.type.storage_offset = 3;
  v.type.device = {};
  EXPECT_EQ(print_type(v), "f16[s0, 4] stride=[1, s0] offset=3");
  v.type.strides = {};
  v.type.layout = Layout::kSparse;
  EXPECT_EQ(print_type(v), "f16[s0, 4] stride=[] offset=3 layout=sparse");

  Value k;
  k.kind = ValueKind::kSymInt;
  EXPECT_EQ(print_type(k), "SymInt");
  k.sym = 2 * s("s0");
  EXPECT_EQ(print_type(k), "SymInt(" + (2 * s("s0")).str() + ")");
  k.kind = ValueKind::kCustomObj;
  k.class_fqn = "__torch__.torch.classes.Foo";
  EXPECT_EQ(print_type(k), "CustomObj(__torch__.torch.classes.Foo)");
  k.kind = ValueKind::kConstant;
  k.constant = NoneArg{};
  EXPECT_EQ(print_type(k), "Const(None)");
  k.kind = ValueKind::kSymFloat;
  EXPECT_EQ(print_type(k), "SymFloat");
}

// Node shapes the small program lacks: no outputs, several outputs, keyword and unnamed
// arguments, and a subgraph printed after the graph that uses it.
TEST(Printer, NodesAndSubgraphs) {
  auto body = std::make_shared<Graph>();
  {
    Value a;
    a.name = "a";
    a.type = TensorType::contiguous(DType::kFloat32, {2});
    ValueId in = body->add_value(a);
    Value r;
    r.name = "sin";
    r.type = a.type;
    r.producer = 0;
    ValueId out = body->add_value(r);
    body->inputs = {in};
    Node sin;
    sin.name = "sin";
    sin.target = "aten.sin.default";
    sin.inputs = {{"self", TensorArg{in}, ArgKindHint::kPositional}};
    sin.outputs = {TensorArg{out}};
    body->nodes = {sin};
    body->outputs = {TensorArg{out}};
    body->is_single_tensor_return = true;
  }
  Graph g;
  Value x;
  x.name = "x";
  x.type = TensorType::contiguous(DType::kFloat32, {2});
  ValueId xid = g.add_value(x);
  g.inputs = {xid};
  Value va = x, vb = x;
  va.name = "var";
  va.producer = 1;
  vb.name = "mean";
  vb.producer = 1;
  Value c = x;
  c.name = "cond";
  c.producer = 2;
  ValueId var = g.add_value(va), mean = g.add_value(vb), cond = g.add_value(c);

  Node check;
  check.name = "check";
  check.target = "aten._assert_tensor_metadata.default";
  check.inputs = {{"a", TensorArg{xid}, ArgKindHint::kPositional},
                  {"dtype", ScalarTypeArg{DType::kFloat32}, ArgKindHint::kKeyword}};
  Node vm;
  vm.name = "var_mean";
  vm.target = "aten.var_mean.correction";
  vm.inputs = {{"self", TensorArg{xid}, ArgKindHint::kPositional},
               {"correction", int64_t{0}, ArgKindHint::kKeyword},
               {"keepdim", true, ArgKindHint::kUnknown}};
  vm.outputs = {TensorArg{var}, TensorArg{mean}, NoneArg{}};
  Node hop;
  hop.name = "cond";
  hop.target = "higher_order.cond";
  hop.inputs = {{"", true, ArgKindHint::kPositional},
                {"", SubgraphArg{"true_graph_0", body}, ArgKindHint::kPositional},
                {"", SubgraphArg{"true_graph_0", body}, ArgKindHint::kPositional},
                {"", std::vector<TensorArg>{{mean}}, ArgKindHint::kUnknown}};
  hop.outputs = {TensorArg{cond}};
  g.nodes = {check, vm, hop};
  g.outputs = {TensorArg{var}, TensorArg{cond}};

  EXPECT_EQ(print(g),
            "graph(%x: f32[2]):\n"
            "  aten._assert_tensor_metadata.default(%x, dtype=f32)\n"
            "  (%var: f32[2], %mean: f32[2], None) = aten.var_mean.correction(%x, correction=0, "
            "keepdim=True)\n"
            "  %cond: f32[2] = higher_order.cond(True, @true_graph_0, @true_graph_0, [%mean])\n"
            "  return (%var, %cond)\n"
            "\n"
            "subgraph @true_graph_0(%a: f32[2]):\n"
            "  %sin: f32[2] = aten.sin.default(%a)\n"
            "  return %sin\n");
}

TEST(Printer, ProgramSignatureKinds) {
  auto p = kiln::testing::small_program();
  p.signature.inputs[0] = {InputKind::kBuffer, p.signature.inputs[0].arg, "buf", false};
  p.signature.outputs.push_back(
      {OutputKind::kBufferMutation, TensorArg{*p.graph.find("linear")}, "buf"});
  p.ranges["s1"] = sym::Range{std::nullopt, 10};
  std::string text = print(p);
  EXPECT_NE(text.find("  input %p_w: buffer buf non_persistent\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  output %linear: buffer_mutation buf\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  s1: " + sym::Range{std::nullopt, 10}.str() + "\n"), std::string::npos)
      << text;
}

}  // namespace
}  // namespace kiln::ir
