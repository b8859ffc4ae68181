#include "frontend/deserialize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ir/printer.h"
#include "ir/verifier.h"
#include "test_paths.h"
#include "util/error.h"

namespace kiln::frontend {
namespace {

using nlohmann::json;

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::filesystem::path json_fixture(const std::string& name) {
  return kiln::testing::fixture_dir() / "json" / name;
}

ir::ExportedProgram load_fixture(const std::string& stem) {
  return deserialize_program(read_text(json_fixture(stem + ".json")), stem + ".pt2:model.json");
}

// Compares with a committed golden file; KILN_UPDATE_GOLDEN=1 rewrites it instead.
void expect_golden(const std::string& stem, const std::string& text) {
  auto path = json_fixture(stem + ".ir.txt");
  if (std::getenv("KILN_UPDATE_GOLDEN")) {
    std::ofstream(path, std::ios::binary) << text;
    return;
  }
  EXPECT_EQ(text, read_text(path)) << "golden " << path << " differs";
}

ir::ValueId id(const ir::Graph& g, const char* name) {
  auto v = g.find(name);
  EXPECT_TRUE(v.has_value()) << name;
  return v.value_or(-1);
}

const ir::Node& node(const ir::Graph& g, const std::string& name) {
  for (const auto& n : g.nodes) {
    if (n.name == name) return n;
  }
  ADD_FAILURE() << "no node " << name;
  return g.nodes.at(0);
}

sym::Expr sym(const char* name) {
  return sym::Expr::symbol(name);
}

TEST(DeserializeSample, ExportFixture) {
  auto p = load_fixture("export_fixture_torch211");
  const ir::Graph& g = p.graph;
  EXPECT_EQ(p.schema_major, 8);
  EXPECT_EQ(p.schema_minor, 17);
  EXPECT_EQ(p.torch_version, "2.11.0+cu130");
  EXPECT_EQ(p.verifiers, std::vector<std::string>{"TRAINING"});
  EXPECT_EQ(p.opset_version, (std::map<std::string, int64_t>{{"aten", 10}}));
  EXPECT_EQ(p.forward_arg_names, (std::vector<std::string>{"x", "y"}));
  EXPECT_NE(p.in_spec.find("builtins.tuple"), std::string::npos);

  // Inputs and their signature kinds, in order.
  std::vector<std::string> names;
  for (auto v : g.inputs)
    names.push_back(g.values[v].name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"p_lin_weight", "p_lin_bias", "b_buf", "b_bfbuf", "x", "y"}));
  ASSERT_EQ(p.signature.inputs.size(), 6u);
  EXPECT_EQ(p.signature.inputs[0].kind, ir::InputKind::kParameter);
  EXPECT_EQ(p.signature.inputs[0].target, "lin.weight");
  EXPECT_EQ(p.signature.inputs[3].kind, ir::InputKind::kBuffer);
  EXPECT_EQ(p.signature.inputs[3].target, "bfbuf");
  EXPECT_TRUE(p.signature.inputs[3].persistent);
  EXPECT_EQ(p.signature.inputs[4].kind, ir::InputKind::kUserInput);
  EXPECT_EQ(p.signature.inputs[4].arg, ir::Argument(ir::TensorArg{id(g, "x")}));
  ASSERT_EQ(p.signature.outputs.size(), 2u);
  EXPECT_EQ(p.signature.outputs[1].arg, ir::Argument(ir::TensorArg{id(g, "cat")}));

  std::vector<std::string> targets;
  for (const auto& n : g.nodes)
    targets.push_back(n.target);
  EXPECT_EQ(targets,
            (std::vector<std::string>{"aten.linear.default", "aten.add.Tensor",
                                      "aten._assert_tensor_metadata.default", "aten.to.dtype",
                                      "aten.sum.default", "aten.add.Tensor", "aten.relu.default",
                                      "aten.cat.default"}));

  // Types: symbols, devices, bf16.
  const auto& x = g.values[id(g, "x")].type;
  EXPECT_EQ(x.dtype, ir::DType::kFloat32);
  EXPECT_EQ(x.sizes, (std::vector<sym::Expr>{sym("s77"), 4}));
  EXPECT_EQ(x.strides, (std::vector<sym::Expr>{4, 1}));
  EXPECT_EQ(x.device, (ir::Device{"cuda", 0}));
  EXPECT_EQ(g.values[id(g, "cat")].type.sizes[0], sym("s17") + sym("s77"));
  EXPECT_EQ(g.values[id(g, "b_bfbuf")].type.dtype, ir::DType::kBFloat16);
  EXPECT_TRUE(g.values[id(g, "p_lin_weight")].type.requires_grad);
  EXPECT_EQ(g.values[id(g, "sum_1")].type.rank(), 0u);
  EXPECT_EQ(g.values[id(g, "linear")].producer, 0);

  // The metadata assert: no outputs, keyword arguments.
  const ir::Node& check = node(g, "_assert_tensor_metadata_default");
  EXPECT_TRUE(check.outputs.empty());
  ASSERT_NE(check.input("dtype"), nullptr);
  EXPECT_EQ(check.input("dtype")->kind, ir::ArgKindHint::kKeyword);
  EXPECT_EQ(check.input("dtype")->arg, ir::Argument(ir::ScalarTypeArg{ir::DType::kBFloat16}));
  EXPECT_EQ(check.input("device")->arg, ir::Argument(ir::Device{"cuda", 0}));
  EXPECT_EQ(check.input("layout")->arg, ir::Argument(ir::Layout::kStrided));
  const ir::Node& cat = node(g, "cat");
  EXPECT_EQ(cat.input("tensors")->arg,
            ir::Argument(std::vector<ir::TensorArg>{{id(g, "add_1")}, {id(g, "y")}}));
  EXPECT_EQ(cat.metadata.at("torch_fn"), "cat_1;builtin_function_or_method.cat");

  // Ranges as written (an unbounded max is null in the file).
  EXPECT_EQ(p.ranges.at("s77"), (sym::Range{2, 1024}));
  EXPECT_EQ(p.ranges.at("s17"), (sym::Range{2, std::nullopt}));

  EXPECT_NO_THROW(ir::verify(p));
  expect_golden("export_fixture_torch211", ir::print(p));
}

TEST(DeserializeSample, TinyConvBnLnSdpa) {
  auto p = load_fixture("tiny_conv_bn_ln_sdpa_torch211");
  const ir::Graph& g = p.graph;
  ASSERT_EQ(g.inputs.size(), 14u);
  ASSERT_EQ(p.signature.inputs.size(), 14u);
  EXPECT_EQ(p.signature.inputs[11].target, "bn.num_batches_tracked");
  const auto& tracked = g.values[id(g, "b_bn_num_batches_tracked")].type;
  EXPECT_EQ(tracked.dtype, ir::DType::kInt64);
  EXPECT_EQ(tracked.rank(), 0u);
  EXPECT_EQ(tracked.device, (ir::Device{"cpu", -1}));
  EXPECT_EQ(g.values[id(g, "x")].type.sizes, (std::vector<sym::Expr>{sym("s17"), 3, 8, 8}));

  // sym_size.int defines a SymInt value used by view and reshape.
  ir::ValueId size = id(g, "sym_size_int_2");
  EXPECT_EQ(g.values[size].kind, ir::ValueKind::kSymInt);
  ASSERT_TRUE(g.values[size].sym.has_value());
  EXPECT_EQ(*g.values[size].sym, sym("s17"));
  EXPECT_EQ(g.nodes[0].target, "aten.sym_size.int");
  EXPECT_EQ(g.nodes[0].outputs[0], ir::Argument(ir::SymIntArg{size, 0}));
  EXPECT_EQ(node(g, "view").input("size")->arg,
            ir::Argument(std::vector<ir::SymIntArg>{
                {size, 0}, {std::nullopt, 2}, {std::nullopt, 1}, {std::nullopt, 8}}));
  const ir::Node& bn = node(g, "batch_norm");
  EXPECT_EQ(bn.input("momentum")->arg, ir::Argument(0.1));
  EXPECT_EQ(bn.input("eps")->arg, ir::Argument(1e-05));
  EXPECT_EQ(bn.input("training")->arg, ir::Argument(false));
  EXPECT_EQ(node(g, "conv2d").input("stride")->arg, ir::Argument(std::vector<int64_t>{1, 1}));
  EXPECT_EQ(node(g, "softmax").input("dim")->arg, ir::Argument(int64_t{-1}));

  // Not clamped to 2, unlike torch's loader.
  EXPECT_EQ(p.ranges.at("s17"), (sym::Range{1, 32}));
  EXPECT_EQ(p.guards_code, std::vector<std::string>{"L['x'].size()[0] == L['y'].size()[0]"});
  EXPECT_NO_THROW(ir::verify(p));
  expect_golden("tiny_conv_bn_ln_sdpa_torch211", ir::print(p));
}

// ---- A hand-built program with every Argument kind ----

json int_(int64_t v) {
  return {{"as_int", v}};
}
json expr(const std::string& e) {
  return {{"as_expr", {{"expr_str", e}, {"hint", nullptr}}}};
}
json tensor_meta(int dtype, std::vector<json> sizes, std::vector<json> strides) {
  return {{"dtype", dtype},
          {"sizes", sizes},
          {"requires_grad", false},
          {"device", {{"type", "cpu"}, {"index", nullptr}}},
          {"strides", strides},
          {"storage_offset", int_(0)},
          {"layout", 7}};
}
const char* kS0 = "Symbol('s0', positive=True, integer=True)";

json subgraph(const char* op) {
  json g = json::parse(R"json({
    "inputs": [{"as_tensor": {"name": "x_1"}}],
    "nodes": [{"target": "", "inputs": [{"name": "self", "arg": {"as_tensor": {"name": "x_1"}},
               "kind": 1}], "outputs": [{"as_tensor": {"name": "r"}}], "metadata": {}, "name": "r"}],
    "outputs": [{"as_tensor": {"name": "r"}}],
    "sym_int_values": {}, "sym_bool_values": {}, "is_single_tensor_return": true
  })json");
  g["nodes"][0]["target"] = op;
  json t = tensor_meta(7, {expr(kS0), int_(4)}, {int_(4), int_(1)});
  g["tensor_values"] = {{"x_1", t}, {"r", t}};
  return g;
}

json everything_program() {
  json p = json::parse(R"json({
  "schema_version": {"major": 8, "minor": 17},
  "torch_version": "2.11.0", "verifiers": ["ATEN"], "opset_version": {"aten": 10},
  "guards_code": [],
  "range_constraints": {"s0": {"min_val": 2, "max_val": null},
                        "s1": {"min_val": null, "max_val": 10}},
  "graph_module": {
   "graph": {
    "inputs": [
     {"as_tensor": {"name": "p_w"}},
     {"as_tensor": {"name": "b_buf"}},
     {"as_custom_obj": {"name": "obj", "class_fqn": "__torch__.torch.classes.Foo"}},
     {"as_tensor": {"name": "x"}},
     {"as_sym_int": {"as_name": "n"}},
     {"as_int": 3},
     {"as_none": true}
    ],
    "nodes": [
     {"target": "torch.ops.aten.sym_size.int",
      "inputs": [{"name": "self", "arg": {"as_tensor": {"name": "x"}}, "kind": 1},
                 {"name": "dim", "arg": {"as_int": 0}, "kind": 1}],
      "outputs": [{"as_sym_int": {"as_name": "sym_size_int"}}],
      "metadata": {"stack_trace": "File \"m.py\", line 3", "nn_module_stack": "L__self__,,M"},
      "is_hop_single_tensor_return": null, "name": "sym_size_int"},
     {"target": "_operator.eq",
      "inputs": [{"name": "a", "arg": {"as_sym_int": {"as_name": "sym_size_int"}}, "kind": 1},
                 {"name": "b", "arg": {"as_int": 4}, "kind": 1}],
      "outputs": [{"as_sym_bool": {"as_name": "eq"}}], "metadata": {}, "name": "eq"},
     {"target": "_operator.truediv",
      "inputs": [{"name": "a", "arg": {"as_sym_int": {"as_name": "n"}}, "kind": 1},
                 {"name": "b", "arg": {"as_int": 2}, "kind": 1}],
      "outputs": [{"as_sym_float": {"as_name": "truediv"}}], "metadata": {}, "name": "truediv"},
     {"target": "torch.ops.test.everything.default",
      "inputs": [
       {"name": "none", "arg": {"as_none": true}, "kind": 1},
       {"name": "tensor", "arg": {"as_tensor": {"name": "x"}}, "kind": 1},
       {"name": "tensors", "arg": {"as_tensors": [{"name": "x"}, {"name": "p_w"}]}, "kind": 1},
       {"name": "int", "arg": {"as_int": -5}, "kind": 2},
       {"name": "ints", "arg": {"as_ints": [1, -2, 9007199254740993]}, "kind": 2},
       {"name": "float", "arg": {"as_float": 0.1}, "kind": 2},
       {"name": "floats", "arg": {"as_floats": ["Infinity", "-Infinity", "NaN", 1.5, 2]},
        "kind": 2},
       {"name": "string", "arg": {"as_string": "a\"b\n"}, "kind": 2},
       {"name": "strings", "arg": {"as_strings": ["x", ""]}, "kind": 2},
       {"name": "sym_int", "arg": {"as_sym_int": {"as_name": "n"}}, "kind": 2},
       {"name": "sym_ints", "arg": {"as_sym_ints": [{"as_name": "sym_size_int"}, {"as_int": 3}]},
        "kind": 2},
       {"name": "scalar_type", "arg": {"as_scalar_type": 13}, "kind": 2},
       {"name": "memory_format", "arg": {"as_memory_format": 2}, "kind": 2},
       {"name": "layout", "arg": {"as_layout": 7}, "kind": 2},
       {"name": "device", "arg": {"as_device": {"type": "cuda", "index": 1}}, "kind": 2},
       {"name": "device_any", "arg": {"as_device": {"type": "cpu", "index": null}}, "kind": 2},
       {"name": "bool", "arg": {"as_bool": true}, "kind": 2},
       {"name": "bools", "arg": {"as_bools": [false, true]}, "kind": 2},
       {"name": "sym_bool", "arg": {"as_sym_bool": {"as_name": "eq"}}, "kind": 2},
       {"name": "sym_bools", "arg": {"as_sym_bools": [{"as_bool": true}, {"as_name": "eq"}]},
        "kind": 2},
       {"name": "optional_tensors",
        "arg": {"as_optional_tensors": [{"as_tensor": {"name": "x"}}, {"as_none": true}]},
        "kind": 2},
       {"name": "optional_tensor", "arg": {"as_optional_tensor": {"as_none": true}}, "kind": 2},
       {"name": "custom_obj",
        "arg": {"as_custom_obj": {"name": "obj", "class_fqn": "__torch__.torch.classes.Foo"}},
        "kind": 2},
       {"name": "operator", "arg": {"as_operator": "torch.ops.aten.add.Tensor"}, "kind": 2},
       {"name": "sym_float", "arg": {"as_sym_float": {"as_name": "truediv"}}, "kind": 2},
       {"name": "sym_floats",
        "arg": {"as_sym_floats": [{"as_float": "NaN"}, {"as_name": "truediv"}, {"as_float": 0.5}]},
        "kind": 2},
       {"name": "kind_unknown", "arg": {"as_int": 0}, "kind": 0},
       {"name": "kind_null", "arg": {"as_int": 1}, "kind": null},
       {"name": "kind_missing", "arg": {"as_int": 2}}
      ],
      "outputs": [{"as_tensor": {"name": "everything"}}], "metadata": {}, "name": "everything"},
     {"target": "torch.ops.higher_order.cond",
      "inputs": [
       {"name": "", "arg": {"as_sym_bool": {"as_name": "eq"}}, "kind": 1},
       {"name": "", "arg": {"as_graph": {"name": "true_graph_0", "graph": null}}, "kind": 1},
       {"name": "", "arg": {"as_graph": {"name": "false_graph_0", "graph": null}}, "kind": 1},
       {"name": "", "arg": {"as_tensors": [{"name": "x"}]}, "kind": 1}
      ],
      "outputs": [{"as_tensor": {"name": "cond"}}], "metadata": {},
      "is_hop_single_tensor_return": true, "name": "cond"},
     {"target": "torch.ops.aten.var_mean.correction",
      "inputs": [{"name": "self", "arg": {"as_tensor": {"name": "cond"}}, "kind": 1}],
      "outputs": [{"as_tensor": {"name": "getitem"}}, {"as_tensor": {"name": "var_mean_unused_1"}}],
      "metadata": {}, "name": "var_mean"},
     {"target": "torch.ops.aten.split.Tensor",
      "inputs": [{"name": "self", "arg": {"as_tensor": {"name": "p_w"}}, "kind": 1},
                 {"name": "split_size", "arg": {"as_int": 1}, "kind": 1}],
      "outputs": [{"as_tensors": [{"name": "split_0"}, {"name": "split_1"}]}], "metadata": {}},
     {"target": "torch.ops.aten.add_.Tensor",
      "inputs": [{"name": "self", "arg": {"as_tensor": {"name": "b_buf"}}, "kind": 1},
                 {"name": "other", "arg": {"as_int": 1}, "kind": 1}],
      "outputs": [{"as_tensor": {"name": "add_"}}], "metadata": {}, "name": "add_"},
     {"target": "torch.ops.aten._assert_tensor_metadata.default",
      "inputs": [{"name": "a", "arg": {"as_tensor": {"name": "x"}}, "kind": 1}],
      "outputs": []}
    ],
    "outputs": [{"as_tensor": {"name": "add_"}}, {"as_tensor": {"name": "everything"}},
                {"as_sym_int": {"as_name": "sym_size_int"}}, {"as_none": true}, {"as_int": 5}],
    "sym_int_values": {
      "n": {"as_expr": {"expr_str": "Symbol('s1', integer=True)", "hint": {"as_int": 3}}},
      "sym_size_int": {"as_expr": {"expr_str": "s0", "hint": null}}},
    "sym_bool_values": {"eq": {"as_expr": {"expr_str": "Eq(Symbol('s0', positive=True, integer=True), Integer(4))", "hint": null}}},
    "sym_float_values": {"truediv": {"as_expr": {"expr_str": "FloatTrueDiv(ToFloat(Symbol('s1', integer=True)), Float('2.0', precision=53))", "hint": null}}},
    "custom_obj_values": {"obj": {"name": "obj", "class_fqn": "__torch__.torch.classes.Foo"}},
    "is_single_tensor_return": false
   },
   "signature": {
    "input_specs": [
     {"parameter": {"arg": {"name": "p_w"}, "parameter_name": "w"}},
     {"buffer": {"arg": {"name": "b_buf"}, "buffer_name": "buf", "persistent": false}},
     {"custom_obj": {"arg": {"name": "obj", "class_fqn": "__torch__.torch.classes.Foo"},
                     "custom_obj_name": "obj"}},
     {"user_input": {"arg": {"as_tensor": {"name": "x"}}}},
     {"user_input": {"arg": {"as_sym_int": {"as_name": "n"}}}},
     {"constant_input": {"name": "k", "value": {"as_int": 3}}},
     {"user_input": {"arg": {"as_none": true}}}
    ],
    "output_specs": [
     {"buffer_mutation": {"arg": {"name": "add_"}, "buffer_name": "buf"}},
     {"user_output": {"arg": {"as_tensor": {"name": "everything"}}}},
     {"user_output": {"arg": {"as_sym_int": {"as_name": "sym_size_int"}}}},
     {"user_output": {"arg": {"as_none": true}}},
     {"user_output": {"arg": {"as_int": 5}}}
    ]
   },
   "module_call_graph": [], "metadata": {}, "treespec_namedtuple_fields": {}
  }
  })json");
  json& g = p["graph_module"]["graph"];
  json x = tensor_meta(7, {expr(kS0), int_(4)}, {int_(4), int_(1)});
  json w = tensor_meta(7, {int_(2), int_(4)}, {int_(4), int_(1)});
  json row = tensor_meta(7, {int_(1), int_(4)}, {int_(4), int_(1)});
  json strided = tensor_meta(6, {int_(4), int_(2)}, {int_(1), int_(4)});
  strided["storage_offset"] = int_(2);
  strided["device"] = {{"type", "cuda"}, {"index", 0}};
  g["tensor_values"] = {{"p_w", w},       {"b_buf", w},
                        {"x", x},         {"everything", x},
                        {"cond", x},      {"getitem", strided},
                        {"split_0", row}, {"split_1", row},
                        {"add_", w},      {"var_mean_unused_1", tensor_meta(7, {}, {})}};
  g["nodes"][4]["inputs"][1]["arg"]["as_graph"]["graph"] = subgraph("torch.ops.aten.sin.default");
  g["nodes"][4]["inputs"][2]["arg"]["as_graph"]["graph"] = subgraph("torch.ops.aten.cos.default");
  return p;
}

ir::ExportedProgram load(const json& j) {
  return deserialize_program(j.dump(), "hand.json");
}

TEST(DeserializeHand, EveryArgumentKind) {
  auto p = load(everything_program());
  const ir::Graph& g = p.graph;
  const ir::Node& e = node(g, "everything");
  EXPECT_EQ(e.target, "test.everything.default");
  ASSERT_EQ(e.inputs.size(), 29u);
  auto arg = [&](const char* name) -> const ir::Argument& { return e.input(name)->arg; };
  EXPECT_EQ(arg("ints"), ir::Argument(std::vector<int64_t>{1, -2, 9007199254740993}));
  const auto& floats = std::get<std::vector<double>>(arg("floats"));
  ASSERT_EQ(floats.size(), 5u);
  EXPECT_EQ(floats[0], std::numeric_limits<double>::infinity());
  EXPECT_EQ(floats[1], -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(floats[2]));
  EXPECT_EQ(floats[4], 2.0);
  EXPECT_EQ(arg("string"), ir::Argument(std::string("a\"b\n")));
  EXPECT_EQ(arg("operator"), ir::Argument(ir::OperatorArg{"aten.add.Tensor"}));
  EXPECT_EQ(arg("custom_obj"),
            ir::Argument(ir::CustomObjArg{"obj", "__torch__.torch.classes.Foo", id(g, "obj")}));
  EXPECT_EQ(arg("device_any"), ir::Argument(ir::Device{"cpu", -1}));
  EXPECT_EQ(arg("memory_format"), ir::Argument(ir::MemoryFormat::kChannelsLast));
  EXPECT_EQ(e.input("kind_unknown")->kind, ir::ArgKindHint::kUnknown);
  EXPECT_EQ(e.input("kind_null")->kind, ir::ArgKindHint::kUnknown);
  EXPECT_EQ(e.input("kind_missing")->kind, ir::ArgKindHint::kUnknown);
  EXPECT_EQ(e.input("tensor")->kind, ir::ArgKindHint::kPositional);
  EXPECT_EQ(e.input("int")->kind, ir::ArgKindHint::kKeyword);

  // Values of every kind.
  EXPECT_EQ(g.values[id(g, "n")].kind, ir::ValueKind::kSymInt);
  EXPECT_EQ(*g.values[id(g, "n")].sym, sym("s1"));
  EXPECT_EQ(*g.values[id(g, "sym_size_int")].sym, sym("s0"));  // short spelling
  EXPECT_EQ(g.values[id(g, "eq")].kind, ir::ValueKind::kSymBool);
  EXPECT_EQ(*g.values[id(g, "eq")].sym, sym::eq(sym("s0"), 4));
  EXPECT_EQ(g.values[id(g, "truediv")].kind, ir::ValueKind::kSymFloat);
  EXPECT_FALSE(g.values[id(g, "truediv")].sym.has_value());
  EXPECT_EQ(g.values[id(g, "obj")].kind, ir::ValueKind::kCustomObj);
  EXPECT_EQ(g.values[id(g, "obj")].class_fqn, "__torch__.torch.classes.Foo");
  EXPECT_EQ(g.values[id(g, "k")].kind, ir::ValueKind::kConstant);
  EXPECT_EQ(g.values[id(g, "k")].constant, ir::Argument(int64_t{3}));
  EXPECT_EQ(g.values[id(g, "arg6")].constant, ir::Argument(ir::NoneArg{}));
  const auto& strided = g.values[id(g, "getitem")].type;
  EXPECT_EQ(strided.storage_offset, sym::Expr(2));
  EXPECT_EQ(strided.dtype, ir::DType::kFloat16);

  // Nodes: names from the file, from the first output, or from the target.
  EXPECT_EQ(g.nodes[6].name, "split_0");
  EXPECT_EQ(g.nodes[8].name, "aten._assert_tensor_metadata.default_8");
  EXPECT_EQ(node(g, "sym_size_int").metadata.at("stack_trace"), "File \"m.py\", line 3");
  const ir::Node& cond = node(g, "cond");
  EXPECT_TRUE(cond.is_hop_single_tensor_return);
  const auto& true_graph = std::get<ir::SubgraphArg>(cond.inputs[1].arg);
  EXPECT_EQ(true_graph.name, "true_graph_0");
  ASSERT_TRUE(true_graph.graph);
  EXPECT_EQ(true_graph.graph->nodes[0].target, "aten.sin.default");
  EXPECT_TRUE(true_graph.graph->is_single_tensor_return);

  // Signature.
  ASSERT_EQ(p.signature.inputs.size(), 7u);
  EXPECT_FALSE(p.signature.inputs[1].persistent);
  EXPECT_EQ(p.signature.inputs[2].kind, ir::InputKind::kCustomObj);
  EXPECT_EQ(p.signature.inputs[4].arg, ir::Argument(ir::SymIntArg{id(g, "n"), 0}));
  EXPECT_EQ(p.signature.inputs[5].kind, ir::InputKind::kConstantInput);
  EXPECT_EQ(p.signature.inputs[5].target, "k");
  EXPECT_EQ(p.signature.outputs[0].kind, ir::OutputKind::kBufferMutation);
  EXPECT_EQ(p.signature.outputs[0].target, "buf");
  EXPECT_EQ(p.ranges.at("s1"), (sym::Range{std::nullopt, 10}));
  EXPECT_EQ(p.verifiers, std::vector<std::string>{"ATEN"});

  expect_golden("everything", ir::print(p));
}

// ---- Errors ----

// Expects deserialize_program to throw a kiln::Error that starts with the source name and
// contains every part.
void expect_error(const std::string& text, std::initializer_list<std::string_view> parts) {
  try {
    deserialize_program(text, "bad.pt2:models/model.json");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_EQ(msg.rfind("bad.pt2:models/model.json: ", 0), 0u) << msg;
    for (auto part : parts)
      EXPECT_NE(msg.find(part), std::string::npos) << msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a kiln::Error: " << e.what();
  }
}

void expect_error(const json& j, std::initializer_list<std::string_view> parts) {
  expect_error(j.dump(), parts);
}

// The everything program with one node input's argument replaced.
json with_arg(const char* name, const json& arg) {
  json p = everything_program();
  for (auto& in : p["graph_module"]["graph"]["nodes"][3]["inputs"]) {
    if (in["name"] == name) in["arg"] = arg;
  }
  return p;
}

TEST(DeserializeErrors, BrokenJson) {
  expect_error(std::string("{\"graph_module\": "), {"invalid JSON at byte"});
  expect_error(std::string(""), {"invalid JSON"});
  expect_error(std::string("[1, 2]"), {"must be a JSON object"});
  expect_error(std::string("{}"), {"missing field 'graph_module'"});
}

TEST(DeserializeErrors, SchemaVersion) {
  json p = everything_program();
  p["schema_version"] = {{"major", 9}, {"minor", 0}};
  expect_error(p, {"unsupported export schema version 9.0", "major version 8"});
}

TEST(DeserializeErrors, UnionShape) {
  expect_error(with_arg("int", {{"as_int", 1}, {"as_none", true}}),
               {"node 'everything' (test.everything.default)", "argument 'int'",
                "exactly one key, but has 2 (as_int, as_none)"});
  expect_error(with_arg("int", json::object()), {"argument 'int'", "exactly one key, but has 0"});
  expect_error(with_arg("int", 5), {"argument 'int'", "one-key JSON object"});
}

TEST(DeserializeErrors, ArgumentKinds) {
  expect_error(with_arg("int", {{"as_foo", 1}}),
               {"node 'everything'", "argument 'int'", "unknown argument kind 'as_foo'"});
  expect_error(with_arg("int", {{"as_complex", {{"real", 1.0}, {"imag", 2.0}}}}),
               {"node 'everything'", "argument 'int'", "complex arguments are unsupported"});
  for (const char* kind : {"as_nested_tensors", "as_int_lists", "as_string_to_argument"}) {
    expect_error(with_arg("int", {{kind, json::array()}}),
                 {"node 'everything'", std::string_view(kind), "is unsupported"});
  }
  json p = everything_program();
  p["graph_module"]["graph"]["nodes"][3]["inputs"][0]["kind"] = 7;
  expect_error(p, {"argument 'none'", "unknown argument kind 7"});
}

TEST(DeserializeErrors, BadPayloads) {
  expect_error(with_arg("int", {{"as_int", "x"}}), {"argument 'int'", "must be an integer"});
  expect_error(with_arg("int", {{"as_int", 1.5}}), {"must be an integer"});
  expect_error(with_arg("int", json::parse(R"({"as_int": 18446744073709551615})")),
               {"does not fit in int64"});
  expect_error(with_arg("float", {{"as_float", "Infinite"}}), {"must be a number"});
  expect_error(with_arg("scalar_type", {{"as_scalar_type", 99}}), {"unknown scalar type 99"});
  expect_error(with_arg("layout", {{"as_layout", 42}}), {"unknown layout 42"});
  expect_error(with_arg("memory_format", {{"as_memory_format", 0}}), {"unknown memory format 0"});
  expect_error(with_arg("sym_ints", {{"as_sym_ints", {{{"as_float", 1.0}}}}}),
               {"unknown SymIntArgument kind 'as_float'"});
  expect_error(with_arg("device", {{"as_device", {{"index", 0}}}}), {"missing field 'type'"});
}

TEST(DeserializeErrors, UndefinedValues) {
  expect_error(with_arg("tensor", {{"as_tensor", {{"name", "nope"}}}}),
               {"node 'everything'", "argument 'tensor'", "value 'nope' is not defined"});
  // Used before the node that defines it.
  expect_error(with_arg("tensor", {{"as_tensor", {{"name", "cond"}}}}),
               {"argument 'tensor'", "value 'cond' is not defined before this use"});
  json p = everything_program();
  p["graph_module"]["graph"]["outputs"][0] = {{"as_tensor", {{"name", "ghost"}}}};
  expect_error(p, {"graph, output #0", "value 'ghost' is not defined"});
  p = everything_program();
  p["graph_module"]["signature"]["input_specs"][0]["parameter"]["arg"]["name"] = "ghost";
  expect_error(p, {"signature, input spec #0", "value 'ghost' is not defined"});
}

TEST(DeserializeErrors, MissingValueMetadata) {
  json p = everything_program();
  p["graph_module"]["graph"]["tensor_values"].erase("everything");
  expect_error(
      p, {"node 'everything'", "output #0", "value 'everything' has no entry in tensor_values"});
  p = everything_program();
  p["graph_module"]["graph"]["sym_int_values"].erase("n");
  expect_error(p, {"input #4", "value 'n' has no entry in sym_int_values"});
  p = everything_program();
  p["graph_module"]["graph"]["tensor_values"]["x"]["dtype"] = 99;
  expect_error(p, {"tensor_values['x']", "unknown dtype 99"});
  p = everything_program();
  p["graph_module"]["graph"]["tensor_values"]["x"]["sizes"][0] = expr("Symbol('s0'");
  expect_error(p, {"tensor_values['x'], sizes[0]", "cannot read symbolic expression"});
}

TEST(DeserializeErrors, DuplicateDefinition) {
  json p = everything_program();
  p["graph_module"]["graph"]["nodes"][3]["outputs"][0] = {{"as_tensor", {{"name", "x"}}}};
  expect_error(p, {"node 'everything'", "value 'x' is defined more than once"});
}

TEST(DeserializeErrors, SpecKinds) {
  json p = everything_program();
  p["graph_module"]["signature"]["input_specs"][0] = {{"weird", {{"arg", {{"name", "p_w"}}}}}};
  expect_error(p, {"input spec #0", "unknown input spec kind 'weird'"});
  p = everything_program();
  p["graph_module"]["signature"]["output_specs"][0] = {{"weird", {{"arg", {{"name", "add_"}}}}}};
  expect_error(p, {"output spec #0", "unknown output spec kind 'weird'"});
}

TEST(DeserializeErrors, VerifierRunsAfterReading) {
  json p = everything_program();
  auto& specs = p["graph_module"]["signature"]["input_specs"];
  std::swap(specs[0], specs[1]);
  expect_error(p, {"IR verification failed in signature", "input spec #0 (buffer)"});
  p = everything_program();
  p["range_constraints"].erase("s0");
  expect_error(p, {"symbol s0", "no range entry"});
}

// Files from before a field existed: no schema_version, node names, argument kinds,
// metadata, strides or sym_float_values; the dialect instead of verifiers.
TEST(DeserializeHand, OlderFileDefaults) {
  json p = json::parse(R"json({
   "dialect": "ATEN",
   "range_constraints": {},
   "graph_module": {
    "graph": {
     "inputs": [{"as_tensor": {"name": "x"}}],
     "nodes": [{"target": "torch.ops.aten.relu.default",
                "inputs": [{"name": "self", "arg": {"as_tensor": {"name": "x"}}}],
                "outputs": [{"as_tensor": {"name": "relu"}}]}],
     "outputs": [{"as_tensor": {"name": "relu"}}],
     "tensor_values": {
       "x": {"dtype": 7, "sizes": [{"as_int": 2}, {"as_int": 3}], "requires_grad": false,
             "device": {"type": "cpu"}, "layout": 7},
       "relu": {"dtype": 7, "sizes": [{"as_int": 2}, {"as_int": 3}], "requires_grad": false,
                "device": {"type": "cpu"}, "layout": 7}},
     "sym_int_values": {}, "sym_bool_values": {}
    },
    "signature": {"input_specs": [{"user_input": {"arg": {"as_tensor": {"name": "x"}}}}],
                  "output_specs": [{"user_output": {"arg": {"as_tensor": {"name": "relu"}}}}]}
   }
  })json");
  auto prog = load(p);
  EXPECT_EQ(prog.schema_major, 0);
  EXPECT_EQ(prog.torch_version, "<=2.4");
  EXPECT_EQ(prog.verifiers, std::vector<std::string>{"ATEN"});
  ASSERT_EQ(prog.graph.nodes.size(), 1u);
  EXPECT_EQ(prog.graph.nodes[0].name, "relu");
  EXPECT_EQ(prog.graph.nodes[0].inputs[0].kind, ir::ArgKindHint::kUnknown);
  EXPECT_EQ(prog.graph.values[id(prog.graph, "x")].type.strides, (std::vector<sym::Expr>{3, 1}));
  EXPECT_EQ(ir::print(prog),
            "graph(%x: f32[2, 3]):\n"
            "  %relu: f32[2, 3] = aten.relu.default(self=%x)\n"
            "  return (%relu)\n"
            "signature:\n"
            "  input %x: user_input\n"
            "  output %relu: user_output\n");
}

// Each leaf replaced by a value of another type or removed: the reader either accepts the
// result or throws kiln::Error, never another exception.
TEST(DeserializeErrors, MutatedDocumentsOnlyThrowKilnErrors) {
  json original = everything_program();
  const json replacements[] = {nullptr, "x", 1.5, json::object(), json::array({1}), -1};
  int errors = 0, runs = 0;
  auto attempt = [&](const json& doc) {
    ++runs;
    try {
      deserialize_program(doc.dump(), "mutated.json");
    } catch (const Error& e) {
      ++errors;
      EXPECT_EQ(std::string(e.what()).rfind("mutated.json: ", 0), 0u) << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "foreign exception: " << e.what();
    }
  };
  // One run per leaf: every third one removes the key, the others swap in a wrong type.
  size_t leaf = 0;
  const json flat = original.flatten();
  for (const auto& [pointer, value] : flat.items()) {
    json::json_pointer ptr(pointer);
    json doc = original;
    json& parent = doc[ptr.parent_pointer()];
    if (leaf % 3 == 0 && parent.is_object()) {
      parent.erase(ptr.back());
    } else {
      doc[ptr] = replacements[(leaf / 3) % std::size(replacements)];
    }
    ++leaf;
    attempt(doc);
  }
  EXPECT_GT(errors, runs / 2);
}

// Nesting is bounded before parsing: printing node metadata or an error message recursed once
// per level, so 100k levels of '[' exhausted the stack (found while fuzzing the reader).
TEST(DeserializeErrors, DeepNestingIsRefused) {
  // The everything program with `value` spliced in as raw JSON text at `pointer`.
  auto with_raw = [](const std::string& pointer, const std::string& value) {
    json p = everything_program();
    p[json::json_pointer(pointer)] = "@RAW@";
    std::string text = p.dump();
    text.replace(text.find("\"@RAW@\""), 7, value);
    return text;
  };
  const std::string meta = "/graph_module/graph/nodes/0/metadata/deep";
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  expect_error(with_raw(meta, deep), {"JSON nests deeper than 512 levels", "at byte"});
  // A field whose error message prints the offending value.
  expect_error(with_raw("/graph_module/graph/nodes/0/inputs/1/arg/as_int", deep),
               {"JSON nests deeper than 512 levels"});
  expect_error(std::string(600, '{'), {"JSON nests deeper than 512 levels"});

  // Within the limit the document is read; brackets inside strings (escaped quotes included)
  // do not count.
  const std::string ok = std::string(400, '[') + std::string(400, ']');
  ir::ExportedProgram p = deserialize_program(with_raw(meta, ok), "ok.json");
  EXPECT_EQ(p.graph.nodes[0].metadata.at("deep"), ok);
  const std::string brackets = "\"\\\"" + std::string(1000, '[') + "\"";
  p = deserialize_program(with_raw(meta, brackets), "ok.json");
  EXPECT_EQ(p.graph.nodes[0].metadata.at("deep"), "\"" + std::string(1000, '['));
}

TEST(Deserialize, NormalizeTarget) {
  EXPECT_EQ(normalize_target("torch.ops.aten.linear.default"), "aten.linear.default");
  EXPECT_EQ(normalize_target("torch.ops.higher_order.cond"), "higher_order.cond");
  EXPECT_EQ(normalize_target("_operator.add"), "_operator.add");
  EXPECT_EQ(normalize_target("torch.sym_max"), "torch.sym_max");
  EXPECT_EQ(normalize_target("#ns:op"), "#ns:op");
}

}  // namespace
}  // namespace kiln::frontend
